"""End-to-end tests of the built-in server over real sockets.

Portable: they run under pytest and under ``tests/mpy_runner.py`` on
MicroPython. Each test starts its own app on 127.0.0.1 (see serverutil),
talks raw HTTP to it and shuts it down in ``finally``.
"""

import serverutil

from microdot import Microdot, Request, Response

TEXT_PLAIN = 'text/plain; charset=UTF-8'


def make_app():
    app = serverutil.index_app('Hello, world!')

    @app.route('/json')
    async def json_route(req):
        return {'hello': 'world'}

    @app.route('/users/<int:id>')
    async def user(req, id):
        return '%s %d' % (type(id).__name__, id)

    @app.post('/form')
    async def form(req):
        return req.form['name'] + '|' + req.form['city']

    @app.post('/json')
    async def post_json(req):
        return {'double': req.json['n'] * 2}

    @app.post('/upload')
    async def upload(req):
        data = await serverutil.read_stream(req)
        return data, {'X-Body-Length': str(len(req.body))}

    @app.route('/stream')
    def stream(req):
        def generate():
            yield b'one,'
            yield 'two,'
            yield b'three'

        return generate()

    @app.route('/cookies')
    def cookies(req):
        res = Response('cookies set')
        res.set_cookie('a', '1', path='/', http_only=True)
        res.set_cookie('b', '2', max_age=60)
        return res

    @app.route('/fail')
    def fail(req):
        raise ValueError('boom')

    @app.route('/shutdown')
    def shutdown(req):
        req.app.shutdown()
        return 'bye'

    @app.route('/client')
    def client(req):
        addr = req.client_addr
        return '%s %d %s %s' % (
            type(addr).__name__,
            len(addr),
            addr[0],
            type(addr[1]).__name__,
        )

    return app


async def start():
    return await serverutil.start(make_app())


async def fetch(method, path, headers=None, body=b'', **kw):
    """One request to a fresh server; the server is stopped afterwards."""
    server = await start()
    try:
        return await server.request(method, path, headers, body, **kw)
    finally:
        await server.stop()


async def exchange(data):
    """Raw bytes to a fresh server; returns the parsed response."""
    server = await start()
    try:
        raw = await server.exchange(data)
    finally:
        await server.stop()
    return serverutil.HTTPResponse(raw)  # raw ends where the server closed


def error_headers(body):
    return {
        'content-type': TEXT_PLAIN,
        'content-length': str(len(body)),
        'connection': 'close',
    }


def assert_error(res, status_line, body):
    assert res.status_line == status_line
    assert res.headers == error_headers(body)
    assert res.body == body


# -- successful requests ----------------------------------------------------


async def test_hello_world():
    res = await fetch('GET', '/')
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers == {
        'content-type': TEXT_PLAIN,
        'content-length': '13',
        'connection': 'close',
    }
    assert res.body == b'Hello, world!'


async def test_http10_request_gets_http10_status_line():
    res = await fetch('GET', '/', version='1.0')
    assert res.status_line == b'HTTP/1.0 200 OK'
    assert res.headers['connection'] == 'close'
    assert res.body == b'Hello, world!'


async def test_json_route():
    res = await fetch('GET', '/json')
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers == {
        'content-type': 'application/json',
        'content-length': '17',
        'connection': 'close',
    }
    assert res.body == b'{"hello":"world"}'


async def test_int_url_argument():
    res = await fetch('GET', '/users/42')
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'int 42'


async def test_int_url_argument_not_an_int_is_404():
    res = await fetch('GET', '/users/abc')
    assert res.status_line == b'HTTP/1.1 404 Not Found'
    assert res.body == b'Not Found'


async def test_post_urlencoded_form():
    body = b'name=Jane+Doe&city=S%C3%A3o+Paulo'
    headers = {'Content-Type': 'application/x-www-form-urlencoded'}
    res = await fetch('POST', '/form', headers, body)
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'Jane Doe|S\xc3\xa3o Paulo'
    assert res.headers['content-length'] == str(len(res.body))


async def test_post_json_body():
    headers = {'Content-Type': 'application/json'}
    res = await fetch('POST', '/json', headers, b'{"n": 21}')
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers['content-type'] == 'application/json'
    assert res.body == b'{"double":42}'


async def test_body_above_max_body_length_is_read_from_stream():
    payload = bytes(range(256)) * 80  # 20480 bytes > max_body_length
    assert len(payload) > Request.max_body_length
    saved = Request.max_content_length
    Request.max_content_length = 64 * 1024
    try:
        res = await fetch('POST', '/upload', body=payload)
    finally:
        Request.max_content_length = saved
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers['x-body-length'] == '0'
    assert res.headers['content-length'] == '20480'
    assert res.body == payload


async def test_streaming_response_from_sync_generator():
    res = await fetch('GET', '/stream')
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers == {
        'content-type': TEXT_PLAIN,
        'transfer-encoding': 'chunked',
        'connection': 'close',
    }
    assert res.body == b'one,two,three'  # de-chunked by HTTPResponse


async def test_cookies_are_set_cookie_lines():
    res = await fetch('GET', '/cookies')
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert sorted(res.getlist('Set-Cookie')) == [
        'a=1; Path=/; HttpOnly',
        'b=2; Max-Age=60',
    ]
    assert res.body == b'cookies set'


async def test_head_has_headers_and_no_body():
    res = await fetch('HEAD', '/')
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers == {
        'content-type': TEXT_PLAIN,
        'content-length': '13',
        'connection': 'close',
    }
    assert res.body == b''


async def test_client_addr_is_host_port_tuple():
    res = await fetch('GET', '/client')
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'tuple 2 127.0.0.1 int'


# -- error responses --------------------------------------------------------


async def test_not_found():
    res = await fetch('GET', '/missing')
    assert_error(res, b'HTTP/1.1 404 Not Found', b'Not Found')


async def test_method_not_allowed():
    res = await fetch('DELETE', '/')
    assert res.status_line == b'HTTP/1.1 405 Method Not Allowed'
    expected = error_headers(b'Method Not Allowed')
    expected['allow'] = 'GET, HEAD, OPTIONS'
    assert res.headers == expected
    assert res.body == b'Method Not Allowed'


async def test_content_length_above_max_content_length_is_413():
    # Only the head is sent: the server must answer without the body.
    data = (
        'POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n'
        'Content-Length: %d\r\n\r\n' % (Request.max_content_length + 1)
    ).encode()
    res = await exchange(data)
    assert_error(res, b'HTTP/1.1 413 Content Too Large', b'Content Too Large')


async def test_malformed_request_line_is_400_then_close():
    res = await exchange(b'NOT A REQUEST LINE\r\n')
    assert_error(res, b'HTTP/1.1 400 Bad Request', b'Bad Request')


async def test_request_line_too_long_is_414():
    path = b'/' + b'a' * Request.max_readline
    res = await exchange(b'GET ' + path + b' HTTP/1.1\r\n')
    assert_error(res, b'HTTP/1.1 414 URI Too Long', b'URI Too Long')


async def test_header_line_too_long_is_431():
    header = b'X-Long: ' + b'b' * Request.max_readline + b'\r\n'
    res = await exchange(b'GET / HTTP/1.1\r\n' + header)
    assert_error(
        res,
        b'HTTP/1.1 431 Request Header Fields Too Large',
        b'Request Header Fields Too Large',
    )


async def test_non_numeric_content_length_is_400():
    data = (
        b'POST /json HTTP/1.1\r\nHost: 127.0.0.1\r\n'
        b'Content-Length: abc\r\n\r\n'
    )
    res = await exchange(data)
    assert_error(res, b'HTTP/1.1 400 Bad Request', b'Bad Request')


async def test_handler_exception_is_500():
    res = await fetch('GET', '/fail')
    assert_error(
        res, b'HTTP/1.1 500 Internal Server Error', b'Internal Server Error'
    )


# -- the server survives and stops ------------------------------------------


async def test_server_keeps_serving_after_handler_exception():
    server = await start()
    try:
        failed = await server.request('GET', '/fail')
        res = await server.request('GET', '/')
    finally:
        await server.stop()
    assert failed.status_code == 500
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'Hello, world!'


async def test_client_closing_without_request_does_not_break_server():
    server = await start()
    try:
        await serverutil.send_and_close(server.port, b'')
        res = await server.request('GET', '/')
    finally:
        await server.stop()
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'Hello, world!'


async def test_client_closing_in_headers_does_not_break_server():
    partial = b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: ab'
    server = await start()
    try:
        await serverutil.send_and_close(server.port, partial)
        res = await server.request('GET', '/')
    finally:
        await server.stop()
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'Hello, world!'


async def test_shutdown_from_handler_completes_its_response():
    res = await fetch('GET', '/shutdown')
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers == {
        'content-type': TEXT_PLAIN,
        'content-length': '3',
        'connection': 'close',
    }
    assert res.body == b'bye'


async def test_shutdown_from_handler_ends_start_server():
    server = await start()
    try:
        await server.request('GET', '/shutdown')
        await server.wait_finished()  # no stop(): it must end by itself
        assert server.finished()
        assert server.app.server is None
    finally:
        await server.stop()


async def test_port_is_released_after_shutdown():
    server = await start()
    try:
        assert not serverutil.port_is_free(server.port)  # probe is valid
        await server.request('GET', '/')
    finally:
        await server.stop()
    assert serverutil.port_is_free(server.port)


# -- failures while writing the response -------------------------------------


def make_failing_response_app():
    app = Microdot()

    @app.route('/bad-header')
    async def bad_header(req):
        return 'x', 200, {'X-Evil': 'a\r\nSet-Cookie: injected=1'}

    @app.route('/broken-stream')
    async def broken_stream(req):
        def generate():
            yield 'first chunk'
            raise RuntimeError('stream failed')

        return generate()

    @app.route('/')
    async def index(req):
        return 'still here'

    return app


async def test_header_with_crlf_is_never_sent():
    server = await serverutil.start(make_failing_response_app())
    try:
        raw = await server.exchange(
            serverutil.build_request(
                server.port, 'GET', '/bad-header', {'Connection': 'close'}
            )
        )
    finally:
        await server.stop()
    assert raw == (
        b'HTTP/1.1 500 Internal Server Error\r\n'
        b'Content-Length: 0\r\nConnection: close\r\n\r\n'
    )


async def test_stream_failing_midway_closes_and_server_keeps_serving():
    server = await serverutil.start(make_failing_response_app())
    try:
        broken = await server.request('GET', '/broken-stream')
        res = await server.request('GET', '/')
    finally:
        await server.stop()
    assert broken.status_line == b'HTTP/1.1 200 OK'
    assert broken.body == b'first chunk'
    assert res.body == b'still here'


async def test_start_server_without_serving_returns_and_serves():
    app = Microdot()

    @app.route('/')
    async def index(req):
        return 'background'

    for _ in range(serverutil.PORT_ATTEMPTS):
        port = serverutil._choose_port()
        try:
            await app.start_server(
                host=serverutil.HOST, port=port, start_serving=False
            )
            break
        except OSError:
            continue
    try:
        if not serverutil.IS_MICROPYTHON:
            port = app.server.sockets[0].getsockname()[1]
        res = serverutil.HTTPResponse(
            await serverutil.exchange(
                port,
                serverutil.build_request(
                    port, 'GET', '/', {'Connection': 'close'}
                ),
            )
        )
    finally:
        app.shutdown()
        await serverutil.poll(lambda: app.server is None, 5)
    assert res.body == b'background'
    assert app.server is None
