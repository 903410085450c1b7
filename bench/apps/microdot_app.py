"""The benchmark app on microdot's built-in server (CPython and MicroPython).

Usage: ``python microdot_app.py [--port N] [--uvloop]`` (or the
``micropython`` command). ``BENCH_PORT`` and ``BENCH_UVLOOP=1`` do the same as
the flags. It binds 127.0.0.1 only.

MPY: no argparse there, so the arguments are read by hand; the heap used by
``import microdot`` is measured here, inside the serving process, and served
by ``/heap`` together with the heap in use now.
"""

import gc
import os
import sys

try:
    _heap = gc.mem_alloc  # MicroPython only
except AttributeError:
    _heap = None


def _allocated():
    gc.collect()
    return _heap() if _heap else -1


_before_import = _allocated()
from microdot import Microdot  # noqa: E402

IMPORT_HEAP = _allocated() - _before_import if _heap else -1

from routes import add_routes  # noqa: E402

app = Microdot()
add_routes(app)


@app.route('/heap')
async def heap(request):
    # The in-flight request is counted too; it is the same before and
    # after a load, so the difference is the growth.
    return {'import': IMPORT_HEAP, 'alloc': _allocated()}


def _options(argv):
    port = int(os.getenv('BENCH_PORT') or 5000)
    use_uvloop = os.getenv('BENCH_UVLOOP') == '1'
    i = 1
    while i < len(argv):
        if argv[i] == '--port':
            i += 1
            port = int(argv[i])
        elif argv[i] == '--uvloop':
            use_uvloop = True
        else:
            raise SystemExit('unknown argument: %s' % argv[i])
        i += 1
    return port, use_uvloop


if __name__ == '__main__':
    port, use_uvloop = _options(sys.argv)
    if use_uvloop:
        import uvloop

        uvloop.install()
    app.run(host='127.0.0.1', port=port)
