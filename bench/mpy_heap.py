#!/usr/bin/env python3
"""Serve the benchmark app with the ``micropython`` command; measure heap.

Usage::

    python3 bench/mpy_heap.py [--mode auto|keepalive|close] [--requests N]

It starts ``apps/microdot_app.py`` under MicroPython on 127.0.0.1 (CPU 1),
reads the heap (``gc.mem_alloc()`` after ``gc.collect()``) from the app's
``/heap`` endpoint, warms it up, serves N requests (default 100,000, counted
by wrk) with ``wrk -t1 -c4`` and reads the heap again. ``/heap`` also
reports what ``import microdot`` allocated inside that process.

``auto`` mode loads with keep-alive when the server keeps connections
open, else with ``Connection: close``.
"""

import argparse
import json
import os
import sys
import time

import run

CONNECTIONS = 4  # MicroPython serves on one thread: few connections
# The first ~20,000 requests grow the heap once by about 1 KB (buffers
# that reach their working size); later runs of 100,000 stay flat.
WARMUP_REQUESTS = 20000
RUN_LIMIT = 400  # seconds, a bound for the 100,000-request run
IMPORT_GOAL_KB = 28
AT_REST_GOAL_KB = 38


def micropython():
    """Return the ``micropython`` command: bench/.venv's, else the dev one."""
    for venv in (run.VENV, os.path.join(run.ROOT, '.venv')):
        path = os.path.join(venv, 'bin', 'micropython')
        if os.path.exists(path):
            return path
    raise RuntimeError('no micropython: run python3 bench/run.py once')


def heap(port):
    """Return the app's /heap numbers: import and current heap, bytes."""
    status, body = run.http_get(port, '/heap', timeout=5.0)
    if status != 200:
        raise RuntimeError('/heap answered %d' % status)
    return json.loads(body)


def heap_at_rest(port, reads=10, interval=0.1):
    """Read /heap over about a second (each read collects) and keep the
    smallest: the server may still be closing the load's connections."""
    values = []
    for _ in range(reads):
        values.append(heap(port)['alloc'])
        time.sleep(interval)  # spacing between samples, not a wait
    return min(values)


def load(port, mode, requests, limit):
    keepalive = mode == 'keepalive'
    return run.wrk(
        port, '/', limit, CONNECTIONS, keepalive, stop_after=requests
    )


def measure(port, mode, requests):
    """Return the heap numbers around a load of ``requests``."""
    if mode == 'auto':
        mode = 'keepalive' if run.supports_keepalive(port) else 'close'
    numbers = {
        'mode': mode,
        'import': heap(port)['import'],
        'cold': heap_at_rest(port),
    }
    load(port, mode, WARMUP_REQUESTS, 60)
    numbers['before'] = heap_at_rest(port)
    print(
        '  %s load of %d requests, %d connections...'
        % (mode, requests, CONNECTIONS),
        flush=True,
    )
    numbers['load'] = load(port, mode, requests, RUN_LIMIT)
    numbers['after'] = heap_at_rest(port)
    return numbers


def serve_and_measure(mode, requests, src=None):
    port = run.free_port()
    env = dict(os.environ)
    # MPY: the source tree is the import path; '.frozen' keeps asyncio.
    src = src or os.path.join(run.ROOT, 'src')
    env['MICROPYPATH'] = src + ':.frozen'
    app = os.path.join(run.APPS, 'microdot_app.py')
    proc = run.start([micropython(), app, '--port', str(port)], env)
    try:
        run.wait_ready(proc, port)
        return measure(port, mode, requests)
    finally:
        run.stop(proc)


def _kb(value):
    return '%.1f KB' % (value / 1024)


def report_lines(n):
    load = n['load']
    growth = n['after'] - n['before']
    return [
        '## MicroPython (`micropython` unix port, %s, wrk -t1 -c%d)'
        % (n['mode'], CONNECTIONS),
        '',
        '| measure | value | goal |',
        '| --- | ---: | --- |',
        '| `import microdot` heap | %s | <= %d KB: %s |'
        % (
            _kb(n['import']),
            IMPORT_GOAL_KB,
            run.verdict(n['import'] <= IMPORT_GOAL_KB * 1024),
        ),
        '| heap at rest, cold | %s | |' % _kb(n['cold']),
        '| heap at rest, after %d warm-up requests | %s | |'
        % (WARMUP_REQUESTS, _kb(n['before'])),
        '| heap at rest, after the load | %s | <= %d KB: %s |'
        % (
            _kb(n['after']),
            AT_REST_GOAL_KB,
            run.verdict(n['after'] <= AT_REST_GOAL_KB * 1024),
        ),
        '| growth over the load | %+d B | none: %s |'
        % (growth, run.verdict(growth <= 0)),
        '| requests in the load | %d at %.0f req/s | >= 100,000: %s |'
        % (
            load['requests'],
            load['rps'],
            run.verdict(load['requests'] >= 100_000),
        ),
        '| errors | %s | |' % run.errors_text(load),
        '',
        'Heap at rest: `gc.mem_alloc()` after `gc.collect()`, read by'
        ' `GET /heap` (smallest of 10 over 1 s), so one in-flight request'
        ' is counted.',
    ]


def run_part(mode, requests, src=None):
    """Run the MicroPython part; return its report as markdown lines."""
    print('==> micropython', flush=True)
    try:
        numbers = serve_and_measure(mode, requests, src)
    except Exception as exc:  # report it; the CPython table still stands
        print('  FAILED: %s' % exc)
        return ['## MicroPython', '', 'failed: %s' % exc]
    lines = report_lines(numbers)
    for line in lines[4:-2]:
        print('  ' + line)
    return lines


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--mode', default='auto', choices=('auto', 'keepalive', 'close')
    )
    parser.add_argument('--requests', type=int, default=100_000)
    parser.add_argument(
        '--src', default=None, help='import microdot from here, not src/'
    )
    opts = parser.parse_args(argv)
    run.ensure_wrk()
    run.ensure_venv()
    print('\n'.join(run_part(opts.mode, opts.requests, opts.src)))


if __name__ == '__main__':
    main(sys.argv[1:])
