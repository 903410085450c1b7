# runtime: cpython
"""Tests of the ASGI adapter (``microdot.asgi``).

Most tests call the application directly with a fake server (``Channel``):
``receive()`` hands out queued messages and ``send()`` records what the
application sends, so the tests assert the exact ASGI messages. The last
section runs the application under a real uvicorn in a thread, with httpx
and the ``websockets`` client, for what only a real server shows (the
end-to-end module ``test_deploy.py`` runs the common checks under uvicorn
and hypercorn as subprocesses).
"""

import asyncio
import os
import signal
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from adapterutil import Limits
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

from microdot import Request, Response, abort
from microdot import asgi as asgi_module
from microdot.asgi import Microdot
from microdot.sse import with_sse
from microdot.websocket import (
    WebSocket,
    decode_frame,
    encode_frame,
    websocket_upgrade,
    with_websocket,
)

TIMEOUT = 5  # seconds for one application call
TEXT_TYPE = (b'content-type', b'text/plain; charset=UTF-8')
JSON_TYPE = (b'content-type', b'application/json')
BINARY_TYPE = (b'content-type', b'application/octet-stream')
SSE_HEADERS = [
    (b'content-type', b'text/event-stream'),
    (b'cache-control', b'no-cache'),
]


# -- the fake server ----------------------------------------------------------


class Channel:
    """The server side of one ASGI call. ``receive()`` returns the queued
    messages in order and waits when there is none; ``send()`` records a
    message and yields to the loop, as a real server's send may.

    :param messages: the messages queued for ``receive()``.
    :param disconnect_after: queue ``http.disconnect`` when that many
                             messages were sent.
    """

    def __init__(self, *messages, disconnect_after=None):
        self.inbox = asyncio.Queue()
        for message in messages:
            self.inbox.put_nowait(message)
        self.sent = []
        self.received = 0  # messages taken by receive()
        self.disconnect_after = disconnect_after
        self.log = []  # sends and other events, in order

    async def receive(self):
        message = await self.inbox.get()
        self.received += 1
        return message

    async def send(self, message):
        self.sent.append(message)
        self.log.append(('send', message['type']))
        if len(self.sent) == self.disconnect_after:
            self.push({'type': 'http.disconnect'})
        await asyncio.sleep(0)

    def push(self, message):
        self.inbox.put_nowait(message)

    async def wait_sent(self, count):
        """Wait until ``count`` messages were sent."""
        for _ in range(int(TIMEOUT / 0.001)):
            if len(self.sent) >= count:
                return
            await asyncio.sleep(0.001)
        raise AssertionError('sent %r' % self.sent)


class WebSocketChannel(Channel):
    """A channel that answers ``websocket.close`` as a server does once
    the closing handshake is over: with ``websocket.disconnect``."""

    async def send(self, message):
        await super().send(message)
        if message['type'] == 'websocket.close':
            self.push({'type': 'websocket.disconnect', 'code': 1000})


def http_scope(
    path='/',
    method='GET',
    headers=(),
    query=b'',
    raw_path=b'',
    http_version='1.1',
    scheme='http',
    client=('127.0.0.1', 5678),
):
    """An ``http`` scope as uvicorn builds it; ``raw_path=None`` leaves
    ``raw_path`` out, ``b''`` makes it the encoded ``path``."""
    scope = {
        'type': 'http',
        'asgi': {'version': '3.0', 'spec_version': '2.4'},
        'http_version': http_version,
        'server': ('127.0.0.1', 8000),
        'client': client,
        'scheme': scheme,
        'method': method,
        'root_path': '',
        'path': path,
        'query_string': query,
        'headers': [(b'host', b'example.com')] + list(headers),
    }
    if raw_path is not None:
        scope['raw_path'] = raw_path or path.encode()
    return scope


def request_message(body=b'', more_body=False):
    return {'type': 'http.request', 'body': body, 'more_body': more_body}


def start(status, headers):
    return {'type': 'http.response.start', 'status': status,
            'headers': headers}  # fmt: skip


def body(data):
    """The last body message (``more_body`` left to its default)."""
    return {'type': 'http.response.body', 'body': data}


def chunk(data):
    return {'type': 'http.response.body', 'body': data, 'more_body': True}


def text_response(text, status=200, headers=()):
    data = text.encode()
    length = (b'content-length', b'%d' % len(data))
    return [start(status, list(headers) + [length, TEXT_TYPE]), body(data)]


async def call(app, scope, channel):
    """Run one application call against ``channel``, bounded in time."""
    await asyncio.wait_for(app(scope, channel.receive, channel.send),
                           TIMEOUT)  # fmt: skip
    return channel.sent


def seen_app():
    """An application whose routes keep the request they get in
    ``app.seen`` and read its body; all methods, any path."""
    app = Microdot()
    app.seen = []
    methods = ['GET', 'POST', 'PUT']

    @app.route('/', methods=methods)
    async def index(request):
        app.seen.append(request)
        return 'ok'

    @app.route('/<path:path>', methods=methods)
    async def anything(request, path):
        app.seen.append(request)
        return 'ok'

    return app


async def seen_request(scope, *messages):
    """The request that ``seen_app`` gets for ``scope``."""
    app = seen_app()
    sent = await call(app, scope, Channel(*messages))
    assert sent == text_response('ok')
    return app.seen[0]


# -- routing and responses ----------------------------------------------------


def hello_app():
    """An application whose ``/`` route returns ``'Hello, World!'``."""
    app = Microdot()

    @app.route('/')
    async def index(request):
        return 'Hello, World!'

    return app


HELLO_HEADERS = [(b'content-length', b'13'), TEXT_TYPE]


async def test_text_response():
    sent = await call(hello_app(), http_scope('/'), Channel())
    assert sent == [start(200, HELLO_HEADERS), body(b'Hello, World!')]


async def test_json_response():
    app = Microdot()

    @app.route('/users/<int:id>')
    async def user(request, id):
        return {'id': id}

    sent = await call(app, http_scope('/users/42'), Channel())
    assert sent == [
        start(200, [JSON_TYPE, (b'content-length', b'9')]),
        body(b'{"id":42}'),
    ]


async def test_not_found():
    sent = await call(Microdot(), http_scope('/missing'), Channel())
    assert sent == text_response('Not Found', 404)


async def test_method_not_allowed_has_allow():
    app = Microdot()

    @app.get('/')
    async def index(request):
        return 'x'

    sent = await call(app, http_scope('/', 'POST'), Channel())
    assert sent == text_response(
        'Method Not Allowed', 405, [(b'allow', b'GET, HEAD, OPTIONS')]
    )


async def test_sync_handler():
    app = Microdot()

    @app.route('/')
    def index(request):
        return 'sync'

    assert await call(app, http_scope('/'), Channel()) == text_response('sync')


async def test_head_sends_get_headers_without_body():
    sent = await call(hello_app(), http_scope('/', 'HEAD'), Channel())
    assert sent == [start(200, HELLO_HEADERS), body(b'')]


async def test_204_has_no_body_and_no_type():
    app = Microdot()

    @app.route('/')
    async def index(request):
        return '', 204

    sent = await call(app, http_scope('/'), Channel())
    assert sent == [start(204, []), body(b'')]


async def test_set_cookies_are_one_header_each():
    app = Microdot()

    @app.route('/')
    async def index(request):
        res = Response('c')
        res.set_cookie('a', '1')
        res.set_cookie('b', '2', path='/')
        return res

    sent = await call(app, http_scope('/'), Channel())
    assert sent == text_response('c', headers=[
        (b'set-cookie', b'a=1'),
        (b'set-cookie', b'b=2; Path=/'),
    ])  # fmt: skip


async def test_header_names_lower_case_and_values_utf8():
    app = Microdot()

    @app.route('/')
    async def index(request):
        return 'x', {'X-Name': 'café', 'X-Count': 3}

    sent = await call(app, http_scope('/'), Channel())
    assert sent == text_response('x', headers=[
        (b'x-name', b'caf\xc3\xa9'),
        (b'x-count', b'3'),
    ])  # fmt: skip


async def test_header_with_crlf_is_500(capsys):
    app = Microdot()

    @app.route('/')
    async def index(request):
        return 'x', {'X-Bad': 'a\r\nInjected: yes'}

    sent = await call(app, http_scope('/'), Channel())
    assert sent == [start(500, [(b'content-length', b'0')]), body(b'')]
    assert 'ValueError: CR or LF in header' in capsys.readouterr().err


@pytest.mark.parametrize(
    'default_type, text, content_type',
    [
        ('text/html', '<p>', b'text/html; charset=UTF-8'),
        ('application/xml', '<a/>', b'application/xml'),
    ],
    ids=['text_gets_charset', 'other_has_no_charset'],
)
async def test_default_content_type(default_type, text, content_type):
    app = Microdot()

    @app.route('/')
    async def index(request):
        return text

    saved = Response.default_content_type
    Response.default_content_type = default_type
    try:
        sent = await call(app, http_scope('/'), Channel())
    finally:
        Response.default_content_type = saved
    assert sent[0] == start(200, [
        (b'content-length', b'%d' % len(text)),
        (b'content-type', content_type),
    ])  # fmt: skip


async def test_response_subclass_complete_is_called():
    class Tagged(Response):
        def complete(self):
            super().complete()
            self.headers['X-Tagged'] = 'yes'

    app = Microdot()

    @app.route('/')
    async def index(request):
        return Tagged('t')

    sent = await call(app, http_scope('/'), Channel())
    assert sent == [
        start(
            200, [(b'content-length', b'1'), TEXT_TYPE, (b'x-tagged', b'yes')]
        ),  # fmt: skip
        body(b't'),
    ]


async def test_already_handled_sends_nothing():
    app = Microdot()

    @app.route('/')
    async def index(request):
        return Response.already_handled

    assert await call(app, http_scope('/'), Channel()) == []


# -- the request --------------------------------------------------------------


async def test_get_receives_nothing():
    app = seen_app()
    channel = Channel()
    await call(app, http_scope('/'), channel)
    assert channel.received == 0
    assert app.seen[0].body == b''


async def test_query_string():
    req = await seen_request(http_scope('/q', query=b'a=1&b=x%20y&a=2'))
    assert req.url == '/q?a=1&b=x%20y&a=2'
    assert req.query_string == 'a=1&b=x%20y&a=2'
    assert req.args.getlist('a') == ['1', '2']
    assert req.args['b'] == 'x y'


async def test_raw_path_is_decoded_once():
    scope = http_scope('/ignored', raw_path=b'/p/caf%C3%A9%2Fx%25')
    req = await seen_request(scope)
    assert req.url == '/p/caf%C3%A9%2Fx%25'
    assert req.path == '/p/café/x%'


async def test_path_without_raw_path_is_not_decoded_again():
    req = await seen_request(http_scope('/p/100%?x', raw_path=None))
    assert req.path == '/p/100%?x'
    assert req.query_string == ''


async def test_raw_path_not_utf8_is_400():
    scope = http_scope('/p', raw_path=b'/p/\xff')
    sent = await call(seen_app(), scope, Channel())
    assert sent == text_response('Bad Request', 400)


async def test_invalid_percent_escape_is_400():
    scope = http_scope('/p', raw_path=b'/p/%zz')
    sent = await call(seen_app(), scope, Channel())
    assert sent == text_response('Bad Request', 400)


async def test_repeated_headers_are_joined():
    scope = http_scope(headers=[(b'x-tag', b'a'), (b'x-tag', b'b')])
    req = await seen_request(scope)
    assert req.headers['X-Tag'] == 'a, b'


async def test_repeated_cookie_headers_are_joined():
    scope = http_scope(headers=[(b'cookie', b'a=1'), (b'cookie', b'b=2')])
    req = await seen_request(scope)
    assert req.headers['Cookie'] == 'a=1; b=2'
    assert req.cookies == {'a': '1', 'b': '2'}


async def test_header_names_are_lower_cased():
    req = await seen_request(http_scope(headers=[(b'X-Upper', b'v')]))
    assert dict(req.headers) == {'host': 'example.com', 'x-upper': 'v'}


async def test_header_value_is_utf8_text():
    req = await seen_request(http_scope(headers=[(b'x-name', b'caf\xc3\xa9')]))
    assert req.headers['X-Name'] == 'café'


async def test_header_value_not_utf8_is_400():
    scope = http_scope(headers=[(b'x-name', b'caf\xe9')])
    sent = await call(seen_app(), scope, Channel())
    assert sent == text_response('Bad Request', 400)


async def test_asgi_scope():
    scope = http_scope()
    req = await seen_request(scope)
    assert req.asgi_scope is scope


async def test_client_addr_scheme_and_version():
    scope = http_scope(client=('10.0.0.1', 4321), scheme='https',
                       http_version='1.0')  # fmt: skip
    req = await seen_request(scope)
    assert req.client_addr == ('10.0.0.1', 4321)
    assert req.scheme == 'https'
    assert req.http_version == '1.0'


async def test_client_addr_list_becomes_tuple():
    req = await seen_request(http_scope(client=['10.0.0.2', 80]))
    assert req.client_addr == ('10.0.0.2', 80)


async def test_no_client_addr_is_none():
    req = await seen_request(http_scope(client=None))
    assert req.client_addr is None


async def test_json_body():
    scope = http_scope('/', 'POST', headers=[
        JSON_TYPE,
        (b'content-length', b'8'),
    ])  # fmt: skip
    req = await seen_request(scope, request_message(b'{"a": 1}'))
    assert req.body == b'{"a": 1}'
    assert req.json == {'a': 1}


async def test_form_body():
    scope = http_scope('/', 'POST', headers=[
        (b'content-type', b'application/x-www-form-urlencoded'),
        (b'content-length', b'13'),
    ])  # fmt: skip
    req = await seen_request(scope, request_message(b'a=1&b=x+y&a=2'))
    assert req.form.getlist('a') == ['1', '2']
    assert req.form['b'] == 'x y'


async def test_body_in_several_messages():
    scope = http_scope('/', 'POST', headers=[(b'content-length', b'10')])
    app = seen_app()
    channel = Channel(request_message(b'01234', True),
                      request_message(b'56789'))  # fmt: skip
    await call(app, scope, channel)
    assert app.seen[0].body == b'0123456789'
    assert channel.received == 2


async def test_over_max_content_length_is_413_unread():
    length = b'%d' % (Request.max_content_length + 1)
    scope = http_scope('/', 'POST', headers=[(b'content-length', length)])
    app = seen_app()
    channel = Channel(request_message(b'x' * 100, True))
    sent = await call(app, scope, channel)
    assert sent == text_response('Content Too Large', 413)
    assert channel.received == 0
    assert app.seen == []


async def test_disconnect_while_receiving_body_sends_nothing():
    scope = http_scope('/', 'POST', headers=[(b'content-length', b'10')])
    app = seen_app()
    channel = Channel(request_message(b'01234', True),
                      {'type': 'http.disconnect'})  # fmt: skip
    assert await call(app, scope, channel) == []
    assert app.seen == []


async def test_http2_body_without_length_is_received():
    scope = http_scope('/', 'POST', http_version='2')
    req = await seen_request(scope, request_message(b'ab', True),
                             request_message(b'c'))  # fmt: skip
    assert req.body == b'abc'
    assert req.content_length == 3


async def test_small_chunked_body_is_in_body():
    scope = http_scope(
        '/', 'POST', headers=[(b'transfer-encoding', b'chunked')]
    )
    req = await seen_request(scope, request_message(b'ab', True),
                             request_message(b'cd'))  # fmt: skip
    assert req.body == b'abcd'
    assert req.content_length == 4


# -- request.stream -----------------------------------------------------------


def stream_app(read_size):
    """An app whose POST route reads ``request.stream`` in pieces of
    ``read_size`` and records each piece with the messages received so
    far (``app.channel`` is set by the test)."""
    app = Microdot()
    app.pieces = []

    @app.post('/')
    async def upload(request):
        assert request.body == b''
        data = b''
        while True:
            piece = await request.stream.read(read_size)
            if not piece:
                break
            app.pieces.append((len(piece), app.channel.received))
            data += piece
        return data

    return app


async def test_large_body_is_read_in_pieces():
    parts = [bytes([i]) * 65536 for i in range(10)]
    length = b'%d' % (len(parts) * 65536)
    scope = http_scope('/', 'POST', headers=[(b'content-length', length)])
    app = stream_app(16384)
    app.channel = Channel(*[request_message(part, i < 9)
                            for i, part in enumerate(parts)])  # fmt: skip
    with Limits(max_content_length=1 << 20, max_body_length=16384):
        sent = await call(app, scope, app.channel)
    assert sent[1] == body(b''.join(parts))
    # four pieces of each 64 KiB message, read while it is the last one
    assert app.pieces == [(16384, i // 4 + 1) for i in range(40)]


async def test_chunked_large_body_is_left_to_stream():
    scope = http_scope(
        '/', 'POST', headers=[(b'transfer-encoding', b'chunked')]
    )
    app = stream_app(4)
    app.channel = Channel(request_message(b'0123456789', True),
                          request_message(b'abc'))  # fmt: skip
    with Limits(max_body_length=8):
        sent = await call(app, scope, app.channel)
    assert sent[1] == body(b'0123456789abc')
    assert app.pieces == [(4, 1), (4, 1), (2, 1), (3, 2)]


async def test_chunked_body_whole_over_limit_is_left_to_stream():
    scope = http_scope(
        '/', 'POST', headers=[(b'transfer-encoding', b'chunked')]
    )
    app = stream_app(100)
    app.channel = Channel(request_message(b'0123456789'))
    with Limits(max_body_length=8):
        sent = await call(app, scope, app.channel)
    assert sent[1] == body(b'0123456789')
    assert app.pieces == [(10, 1)]


@pytest.mark.parametrize(
    'max_body_length, pieces',
    [(8, [(10, 1)]), (16, [])],
    ids=['in_stream', 'read_ahead'],
)
async def test_chunked_body_over_max_content_length_is_413(
    max_body_length, pieces
):
    scope = http_scope(
        '/', 'POST', headers=[(b'transfer-encoding', b'chunked')]
    )
    app = stream_app(100)
    app.channel = Channel(request_message(b'0123456789', True),
                          request_message(b'0123456789'))  # fmt: skip
    with Limits(max_body_length=max_body_length, max_content_length=12):
        sent = await call(app, scope, app.channel)
    assert sent == text_response('Content Too Large', 413)
    assert app.pieces == pieces


async def test_stream_cut_short_is_400():
    scope = http_scope('/', 'POST', headers=[(b'content-length', b'20')])
    app = stream_app(100)
    app.channel = Channel(request_message(b'0123456789', True),
                          {'type': 'http.disconnect'})  # fmt: skip
    with Limits(max_body_length=8):
        sent = await call(app, scope, app.channel)
    assert sent == text_response('Bad Request', 400)
    assert app.pieces == [(10, 1)]


async def test_stream_readline_readexactly_and_read_all():
    app = Microdot()

    @app.post('/')
    async def upload(request):
        stream = request.stream
        return repr(
            [
                await stream.readline(),
                await stream.readexactly(4),
                await stream.readline(),
                await stream.read(),
            ]
        )

    scope = http_scope('/', 'POST', headers=[(b'content-length', b'10')])
    channel = Channel(request_message(b'ab\ncd', True),
                      request_message(b'ef\ngh'))  # fmt: skip
    with Limits(max_body_length=4):
        sent = await call(app, scope, channel)
    assert sent[1] == body(b"[b'ab\\n', b'cdef', b'\\n', b'gh']")


async def test_stream_readexactly_past_the_end_is_eof():
    app = Microdot()

    @app.post('/')
    async def upload(request):
        try:
            await request.stream.readexactly(11)
        except EOFError:
            return 'eof'
        return 'read'

    scope = http_scope('/', 'POST', headers=[(b'content-length', b'10')])
    with Limits(max_body_length=4):
        sent = await call(app, scope, Channel(request_message(b'x' * 10)))
    assert sent == text_response('eof')


# -- streamed responses -------------------------------------------------------


async def test_streamed_response_one_message_per_chunk():
    app = Microdot()

    @app.route('/')
    async def index(request):
        return (part for part in [b'one', 'two', b'', b'three'])

    sent = await call(app, http_scope('/'), Channel())
    assert sent == [
        start(200, [TEXT_TYPE]),
        chunk(b'one'),
        chunk(b'two'),
        chunk(b'three'),
        body(b''),
    ]


async def test_streamed_async_generator():
    app = Microdot()

    @app.route('/')
    async def index(request):
        async def generate():
            for part in (b'a', b'b'):
                await asyncio.sleep(0)
                yield part

        return generate(), {'Content-Type': 'application/octet-stream'}

    sent = await call(app, http_scope('/'), Channel())
    assert sent == [
        start(200, [BINARY_TYPE]),
        chunk(b'a'),
        chunk(b'b'),
        body(b''),
    ]


async def test_file_is_sent_in_buffer_size_chunks(tmp_path):
    path = tmp_path / 'data.bin'
    path.write_bytes(bytes(range(256)) * 10)  # 2560 bytes
    app = Microdot()

    @app.route('/')
    async def index(request):
        return Response.send_file(str(path))

    sent = await call(app, http_scope('/'), Channel())
    data = path.read_bytes()
    assert sent == [
        start(200, [BINARY_TYPE, (b'content-length', b'2560')]),
        chunk(data[:1024]),
        chunk(data[1024:2048]),
        chunk(data[2048:]),
        body(b''),
    ]


async def test_head_of_streamed_response_closes_body_unsent():
    app = Microdot()
    closed = []

    @app.route('/')
    async def index(request):
        def generate():
            try:
                yield b'never'
            finally:
                closed.append(True)

        body_iter = generate()
        next(body_iter, None)  # started, so that close() runs finally
        return body_iter

    sent = await call(app, http_scope('/', 'HEAD'), Channel())
    assert sent == [start(200, [TEXT_TYPE]), body(b'')]
    assert closed == [True]


async def test_disconnect_during_stream_closes_async_generator():
    app = Microdot()
    closed = []

    @app.route('/')
    async def index(request):
        async def generate():
            try:
                yield b'first'
                await asyncio.sleep(60)
                yield b'never'
            finally:
                closed.append(True)

        return generate()

    channel = Channel(disconnect_after=2)
    task = asyncio.ensure_future(app(http_scope('/'), channel.receive,
                                     channel.send))  # fmt: skip
    await asyncio.wait_for(task, TIMEOUT)
    assert channel.sent == [start(200, [TEXT_TYPE]), chunk(b'first')]
    assert closed == [True]
    if hasattr(task, 'cancelling'):  # the cancellation was absorbed
        assert task.cancelling() == 0


def endless_app():
    """An app whose ``/`` streams ``b'x'`` without end; the list it
    returns with it gets ``True`` when the generator is closed."""
    app = Microdot()
    closed = []

    @app.route('/')
    async def index(request):
        def generate():
            try:
                while True:
                    yield b'x'
            finally:
                closed.append(True)

        return generate()

    return app, closed


async def test_disconnect_during_stream_closes_sync_generator():
    app, closed = endless_app()
    sent = await call(app, http_scope('/'), Channel(disconnect_after=3))
    assert sent == [start(200, [TEXT_TYPE]), chunk(b'x'), chunk(b'x')]
    assert closed == [True]


async def test_send_error_stops_stream():
    app, closed = endless_app()
    channel = Channel()

    async def send(message):
        await channel.send(message)
        if len(channel.sent) == 2:
            raise ConnectionResetError()  # ASGI 2.4: the client left

    await asyncio.wait_for(app(http_scope('/'), channel.receive, send),
                           TIMEOUT)  # fmt: skip
    assert channel.sent == [start(200, [TEXT_TYPE]), chunk(b'x')]
    assert closed == [True]


async def test_error_in_streamed_body_propagates_to_server():
    app = Microdot()

    @app.route('/')
    async def index(request):
        def generate():
            yield b'first'
            raise RuntimeError('broken body')

        return generate()

    channel = Channel()
    with pytest.raises(RuntimeError, match='broken body'):
        await call(app, http_scope('/'), channel)
    assert channel.sent == [start(200, [TEXT_TYPE]), chunk(b'first')]


async def test_server_cancellation_is_not_swallowed():
    app = Microdot()
    closed = []

    @app.route('/')
    async def index(request):
        async def generate():
            try:
                yield b'first'
                await asyncio.sleep(60)
            finally:
                closed.append(True)

        return generate()

    channel = Channel()
    task = asyncio.ensure_future(app(http_scope('/'), channel.receive,
                                     channel.send))  # fmt: skip
    await channel.wait_sent(2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, TIMEOUT)
    assert closed == [True]


async def test_streamed_body_can_read_request_stream():
    app = Microdot()

    @app.post('/')
    async def upper(request):
        async def generate():
            while True:
                data = await request.stream.read(3)
                if not data:
                    break
                yield data.upper()

        return generate()

    scope = http_scope('/', 'POST', headers=[(b'content-length', b'10')])
    channel = Channel(request_message(b'abcdef', True),
                      request_message(b'ghij'))  # fmt: skip
    with Limits(max_body_length=4):
        sent = await call(app, scope, channel)
    assert sent == [
        start(200, [TEXT_TYPE]),
        chunk(b'ABC'),
        chunk(b'DEF'),
        chunk(b'GHI'),
        chunk(b'J'),
        body(b''),
    ]


async def test_unread_body_is_read_ahead_at_most_64k_while_streaming():
    app = Microdot()

    @app.post('/')
    async def ignore_body(request):
        return (part for part in [b'a', b'b'])

    parts = [request_message(b'x' * 16384, True) for _ in range(9)]
    length = b'%d' % (9 * 16384)
    scope = http_scope('/', 'POST', headers=[(b'content-length', length)])
    channel = Channel(*parts)
    with Limits(max_content_length=1 << 20):
        sent = await call(app, scope, channel)
    assert sent == [start(200, [TEXT_TYPE]), chunk(b'a'), chunk(b'b'),
                    body(b'')]  # fmt: skip
    assert channel.received == 4  # 64 KiB, then it waits for a reader


async def test_sse_events_are_sent_one_by_one():
    app = Microdot()

    @app.route('/events')
    @with_sse
    async def events(request, sse):
        await sse.send('one')
        await sse.send('two', event='e')
        await sse.send({'n': 3})

    sent = await call(app, http_scope('/events'), Channel())
    assert sent == [
        start(200, SSE_HEADERS),
        chunk(b'data: one\n\n'),
        chunk(b'event: e\ndata: two\n\n'),
        chunk(b'data: {"n":3}\n\n'),
        body(b''),
    ]


async def test_sse_task_is_cancelled_on_disconnect():
    app = Microdot()
    record = []

    @app.route('/events')
    @with_sse
    async def events(request, sse):
        await sse.send('one')
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            record.append('cancelled')
            raise

    sent = await call(app, http_scope('/events'), Channel(disconnect_after=2))
    assert sent[1:] == [chunk(b'data: one\n\n')]
    assert record == ['cancelled']


# -- lifespan -----------------------------------------------------------------


def lifespan_scope():
    return {'type': 'lifespan', 'asgi': {'version': '3.0'}, 'state': {}}


def lifespan_channel():
    return Channel({'type': 'lifespan.startup'},
                   {'type': 'lifespan.shutdown'})  # fmt: skip


async def test_lifespan_async_callbacks_get_the_scope():
    calls = []
    scope = lifespan_scope()

    async def startup(s):
        calls.append(('startup', s is scope))

    async def shutdown(s):
        calls.append(('shutdown', s is scope))

    app = Microdot(lifespan_startup=startup, lifespan_shutdown=shutdown)
    sent = await call(app, scope, lifespan_channel())
    assert sent == [
        {'type': 'lifespan.startup.complete'},
        {'type': 'lifespan.shutdown.complete'},
    ]
    assert calls == [('startup', True), ('shutdown', True)]


async def test_lifespan_sync_callbacks():
    calls = []

    def startup(scope):
        calls.append('startup')

    def shutdown(scope):
        calls.append('shutdown')

    app = Microdot(lifespan_startup=startup, lifespan_shutdown=shutdown)
    sent = await call(app, lifespan_scope(), lifespan_channel())
    assert sent == [
        {'type': 'lifespan.startup.complete'},
        {'type': 'lifespan.shutdown.complete'},
    ]
    assert calls == ['startup', 'shutdown']


async def test_lifespan_without_callbacks_completes():
    sent = await call(Microdot(), lifespan_scope(), lifespan_channel())
    assert sent == [
        {'type': 'lifespan.startup.complete'},
        {'type': 'lifespan.shutdown.complete'},
    ]


async def test_lifespan_startup_failed(capsys):
    async def startup(scope):
        raise RuntimeError('database down')

    app = Microdot(lifespan_startup=startup)
    sent = await call(app, lifespan_scope(), lifespan_channel())
    assert sent == [{'type': 'lifespan.startup.failed',
                     'message': "RuntimeError('database down')"}]  # fmt: skip
    assert 'RuntimeError: database down' in capsys.readouterr().err


async def test_lifespan_shutdown_failed(capsys):
    def shutdown(scope):
        raise ValueError('no')

    app = Microdot(lifespan_shutdown=shutdown)
    sent = await call(app, lifespan_scope(), lifespan_channel())
    assert sent == [
        {'type': 'lifespan.startup.complete'},
        {'type': 'lifespan.shutdown.failed', 'message': "ValueError('no')"},
    ]
    assert 'ValueError: no' in capsys.readouterr().err


async def test_unknown_scope_type_raises():
    with pytest.raises(ValueError):
        await call(Microdot(), {'type': 'telepathy'}, Channel())


# -- shutdown() ---------------------------------------------------------------


def record_kills(monkeypatch, log):
    monkeypatch.setattr(os, 'kill', lambda pid, sig: log.append(
        ('kill', pid, sig)))  # fmt: skip


def shutdown_app(sync):
    """An app whose route calls ``shutdown()``, in a ``def`` handler (run
    in a thread) or an ``async def`` one."""
    app = Microdot()

    if sync:

        @app.route('/')
        def index(request):
            request.app.shutdown()
            return 'bye'

    else:

        @app.route('/')
        async def index_async(request):
            request.app.shutdown()
            return 'bye'

    return app


@pytest.mark.parametrize('sync', [False, True])
async def test_shutdown_sends_sigterm_after_the_response(monkeypatch, sync):
    channel = Channel()
    record_kills(monkeypatch, channel.log)
    monkeypatch.setattr(signal, 'getsignal', lambda sig: print)  # handled
    await call(shutdown_app(sync), http_scope('/'), channel)
    assert channel.log == [
        ('send', 'http.response.start'),
        ('send', 'http.response.body'),
        ('kill', os.getpid(), signal.SIGTERM),
    ]


async def test_shutdown_outside_a_request_sends_sigterm_at_once(monkeypatch):
    log = []
    record_kills(monkeypatch, log)
    monkeypatch.setattr(signal, 'getsignal', lambda sig: print)
    Microdot().shutdown()
    assert log == [('kill', os.getpid(), signal.SIGTERM)]


async def test_shutdown_in_a_worker_that_ignores_sigterm_signals_master(
    monkeypatch,
):
    log = []
    record_kills(monkeypatch, log)
    monkeypatch.setattr(signal, 'getsignal', lambda sig: signal.SIG_DFL)
    monkeypatch.setattr(asgi_module.multiprocessing, 'parent_process',
                        lambda: object())  # fmt: skip
    Microdot().shutdown()
    assert log == [('kill', os.getppid(), signal.SIGTERM)]


async def test_shutdown_in_a_worker_that_handles_sigterm_signals_itself(
    monkeypatch,
):
    log = []
    record_kills(monkeypatch, log)
    monkeypatch.setattr(signal, 'getsignal', lambda sig: print)
    monkeypatch.setattr(asgi_module.multiprocessing, 'parent_process',
                        lambda: object())  # fmt: skip
    Microdot().shutdown()
    assert log == [('kill', os.getpid(), signal.SIGTERM)]


async def test_shutdown_stops_the_builtin_server(monkeypatch):
    log = []
    record_kills(monkeypatch, log)
    app = Microdot()
    await app.start_server(host='127.0.0.1', port=0, start_serving=False)
    app.shutdown()
    for _ in range(int(TIMEOUT / 0.01)):
        if app.server is None:
            break
        await asyncio.sleep(0.01)
    assert app.server is None
    assert log == []


# -- websocket ----------------------------------------------------------------

HANDSHAKE = [
    (b'upgrade', b'websocket'),
    (b'connection', b'Upgrade'),
    (b'sec-websocket-key', b'dGhlIHNhbXBsZSBub25jZQ=='),
    (b'sec-websocket-version', b'13'),
]
ACCEPT = {'type': 'websocket.accept'}
CONNECT = {'type': 'websocket.connect'}
DISCONNECT = {'type': 'websocket.disconnect', 'code': 1001}


def ws_scope(path='/ws', headers=HANDSHAKE, scheme='ws', query=b''):
    return {
        'type': 'websocket',
        'asgi': {'version': '3.0', 'spec_version': '2.4'},
        'http_version': '1.1',
        'scheme': scheme,
        'server': ('127.0.0.1', 8000),
        'client': ('127.0.0.1', 5678),
        'root_path': '',
        'path': path,
        'raw_path': path.encode(),
        'query_string': query,
        'headers': [(b'host', b'example.com')] + list(headers),
        'subprotocols': [],
    }


def text_in(text):
    return {'type': 'websocket.receive', 'text': text}


def bytes_in(data):
    return {'type': 'websocket.receive', 'bytes': data}


def text_out(text):
    return {'type': 'websocket.send', 'text': text}


def bytes_out(data):
    return {'type': 'websocket.send', 'bytes': data}


def close_out(code):
    return {'type': 'websocket.close', 'code': code}


def echo_app():
    app = Microdot()
    app.record = []

    @app.route('/ws')
    @with_websocket
    async def echo(request, ws):
        try:
            while True:
                await ws.send(await ws.receive())
        except asyncio.CancelledError:
            app.record.append('cancelled')
            raise

    return app


async def test_websocket_echo_until_the_client_leaves():
    app = echo_app()
    channel = WebSocketChannel(CONNECT, text_in('hello'),
                               bytes_in(b'\x00\x01'))  # fmt: skip
    task = asyncio.ensure_future(app(ws_scope(), channel.receive,
                                     channel.send))  # fmt: skip
    await channel.wait_sent(3)
    channel.push(DISCONNECT)
    await asyncio.wait_for(task, TIMEOUT)
    assert channel.sent == [ACCEPT, text_out('hello'),
                            bytes_out(b'\x00\x01')]  # fmt: skip
    assert app.record == ['cancelled']
    if hasattr(task, 'cancelling'):  # the cancellation was absorbed
        assert task.cancelling() == 0


async def test_websocket_large_binary_message():
    app = echo_app()
    data = bytes(range(256)) * 300  # a 64-bit frame length
    channel = WebSocketChannel(CONNECT, bytes_in(data))
    saved = WebSocket.max_message_length
    WebSocket.max_message_length = 1 << 20
    try:
        task = asyncio.ensure_future(app(ws_scope(), channel.receive,
                                         channel.send))  # fmt: skip
        await channel.wait_sent(2)
        channel.push(DISCONNECT)
        await asyncio.wait_for(task, TIMEOUT)
    finally:
        WebSocket.max_message_length = saved
    assert channel.sent == [ACCEPT, bytes_out(data)]


async def test_websocket_route_return_closes_1000():
    app = Microdot()

    @app.route('/ws')
    @with_websocket
    async def once(request, ws):
        await ws.send('got ' + await ws.receive())

    channel = WebSocketChannel(CONNECT, text_in('x'))
    sent = await call(app, ws_scope(), channel)
    assert sent == [ACCEPT, text_out('got x'), close_out(1000)]


async def test_websocket_route_error_closes_1011(capsys):
    app = Microdot()

    @app.route('/ws')
    @with_websocket
    async def broken(request, ws):
        await ws.receive()
        raise RuntimeError('route broke')

    channel = WebSocketChannel(CONNECT, text_in('x'))
    sent = await call(app, ws_scope(), channel)
    assert sent == [ACCEPT, close_out(1011)]
    assert 'RuntimeError: route broke' in capsys.readouterr().err


async def test_websocket_message_too_big_closes_1009():
    app = echo_app()
    channel = WebSocketChannel(CONNECT, text_in('too long'))
    saved = WebSocket.max_message_length
    WebSocket.max_message_length = 4
    try:
        sent = await call(app, ws_scope(), channel)
    finally:
        WebSocket.max_message_length = saved
    assert sent == [ACCEPT, close_out(1009)]


async def test_websocket_refused_upgrade_closes_before_accept():
    app = Microdot()

    @app.route('/ws')
    async def guarded(request):
        abort(401)
        await websocket_upgrade(request)

    sent = await call(app, ws_scope(), WebSocketChannel(CONNECT))
    assert sent == [close_out(1000)]


async def test_websocket_to_a_plain_route_closes_before_accept():
    app = Microdot()

    @app.route('/ws')
    async def plain(request):
        return 'not a websocket'

    sent = await call(app, ws_scope(), WebSocketChannel(CONNECT))
    assert sent == [close_out(1000)]


async def test_websocket_not_found_closes_before_accept():
    sent = await call(Microdot(), ws_scope(), WebSocketChannel(CONNECT))
    assert sent == [close_out(1000)]


async def test_websocket_upgrade_in_a_route_returning_none():
    app = Microdot()

    @app.route('/ws')
    async def manual(request):
        ws = await websocket_upgrade(request)
        await ws.send('hi')

    sent = await call(app, ws_scope(), WebSocketChannel(CONNECT))
    assert sent == [ACCEPT, text_out('hi'), close_out(1000)]


async def test_websocket_upgrade_route_cancelled_when_client_leaves():
    app = Microdot()
    record = []

    @app.route('/ws')
    async def manual(request):
        await websocket_upgrade(request)
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            record.append('cancelled')
            raise

    channel = WebSocketChannel(CONNECT)
    task = asyncio.ensure_future(app(ws_scope(), channel.receive,
                                     channel.send))  # fmt: skip
    await channel.wait_sent(1)
    channel.push(DISCONNECT)
    await asyncio.wait_for(task, TIMEOUT)
    assert channel.sent == [ACCEPT]
    assert record == ['cancelled']
    if hasattr(task, 'cancelling'):  # the cancellation was absorbed
        assert task.cancelling() == 0


async def test_websocket_disconnect_before_connect_sends_nothing():
    sent = await call(echo_app(), ws_scope(), WebSocketChannel(DISCONNECT))
    assert sent == []


async def test_websocket_request_attributes():
    app = Microdot()
    seen = []

    @app.route('/ws/<int:n>')
    @with_websocket
    async def attributes(request, ws, n):
        seen.append(request)
        await ws.send(repr((n, request.args['q'], request.scheme,
                            request.client_addr)))  # fmt: skip

    scope = ws_scope('/ws/7', scheme='wss', query=b'q=a+b')
    sent = await call(app, scope, WebSocketChannel(CONNECT))
    assert sent[1] == text_out("(7, 'a b', 'https', ('127.0.0.1', 5678))")
    assert seen[0].asgi_scope is scope
    assert seen[0].method == 'GET'


async def test_websocket_scope_without_handshake_headers():
    app = Microdot()

    @app.route('/ws')
    @with_websocket
    async def hello(request, ws):
        await ws.send('hello')

    scope = ws_scope(headers=[])  # such as over HTTP/2 (RFC 8441)
    sent = await call(app, scope, WebSocketChannel(CONNECT))
    assert sent == [ACCEPT, text_out('hello'), close_out(1000)]


# -- decode_frame (moved from the test client, used by the bridge) ------------


def test_decode_frame_server_frame():
    frame = encode_frame(1, b'hello')
    assert decode_frame(frame + b'next') == (True, 1, b'hello', 7)


def test_decode_frame_masked_frame():
    frame = encode_frame(2, b'\x00\x01\x02', b'\x37\xfa\x21\x3d')
    assert decode_frame(frame) == (True, 2, b'\x00\x01\x02', 9)


def test_decode_frame_16_and_64_bit_lengths():
    for size, head in ((300, 4), (70000, 10)):
        payload = bytes(range(256)) * (size // 256 + 1)
        payload = payload[:size]
        frame = encode_frame(2, payload)
        assert decode_frame(frame) == (True, 2, payload, head + size)


def test_decode_frame_incomplete_is_none():
    frame = encode_frame(1, b'x' * 300, b'\x01\x02\x03\x04')
    for end in range(len(frame)):
        assert decode_frame(frame[:end]) is None


def test_decode_frame_not_final():
    frame = bytes([0x01, 0x02]) + b'ab'  # TEXT without FIN
    assert decode_frame(frame) == (False, 1, b'ab', 4)


# -- under a real uvicorn -----------------------------------------------------

START_TIMEOUT = 10
STOP_TIMEOUT = 10


class UvicornThread:
    """uvicorn serving ``app`` on 127.0.0.1 in a thread (no signal
    handlers there): ``port`` once it listens; ``stop()`` is bounded."""

    def __init__(self, app):
        config = uvicorn.Config(app, host='127.0.0.1', port=0,
                                log_level='warning', lifespan='on',
                                ws='websockets-sansio')  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.port = None

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                self.stop()
                raise AssertionError('uvicorn did not start')
            time.sleep(0.01)
        sock = self.server.servers[0].sockets[0]
        self.port = sock.getsockname()[1]
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self):
        self.server.should_exit = True
        self.thread.join(STOP_TIMEOUT)
        assert not self.thread.is_alive()

    def url(self, path, scheme='http'):
        return '%s://127.0.0.1:%d%s' % (scheme, self.port, path)


def wait_for(condition):
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def real_app():
    app = Microdot(lifespan_startup=lambda scope: None)
    app.record = []

    @app.post('/upload')
    async def upload(request):
        sizes = []
        while True:
            data = await request.stream.read(16384)
            if not data:
                break
            sizes.append(len(data))
        return {'body': len(request.body), 'total': sum(sizes),
                'largest': max(sizes), 'reads': len(sizes)}  # fmt: skip

    @app.route('/events')
    @with_sse
    async def events(request, sse):
        await sse.send('one')
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            app.record.append('sse cancelled')
            raise

    @app.route('/ws')
    @with_websocket
    async def echo(request, ws):
        try:
            while True:
                message = await ws.receive()
                if message == 'fail':
                    raise RuntimeError('asked to fail')
                await ws.send(message)
        except asyncio.CancelledError:
            app.record.append('ws cancelled')
            raise

    return app


def test_uvicorn_large_body_is_read_in_pieces():
    def parts():
        for i in range(16):
            yield bytes([i]) * 65536

    with Limits(max_content_length=1 << 21), UvicornThread(real_app()) as srv:
        res = httpx.post(srv.url('/upload'), content=parts(), timeout=TIMEOUT)
    assert res.status_code == 200
    result = res.json()
    assert result['body'] == 0
    assert result['total'] == 16 * 65536
    assert result['largest'] <= 16384
    assert result['reads'] >= 64


def test_uvicorn_413_without_reading_the_body():
    with UvicornThread(real_app()) as srv:
        sock = socket.create_connection(('127.0.0.1', srv.port), TIMEOUT)
        try:
            sock.sendall(b'POST /upload HTTP/1.1\r\nHost: x\r\n'
                         b'Content-Length: 1000000000\r\n\r\n')  # fmt: skip
            response = b''
            while not response.endswith(b'Content Too Large'):
                data = sock.recv(4096)
                assert data, response
                response += data
        finally:
            sock.close()
    assert response.startswith(b'HTTP/1.1 413 ')  # uvicorn's own phrase


def test_uvicorn_client_leaving_cancels_sse():
    app = real_app()
    with UvicornThread(app) as srv:
        with httpx.stream('GET', srv.url('/events'), timeout=TIMEOUT) as res:
            first = next(res.iter_raw())
        assert wait_for(lambda: app.record == ['sse cancelled']), app.record
    assert first == b'data: one\n\n'


def test_uvicorn_websocket_bytes_echo_and_1011():
    with UvicornThread(real_app()) as srv:
        with connect(srv.url('/ws', 'ws'), open_timeout=TIMEOUT) as ws:
            ws.send(b'\x00\xff')
            assert ws.recv(TIMEOUT) == b'\x00\xff'
            ws.send('fail')
            with pytest.raises(ConnectionClosedError) as info:
                ws.recv(TIMEOUT)
    assert info.value.rcvd.code == 1011


def test_uvicorn_websocket_client_leaving_cancels_route():
    app = real_app()
    with UvicornThread(app) as srv:
        with connect(srv.url('/ws', 'ws'), open_timeout=TIMEOUT) as ws:
            ws.send('hi')
            assert ws.recv(TIMEOUT) == 'hi'
        assert wait_for(lambda: app.record == ['ws cancelled']), app.record
