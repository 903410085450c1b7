"""Response, make_response, cookies, redirects and send_file (portable)."""

import io
import os

import support

import microdot.microdot as core
from microdot import (
    AsyncBytesIO,
    Microdot,
    Response,
    redirect,
    send_file,
)
from microdot.microdot import make_response
from microdot.test_client import TestClient

PREFIX = 'tmp_test_microdot_response_'
DEFAULT_TYPE = 'text/plain; charset=UTF-8'
EPOCH_DELETE = 'Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0'


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


async def collect_chunks(res):
    """Iterate the body of ``res`` and return the list of chunks."""
    chunks = []
    async for chunk in res.body_iter():  # MPY: no async comprehensions
        chunks.append(chunk)
    return chunks


async def collect_body(res):
    return b''.join(await collect_chunks(res))


def is_closed(f):
    """Tell if a file object is closed (MPY: BytesIO has no ``closed``)."""
    try:
        f.read(1)
    except ValueError:
        return True
    return False


def raises_value_error(function, *args, **kwargs):
    try:
        function(*args, **kwargs)
    except ValueError:
        return True
    return False


def parse_response(data):
    """Split raw response bytes into (status line, header set, body)."""
    head, separator, body = data.partition(b'\r\n\r\n')
    assert separator == b'\r\n\r\n'
    lines = head.split(b'\r\n')
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b': ')
        headers.append((name, value))
    headers.sort()
    return lines[0], headers, body


async def written(res, *args, **kwargs):
    """Return the bytes ``res.write()`` sends (extra arguments go to it)."""
    stream = AsyncBytesIO()
    await res.write(stream, *args, **kwargs)
    return stream.getvalue()


def check_parsed(data, status, headers, body):
    """Check the status line, the sorted header lines and the body of the
    raw response ``data``."""
    got_status, got_headers, got_body = parse_response(data)
    assert got_status == status
    assert sorted(got_headers) == headers
    assert got_body == body


def write_file(name, data):
    with open(name, 'wb') as f:
        f.write(data)


def remove_file(name):
    try:
        os.remove(name)
    except OSError:
        pass


async def send_temp_file(name, data, disk_name=None, **kwargs):
    """Write a temp file, send_file() it, read the body, remove the file.

    Returns ``(response, body bytes)``.
    """
    disk_name = disk_name or name
    write_file(disk_name, data)
    try:
        res = send_file(name, **kwargs)
        body = await collect_body(res)
    finally:
        remove_file(disk_name)
    return res, body


async def content_type_of(extension):
    res, _ = await send_temp_file(PREFIX + 'ct' + extension, b'x')
    return res.headers['Content-Type']


async def client_get(app, path):
    return await TestClient(app).get(path)


def app_returning(value):
    """An app whose GET / handler returns ``value``."""
    app = Microdot()

    @app.get('/')
    async def index(request):
        return value

    return app


class TrackingFile:
    """A file-like object that records that it was closed."""

    def __init__(self, data):
        self.stream = io.BytesIO(data)
        self.closed = False

    def read(self, n=-1):
        return self.stream.read(n)

    def close(self):
        self.closed = True


class AsyncFile:
    """A file-like object whose read() is a coroutine."""

    def __init__(self, data):
        self.stream = io.BytesIO(data)
        self.closed = False

    async def read(self, n=-1):
        return self.stream.read(n)

    async def close(self):
        self.closed = True


class AsyncCounter:
    """A class-based async iterator: yields '2', b'1', '0'."""

    def __init__(self, n):
        self.n = n
        self.closed = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.n == 0:
            raise StopAsyncIteration
        self.n -= 1
        if self.n % 2:
            return str(self.n).encode()
        return str(self.n)

    async def aclose(self):
        self.closed = True


class ClosingIterable:
    """A sync iterable with close(), as a body."""

    def __init__(self, items):
        self.items = items
        self.closed = False

    def __iter__(self):
        return iter(self.items)

    def close(self):
        self.closed = True


# ---------------------------------------------------------------------------
# bodies
# ---------------------------------------------------------------------------


def test_str_body_is_utf8_encoded():
    res = Response('h\u00e9llo \u2603')
    assert res.body == b'h\xc3\xa9llo \xe2\x98\x83'


def test_str_body_content_length_counts_bytes():
    res = Response('h\u00e9llo \u2603')
    res.complete()
    assert res.headers['Content-Length'] == '10'


def test_str_body_default_content_type():
    res = Response('hello')
    res.complete()
    assert res.headers['Content-Type'] == DEFAULT_TYPE


def test_default_body_is_empty_with_length_zero():
    res = Response()
    res.complete()
    assert res.body == b''
    assert res.status_code == 200
    assert res.headers['Content-Length'] == '0'


def test_bytes_body_kept_as_is():
    res = Response(b'\x00\xff\r\n')
    res.complete()
    assert res.body == b'\x00\xff\r\n'
    assert res.headers['Content-Length'] == '4'


def test_dict_body_is_compact_json():
    res = Response({'a': [1, 2, None, True, 'x']})
    assert res.body == b'{"a":[1,2,null,true,"x"]}'


def test_dict_body_content_type_json():
    res = Response({'a': 1})
    res.complete()
    assert res.headers['Content-Type'] == 'application/json'
    assert res.headers['Content-Length'] == '7'


def test_list_body_is_compact_json():
    res = Response([1, 'two', {'three': 3}])
    res.complete()
    assert res.body == b'[1,"two",{"three":3}]'
    assert res.headers['Content-Type'] == 'application/json'


def test_json_body_keeps_explicit_content_type():
    res = Response({'a': 1}, headers={'content-type': 'application/ld+json'})
    res.complete()
    assert res.headers['Content-Type'] == 'application/ld+json'
    assert res.body == b'{"a":1}'


def test_none_body_is_empty():
    res = Response(None)
    res.complete()
    assert res.body == b''
    assert res.headers['Content-Length'] == '0'


def test_204_has_no_content_length():
    res = Response(status_code=204)
    res.complete()
    assert 'Content-Length' not in res.headers


def test_304_has_no_content_length():
    res = Response(status_code=304)
    res.complete()
    assert 'Content-Length' not in res.headers


def test_explicit_content_length_is_kept():
    res = Response(b'abc', headers={'Content-Length': '3'})
    res.complete()
    assert res.headers['Content-Length'] == '3'


async def test_bytesio_body_streams_in_buffer_size_chunks():
    size = Response.send_file_buffer_size
    data = b'a' * size + b'b' * size + b'c' * 100
    chunks = await collect_chunks(Response(io.BytesIO(data)))
    assert chunks == [b'a' * size, b'b' * size, b'c' * 100]


async def test_bytesio_body_has_no_content_length():
    res = Response(io.BytesIO(b'abc'))
    res.complete()
    assert 'Content-Length' not in res.headers
    assert res.headers['Content-Type'] == DEFAULT_TYPE


async def test_bytesio_body_closed_after_iteration():
    stream = io.BytesIO(b'abc')
    await collect_chunks(Response(stream))
    assert is_closed(stream)


async def test_bytesio_closed_attribute_after_iteration():
    support.cpython_only()
    stream = io.BytesIO(b'abc')
    await collect_chunks(Response(stream))
    assert stream.closed is True


async def test_file_like_body_close_called_after_iteration():
    body = TrackingFile(b'xyz')
    chunks = await collect_chunks(Response(body))
    assert chunks == [b'xyz']
    assert body.closed is True


async def test_async_read_file_body():
    body = AsyncFile(b'hello')
    chunks = await collect_chunks(Response(body))
    assert chunks == [b'hello']
    assert body.closed is True


async def test_sync_generator_body_str_and_bytes():
    def generate():
        yield 'h\u00e9'
        yield b'\x00\xff'
        yield 'end'

    chunks = await collect_chunks(Response(generate()))
    assert chunks == [b'h\xc3\xa9', b'\x00\xff', b'end']


async def test_sync_generator_body_skips_empty_chunks():
    def generate():
        yield 'a'
        yield ''
        yield b''
        yield 'b'

    chunks = await collect_chunks(Response(generate()))
    assert chunks == [b'a', b'b']


async def test_sync_generator_body_has_no_content_length():
    def generate():
        yield 'a'

    res = Response(generate())
    res.complete()
    assert 'Content-Length' not in res.headers
    await collect_chunks(res)


async def test_sync_generator_finally_runs_after_iteration():
    events = []

    def generate():
        try:
            yield 'a'
            yield 'b'
        finally:
            events.append('finally')

    await collect_chunks(Response(generate()))
    assert events == ['finally']


async def test_sync_generator_closed_by_aclose_mid_iteration():
    events = []

    def generate():
        try:
            yield 'a'
            yield 'b'
            events.append('resumed')
        finally:
            events.append('finally')

    body_iter = Response(generate()).body_iter()
    first = await body_iter.__anext__()
    await body_iter.aclose()
    assert first == b'a'
    assert events == ['finally']


async def test_iterable_with_close_closed_after_iteration():
    body = ClosingIterable(['a', b'b'])
    chunks = await collect_chunks(Response(body))
    assert chunks == [b'a', b'b']
    assert body.closed is True


async def test_class_async_iterator_body():
    chunks = await collect_chunks(Response(AsyncCounter(3)))
    assert chunks == [b'2', b'1', b'0']


async def test_class_async_iterator_aclose_called():
    body = AsyncCounter(2)
    await collect_chunks(Response(body))
    assert body.closed is True


async def test_async_generator_body():
    support.cpython_only()

    async def generate():
        yield 'h\u00e9'
        yield b'!'

    chunks = await collect_chunks(Response(generate()))
    assert chunks == [b'h\xc3\xa9', b'!']


async def test_async_generator_finally_runs_after_iteration():
    support.cpython_only()
    events = []

    async def generate():
        try:
            yield 'a'
        finally:
            events.append('finally')

    await collect_chunks(Response(generate()))
    assert events == ['finally']


async def test_async_generator_closed_by_aclose_mid_iteration():
    support.cpython_only()
    events = []

    async def generate():
        try:
            yield 'a'
            yield 'b'
        finally:
            events.append('finally')

    body_iter = Response(generate()).body_iter()
    assert await body_iter.__anext__() == b'a'
    await body_iter.aclose()
    assert events == ['finally']


async def test_generator_body_through_client():
    def generate():
        yield 'one,'
        yield b'two'

    res = await client_get(app_returning(Response(generate())), '/')
    assert res.status_code == 200
    assert res.body == b'one,two'
    assert 'Content-Length' not in res.headers


# ---------------------------------------------------------------------------
# make_response and handler return forms
# ---------------------------------------------------------------------------


def test_make_response_returns_response_unchanged():
    res = Response('x')
    assert make_response(res) is res


def test_make_response_body_only():
    res = make_response('body')
    assert (res.status_code, res.body) == (200, b'body')


def test_make_response_status_only():
    res = make_response(204)
    assert (res.status_code, res.body) == (204, b'')


def make_response_raises_type_error(value):
    try:
        make_response(value)
    except TypeError:
        return True
    return False


def test_make_response_none_raises_type_error():
    assert make_response_raises_type_error(None)


def test_make_response_four_tuple_raises_type_error():
    assert make_response_raises_type_error(('a', 200, {}, 'extra'))


def test_make_response_bad_tuple_part_raises_type_error():
    assert make_response_raises_type_error(('a', 'not a status'))


def test_make_response_bool_is_not_a_status():
    assert make_response_raises_type_error(('a', True))


async def test_return_body():
    res = await client_get(app_returning('body'), '/')
    assert res.status_code == 200
    assert res.body == b'body'
    assert res.headers['Content-Type'] == DEFAULT_TYPE
    assert res.headers['Content-Length'] == '4'


async def test_return_body_status():
    res = await client_get(app_returning(('made', 201)), '/')
    assert res.status_code == 201
    assert res.body == b'made'
    assert res.headers['Content-Length'] == '4'


async def test_return_body_headers():
    res = await client_get(app_returning(('b', {'X-Extra': 'yes'})), '/')
    assert res.status_code == 200
    assert res.body == b'b'
    assert res.headers['X-Extra'] == 'yes'


async def test_return_body_status_headers():
    value = ('<p>', 202, {'Content-Type': 'text/html'})
    res = await client_get(app_returning(value), '/')
    assert res.status_code == 202
    assert res.body == b'<p>'
    assert res.headers['Content-Type'] == 'text/html'


async def test_return_bare_status():
    res = await client_get(app_returning(204), '/')
    assert res.status_code == 204
    assert res.body == b''
    assert 'Content-Length' not in res.headers


async def test_return_status_tuple():
    res = await client_get(app_returning((201,)), '/')
    assert res.status_code == 201
    assert res.body == b''
    assert res.headers['Content-Length'] == '0'


async def test_return_status_headers():
    res = await client_get(app_returning((202, {'X-A': '1'})), '/')
    assert res.status_code == 202
    assert res.body == b''
    assert res.headers['X-A'] == '1'


async def test_return_dict_body_status():
    res = await client_get(app_returning(({'ok': False}, 400)), '/')
    assert res.status_code == 400
    assert res.body == b'{"ok":false}'
    assert res.headers['Content-Type'] == 'application/json'


async def test_return_response_object():
    value = Response('teapot', 418, {'X-Tea': 'earl grey'})
    res = await client_get(app_returning(value), '/')
    assert res.status_code == 418
    assert res.body == b'teapot'
    assert res.headers['X-Tea'] == 'earl grey'


async def check_return_is_500(value):
    res = await client_get(app_returning(value), '/')
    assert res.status_code == 500
    assert res.body == b'Internal Server Error'


async def test_return_none_is_500():
    await check_return_is_500(None)


async def test_return_four_tuple_is_500():
    await check_return_is_500(('a', 200, {}, 'x'))


async def test_return_tuple_with_invalid_part_is_500():
    await check_return_is_500(('a', 'b'))


# ---------------------------------------------------------------------------
# default content type
# ---------------------------------------------------------------------------


async def with_default_content_type(default, function, *args):
    """Await ``function(*args)`` with Response.default_content_type set to
    ``default``, then restore it; return its result."""
    saved = Response.default_content_type
    Response.default_content_type = default
    try:
        return await function(*args)
    finally:
        Response.default_content_type = saved


async def completed_content_type(body):
    res = Response(body)
    res.complete()
    return res.headers['Content-Type']


async def client_content_type(body):
    res = await client_get(app_returning(body), '/')
    return res.headers['Content-Type']


async def test_default_content_type_text_gets_charset():
    content_type = await with_default_content_type(
        'text/html', completed_content_type, '<p>'
    )
    assert content_type == 'text/html; charset=UTF-8'


async def test_default_content_type_non_text_has_no_charset():
    content_type = await with_default_content_type(
        'application/xml', completed_content_type, '<a/>'
    )
    assert content_type == 'application/xml'


async def test_default_content_type_with_charset_kept():
    content_type = await with_default_content_type(
        'text/csv; charset=latin-1', completed_content_type, 'a,b'
    )
    assert content_type == 'text/csv; charset=latin-1'


async def test_default_content_type_through_client():
    content_type = await with_default_content_type(
        'text/html', client_content_type, '<p>'
    )
    assert content_type == 'text/html; charset=UTF-8'


def test_explicit_content_type_not_replaced():
    res = Response('x', headers={'Content-Type': 'text/x-custom'})
    res.complete()
    assert res.headers['Content-Type'] == 'text/x-custom'


# ---------------------------------------------------------------------------
# status line
# ---------------------------------------------------------------------------


def test_head_bytes_default_reason_ok():
    assert Response().head_bytes() == b'HTTP/1.1 200 OK\r\n\r\n'


def test_head_bytes_default_reason_from_table():
    res = Response(status_code=404)
    assert res.head_bytes() == b'HTTP/1.1 404 Not Found\r\n\r\n'


def test_head_bytes_teapot_reason():
    res = Response(status_code=418)
    assert res.head_bytes() == b"HTTP/1.1 418 I'm a teapot\r\n\r\n"


def test_head_bytes_unknown_code_is_na():
    res = Response(status_code=599)
    assert res.head_bytes() == b'HTTP/1.1 599 N/A\r\n\r\n'


def test_head_bytes_custom_reason():
    res = Response(status_code=200, reason='Custom')
    assert res.head_bytes() == b'HTTP/1.1 200 Custom\r\n\r\n'


def test_head_bytes_custom_reason_unknown_code():
    res = Response(status_code=299, reason='Fine Really')
    assert res.head_bytes() == b'HTTP/1.1 299 Fine Really\r\n\r\n'


def test_head_bytes_http_10():
    res = Response(status_code=201)
    assert res.head_bytes('1.0') == b'HTTP/1.0 201 Created\r\n\r\n'


def test_head_bytes_header_line():
    res = Response(headers={'X-A': 'b'})
    assert res.head_bytes() == b'HTTP/1.1 200 OK\r\nX-A: b\r\n\r\n'


def test_head_bytes_refuses_crlf_in_reason():
    res = Response(reason='OK\r\nX-Evil: 1')
    assert raises_value_error(res.head_bytes)


def test_head_bytes_refuses_crlf_in_header_value():
    res = Response(headers={'X-A': 'b\r\nX-Evil: 1'})
    assert raises_value_error(res.head_bytes)


# ---------------------------------------------------------------------------
# cookies
# ---------------------------------------------------------------------------


def cookie_header(*args, **kwargs):
    res = Response()
    res.set_cookie(*args, **kwargs)
    return res.headers['Set-Cookie']


def test_set_cookie_plain():
    assert cookie_header('name', 'value') == ['name=value']


def test_set_cookie_path():
    assert cookie_header('a', 'b', path='/p') == ['a=b; Path=/p']


def test_set_cookie_domain():
    header = cookie_header('a', 'b', domain='example.com')
    assert header == ['a=b; Domain=example.com']


def test_set_cookie_expires_string():
    header = cookie_header('a', 'b', expires='Wed, 21 Oct 2037 07:28:00 GMT')
    assert header == ['a=b; Expires=Wed, 21 Oct 2037 07:28:00 GMT']


def test_set_cookie_expires_epoch_seconds():
    header = cookie_header('a', 'b', expires=1700000000)
    assert header == ['a=b; Expires=Tue, 14 Nov 2023 22:13:20 GMT']


def test_set_cookie_expires_epoch_zero():
    header = cookie_header('a', 'b', expires=0)
    assert header == ['a=b; Expires=Thu, 01 Jan 1970 00:00:00 GMT']


def test_set_cookie_expires_naive_datetime():
    support.cpython_only()
    import datetime

    when = datetime.datetime(2030, 1, 2, 3, 4, 5)
    header = cookie_header('a', 'b', expires=when)
    assert header == ['a=b; Expires=Wed, 02 Jan 2030 03:04:05 GMT']


def test_set_cookie_expires_aware_datetime_converted_to_gmt():
    support.cpython_only()
    import datetime

    zone = datetime.timezone(datetime.timedelta(hours=2))
    when = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=zone)
    header = cookie_header('a', 'b', expires=when)
    assert header == ['a=b; Expires=Wed, 02 Jan 2030 01:04:05 GMT']


def test_set_cookie_max_age():
    assert cookie_header('a', 'b', max_age=3600) == ['a=b; Max-Age=3600']


def test_set_cookie_max_age_zero():
    assert cookie_header('a', 'b', max_age=0) == ['a=b; Max-Age=0']


def test_set_cookie_secure():
    assert cookie_header('a', 'b', secure=True) == ['a=b; Secure']


def test_set_cookie_http_only():
    assert cookie_header('a', 'b', http_only=True) == ['a=b; HttpOnly']


def test_set_cookie_partitioned():
    header = cookie_header('a', 'b', partitioned=True)
    assert header == ['a=b; Partitioned']


def test_set_cookie_every_option_in_order():
    header = cookie_header(
        'sid', 'abc123', path='/app', domain='example.com',
        expires='Wed, 21 Oct 2037 07:28:00 GMT', max_age=60, secure=True,
        http_only=True, partitioned=True,
    )  # fmt: skip
    assert header == [
        'sid=abc123; Path=/app; Domain=example.com; '
        'Expires=Wed, 21 Oct 2037 07:28:00 GMT; Max-Age=60; Secure; '
        'HttpOnly; Partitioned'
    ]


def test_set_cookie_empty_value():
    assert cookie_header('a', '') == ['a=']


def test_several_cookies_several_header_lines():
    res = Response()
    res.set_cookie('a', '1')
    res.set_cookie('b', '2', path='/')
    assert res.head_bytes() == (
        b'HTTP/1.1 200 OK\r\n'
        b'Set-Cookie: a=1\r\n'
        b'Set-Cookie: b=2; Path=/\r\n'
        b'\r\n'
    )


def test_set_cookie_after_string_header_keeps_both():
    res = Response(headers={'Set-Cookie': 'a=1'})
    res.set_cookie('b', '2')
    assert res.headers['Set-Cookie'] == ['a=1', 'b=2']


def refuses_cookie(*args, **kwargs):
    """Tell if set_cookie() raises ValueError and adds no header."""
    res = Response()
    refused = raises_value_error(res.set_cookie, *args, **kwargs)
    return refused and 'Set-Cookie' not in res.headers


def test_set_cookie_refuses_semicolon_in_value():
    assert refuses_cookie('a', 'x; Domain=evil.com')


def test_set_cookie_refuses_crlf_in_value():
    assert refuses_cookie('a', 'x\r\nSet-Cookie: evil=1')


def test_set_cookie_refuses_lf_in_value():
    assert refuses_cookie('a', 'x\nevil')


def test_set_cookie_refuses_cr_in_value():
    assert refuses_cookie('a', 'x\revil')


def test_set_cookie_refuses_nul_in_value():
    assert refuses_cookie('a', 'x\x00y')


def test_set_cookie_refuses_semicolon_in_path():
    assert refuses_cookie('a', 'b', path='/; HttpOnly')


def test_set_cookie_refuses_crlf_in_path():
    assert refuses_cookie('a', 'b', path='/\r\nX: y')


def test_set_cookie_refuses_semicolon_in_domain():
    assert refuses_cookie('a', 'b', domain='example.com; Secure')


def test_set_cookie_refuses_space_in_name():
    assert refuses_cookie('a b', 'c')


def test_set_cookie_refuses_equals_in_name():
    assert refuses_cookie('a=b', 'c')


def test_set_cookie_refuses_semicolon_in_name():
    assert refuses_cookie('a;b', 'c')


def test_set_cookie_refuses_empty_name():
    assert refuses_cookie('', 'c')


def test_delete_cookie():
    res = Response()
    res.delete_cookie('a')
    assert res.headers['Set-Cookie'] == ['a=; ' + EPOCH_DELETE]


def test_delete_cookie_with_path_domain_secure():
    res = Response()
    res.delete_cookie('a', path='/p', domain='example.com', secure=True)
    assert res.headers['Set-Cookie'] == [
        'a=; Path=/p; Domain=example.com; ' + EPOCH_DELETE + '; Secure'
    ]


def test_delete_cookie_ignores_expires_and_max_age():
    res = Response()
    res.delete_cookie(
        'a', expires='Wed, 21 Oct 2037 07:28:00 GMT', max_age=3600
    )
    assert res.headers['Set-Cookie'] == ['a=; ' + EPOCH_DELETE]


def test_delete_cookie_with_http_only():
    res = Response()
    res.delete_cookie('a', http_only=True)
    assert res.headers['Set-Cookie'] == ['a=; ' + EPOCH_DELETE + '; HttpOnly']


async def test_cookie_through_after_request_handler():
    app = Microdot()

    @app.get('/')
    async def index(request):
        @request.after_request
        async def add_cookie(request, response):
            response.set_cookie('name', 'value', http_only=True)
            return response

        return 'hi'

    res = await client_get(app, '/')
    assert res.headers['Set-Cookie'] == ['name=value; HttpOnly']
    assert res.body == b'hi'


# ---------------------------------------------------------------------------
# redirects
# ---------------------------------------------------------------------------


def test_redirect_default_302():
    res = Response.redirect('/about')
    assert res.status_code == 302
    assert list(res.headers.items()) == [('Location', '/about')]
    assert res.body == b''


def test_redirect_custom_status():
    res = Response.redirect('https://example.com/x?a=1', 301)
    assert res.status_code == 301
    assert res.headers['Location'] == 'https://example.com/x?a=1'


def test_module_redirect_default_302():
    res = redirect('/login')
    assert res.status_code == 302
    assert res.headers['Location'] == '/login'


def test_module_redirect_custom_status():
    res = redirect('/new', status_code=308)
    assert res.status_code == 308
    assert res.headers['Location'] == '/new'


def test_redirect_head_bytes():
    res = Response.redirect('/about', 301)
    assert res.head_bytes() == (
        b'HTTP/1.1 301 Moved Permanently\r\nLocation: /about\r\n\r\n'
    )


def test_redirect_refuses_crlf():
    assert raises_value_error(Response.redirect, '/a\r\nSet-Cookie: x=1')


def test_redirect_refuses_lf():
    assert raises_value_error(Response.redirect, '/a\nX: 1')


def test_redirect_refuses_cr():
    assert raises_value_error(Response.redirect, '/a\rX: 1')


def test_module_redirect_refuses_crlf():
    assert raises_value_error(redirect, '/a\r\nX: 1', 301)


async def test_redirect_through_client():
    res = await client_get(app_returning(redirect('/there')), '/')
    assert res.status_code == 302
    assert res.headers['Location'] == '/there'
    assert res.body == b''


# ---------------------------------------------------------------------------
# send_file
# ---------------------------------------------------------------------------


async def test_send_file_html_content_type():
    assert await content_type_of('.html') == 'text/html'


async def test_send_file_css_content_type():
    assert await content_type_of('.css') == 'text/css'


async def test_send_file_js_content_type():
    assert await content_type_of('.js') == 'application/javascript'


async def test_send_file_json_content_type():
    assert await content_type_of('.json') == 'application/json'


async def test_send_file_png_content_type():
    assert await content_type_of('.png') == 'image/png'


async def test_send_file_jpg_content_type():
    assert await content_type_of('.jpg') == 'image/jpeg'


async def test_send_file_txt_content_type():
    assert await content_type_of('.txt') == 'text/plain'


async def test_send_file_svg_content_type():
    assert await content_type_of('.svg') == 'image/svg+xml'


async def test_send_file_uppercase_extension_content_type():
    assert await content_type_of('.HTML') == 'text/html'


async def test_send_file_unknown_extension_octet_stream():
    assert await content_type_of('.zzq') == 'application/octet-stream'


async def test_send_file_no_extension_octet_stream():
    assert await content_type_of('') == 'application/octet-stream'


async def test_send_file_content_type_override():
    res, _ = await send_temp_file(
        PREFIX + 'override.txt', b'x', content_type='text/x-special'
    )
    assert res.headers['Content-Type'] == 'text/x-special'


async def test_send_file_content_length_is_file_size():
    res, body = await send_temp_file(PREFIX + 'len.txt', b'hello')
    assert res.headers['Content-Length'] == '5'
    assert body == b'hello'


async def test_send_file_status_code():
    res, _ = await send_temp_file(PREFIX + 'st.txt', b'x', status_code=203)
    assert res.status_code == 203


async def test_send_file_no_cache_control_by_default():
    res, _ = await send_temp_file(PREFIX + 'nocache.txt', b'x')
    assert 'Cache-Control' not in res.headers
    assert 'Content-Encoding' not in res.headers


async def test_send_file_max_age():
    res, _ = await send_temp_file(PREFIX + 'age.txt', b'x', max_age=3600)
    assert res.headers['Cache-Control'] == 'max-age=3600'


async def test_send_file_max_age_zero():
    res, _ = await send_temp_file(PREFIX + 'age0.txt', b'x', max_age=0)
    assert res.headers['Cache-Control'] == 'max-age=0'


async def cache_control_with_default_max_age(name, **kwargs):
    """Send a temp file with Response.default_send_file_max_age = 86400 and
    return its Cache-Control header."""
    saved = Response.default_send_file_max_age
    Response.default_send_file_max_age = 86400
    try:
        res, _ = await send_temp_file(PREFIX + name, b'x', **kwargs)
        return res.headers['Cache-Control']
    finally:
        Response.default_send_file_max_age = saved


async def test_send_file_default_max_age():
    cache_control = await cache_control_with_default_max_age('defage.txt')
    assert cache_control == 'max-age=86400'


async def test_send_file_max_age_overrides_default():
    cache_control = await cache_control_with_default_max_age(
        'ovage.txt', max_age=5
    )
    assert cache_control == 'max-age=5'


async def test_send_file_compressed_gzip_with_file_extension():
    data = b'\x1f\x8b\x08\x00fake-gzip'
    res, body = await send_temp_file(
        PREFIX + 'app.js', data, disk_name=PREFIX + 'app.js.gz',
        compressed=True, file_extension='.gz',
    )  # fmt: skip
    assert res.headers['Content-Encoding'] == 'gzip'
    assert res.headers['Content-Type'] == 'application/javascript'
    assert res.headers['Content-Length'] == str(len(data))
    assert body == data


async def test_send_file_compressed_br():
    res, _ = await send_temp_file(
        PREFIX + 'style.css', b'br-data', disk_name=PREFIX + 'style.css.br',
        compressed='br', file_extension='.br',
    )  # fmt: skip
    assert res.headers['Content-Encoding'] == 'br'
    assert res.headers['Content-Type'] == 'text/css'


async def test_send_file_stream_used_instead_of_file():
    # The file does not exist: the stream must be read instead.
    res = send_file(PREFIX + 'absent.json', stream=io.BytesIO(b'[1]'))
    body = await collect_body(res)
    assert body == b'[1]'
    assert res.headers['Content-Type'] == 'application/json'


async def test_send_file_stream_is_closed_after_iteration():
    stream = io.BytesIO(b'data')
    await collect_body(Response.send_file('x.txt', stream=stream))
    assert is_closed(stream)


async def test_send_file_large_file_streamed_in_chunks():
    size = Response.send_file_buffer_size
    data = bytes(range(256)) * (size // 256 * 2 + 1)
    name = PREFIX + 'large.bin'
    write_file(name, data)
    try:
        res = Response.send_file(name)
        chunks = await collect_chunks(res)
    finally:
        remove_file(name)
    assert [len(chunk) for chunk in chunks] == [size, size, 256]
    assert b''.join(chunks) == data
    assert res.headers['Content-Length'] == str(len(data))


async def test_send_file_file_closed_after_iteration():
    name = PREFIX + 'closed.txt'
    write_file(name, b'abc')
    try:
        res = send_file(name)
        await collect_body(res)
        assert is_closed(res.body)
    finally:
        remove_file(name)


async def test_send_file_large_file_through_client():
    data = bytes(range(256)) * 9
    name = PREFIX + 'client.bin'
    app = app_sending_file(name)
    write_file(name, data)
    try:
        res = await client_get(app, '/file')
    finally:
        remove_file(name)
    assert res.status_code == 200
    assert res.body == data
    assert res.headers['Content-Length'] == str(len(data))
    assert res.headers['Content-Type'] == 'application/octet-stream'


def app_sending_file(name):
    """An app whose GET /file handler returns ``send_file(name)``."""
    app = Microdot()

    @app.get('/file')
    async def get_file(request):
        return send_file(name)

    return app


def check_not_found(res):
    assert res.status_code == 404
    assert res.body == b'Not Found'


async def test_send_file_missing_file_is_404():
    name = PREFIX + 'missing.txt'
    remove_file(name)
    check_not_found(await client_get(app_sending_file(name), '/file'))


async def test_send_file_directory_is_404():
    name = PREFIX + 'dir'
    app = app_sending_file(name)
    os.mkdir(name)
    try:
        res = await client_get(app, '/file')
    finally:
        os.rmdir(name)
    check_not_found(res)


async def test_send_file_head_closes_file_without_body():
    name = PREFIX + 'head.txt'
    write_file(name, b'hello')
    try:
        res = send_file(name)
        res.is_head = True
        stream = AsyncBytesIO()
        await res.write(stream)
        assert is_closed(res.body)
    finally:
        remove_file(name)
    status, headers, body = parse_response(stream.getvalue())
    assert (b'Content-Length', b'5') in headers
    assert body == b''


# ---------------------------------------------------------------------------
# already_handled and write()
# ---------------------------------------------------------------------------


def test_already_handled_is_response():
    assert isinstance(Response.already_handled, Response)


HELLO_HEADERS = [
    (b'Connection', b'close'),
    (b'Content-Length', b'5'),
    (b'Content-Type', b'text/plain; charset=UTF-8'),
]


async def test_write_simple_body_exact_bytes():
    data = await written(Response('hello'))
    check_parsed(data, b'HTTP/1.1 200 OK', HELLO_HEADERS, b'hello')


async def test_write_keep_alive_adds_no_connection_header():
    stream = AsyncBytesIO()
    assert await Response('hello').write(stream, '1.1', keep_alive=True)
    assert stream.getvalue() == (
        b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n'
        b'Content-Type: text/plain; charset=UTF-8\r\n\r\nhello'
    ) or stream.getvalue() == (
        b'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\n'
        b'Content-Length: 5\r\n\r\nhello'
    )  # MPY: dicts are unordered


async def test_write_returns_false_when_closing():
    stream = AsyncBytesIO()
    assert not await Response('hello').write(stream, '1.1')


async def test_write_http_10_status_line():
    status, _, body = parse_response(await written(Response('x', 404), '1.0'))
    assert status == b'HTTP/1.0 404 Not Found'
    assert body == b'x'


async def test_write_custom_reason():
    data = await written(Response('x', reason='Custom'))
    assert data.startswith(b'HTTP/1.1 200 Custom\r\n')


async def test_write_head_response_sends_headers_only():
    res = Response('hello')
    res.is_head = True
    data = await written(res)
    assert data.endswith(b'\r\n\r\n')
    check_parsed(data, b'HTTP/1.1 200 OK', HELLO_HEADERS, b'')


def generate_ab_cd():
    yield 'ab'
    yield b'cd'


async def test_write_generator_body():
    data = await written(Response(generate_ab_cd()))
    headers = [
        (b'Connection', b'close'),
        (b'Content-Type', b'text/plain; charset=UTF-8'),
        (b'Transfer-Encoding', b'chunked'),
    ]
    body = b'2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n'
    check_parsed(data, b'HTTP/1.1 200 OK', headers, body)


async def test_write_generator_body_http_10_is_close_delimited():
    data = await written(Response(generate_ab_cd()), '1.0', keep_alive=True)
    headers = [
        (b'Connection', b'close'),
        (b'Content-Type', b'text/plain; charset=UTF-8'),
    ]
    check_parsed(data, b'HTTP/1.0 200 OK', headers, b'abcd')


async def test_write_several_cookies():
    res = Response(b'')
    res.set_cookie('a', '1')
    res.set_cookie('b', '2')
    _, headers, _ = parse_response(await written(res))
    assert (b'Set-Cookie', b'a=1') in headers
    assert (b'Set-Cookie', b'b=2') in headers


# ---------------------------------------------------------------------------
# orjson
# ---------------------------------------------------------------------------

JSON_VALUE = {'a': [1, 2.5, None, True, False], 'b': {'c': 'd'}, 'e': -3}
JSON_BYTES = b'{"a":[1,2.5,null,true,false],"b":{"c":"d"},"e":-3}'


def test_orjson_used_when_installed():
    support.cpython_only()
    try:
        import orjson
    except ImportError:
        support.skip('orjson is not installed')
    assert core._orjson is orjson
    assert Response(JSON_VALUE).body == orjson.dumps(JSON_VALUE)
    assert Response(JSON_VALUE).body == JSON_BYTES


def json_with_and_without_orjson(value):
    """Return the JSON body of ``value`` as made with orjson (when it is
    installed) and as made without it."""
    saved = core._orjson
    with_orjson = Response(value).body
    core._orjson = None
    try:
        without_orjson = Response(value).body
    finally:
        core._orjson = saved
    return with_orjson, without_orjson


def test_json_without_orjson_same_bytes():
    with_orjson, without_orjson = json_with_and_without_orjson(JSON_VALUE)
    assert without_orjson == with_orjson
    if not support.IS_MICROPYTHON:  # MPY: dict order is not insertion order
        assert without_orjson == JSON_BYTES


def test_json_list_without_orjson_same_bytes():
    value = [1, 'x', [None, {'k': 0}]]
    with_orjson, without_orjson = json_with_and_without_orjson(value)
    assert with_orjson == b'[1,"x",[null,{"k":0}]]'
    assert without_orjson == with_orjson


def test_json_non_ascii_without_orjson_same_bytes():
    value = {'name': 'h\u00e9 \u2603'}
    with_orjson, without_orjson = json_with_and_without_orjson(value)
    assert with_orjson == b'{"name":"h\xc3\xa9 \xe2\x98\x83"}'
    assert without_orjson == with_orjson
