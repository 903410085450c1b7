# runtime: cpython
"""The built-in server driven by real HTTP clients: requests and httpx.

Each app is served from its own thread and event loop (``ThreadedServer``)
so that blocking clients can call it from the test thread.
"""

import asyncio
import hashlib
import socket
import threading
import time

import httpx
import pytest
import requests
import serverutil

from microdot import Microdot, Request, Response, send_file

TIMEOUT = 5  # seconds for any one client call
STOP_TIMEOUT = 10  # seconds for a server thread to end
TEXT_PLAIN = 'text/plain; charset=UTF-8'
MIB = 1024 * 1024


class ThreadedServer:
    """Run ``app.start_server()`` in a thread with its own event loop."""

    def __init__(self, app, debug=False):
        self.app = app
        self.debug = debug
        self.loop = None
        self.port = None
        self.error = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self):
        return f'http://{serverutil.HOST}:{self.port}'

    def start(self):
        self.thread.start()
        assert self.ready.wait(TIMEOUT), 'server thread did not start'
        if self.error is not None:
            raise self.error
        return self

    def _run(self):
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start() or stop()
            self.error = exc
        finally:
            self.ready.set()

    async def _main(self):
        self.loop = asyncio.get_running_loop()
        server = await serverutil.start(self.app, debug=self.debug)
        self.port = server.port
        self.ready.set()
        await server.wait_finished(timeout=None)  # until shutdown()

    def stop(self):
        if self.thread.is_alive() and self.loop is not None:
            try:
                self.loop.call_soon_threadsafe(self.app.shutdown)
            except RuntimeError:  # the loop has just closed
                pass
        self.thread.join(STOP_TIMEOUT)
        assert not self.thread.is_alive(), 'server thread did not end'
        if self.error is not None:
            raise self.error


@pytest.fixture
def serve():
    """Start apps in server threads; stop them all at teardown."""
    servers = []

    def start(app, debug=False):
        server = ThreadedServer(app, debug=debug)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


class Result:
    """The parts of a response that the tests compare, for any client."""

    def __init__(self, status_code, headers, content):
        self.status_code = status_code
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.content = content


def call_requests(method, url, json=None, data=None, content=None):
    res = requests.request(
        method, url, json=json, data=content if data is None else data,
        timeout=TIMEOUT,
    )  # fmt: skip
    return Result(res.status_code, res.headers, res.content)


def call_httpx(method, url, json=None, data=None, content=None):
    res = httpx.request(
        method, url, json=json, data=data, content=content, timeout=TIMEOUT
    )
    return Result(res.status_code, res.headers, res.content)


def call_httpx_async(method, url, json=None, data=None, content=None):
    async def call():
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            res = await client.request(
                method, url, json=json, data=data, content=content
            )
            return Result(res.status_code, res.headers, res.content)

    return asyncio.run(call())


CLIENTS = {
    'requests': call_requests,
    'httpx': call_httpx,
    'httpx-async': call_httpx_async,
}


@pytest.fixture(params=sorted(CLIENTS))
def call(request):
    """One test per client: ``call(method, url, json=, data=, content=)``."""
    return CLIENTS[request.param]


def make_app(file_path=None):
    app = Microdot()

    @app.route('/')
    async def index(req):
        return 'Hello, world!'

    @app.post('/json')
    async def post_json(req):
        return {'double': req.json['n'] * 2}

    @app.post('/form')
    async def form(req):
        return req.form['name'] + '|' + req.form['city']

    @app.post('/upload')
    async def upload(req):
        digest = hashlib.sha256()
        length = 0
        for _ in range(10000):  # bounded: 10000 reads of up to 64 KiB
            chunk = await req.stream.read(64 * 1024)
            if not chunk:
                break
            digest.update(chunk)
            length += len(chunk)
        return {
            'length': length,
            'sha256': digest.hexdigest(),
            'body': len(req.body),
        }

    @app.route('/file')
    async def file(req):
        return send_file(file_path)

    @app.route('/login')
    async def login(req):
        res = Response('logged in')
        res.set_cookie('session', 'abc123', path='/', http_only=True)
        return res

    @app.route('/whoami')
    async def whoami(req):
        return req.cookies.get('session', 'nobody')

    @app.route('/port')
    async def port(req):
        return str(req.client_addr[1])

    @app.route('/shutdown')
    async def shutdown(req):
        req.app.shutdown()
        return 'bye'

    return app


# -- the same app through requests, httpx and httpx.AsyncClient ---------------


def test_get(serve, call):
    server = serve(make_app())
    res = call('GET', server.url + '/')
    assert res.status_code == 200
    assert res.headers == {
        'content-type': TEXT_PLAIN,
        'content-length': '13',
    }
    assert res.content == b'Hello, world!'


def test_post_json(serve, call):
    server = serve(make_app())
    res = call('POST', server.url + '/json', json={'n': 21})
    assert res.status_code == 200
    assert res.headers['content-type'] == 'application/json'
    assert res.content == b'{"double":42}'


def test_post_form(serve, call):
    server = serve(make_app())
    form = {'name': 'Jane Doe', 'city': 'São Paulo'}
    res = call('POST', server.url + '/form', data=form)
    assert res.status_code == 200
    assert res.content == 'Jane Doe|São Paulo'.encode()


def test_upload_1mb_read_from_stream(serve, call):
    payload = bytes(range(256)) * (MIB // 256)
    server = serve(make_app())
    saved = Request.max_content_length
    Request.max_content_length = 2 * MIB
    try:
        res = call('POST', server.url + '/upload', content=payload)
    finally:
        Request.max_content_length = saved
    assert res.status_code == 200
    assert res.content == (
        b'{"length":1048576,"sha256":"%s","body":0}'
        % hashlib.sha256(payload).hexdigest().encode()
    )


def test_send_file_of_temp_file(serve, call, tmp_path):
    path = tmp_path / 'hello.txt'
    path.write_bytes(b'file contents\n')
    server = serve(make_app(file_path=str(path)))
    res = call('GET', server.url + '/file')
    assert res.status_code == 200
    assert res.headers == {
        'content-type': 'text/plain',
        'content-length': '14',
    }
    assert res.content == b'file contents\n'


def chunks():
    yield b'abc'
    yield b'defg'


CHUNKED_RESULT = (
    b'{"length":7,"sha256":"%s","body":7}'
    % hashlib.sha256(b'abcdefg').hexdigest().encode()
)


def test_requests_uploads_chunked_body(serve):
    server = serve(make_app())
    res = requests.post(server.url + '/upload', data=chunks(), timeout=TIMEOUT)
    assert res.status_code == 200
    assert res.content == CHUNKED_RESULT


def test_httpx_uploads_chunked_body(serve):
    server = serve(make_app())
    res = httpx.post(server.url + '/upload', content=chunks(), timeout=TIMEOUT)
    assert res.status_code == 200
    assert res.content == CHUNKED_RESULT


def test_httpx_client_reuses_one_connection(serve):
    server = serve(make_app())
    with httpx.Client(timeout=TIMEOUT) as client:
        ports = {client.get(server.url + '/port').text for _ in range(3)}
    assert len(ports) == 1


def test_requests_session_reuses_one_connection(serve):
    server = serve(make_app())
    with requests.Session() as session:
        ports = {
            session.get(server.url + '/port', timeout=TIMEOUT).text
            for _ in range(3)
        }
    assert len(ports) == 1


# -- requests only ----------------------------------------------------------


def test_requests_session_cookie_round_trip(serve):
    server = serve(make_app())
    with requests.Session() as session:
        login = session.get(server.url + '/login', timeout=TIMEOUT)
        res = session.get(server.url + '/whoami', timeout=TIMEOUT)
        jar_value = session.cookies.get('session')
    set_cookie = login.headers['Set-Cookie']
    assert set_cookie == 'session=abc123; Path=/; HttpOnly'
    assert jar_value == 'abc123'
    assert res.status_code == 200
    assert res.content == b'abc123'


# -- app.run() in a thread --------------------------------------------------


def free_port():
    """Return a port that was free a moment ago (bound, then released)."""
    with socket.socket() as probe:
        probe.bind((serverutil.HOST, 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout):
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.01) + 1):
        if condition() or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    return condition()


def test_run_in_thread_stopped_by_shutdown_route():
    app = make_app()
    port = free_port()
    url = f'http://{serverutil.HOST}:{port}'
    thread = threading.Thread(
        target=app.run, kwargs={'host': serverutil.HOST, 'port': port},
        daemon=True,
    )  # fmt: skip
    thread.start()
    try:
        assert wait_until(lambda: app.server is not None, TIMEOUT)
        hello = requests.get(url + '/', timeout=TIMEOUT)
        bye = requests.get(url + '/shutdown', timeout=TIMEOUT)
        thread.join(STOP_TIMEOUT)
        assert not thread.is_alive()
    finally:
        if thread.is_alive():  # a failed test must not leave it running
            requests.get(url + '/shutdown', timeout=TIMEOUT)
            thread.join(STOP_TIMEOUT)
    assert hello.content == b'Hello, world!'
    assert bye.status_code == 200
    assert bye.content == b'bye'
    assert app.server is None


# -- concurrency ------------------------------------------------------------


async def test_slow_async_handlers_run_concurrently(serve):
    app = Microdot()

    @app.route('/slow/<int:n>')
    async def slow(req, n):
        await asyncio.sleep(0.2)
        return str(n)

    server = serve(app)
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        start = time.monotonic()
        responses = await asyncio.gather(
            *[client.get(f'{server.url}/slow/{n}') for n in range(20)]
        )
        elapsed = time.monotonic() - start
    assert [res.status_code for res in responses] == [200] * 20
    assert [res.text for res in responses] == [str(n) for n in range(20)]
    # 20 * 0.2 s = 4 s if served one by one: this proves concurrency.
    assert elapsed < 2


async def test_sync_handler_does_not_block_async_route(serve):
    started = threading.Event()
    release = threading.Event()
    app = Microdot()

    @app.route('/blocking')
    def blocking(req):
        started.set()
        # Blocks its thread (like a sleep) until the async route answered;
        # run inline on the loop thread it would block that route too.
        release.wait(TIMEOUT)
        return 'blocking done'

    @app.route('/async')
    async def quick(req):
        return 'async done'

    server = serve(app)
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        slow = asyncio.ensure_future(client.get(server.url + '/blocking'))
        try:
            assert await serverutil.poll(started.is_set, TIMEOUT)
            fast = await asyncio.wait_for(client.get(server.url + '/async'), 2)
            blocked = not slow.done()
        finally:
            release.set()
        res = await asyncio.wait_for(slow, TIMEOUT)
    assert blocked
    assert fast.content == b'async done'
    assert res.content == b'blocking done'


# -- debug output -----------------------------------------------------------


def count_lines_with(lines, *words):
    return len([line for line in lines if set(words) <= set(line)])


def test_debug_prints_an_access_line_per_request(serve, capsys):
    server = serve(make_app(), debug=True)
    ok = requests.get(server.url + '/', timeout=TIMEOUT)
    missing = requests.post(server.url + '/missing', timeout=TIMEOUT)
    server.stop()  # every line is printed before the server ends
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ok.status_code == 200
    assert missing.status_code == 404
    assert len([ws for ws in lines if {'GET', '/', '200'} <= set(ws)]) == 1
    assert (
        len([ws for ws in lines if {'POST', '/missing', '404'} <= set(ws)])
        == 1
    )
