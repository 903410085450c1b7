"""HTTP/1.1 connection handling of the built-in server, over real sockets.

Portable: pytest on CPython and ``tests/mpy_runner.py`` on MicroPython.
Persistent connections, pipelining, chunked request and response bodies,
HEAD/204/304 framing, ``Expect: 100-continue`` and the closing of a
connection after an error response (issue 3 contract). Every exchange is
bounded by ``TIMEOUT`` seconds.
"""

import asyncio

import serverutil

from microdot import Request

TEXT_PLAIN = 'text/plain; charset=UTF-8'
TIMEOUT = 3  # seconds for one exchange; a hanging server fails the test
HOST_LINE = 'Host: 127.0.0.1\r\n'


class AsyncChunks:
    """A class-based async iterator (MPY: async generators cannot be used
    with ``async for``)."""

    def __init__(self, chunks):
        self.chunks = list(chunks)

    def __aiter__(self):
        return self

    async def __anext__(self):
        if not self.chunks:
            raise StopAsyncIteration
        return self.chunks.pop(0)


class FileLike:
    """A file-like object with ``read()`` only: its size is unknown."""

    def __init__(self, chunks):
        self.chunks = list(chunks)

    def read(self, size=-1):
        if not self.chunks:
            return b''
        return self.chunks.pop(0)


def generate(items):
    """A sync generator yielding ``items``."""
    for item in items:
        yield item


async def read_in_pieces(stream, n):
    """``readexactly(n)`` until EOFError; the pieces joined with ``|``."""
    parts = []
    try:
        while True:
            parts.append(await stream.readexactly(n))
    except EOFError:
        return b'|'.join(parts)


def make_app():
    app = serverutil.index_app('Hello, world!')

    @app.route('/n/<int:n>')
    async def number(req, n):
        return 'n=%d' % n

    @app.post('/body')
    async def body(req):
        return req.body

    @app.post('/stream')
    async def stream(req):
        data = await serverutil.read_stream(req)
        return data, {'X-Body-Length': str(len(req.body))}

    @app.post('/exactly/<int:n>')
    async def exactly(req, n):
        return await read_in_pieces(req.stream, n)

    @app.post('/ignore')
    async def ignore(req):
        return 'ignored'

    @app.route('/gen')
    def gen(req):
        return generate([b'one,', 'two,', b'three'])

    @app.route('/gen-empty-item')
    def gen_empty_item(req):
        return generate([b'a', b'', b'b'])

    @app.route('/gen-300')
    def gen_300(req):
        return generate([b'x' * 300])

    @app.route('/async')
    async def async_iterator(req):
        return AsyncChunks([b'ab', 'cd', b'efg'])

    @app.route('/file')
    async def file_like(req):
        return FileLike([b'0123456789', b'abc'])

    @app.route('/no-content')
    async def no_content(req):
        return 'dropped body', 204

    @app.route('/not-modified')
    async def not_modified(req):
        return generate([b'dropped body']), 304

    @app.route('/close')
    async def close(req):
        return 'bye', 200, {'Connection': 'close'}

    return app


async def talk(script, app=None):
    """Start a server, open one client connection, run ``await
    script(client)`` and return its result; close everything."""
    return await serverutil.with_client(
        app or make_app(), lambda server, client: script(client), TIMEOUT
    )


def get(path, extra='', version='1.1'):
    return (
        'GET %s HTTP/%s\r\n%s%s\r\n' % (path, version, HOST_LINE, extra)
    ).encode()


def post_head(path, extra=''):
    return ('POST %s HTTP/1.1\r\n%s%s\r\n' % (path, HOST_LINE, extra)).encode()


async def exchange(client, data, head_request=False):
    await client.send(data, TIMEOUT)
    return await client.read_response(head_request, TIMEOUT)


async def then_get(data, app=None, head_request=False):
    """Send ``data``, read its response, then GET / on the same
    connection; return both responses."""

    async def script(client):
        res = await exchange(client, data, head_request)
        return res, await exchange(client, get('/'))

    return await talk(script, app)


async def then_eof(data, app=None):
    """Send ``data``, read its response, then read until the server
    closes; return the response and the bytes that followed it."""

    async def script(client):
        res = await exchange(client, data)
        return res, await client.read_until_eof(TIMEOUT)

    return await talk(script, app)


def plain_headers(body, **extra):
    """The headers of a text/plain ``body`` with a Content-Length."""
    headers = {'content-type': TEXT_PLAIN, 'content-length': str(len(body))}
    headers.update(extra)
    return headers


def hello_headers(**extra):
    return plain_headers(b'Hello, world!', **extra)


def check_plain(res, status_line, body, **extra):
    """Check status line, exact headers (``plain_headers``) and body."""
    assert res.status_line == status_line, res.raw
    assert res.headers == plain_headers(body, **extra), res.raw
    assert res.body == body, res.raw


def check_hello(res, **extra):
    check_plain(res, b'HTTP/1.1 200 OK', b'Hello, world!', **extra)


# -- persistent connections ---------------------------------------------------


async def test_two_requests_on_one_connection():
    async def script(client):
        first = await exchange(client, get('/'))
        second = await exchange(client, get('/n/2'))
        return first, second

    first, second = await talk(script)
    check_hello(first)  # no Connection header
    check_plain(second, b'HTTP/1.1 200 OK', b'n=2')


async def test_connection_close_request_gets_close_and_eof():
    res, rest = await then_eof(get('/', 'Connection: close\r\n'))
    check_hello(res, connection='close')
    assert rest == b'', rest


async def test_connection_close_token_is_case_insensitive():
    res, rest = await then_eof(get('/', 'Connection: Close\r\n'))
    check_hello(res, connection='close')
    assert rest == b'', rest


async def test_close_after_keep_alive_response():
    # The first response keeps the connection; the second asks to close.
    async def script(client):
        first = await exchange(client, get('/'))
        second = await exchange(client, get('/', 'Connection: close\r\n'))
        return first, second, await client.read_until_eof(TIMEOUT)

    first, second, rest = await talk(script)
    check_hello(first)
    check_hello(second, connection='close')
    assert rest == b''


async def test_handler_connection_close_header_closes_connection():
    res, rest = await then_eof(get('/close'))
    check_plain(res, b'HTTP/1.1 200 OK', b'bye', connection='close')
    assert rest == b''


async def test_client_closing_idle_connection_does_not_affect_others():
    server = await serverutil.start(make_app())
    try:
        client = await serverutil.Client.open(server.port, TIMEOUT)
        try:
            first = await exchange(client, get('/'))
        finally:
            await client.close()
        res = await server.request('GET', '/', timeout=TIMEOUT)
    finally:
        await server.stop()
    check_hello(first)
    check_hello(res, connection='close')


async def test_not_found_keeps_connection_open():
    missing, res = await then_get(get('/missing'))
    check_plain(missing, b'HTTP/1.1 404 Not Found', b'Not Found')
    check_hello(res)


# -- HTTP/1.0 -----------------------------------------------------------------


async def test_http10_without_keep_alive_closes():
    res, rest = await then_eof(b'GET / HTTP/1.0\r\n\r\n')
    check_plain(res, b'HTTP/1.0 200 OK', b'Hello, world!', connection='close')
    assert rest == b''


async def test_http10_with_keep_alive_stays_open():
    request = b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'

    async def script(client):
        first = await exchange(client, request)
        return first, await exchange(client, request)

    first, second = await talk(script)
    for res in (first, second):
        check_plain(
            res, b'HTTP/1.0 200 OK', b'Hello, world!', connection='keep-alive'
        )


async def test_http10_streamed_body_is_delimited_by_close():
    # Unknown length: no keep-alive even if asked for, body until EOF.
    request = b'GET /gen HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'

    async def script(client):
        return await exchange(client, request)  # reads until EOF

    res = await talk(script)
    assert res.status_line == b'HTTP/1.0 200 OK', res.raw
    assert res.headers == {
        'content-type': TEXT_PLAIN,
        'connection': 'close',
    }, res.raw
    assert res.raw_body == b'one,two,three'


# -- pipelining ---------------------------------------------------------------


async def test_three_pipelined_requests_answered_in_order():
    data = get('/n/1') + get('/n/2') + get('/n/3', 'Connection: close\r\n')

    async def script(client):
        await client.send(data, TIMEOUT)
        responses = []
        for _ in range(3):
            responses.append(await client.read_response(timeout=TIMEOUT))
        return responses, await client.read_until_eof(TIMEOUT)

    responses, rest = await talk(script)
    bodies = [res.body for res in responses]
    assert bodies == [b'n=1', b'n=2', b'n=3'], bodies
    assert [res.status_code for res in responses] == [200, 200, 200]
    assert 'connection' not in responses[0].headers
    assert 'connection' not in responses[1].headers
    assert responses[2].headers['connection'] == 'close'
    assert rest == b''


# -- request bodies -----------------------------------------------------------


async def chunked_post(path, chunks, extra=''):
    """Post ``chunks`` (the raw chunked body) then GET / on the same
    connection; return both responses."""
    head = post_head(path, 'Transfer-Encoding: chunked\r\n' + extra)
    return await then_get(head + chunks)


def with_max_body_length(value, coro):
    return serverutil.with_request_limit('max_body_length', value, coro)


def check_ok_body(res, body):
    assert res.status_line == b'HTTP/1.1 200 OK', res.raw
    assert res.body == body


async def test_chunked_body_in_request_body():
    res, after = await chunked_post(
        '/body', b'5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n'
    )
    check_ok_body(res, b'hello world')
    assert res.headers['content-length'] == '11'
    check_hello(after)


async def test_chunked_body_read_from_stream():
    res, after = await chunked_post(
        '/stream', b'5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n'
    )
    check_ok_body(res, b'hello world')
    check_hello(after)


async def test_chunked_transfer_encoding_value_is_case_insensitive():
    head = post_head('/body', 'Transfer-Encoding: Chunked\r\n')

    async def script(client):
        return await exchange(client, head + b'3\r\nabc\r\n0\r\n\r\n')

    check_ok_body(await talk(script), b'abc')


async def test_chunk_extensions_are_ignored():
    chunks = b'5;name=val\r\nhello\r\n1;a=b;c\r\n!\r\n0;end=1\r\n\r\n'
    res, after = await chunked_post('/body', chunks)
    check_ok_body(res, b'hello!')
    check_hello(after)


async def test_chunked_trailers_are_read_and_ignored():
    chunks = b'3\r\nabc\r\n0\r\nX-Checksum: 123\r\nX-Other: a\r\n\r\n'
    res, after = await chunked_post('/body', chunks)
    check_ok_body(res, b'abc')
    check_hello(after)  # the trailers were consumed


async def test_chunk_sizes_upper_and_lower_case_hex():
    body = b'0123456789ABCDEF' * 2
    chunks = b'A\r\n' + body[:10] + b'\r\nf\r\n' + body[10:25]
    chunks += b'\r\n7\r\n' + body[25:] + b'\r\n0\r\n\r\n'
    res, after = await chunked_post('/body', chunks)
    check_ok_body(res, body)
    check_hello(after)


async def test_chunked_body_split_across_sends():
    pieces = [
        post_head('/body', 'Transfer-Encoding: chunked\r\n'),
        b'5',
        b'\r\nhel',
        b'lo\r\n',
        b'3\r',
        b'\nabc\r\n0\r',
        b'\n\r',
        b'\n',
    ]

    async def script(client):
        for piece in pieces:
            await client.send(piece, TIMEOUT)
            await asyncio.sleep(0.02)
        return await client.read_response(timeout=TIMEOUT)

    check_ok_body(await talk(script), b'helloabc')


async def test_large_chunked_body_only_in_stream():
    payload = bytes(range(256)) * 2  # 512 bytes > max_body_length below
    chunks = b'100\r\n' + payload[:256] + b'\r\n100\r\n' + payload[256:]
    chunks += b'\r\n0\r\n\r\n'
    res, after = await with_max_body_length(
        100, chunked_post('/stream', chunks)
    )
    check_ok_body(res, payload)
    assert res.headers['x-body-length'] == '0'
    check_hello(after)


async def test_stream_readexactly_across_chunks_then_eof():
    # 11 bytes in chunks of 5 and 6: reads of 4 cross the chunk edge, and
    # the last 3 bytes are too few for a fourth read
    chunks = b'5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n'
    res, after = await with_max_body_length(
        4, chunked_post('/exactly/4', chunks)
    )
    check_ok_body(res, b'hell|o wo')
    check_hello(after)


async def test_large_body_only_in_stream_then_next_request():
    payload = bytes(range(256)) * 80  # 20480 bytes > max_body_length
    assert len(payload) > Request.max_body_length
    head = post_head('/stream', 'Content-Length: %d\r\n' % len(payload))
    res, after = await serverutil.with_request_limit(
        'max_content_length', 64 * 1024, then_get(head + payload)
    )
    assert res.status_line == b'HTTP/1.1 200 OK', res.raw[:200]
    assert res.headers['x-body-length'] == '0'
    assert res.headers['content-length'] == '20480'
    assert res.body == payload
    check_hello(after)


async def test_unread_body_is_discarded_and_next_request_served():
    head = post_head('/ignore', 'Content-Length: 1000\r\n')
    # The handler does not read the stream.
    res, after = await with_max_body_length(16, then_get(head + b'z' * 1000))
    check_plain(res, b'HTTP/1.1 200 OK', b'ignored')
    check_hello(after)


async def test_unread_chunked_body_is_discarded_and_next_request_served():
    chunks = b'200\r\n' + b'y' * 512 + b'\r\n0\r\n\r\n'
    res, after = await with_max_body_length(
        16, chunked_post('/ignore', chunks)
    )
    check_plain(res, b'HTTP/1.1 200 OK', b'ignored')
    check_hello(after)


async def test_unread_body_beyond_max_discard_length_closes():
    # 1000 bytes declared, 50 sent: more than max_discard_length unread.
    head = post_head('/ignore', 'Content-Length: 1000\r\n')
    app = make_app()
    app.max_discard_length = 100
    res, rest = await with_max_body_length(16, then_eof(head + b'z' * 50, app))
    check_plain(res, b'HTTP/1.1 200 OK', b'ignored', connection='close')
    assert rest == b''


# -- response bodies of unknown length ----------------------------------------


async def check_chunked(path, raw_body):
    """GET ``path`` then GET / on one connection: the first response is
    chunked with ``raw_body``, the second is intact."""
    res, after = await then_get(get(path))
    assert res.status_line == b'HTTP/1.1 200 OK', res.raw
    assert res.headers == {
        'content-type': TEXT_PLAIN,
        'transfer-encoding': 'chunked',
    }, res.raw
    assert res.raw_body == raw_body
    check_hello(after)


async def test_sync_generator_response_is_chunked():
    await check_chunked(
        '/gen', b'4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n'
    )


async def test_empty_item_does_not_end_chunked_response():
    await check_chunked('/gen-empty-item', b'1\r\na\r\n1\r\nb\r\n0\r\n\r\n')


async def test_chunk_size_is_lower_case_hex_without_leading_zeros():
    await check_chunked('/gen-300', b'12c\r\n' + b'x' * 300 + b'\r\n0\r\n\r\n')


async def test_async_iterator_response_is_chunked():
    await check_chunked(
        '/async', b'2\r\nab\r\n2\r\ncd\r\n3\r\nefg\r\n0\r\n\r\n'
    )


async def test_file_like_response_is_chunked():
    await check_chunked('/file', b'a\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n')


# -- responses without a body -------------------------------------------------


async def test_head_response_has_no_body_and_connection_stays_usable():
    head, after = await then_get(
        b'HEAD / HTTP/1.1\r\n' + HOST_LINE.encode() + b'\r\n',
        head_request=True,
    )
    assert head.status_line == b'HTTP/1.1 200 OK', head.raw
    assert head.headers == hello_headers(), head.raw
    assert head.body == b''
    check_hello(after)  # no stray body bytes before it


async def check_no_body(path, status_line):
    """GET ``path`` then GET / on one connection: the first response has
    ``status_line`` and no body framing, the second is intact."""
    res, after = await then_get(get(path))
    assert res.status_line == status_line, res.raw
    assert 'content-length' not in res.headers, res.raw
    assert 'transfer-encoding' not in res.headers, res.raw
    check_hello(after)  # no stray body bytes before it


async def test_204_has_no_body_and_no_length():
    await check_no_body('/no-content', b'HTTP/1.1 204 No Content')


async def test_304_streamed_body_is_not_sent():
    await check_no_body('/not-modified', b'HTTP/1.1 304 Not Modified')


# -- Expect: 100-continue -----------------------------------------------------


async def test_expect_100_continue_before_body():
    head = post_head('/body', 'Content-Length: 5\r\nExpect: 100-continue\r\n')

    async def script(client):
        await client.send(head, TIMEOUT)
        interim = await client.read_response(timeout=TIMEOUT)
        final = await exchange(client, b'hello')
        return interim, final

    interim, final = await talk(script)
    assert interim.raw == b'HTTP/1.1 100 Continue\r\n\r\n', interim.raw
    check_plain(final, b'HTTP/1.1 200 OK', b'hello')


async def test_expect_100_continue_too_large_is_413_without_100():
    head = post_head(
        '/body',
        'Content-Length: %d\r\nExpect: 100-continue\r\n'
        % (Request.max_content_length + 1),
    )
    res, rest = await then_eof(head)
    check_plain(
        res,
        b'HTTP/1.1 413 Content Too Large',
        b'Content Too Large',
        connection='close',
    )
    assert rest == b''


async def test_other_expectation_is_417():
    head = post_head(
        '/body', 'Content-Length: 5\r\nExpect: something-else\r\n'
    )
    res, rest = await then_eof(head + b'hello')
    check_plain(
        res,
        b'HTTP/1.1 417 Expectation Failed',
        b'Expectation Failed',
        connection='close',
    )
    assert rest == b''


# -- errors close the connection ----------------------------------------------


async def error_then_pipelined(bad):
    """Send ``bad`` with a valid request behind it; return the response
    and what followed it until EOF."""

    async def script(client):
        res = await exchange(client, bad + get('/'))
        closed = await client.is_closed(TIMEOUT)
        return res, closed, client.buffer

    return await talk(script)


def check_not_answered(closed, rest):
    assert closed, 'connection still open after the error response'
    assert rest == b'', 'pipelined request was answered: %r' % rest


async def check_400_not_answered(bad):
    res, closed, rest = await error_then_pipelined(bad)
    check_plain(
        res, b'HTTP/1.1 400 Bad Request', b'Bad Request', connection='close'
    )
    check_not_answered(closed, rest)


async def test_request_behind_bad_request_line_is_not_answered():
    await check_400_not_answered(b'NOT A REQUEST LINE\r\n\r\n')


async def test_request_behind_bad_header_is_not_answered():
    bad = b'GET / HTTP/1.1\r\n' + HOST_LINE.encode() + b'X-Bad : 1\r\n\r\n'
    await check_400_not_answered(bad)


async def test_request_behind_bad_content_length_is_not_answered():
    bad = post_head('/body', 'Content-Length: 0x3\r\n') + b'abc'
    await check_400_not_answered(bad)


async def test_request_behind_http2_request_line_is_not_answered():
    bad = b'GET / HTTP/2.0\r\n' + HOST_LINE.encode() + b'\r\n'
    res, closed, rest = await error_then_pipelined(bad)
    assert res.status_line == b'HTTP/1.1 505 HTTP Version Not Supported', (
        res.raw
    )
    assert res.headers['connection'] == 'close', res.raw
    assert res.body == b'HTTP Version Not Supported'
    check_not_answered(closed, rest)
