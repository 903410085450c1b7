-- Count responses and say when N arrived (per thread; run.py uses -t1):
--     wrk -t1 -s stop_after.lua URL -- N
-- wrk's main thread only ends at -d, so run.py reads the marker line and
-- sends wrk SIGINT, on which wrk prints its report at once.
local limit = 0
local count = 0

function init(args)
  limit = tonumber(args[1]) or 0
end

function response(status, headers, body)
  count = count + 1
  if limit > 0 and count == limit then
    io.write("BENCH-STOP-AFTER-REACHED\n")
    io.flush()
    wrk.thread:stop()
  end
end
