# runtime: cpython
"""The application that every deployment target of ``test_deploy.py``
serves: the built-in server, uvicorn and hypercorn (ASGI) and gunicorn
(WSGI).

``build(app_class, **options)`` adds the same routes to an app of any
Microdot class; ``builtin_app``, ``asgi_app`` and ``wsgi_app`` are built
at import. ``python tests/deploy_app.py PORT`` runs ``builtin_app`` on
127.0.0.1.

Importing this module lowers the ``Request`` limits for the whole process
(``MAX_CONTENT_LENGTH``, ``MAX_BODY_LENGTH``): only the server processes
import it, never the test process.

The environment variable ``DEPLOY_STATE_DIR`` names a directory where the
app leaves what the tests read across processes: ``lifespan.log`` (one
line per lifespan callback) and ``sse-<id>`` files (what became of an
endless event stream). ``DEPLOY_FAIL=startup`` (or ``shutdown``) makes
that lifespan function raise.
"""

import asyncio
import os
import sys

from adapterutil import add_json_form_routes

from microdot import Microdot, Request, Response, abort
from microdot.asgi import Microdot as ASGIMicrodot
from microdot.session import Session, with_session
from microdot.sse import sse_response, with_sse
from microdot.websocket import with_websocket
from microdot.wsgi import Microdot as WSGIMicrodot

MAX_CONTENT_LENGTH = 4096  # 413 above it
MAX_BODY_LENGTH = 512  # larger bodies are only in request.stream
Request.max_content_length = MAX_CONTENT_LENGTH
Request.max_body_length = MAX_BODY_LENGTH

SECRET_KEY = 'deploy-test-secret-0123456789abcdef'
STREAM_CHUNKS = [b'chunk 0\n', b'chunk 1\n', b'chunk 2\n', b'chunk 3\n']
STREAM_DELAY = 0.3  # seconds before each chunk after the first
SSE_DELAY = 0.25  # seconds between two events of /sse
SSE_FOREVER_INTERVAL = 0.05  # seconds between the events of /sse-forever
SSE_FOREVER_LIMIT = 400  # events (20 s): the endless stream is bounded
BIG_BODY = bytes(range(256)) * 400  # 102400 bytes

STATE_DIR = os.environ.get('DEPLOY_STATE_DIR', '')


def state_path(name):
    """The path of a state file, or None when no state dir was given."""
    return os.path.join(STATE_DIR, name) if STATE_DIR else None


def write_state(name, text, append=False):
    """Write (or append to) a state file; the file is replaced whole, so
    a reader never sees it half written."""
    path = state_path(name)
    if path is None:
        return
    if append and os.path.exists(path):
        with open(path) as f:
            text = f.read() + text
    temporary = '%s.%d.tmp' % (path, os.getpid())
    with open(temporary, 'w') as f:
        f.write(text)
    os.replace(temporary, path)


def _is_hex(text):
    return (
        bool(text) and len(text) <= 32 and not text.strip('0123456789abcdef')
    )


def add_basic_routes(app):
    """Text, path and query, adapter attributes, a sync handler."""

    @app.route('/ready')
    async def ready(request):
        return 'ready'

    @app.route('/text')
    async def text(request):
        return 'Hello, World!'

    @app.route('/sync')
    def sync(request):
        return 'sync handler'

    @app.route('/path/<path:rest>')
    async def path(request, rest):
        return {
            'path': request.path,
            'rest': rest,
            'query_string': request.query_string,
            'args': {k: request.args.getlist(k) for k in request.args},
        }

    @app.route('/adapter')
    async def adapter(request):
        scope = getattr(request, 'asgi_scope', None)
        environ = getattr(request, 'environ', None)
        return {
            'asgi_scope': scope['type'] if scope is not None else None,
            'environ': environ['REQUEST_METHOD'] if environ else None,
            'client': request.client_addr[0],
            'scheme': request.scheme,
        }

    @app.route('/pid')
    async def pid(request):
        return str(os.getpid())

    @app.route('/big')
    async def big(request):
        return BIG_BODY


def add_body_routes(app):
    """JSON, form, cookies, uploads read from ``request.stream``."""
    add_json_form_routes(app)

    @app.route('/cookies/set')
    async def set_cookies(request):
        res = Response('cookies set')
        res.set_cookie('a', '1')
        res.set_cookie('b', 'two', path='/', http_only=True)
        return res

    @app.route('/cookies/read')
    async def read_cookies(request):
        return request.cookies

    @app.post('/upload')
    async def upload(request):
        data = b''
        for _ in range(1000):  # bounded: MAX_CONTENT_LENGTH / 64 reads
            chunk = await request.stream.read(64)
            if not chunk:
                break
            data += chunk
        headers = {
            'Content-Type': 'application/octet-stream',
            'X-Body-Length': str(len(request.body)),
        }
        return data, 200, headers


def add_session_routes(app):
    Session(app, secret_key=SECRET_KEY)

    @app.route('/session')
    @with_session
    async def counter(request, session):
        session['count'] = session.get('count', 0) + 1
        session.save()
        return {'count': session['count'], 'pid': os.getpid()}


def add_streaming_routes(app):
    """A generator with delays, SSE, an endless SSE stream."""

    @app.route('/stream')
    async def stream(request):
        async def chunks():
            for i, chunk in enumerate(STREAM_CHUNKS):
                if i:
                    await asyncio.sleep(STREAM_DELAY)
                yield chunk

        return chunks()

    @app.route('/sse')
    @with_sse
    async def sse(request, sse):
        await sse.send('one')
        await asyncio.sleep(SSE_DELAY)
        await sse.send({'n': 2})
        await asyncio.sleep(SSE_DELAY)
        await sse.send('three', event='end', event_id='3')

    @app.route('/sse-forever')
    async def sse_forever(request):
        stream_id = request.args.get('id', '')
        if not _is_hex(stream_id):
            abort(400)
        return sse_response(request, _forever_events('sse-' + stream_id))


def _forever_events(name):
    """An event function that sends events until the client leaves; the
    state file ``name`` says 'running', then 'cancelled' or 'finished'."""

    async def events(request, sse):
        write_state(name, 'running')
        outcome = 'finished'
        try:
            for i in range(SSE_FOREVER_LIMIT):
                await sse.send(str(i))
                await asyncio.sleep(SSE_FOREVER_INTERVAL)
        except asyncio.CancelledError:
            outcome = 'cancelled'
            raise
        finally:
            write_state(name, outcome)

    return events


def add_websocket_routes(app):
    @app.route('/ws')
    @with_websocket
    async def echo(request, ws):
        for _ in range(1000):  # bounded
            await ws.send(await ws.receive())

    @app.route('/ws-bye')
    @with_websocket
    async def bye(request, ws):
        await ws.send('bye')  # then the decorator closes with 1000

    @app.route('/ws-refuse')
    async def refuse(request):
        abort(401)


def add_lifecycle_routes(app):
    @app.route('/lifespan')
    async def lifespan(request):
        return {'startup': STARTED}

    @app.route('/shutdown')
    async def shutdown(request):
        request.app.shutdown()
        return 'shutting down'


STARTED = []  # type: list


async def lifespan_startup(scope):
    if os.environ.get('DEPLOY_FAIL') == 'startup':
        raise RuntimeError('deploy-app startup refused')
    STARTED.append(scope['type'])
    write_state('lifespan.log', 'startup %s\n' % scope['type'], True)


def lifespan_shutdown(scope):  # a plain function: called, not awaited
    if os.environ.get('DEPLOY_FAIL') == 'shutdown':
        raise RuntimeError('deploy-app shutdown refused')
    write_state('lifespan.log', 'shutdown %s\n' % scope['type'], True)


def build(app_class, **options):
    """Return an app of ``app_class`` (given ``options``) with every
    route of the deployment tests."""
    app = app_class(**options)
    add_basic_routes(app)
    add_body_routes(app)
    add_session_routes(app)
    add_streaming_routes(app)
    add_websocket_routes(app)
    add_lifecycle_routes(app)
    return app


builtin_app = build(Microdot)
asgi_app = build(
    ASGIMicrodot,
    lifespan_startup=lifespan_startup,
    lifespan_shutdown=lifespan_shutdown,
)
wsgi_app = build(WSGIMicrodot)

if __name__ == '__main__':
    builtin_app.run(host='127.0.0.1', port=int(sys.argv[1]))
