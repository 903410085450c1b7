"""Tests of ``Request`` and ``Request.create()``: parsing raw HTTP bytes from
``AsyncBytesIO`` streams, the documented attributes, the request limits and
the error responses for malformed input (portable: CPython and MicroPython).
"""

import support

from microdot import AsyncBytesIO, Microdot, Request, Response, abort
from microdot.microdot import HTTPException, MultiDict
from microdot.test_client import TestClient

ADDR = ('127.0.0.1', 1)
ERROR_CODES = (400, 413, 414, 431, 501, 505)


async def send(app, raw):
    """Feed raw request bytes to ``app``; return (request, response,
    reader) so that tests can also check what was left unread."""
    reader = AsyncBytesIO(raw)
    req, res = await app.process_request(reader, AsyncBytesIO(), ADDR)
    return req, res, reader


async def create(raw, app=None):
    """Parse raw request bytes with ``Request.create``."""
    return await Request.create(
        app or Microdot(), AsyncBytesIO(raw), AsyncBytesIO(), ADDR
    )


def capture_app(methods=None):
    """An app whose routes store the request in ``seen['req']``."""
    app = Microdot()
    seen = {}

    @app.route('/', methods=methods or ['GET', 'POST'])
    async def index(request):
        seen['req'] = request
        return 'ok'

    @app.route('/a b')
    async def spaced(request):
        seen['req'] = request
        return 'spaced'

    @app.route('/x')
    async def x(request):
        seen['req'] = request
        return 'x'

    return app, seen


def error_app():
    """An app with an error handler for each parser status code and an
    after-error-request handler, both recording their calls in ``seen``."""
    app = Microdot()
    seen = []

    def make_handler(code):
        async def handler(request):
            seen.append(code)
            return 'handled %d' % code, code

        return handler

    for code in ERROR_CODES:
        app.errorhandler(code)(make_handler(code))

    @app.after_error_request
    async def after_error(request, response):
        seen.append('after')
        response.headers['X-After-Error'] = 'yes'
        return response

    @app.route('/', methods=['GET', 'POST'])
    async def index(request):
        return 'ok'

    @app.post('/json')
    async def json_route(request):
        return {'json': request.json}

    @app.get('/args')
    async def args_route(request):
        return 'a=%s' % request.args.get('a')

    @app.post('/form')
    async def form_route(request):
        return 'f=%s' % request.form.get('f')

    return app, seen


async def expect_error(raw, code):
    """Send ``raw`` to an ``error_app`` and check the ``code`` response
    came from its error handler and went through after_error_request."""
    app, seen = error_app()
    req, res, reader = await send(app, raw)
    assert res.status_code == code, raw
    assert res.body == ('handled %d' % code).encode()
    assert res.headers['X-After-Error'] == 'yes'
    assert seen == [code, 'after']
    return req, res, reader


def head(*lines):
    """Build a request head from text lines (CRLF line endings)."""
    return ('\r\n'.join(lines) + '\r\n\r\n').encode()


class limits:
    """Context manager: set class-level ``Request`` limits, restore them
    on exit (also when the block fails)."""

    def __init__(self, **values):
        self.values = values
        self.saved = {}

    def __enter__(self):
        for name in self.values:
            self.saved[name] = getattr(Request, name)
            setattr(Request, name, self.values[name])
        return self

    def __exit__(self, *exc):
        for name in self.saved:
            setattr(Request, name, self.saved[name])
        return False


# ----------------------------------------------------------------------------
# Request.create on raw bytes: the attributes
# ----------------------------------------------------------------------------


async def test_create_sets_app_client_addr_method_url():
    app = Microdot()
    req = await create(head('GET /p/q?a=1 HTTP/1.1', 'Host: x'), app)
    assert req.app is app
    assert req.client_addr == ('127.0.0.1', 1)
    assert req.method == 'GET'
    assert req.url == '/p/q?a=1'
    assert req.path == '/p/q'
    assert req.query_string == 'a=1'


async def test_create_without_query_string():
    req = await create(head('GET /p HTTP/1.1'))
    assert req.path == '/p'
    assert req.query_string == ''
    assert isinstance(req.args, MultiDict)
    assert len(req.args) == 0


async def test_create_defaults_of_unset_attributes():
    req = await create(head('GET / HTTP/1.1', 'Host: x'))
    assert req.content_length == 0
    assert req.content_type is None
    assert req.body == b''
    assert req.files is None
    assert req.json is None
    assert req.form is None
    assert req.cookies == {}
    assert req.url_prefix == ''
    assert req.subapp is None
    assert req.route is None
    assert req.scheme == 'http'
    assert req.after_request_handlers == []


async def test_create_http_version_1_1():
    req = await create(head('GET / HTTP/1.1'))
    assert req.http_version == '1.1'


async def test_create_http_version_1_0():
    req = await create(head('GET / HTTP/1.0'))
    assert req.http_version == '1.0'


async def test_create_returns_none_on_empty_stream():
    assert await create(b'') is None


async def test_process_request_returns_none_on_empty_stream():
    req, res, _ = await send(Microdot(), b'')
    assert req is None
    assert res is None


async def test_create_skips_leading_empty_line():
    req = await create(b'\r\n' + head('GET /x HTTP/1.1', 'Host: h'))
    assert req.method == 'GET'
    assert req.path == '/x'
    assert req.headers['Host'] == 'h'


async def test_create_skips_leading_bare_lf_line():
    req = await create(b'\n' + head('DELETE /y HTTP/1.1'))
    assert req.method == 'DELETE'
    assert req.path == '/y'


async def test_create_accepts_bare_lf_line_endings():
    req = await create(b'GET /z HTTP/1.1\nHost: h\n\n')
    assert req.path == '/z'
    assert req.headers['Host'] == 'h'


async def test_create_method_is_kept_as_sent():
    req = await create(head('PROPFIND /dav HTTP/1.1'))
    assert req.method == 'PROPFIND'


async def test_headers_are_case_insensitive():
    req = await create(
        head('GET / HTTP/1.1', 'Host: h', 'X-Custom-Thing: Value 1')
    )
    assert req.headers['x-custom-thing'] == 'Value 1'
    assert req.headers['X-CUSTOM-THING'] == 'Value 1'
    assert req.headers['X-Custom-Thing'] == 'Value 1'
    assert req.headers.get('x-CUSTOM-thing') == 'Value 1'
    assert 'x-custom-THING' in req.headers
    assert 'X-Missing' not in req.headers
    assert len(req.headers) == 2


async def test_header_value_whitespace_is_stripped():
    req = await create(head('GET / HTTP/1.1', 'X-A:    v w  ', 'X-B:\tx\t'))
    assert req.headers['X-A'] == 'v w'
    assert req.headers['X-B'] == 'x'


async def test_header_value_keeps_inner_tab():
    req = await create(head('GET / HTTP/1.1', 'X-A: a\tb'))
    assert req.headers['X-A'] == 'a\tb'


async def test_header_with_empty_value():
    req = await create(head('GET / HTTP/1.1', 'X-Empty:'))
    assert req.headers['X-Empty'] == ''


async def test_repeated_headers_are_joined_with_comma():
    req = await create(
        head('GET / HTTP/1.1', 'Accept: a/b', 'accept: c/d', 'ACCEPT: e/f')
    )
    assert req.headers['Accept'] == 'a/b, c/d, e/f'


async def test_repeated_cookie_headers_are_joined_with_semicolon():
    req = await create(
        head('GET / HTTP/1.1', 'Cookie: a=1; b=2', 'Cookie: c=3')
    )
    assert req.headers['Cookie'] == 'a=1; b=2; c=3'
    assert req.cookies == {'a': '1', 'b': '2', 'c': '3'}


async def test_cookies_are_parsed():
    req = await create(head('GET / HTTP/1.1', 'Cookie: one=1;two=2 ; x=y=z'))
    assert req.cookies == {'one': '1', 'two': '2', 'x': 'y=z'}


async def test_cookies_keep_empty_values():
    req = await create(head('GET / HTTP/1.1', 'Cookie: a=; b=2; c='))
    assert req.cookies == {'a': '', 'b': '2', 'c': ''}


async def test_cookie_pairs_without_equals_are_skipped():
    req = await create(head('GET / HTTP/1.1', 'Cookie: flag; a=1'))
    assert req.cookies == {'a': '1'}


async def test_args_is_multidict_with_repeated_keys():
    req = await create(head('GET /?a=1&b=2&a=3 HTTP/1.1'))
    assert isinstance(req.args, MultiDict)
    assert req.args['a'] == '1'
    assert req.args['b'] == '2'
    assert req.args.getlist('a') == ['1', '3']
    assert req.args.getlist('b') == ['2']
    assert req.args.getlist('c') == []
    assert req.args.get('c') is None


async def test_args_are_percent_and_plus_decoded():
    req = await create(head('GET /?q=a+b%20c%2Bd&k%C3%A9y=%E2%82%AC HTTP/1.1'))
    assert req.args['q'] == 'a b c+d'
    assert req.args['k\u00e9y'] == '\u20ac'


async def test_args_empty_and_missing_values():
    req = await create(head('GET /?a=&flag&&b=1 HTTP/1.1'))
    assert req.args['a'] == ''
    assert req.args['flag'] == ''
    assert req.args['b'] == '1'
    assert len(req.args) == 3


async def test_content_length_and_body():
    raw = head('POST / HTTP/1.1', 'Content-Length: 5') + b'hello'
    req = await create(raw)
    assert req.content_length == 5
    assert req.body == b'hello'


async def test_content_length_surrounding_whitespace_is_allowed():
    # RFC 9112 section 5: whitespace around a field value is not part of it
    raw = head('POST / HTTP/1.1', 'Content-Length:   3  ') + b'abc'
    req = await create(raw)
    assert req.content_length == 3
    assert req.body == b'abc'


async def test_identical_duplicate_content_length_headers_are_rejected():
    # the core rejects any Content-Length list (RFC 9112 section 6.3 allows
    # either rejecting or collapsing identical values)
    raw = head('POST / HTTP/1.1', 'Content-Length: 3', 'Content-Length: 3')
    await expect_error(raw + b'abc', 400)


async def test_body_stops_at_content_length():
    raw = head('POST / HTTP/1.1', 'Content-Length: 3') + b'abcEXTRA'
    reader = AsyncBytesIO(raw)
    req = await Request.create(Microdot(), reader, AsyncBytesIO(), ADDR)
    assert req.body == b'abc'
    assert await req.sock[0].read() == b'EXTRA'  # buffered, then the rest


async def test_content_type_is_kept_as_sent():
    raw = head('POST / HTTP/1.1', 'Content-Type: Text/Plain; charset=UTF-8')
    req = await create(raw)
    assert req.content_type == 'Text/Plain; charset=UTF-8'


async def test_json_body_is_parsed():
    body = b'{"a": [1, 2], "b": "\\u00e9"}'
    raw = head(
        'POST / HTTP/1.1',
        'Content-Type: application/json',
        'Content-Length: %d' % len(body),
    )
    req = await create(raw + body)
    assert req.json == {'a': [1, 2], 'b': '\u00e9'}


async def test_json_with_charset_parameter_is_parsed():
    body = b'[1, "x"]'
    raw = head(
        'POST / HTTP/1.1',
        'Content-Type: application/json; charset=utf-8',
        'Content-Length: %d' % len(body),
    )
    req = await create(raw + body)
    assert req.json == [1, 'x']


async def test_plus_json_content_type_is_parsed():
    body = b'{"data": {"id": "1"}}'
    raw = head(
        'POST / HTTP/1.1',
        'Content-Type: application/vnd.api+json',
        'Content-Length: %d' % len(body),
    )
    req = await create(raw + body)
    assert req.json == {'data': {'id': '1'}}


async def test_json_is_none_for_other_content_types():
    body = b'{"a": 1}'
    raw = head(
        'POST / HTTP/1.1',
        'Content-Type: text/plain',
        'Content-Length: %d' % len(body),
    )
    req = await create(raw + body)
    assert req.json is None
    assert req.body == body


async def test_json_is_none_without_content_type():
    raw = head('POST / HTTP/1.1', 'Content-Length: 8') + b'{"a": 1}'
    req = await create(raw)
    assert req.json is None


async def test_form_is_parsed_into_multidict():
    body = b'name=J+Doe&tag=a&tag=b%26c&empty='
    raw = head(
        'POST / HTTP/1.1',
        'Content-Type: application/x-www-form-urlencoded',
        'Content-Length: %d' % len(body),
    )
    req = await create(raw + body)
    assert isinstance(req.form, MultiDict)
    assert req.form['name'] == 'J Doe'
    assert req.form.getlist('tag') == ['a', 'b&c']
    assert req.form['empty'] == ''
    assert len(req.form) == 3


async def test_form_with_charset_parameter_is_parsed():
    body = b'city=M%C3%BCnchen'
    raw = head(
        'POST / HTTP/1.1',
        'Content-Type: application/x-www-form-urlencoded; charset=UTF-8',
        'Content-Length: %d' % len(body),
    )
    req = await create(raw + body)
    assert req.form['city'] == 'M\u00fcnchen'


async def test_form_content_type_is_case_insensitive():
    body = b'a=1'
    raw = head(
        'POST / HTTP/1.1',
        'Content-Type: Application/X-WWW-Form-Urlencoded',
        'Content-Length: 3',
    )
    req = await create(raw + body)
    assert req.form['a'] == '1'


async def test_form_is_none_for_other_content_types():
    body = b'a=1'
    raw = head(
        'POST / HTTP/1.1',
        'Content-Type: multipart/form-data; boundary=x',
        'Content-Length: 3',
    )
    req = await create(raw + body)
    assert req.form is None
    assert req.body == b'a=1'


async def test_form_is_none_for_json():
    raw = head(
        'POST / HTTP/1.1',
        'Content-Type: application/json',
        'Content-Length: 2',
    )
    req = await create(raw + b'{}')
    assert req.form is None


async def test_stream_is_async_bytes_io_over_body():
    raw = head('POST / HTTP/1.1', 'Content-Length: 6') + b'abcdef'
    req = await create(raw)
    assert isinstance(req.stream, AsyncBytesIO)
    assert await req.stream.read(4) == b'abcd'
    assert await req.stream.read() == b'ef'
    assert req.body == b'abcdef'


async def test_stream_is_empty_without_body():
    req = await create(head('GET / HTTP/1.1'))
    assert await req.stream.read() == b''


async def test_g_is_a_fresh_container_per_request():
    req1 = await create(head('GET / HTTP/1.1'))
    req2 = await create(head('GET / HTTP/1.1'))
    req1.g.user = 'alice'
    assert req1.g.user == 'alice'
    assert not hasattr(req2.g, 'user')


# ----------------------------------------------------------------------------
# Bodies above max_body_length are streamed
# ----------------------------------------------------------------------------


async def test_body_above_max_body_length_is_stream_only():
    with limits(max_body_length=10):
        body = b'0123456789abcdefghijklmno'  # 25 bytes
        raw = head('POST / HTTP/1.1', 'Content-Length: 25') + body
        req = await create(raw)
        assert req.content_length == 25
        assert req.body == b''
        chunks = []
        for _ in range(10):  # bounded
            chunk = await req.stream.read(10)
            if not chunk:
                break
            chunks.append(chunk)
        assert chunks == [b'0123456789', b'abcdefghij', b'klmno']


async def test_streamed_body_stops_at_content_length():
    with limits(max_body_length=2):
        raw = head('POST / HTTP/1.1', 'Content-Length: 5') + b'helloEXTRA'
        req = await create(raw)
        assert await req.stream.read() == b'hello'
        assert await req.stream.read() == b''


async def test_body_equal_to_max_body_length_is_loaded():
    with limits(max_body_length=5):
        raw = head('POST / HTTP/1.1', 'Content-Length: 5') + b'hello'
        req = await create(raw)
        assert req.body == b'hello'
        assert await req.stream.read() == b'hello'


async def test_max_body_length_zero_makes_every_body_stream_only():
    with limits(max_body_length=0):
        raw = head('POST / HTTP/1.1', 'Content-Length: 1') + b'z'
        req = await create(raw)
        assert req.body == b''
        assert await req.stream.read() == b'z'


async def test_streaming_upload_of_40000_bytes():
    with limits(max_content_length=100000):
        app = Microdot()

        @app.post('/upload')
        async def upload(request):
            total = 0
            chunks = 0
            while chunks < 5000:  # bounded: 40000 / 10 = 4000 chunks
                chunk = await request.stream.read(10)
                if not chunk:
                    break
                assert len(chunk) <= 10
                total += len(chunk)
                chunks += 1
            return 'body=%d stream=%d' % (len(request.body), total)

        client = TestClient(app)
        res = await client.post('/upload', body=b'x' * 40000)
        assert res.status_code == 200
        assert res.body == b'body=0 stream=40000'


# ----------------------------------------------------------------------------
# Through the application: path, route, mount, after_request
# ----------------------------------------------------------------------------


async def test_percent_encoded_path_matches_decoded_route():
    app, seen = capture_app()
    client = TestClient(app)
    res = await client.get('/a%20b')
    assert res.status_code == 200
    assert res.body == b'spaced'
    assert seen['req'].path == '/a b'
    assert seen['req'].url == '/a%20b'


async def test_plus_in_path_is_not_decoded():
    app = Microdot()

    @app.route('/<name>')
    async def echo(request, name):
        return request.path + '|' + name

    res = await TestClient(app).get('/a+b%2Bc')
    assert res.body == b'/a+b+c|a+b+c'


async def test_absolute_form_target():
    app, seen = capture_app()
    _, res, _ = await send(app, head('GET http://host/x?y=1 HTTP/1.1'))
    assert res.status_code == 200
    assert res.body == b'x'
    req = seen['req']
    assert req.path == '/x'
    assert req.query_string == 'y=1'
    assert req.args['y'] == '1'


async def test_absolute_form_target_scheme_is_case_insensitive():
    req = await create(head('GET HTTPS://host/x HTTP/1.1'))
    assert req.path == '/x'


async def test_absolute_form_target_without_path():
    req = await create(head('GET http://host?y=1 HTTP/1.1'))
    assert req.path == '/'
    assert req.query_string == 'y=1'


async def test_request_attributes_through_test_client():
    app, seen = capture_app()
    client = TestClient(app)
    res = await client.post(
        '/?k=v&k=w',
        headers={'X-Thing': 'T', 'Content-Type': 'text/plain'},
        body='data',
    )
    assert res.status_code == 200
    req = seen['req']
    assert req.app is app
    assert req.client_addr == ('127.0.0.1', 1234)
    assert req.method == 'POST'
    assert req.url == '/?k=v&k=w'
    assert req.path == '/'
    assert req.query_string == 'k=v&k=w'
    assert req.args.getlist('k') == ['v', 'w']
    assert req.headers['x-thing'] == 'T'
    assert req.content_type == 'text/plain'
    assert req.content_length == 4
    assert req.body == b'data'
    assert req.http_version == '1.1'
    assert req.scheme == 'http'


async def test_route_is_the_handler_function():
    app = Microdot()
    seen = {}

    async def handler(request):
        seen['route'] = request.route
        return 'ok'

    app.route('/h')(handler)
    res = await TestClient(app).get('/h')
    assert res.body == b'ok'
    assert seen['route'] is handler


async def test_url_prefix_and_subapp_of_unmounted_route():
    app, seen = capture_app()
    await TestClient(app).get('/')
    assert seen['req'].url_prefix == ''
    assert seen['req'].subapp is None


async def test_url_prefix_and_subapp_of_mounted_route():
    subapp, seen = capture_app()
    app = Microdot()
    app.mount(subapp, url_prefix='/sub')
    res = await TestClient(app).get('/sub/x')
    assert res.body == b'x'
    assert seen['req'].url_prefix == '/sub'
    assert seen['req'].subapp is subapp
    assert seen['req'].app is app


async def test_cookies_through_test_client():
    app, seen = capture_app()
    client = TestClient(app, cookies={'a': '1'})
    await client.get('/', headers={'Cookie': 'b=; c=3'})
    assert seen['req'].cookies == {'a': '1', 'b': '', 'c': '3'}


async def test_json_through_test_client():
    app = Microdot()

    @app.post('/')
    async def index(request):
        return {'got': request.json}

    res = await TestClient(app).post('/', body={'x': [1, None]})
    assert res.status_code == 200
    assert res.body == b'{"got":{"x":[1,null]}}'


async def test_g_is_shared_between_before_request_and_handler():
    app = Microdot()

    @app.before_request
    async def before(request):
        request.g.user = 'susan'

    @app.route('/')
    async def index(request):
        return 'hello ' + request.g.user

    res = await TestClient(app).get('/')
    assert res.body == b'hello susan'


async def test_request_after_request_runs_after_app_handlers_in_order():
    app = Microdot()
    calls = []

    @app.after_request
    async def app_after(request, response):
        calls.append('app')
        return response

    @app.route('/')
    async def index(request):
        @request.after_request
        async def first(request, response):
            calls.append('r1')
            return response

        @request.after_request
        def second(request, response):
            calls.append('r2')
            return response

        return 'ok'

    res = await TestClient(app).get('/')
    assert res.status_code == 200
    assert res.body == b'ok'
    assert calls == ['app', 'r1', 'r2']


async def test_request_after_request_can_replace_response():
    app = Microdot()

    @app.route('/')
    async def index(request):
        @request.after_request
        async def replace(request, response):
            return Response('replaced ' + str(response.status_code), 202)

        return 'original'

    res = await TestClient(app).get('/')
    assert res.status_code == 202
    assert res.body == b'replaced 200'


async def test_request_after_request_can_modify_response():
    app = Microdot()

    @app.route('/')
    async def index(request):
        @request.after_request
        async def modify(request, response):
            response.headers['X-Added'] = 'yes'
            return response

        return 'original'

    res = await TestClient(app).get('/')
    assert res.body == b'original'
    assert res.headers['X-Added'] == 'yes'


async def test_request_after_request_returning_none_keeps_response():
    app = Microdot()

    @app.route('/')
    async def index(request):
        @request.after_request
        async def noop(request, response):
            return None

        return 'kept', 201

    res = await TestClient(app).get('/')
    assert res.status_code == 201
    assert res.body == b'kept'


async def test_request_after_request_not_run_when_handler_aborts():
    app = Microdot()
    calls = []

    @app.route('/')
    async def index(request):
        @request.after_request
        async def after(request, response):
            calls.append('after')
            return response

        abort(409)

    res = await TestClient(app).get('/')
    assert res.status_code == 409
    assert res.body == b'Conflict'
    assert calls == []


async def test_request_after_request_not_run_when_handler_raises():
    app = Microdot()
    calls = []

    @app.errorhandler(RuntimeError)
    async def runtime_error(request, exc):
        calls.append('errorhandler')
        return 'failed', 500

    @app.route('/')
    async def index(request):
        @request.after_request
        async def after(request, response):
            calls.append('after')
            return response

        raise RuntimeError('boom')

    res = await TestClient(app).get('/')
    assert res.status_code == 500
    assert res.body == b'failed'
    assert calls == ['errorhandler']


# ----------------------------------------------------------------------------
# Malformed request lines
# ----------------------------------------------------------------------------


BAD_REQUEST_LINES = (
    b'GET /\r\n\r\n',
    b'GET / \r\n\r\n',
    b'GET\r\n\r\n',
    b'GET  / HTTP/1.1\r\n\r\n',
    b'GET / HTTP/1.1 \r\n\r\n',
    b'GET / HTTP/1.1 x\r\n\r\n',
    b'GET / http/1.1\r\n\r\n',
    b'GET / HTTP/1\r\n\r\n',
    b'GET /a\rb HTTP/1.1\r\n\r\n',
    b'GET / HTTP/1.1\rX\r\n\r\n',
    b'GET /a\x01b HTTP/1.1\r\n\r\n',
    b'GET /a\x7fb HTTP/1.1\r\n\r\n',
    b'GET\t/ HTTP/1.1\r\n\r\n',
    b'G(T / HTTP/1.1\r\n\r\n',
    b'GET /\xff HTTP/1.1\r\n\r\n',
)


async def test_malformed_request_lines_are_400():
    # missing/empty/malformed version, extra words or spaces, bare CR,
    # control chars, tab separator, bad method token, invalid UTF-8
    for raw in BAD_REQUEST_LINES:
        await expect_error(raw, 400)


async def test_http_2_is_505():
    await expect_error(b'GET / HTTP/2.0\r\n\r\n', 505)


async def test_request_line_too_long_is_414():
    raw = b'GET /' + b'a' * (Request.max_readline + 10) + b' HTTP/1.1\r\n\r\n'
    await expect_error(raw, 414)


async def test_request_line_just_under_max_readline_is_accepted():
    path = b'/' + b'a' * (Request.max_readline - 40)
    app, seen = capture_app()
    _, res, _ = await send(app, b'GET ' + path + b' HTTP/1.1\r\n\r\n')
    assert res.status_code == 404
    assert res.body == b'Not Found'


# ----------------------------------------------------------------------------
# Malformed headers
# ----------------------------------------------------------------------------


async def test_header_line_too_long_is_431():
    raw = head(
        'GET / HTTP/1.1', 'X-Long: ' + 'a' * (Request.max_readline + 10)
    )
    await expect_error(raw, 431)


async def test_too_many_headers_is_431():
    lines = ['GET / HTTP/1.1']
    for i in range(Request.max_header_count + 1):
        lines.append('X-H%d: v' % i)
    await expect_error(head(*lines), 431)


async def test_max_header_count_headers_are_accepted():
    lines = ['GET / HTTP/1.1']
    for i in range(Request.max_header_count):
        lines.append('X-H%d: v%d' % (i, i))
    app, seen = capture_app()
    _, res, _ = await send(app, head(*lines))
    assert res.status_code == 200
    assert len(seen['req'].headers) == Request.max_header_count
    assert seen['req'].headers['x-h99'] == 'v99'


BAD_HEADER_LINES = (
    b'GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n',
    b'GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n',
    head('GET / HTTP/1.1', 'X-A : v'),
    head('GET / HTTP/1.1', 'NoColonHere'),
    head('GET / HTTP/1.1', ': v'),
    head('GET / HTTP/1.1', 'X(A): v'),
    b'GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n',
    b'GET / HTTP/1.1\r\nX-A: a\x7fb\r\n\r\n',
    b'GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n',
    b'GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n',
    b'GET / HTTP/1.1\r\nX-A: a\xffb\r\n\r\n',
)


async def test_malformed_header_lines_are_400():
    # obs-fold (space, tab), space before colon, no colon, empty or
    # invalid name, CTL/DEL/CR/NUL or invalid UTF-8 in the value
    for raw in BAD_HEADER_LINES:
        await expect_error(raw, 400)


TRUNCATED_HEADS = (
    b'GET / HTTP/1.1\r\nHost: x\r\n',
    b'GET / HTTP/1.1',
    b'GET / HTTP/1.1\r\nHost: x',
)


async def test_connection_closed_before_end_of_head_is_400():
    # EOF after headers, after the request line, inside a header line
    for raw in TRUNCATED_HEADS:
        await expect_error(raw, 400)


# ----------------------------------------------------------------------------
# Content-Length and Transfer-Encoding
# ----------------------------------------------------------------------------


BAD_CONTENT_LENGTHS = (
    head('POST / HTTP/1.1', 'Content-Length: abc') + b'abc',
    head('POST / HTTP/1.1', 'Content-Length: -1'),
    head('POST / HTTP/1.1', 'Content-Length: +3') + b'abc',
    head('POST / HTTP/1.1', 'Content-Length: 3_0') + b'a' * 30,
    head('POST / HTTP/1.1', 'Content-Length: 3 3') + b'abc',
    head('POST / HTTP/1.1', 'Content-Length:'),
    head('POST / HTTP/1.1', 'Content-Length: \u0663') + b'abc',
)


async def test_content_length_not_all_ascii_digits_is_400():
    # letters, negative, plus sign, underscore, inner space, empty,
    # non-ASCII digit
    for raw in BAD_CONTENT_LENGTHS:
        await expect_error(raw, 400)


def construct_with_content_length(value):
    """Build a POST ``Request`` directly; check it raises a 400."""
    try:
        Request(
            Microdot(), ADDR, 'POST', '/', '1.1', {'Content-Length': value}
        )
    except HTTPException as exc:
        assert exc.status_code == 400
    else:
        assert False, 'HTTPException not raised'


async def test_content_length_with_leading_space_in_value_is_400():
    # Over the wire surrounding whitespace is OWS and stripped, so a value
    # that keeps a leading space can only come in through the constructor.
    construct_with_content_length(' 3')


async def test_content_length_list_in_constructor_is_400():
    construct_with_content_length('3,3')


async def test_two_different_content_lengths_is_400():
    raw = head('POST / HTTP/1.1', 'Content-Length: 3', 'Content-Length: 4')
    await expect_error(raw + b'abcd', 400)


async def test_body_shorter_than_content_length_is_400():
    raw = head('POST / HTTP/1.1', 'Content-Length: 10') + b'short'
    await expect_error(raw, 400)


async def test_transfer_encoding_chunked_body_is_read():
    raw = head('POST / HTTP/1.1', 'Transfer-Encoding: chunked')
    req = await create(raw + b'3\r\nabc\r\n0\r\n\r\n')
    assert req.body == b'abc'
    assert req.content_length == 3


async def test_transfer_encoding_gzip_is_501():
    raw = head('POST / HTTP/1.1', 'Transfer-Encoding: gzip')
    await expect_error(raw, 501)


async def test_transfer_encoding_with_content_length_is_400():
    raw = head(
        'POST / HTTP/1.1', 'Content-Length: 3', 'transfer-encoding: chunked'
    )
    await expect_error(raw + b'abc', 400)


async def test_content_length_above_max_content_length_is_413():
    length = Request.max_content_length + 1
    body = b'b' * length
    raw = head('POST / HTTP/1.1', 'Content-Length: %d' % length)
    req, _, _ = await expect_error(raw + body, 413)
    # the error handlers see the request that was refused
    assert (req.method, req.path) == ('POST', '/')
    assert req.headers['Content-Length'] == '%d' % length


async def test_content_length_equal_to_max_content_length_is_accepted():
    app = Microdot()

    @app.post('/')
    async def index(request):
        data = await request.stream.read()
        return 'got %d' % len(data)

    length = Request.max_content_length
    raw = head('POST / HTTP/1.1', 'Content-Length: %d' % length)
    _, res, _ = await send(app, raw + b'c' * length)
    assert res.status_code == 200
    assert res.body == ('got %d' % length).encode()


async def test_content_length_above_limit_without_body_is_413():
    raw = head('POST / HTTP/1.1', 'Content-Length: 999999999')
    _, _, reader = await expect_error(raw, 413)
    assert await reader.read() == b''


async def test_lowered_max_content_length_takes_effect():
    with limits(max_content_length=10):
        raw = head('POST / HTTP/1.1', 'Content-Length: 11') + b'0123456789X'
        await expect_error(raw, 413)


async def test_lowered_max_content_length_accepts_smaller_body():
    with limits(max_content_length=10):
        app, seen = capture_app()
        raw = head('POST / HTTP/1.1', 'Content-Length: 10') + b'0123456789'
        _, res, _ = await send(app, raw)
        assert res.status_code == 200
        assert seen['req'].body == b'0123456789'


async def test_lowered_max_readline_takes_effect_for_request_line():
    with limits(max_readline=20):
        await expect_error(b'GET /aaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n', 414)


async def test_lowered_max_readline_takes_effect_for_header_line():
    with limits(max_readline=20):
        raw = head('GET / HTTP/1.1', 'X-A: ' + 'v' * 30)
        await expect_error(raw, 431)


async def test_lowered_max_header_count_takes_effect():
    with limits(max_header_count=2):
        raw = head('GET / HTTP/1.1', 'A: 1', 'B: 2', 'C: 3')
        await expect_error(raw, 431)


# ----------------------------------------------------------------------------
# Errors raised when a handler reads the request
# ----------------------------------------------------------------------------


def post(path, content_type, data):
    """A POST request with ``data`` as body and its exact Content-Length."""
    raw = head(
        'POST %s HTTP/1.1' % path,
        'Content-Type: ' + content_type,
        'Content-Length: %d' % len(data),
    )
    return raw + data


async def expect_ok(raw, body):
    """Send ``raw`` to an ``error_app``; check a 200 with ``body`` and that
    no error handler ran."""
    app, seen = error_app()
    _, res, _ = await send(app, raw)
    assert res.status_code == 200
    assert res.body == body
    assert seen == []


FORM = 'application/x-www-form-urlencoded'


async def test_invalid_json_is_400_when_accessed():
    await expect_error(post('/json', 'application/json', b'{"a":'), 400)


async def test_invalid_plus_json_is_400_when_accessed():
    await expect_error(post('/json', 'application/ld+json', b'nop'), 400)


async def test_invalid_json_not_accessed_is_200():
    await expect_ok(post('/', 'application/json', b'{"a":'), b'ok')


async def test_invalid_query_is_400_when_accessed():
    # invalid %-escape, truncated %-escape, invalid UTF-8
    for query in ('a=%zz', 'a=b%2', 'a=%ff'):
        await expect_error(head('GET /args?%s HTTP/1.1' % query), 400)


async def test_invalid_percent_in_query_not_accessed_is_200():
    await expect_ok(head('GET /?a=%zz HTTP/1.1'), b'ok')


async def test_valid_query_through_args_route():
    await expect_ok(head('GET /args?a=%41+b HTTP/1.1'), b'a=A b')


async def test_invalid_path_is_400():
    # invalid %-escape, truncated %-escape, invalid UTF-8
    for path in ('/a%zz', '/a%2', '/%ff'):
        await expect_error(head('GET %s HTTP/1.1' % path), 400)


async def test_invalid_utf8_in_form_is_400_when_accessed():
    await expect_error(post('/form', FORM, b'f=\xff\xfe'), 400)


async def test_invalid_percent_in_form_is_400_when_accessed():
    await expect_error(post('/form', FORM, b'f=%zz'), 400)


async def test_valid_form_through_form_route():
    await expect_ok(post('/form', FORM, b'f=x+%79'), b'f=x y')


# ----------------------------------------------------------------------------
# Default error bodies (no error handler) still go through after_error
# ----------------------------------------------------------------------------


async def default_error(raw, code, body):
    app = Microdot()
    calls = []

    @app.after_error_request
    async def after_error(request, response):
        calls.append(response.status_code)
        return response

    _, res, _ = await send(app, raw)
    assert res.status_code == code
    assert res.body == body
    assert calls == [code]


async def test_default_400_body():
    await default_error(b'GET / HTTP/1.1 x\r\n\r\n', 400, b'Bad Request')


async def test_default_505_body():
    await default_error(
        b'GET / HTTP/2.0\r\n\r\n', 505, b'HTTP Version Not Supported'
    )


async def test_default_414_body():
    raw = b'GET /' + b'a' * (Request.max_readline + 1) + b' HTTP/1.1\r\n\r\n'
    await default_error(raw, 414, b'URI Too Long')


async def test_default_431_body():
    raw = head('GET / HTTP/1.1', 'X: ' + 'a' * (Request.max_readline + 1))
    await default_error(raw, 431, b'Request Header Fields Too Large')


async def test_default_501_body():
    await default_error(
        head('POST / HTTP/1.1', 'Transfer-Encoding: gzip'),
        501,
        b'Not Implemented',
    )


async def test_default_413_body():
    length = Request.max_content_length + 1
    raw = head('POST / HTTP/1.1', 'Content-Length: %d' % length)
    await default_error(raw, 413, b'Content Too Large')


async def test_create_raises_http_exception_for_bad_request_line():
    try:
        await create(b'GET / HTTP/1.1 x\r\n\r\n')
    except HTTPException as exc:
        assert exc.status_code == 400
    else:
        assert False, 'HTTPException not raised'


# ----------------------------------------------------------------------------
# Other readers: short reads and asyncio.StreamReader
# ----------------------------------------------------------------------------


class TrickleReader(AsyncBytesIO):
    """A reader whose ``read()`` returns at most one byte at a time, as a
    slow network connection can."""

    async def read(self, n=-1):
        return self.stream.read(1 if n != 0 else 0)


async def test_streamed_body_survives_one_byte_reads():
    with limits(max_body_length=0):
        body = b'abcdefghijklmnopqrstuvwxyz'
        raw = head('POST / HTTP/1.1', 'Content-Length: 26') + body + b'XX'
        req = await Request.create(
            Microdot(), TrickleReader(raw), AsyncBytesIO(), ADDR
        )
        data = b''
        for _ in range(100):  # bounded
            chunk = await req.stream.read(10)
            if not chunk:
                break
            assert len(chunk) == 1
            data += chunk
        assert data == body


def stream_reader(data):
    """A CPython ``asyncio.StreamReader`` holding ``data``, then EOF."""
    import asyncio

    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_stream_reader_request_with_body():
    support.cpython_only()
    raw = head('POST /p?q=1 HTTP/1.1', 'Content-Length: 3') + b'abc'
    req = await Request.create(
        Microdot(), stream_reader(raw), AsyncBytesIO(), ADDR
    )
    assert req.path == '/p'
    assert req.args['q'] == '1'
    assert req.body == b'abc'


async def test_stream_reader_short_body_is_400():
    support.cpython_only()
    app, seen = error_app()
    raw = head('POST / HTTP/1.1', 'Content-Length: 10') + b'short'
    req, res = await app.process_request(
        stream_reader(raw), AsyncBytesIO(), ADDR
    )
    assert res.status_code == 400
    assert res.body == b'handled 400'
    assert seen == [400, 'after']


async def test_stream_reader_closed_in_headers_is_400():
    support.cpython_only()
    app, seen = error_app()
    req, res = await app.process_request(
        stream_reader(b'GET / HTTP/1.1\r\nHost: x\r\n'), AsyncBytesIO(), ADDR
    )
    assert res.status_code == 400
    assert seen == [400, 'after']


async def test_stream_reader_empty_is_none():
    support.cpython_only()
    req = await Request.create(
        Microdot(), stream_reader(b''), AsyncBytesIO(), ADDR
    )
    assert req is None


async def test_create_with_https_scheme():
    req = await Request.create(
        Microdot(),
        AsyncBytesIO(head('GET / HTTP/1.1')),
        AsyncBytesIO(),
        ADDR,
        scheme='https',
    )
    assert req.scheme == 'https'
