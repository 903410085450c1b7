"""microdot.websocket over real sockets, and TestClient.websocket().

Portable: they run under pytest and under ``tests/mpy_runner.py`` on
MicroPython. Each server test starts its own app on 127.0.0.1 (see
serverutil), performs the upgrade handshake with raw HTTP and then talks
RFC 6455 frames built by hand: client frames are masked, server frames are
read back and compared byte for byte. Every read is bounded by a timeout.
"""

import asyncio
import binascii
import hashlib
import struct

import serverutil
import support

from microdot import Request, abort
from microdot.test_client import TestClient, TestResponse
from microdot.websocket import (
    WebSocket,
    WebSocketError,
    websocket_upgrade,
    with_websocket,
)

IO_TIMEOUT = serverutil.IO_TIMEOUT
CANCEL_TIMEOUT = 5  # seconds for a handler to see its CancelledError

# RFC 6455 section 1.3: the sample nonce and the answer it must get.
SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ=='
SAMPLE_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
MASK = b'\x37\xfa\x21\x3d'  # RFC 6455 section 5.7's example key

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0, 1, 2, 8, 9, 10


# ---------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------


def apply_mask(data, mask):
    out = bytearray(data)
    for i in range(len(out)):
        out[i] ^= mask[i % 4]
    return bytes(out)


def frame(opcode, payload=b'', fin=True, mask=MASK, rsv=0, length=None):
    """A client frame: masked with ``mask`` (unmasked if None); ``length``
    overrides the announced payload length (for header-only frames)."""
    if isinstance(payload, str):
        payload = payload.encode()
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv | opcode
    masked = 0x80 if mask else 0
    if size < 126:
        head = bytes((first, masked | size))
    elif size < 65536:
        head = bytes((first, masked | 126)) + struct.pack('!H', size)
    else:
        head = bytes((first, masked | 127)) + struct.pack('!Q', size)
    if mask:
        return head + mask + apply_mask(payload, mask)
    return head + payload


def server_frame(opcode, payload=b'', fin=True):
    """The exact bytes the server must send: unmasked, minimal length."""
    if isinstance(payload, str):
        payload = payload.encode()
    return frame(opcode, payload, fin=fin, mask=None)


def close_payload(code, reason=b''):
    return struct.pack('!H', code) + reason


def close_frame(code):
    """The server's close frame: the status code, no reason."""
    return server_frame(CLOSE, close_payload(code))


def accept_for(key):
    digest = hashlib.sha1((key + WS_GUID).encode()).digest()
    return binascii.b2a_base64(digest).strip().decode()


def key_for(raw):
    return binascii.b2a_base64(raw).strip().decode()


# ---------------------------------------------------------------------------
# connections
# ---------------------------------------------------------------------------


def upgrade_request(port, path='/ws', headers=None, drop=(), method='GET'):
    """The bytes of an upgrade request: a valid handshake with the headers
    in ``headers`` added or replaced and those named in ``drop`` left out."""
    fields = {
        'Upgrade': 'websocket',
        'Connection': 'Upgrade',
        'Sec-WebSocket-Key': SAMPLE_KEY,
        'Sec-WebSocket-Version': '13',
    }
    for name in drop:
        del fields[name]
    fields.update(headers or {})
    return serverutil.build_request(port, method, path, fields)


async def read_exactly(client, size, timeout=IO_TIMEOUT):
    """Return the next ``size`` bytes the server sent."""
    try:
        return await asyncio.wait_for(client._read_exactly(size), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(
            'no %d bytes within %s s; buffered %r'
            % (size, timeout, client.buffer[:200])
        )


async def expect(client, data, timeout=IO_TIMEOUT):
    """Assert that the next bytes the server sends are exactly ``data``."""
    got = await read_exactly(client, len(data), timeout)
    if got != data:
        raise AssertionError('expected %r, got %r' % (data[:200], got[:200]))


async def _read_frame(client):
    head = await client._read_exactly(2)
    length = head[1] & 0x7F
    assert not head[1] & 0x80, 'server frames must not be masked'
    if length == 126:
        length = struct.unpack('!H', await client._read_exactly(2))[0]
    elif length == 127:
        length = struct.unpack('!Q', await client._read_exactly(8))[0]
    return head[0], await client._read_exactly(length)


async def read_frame(client, timeout=IO_TIMEOUT):
    """Return ``(first_byte, payload)`` of the next server frame."""
    try:
        return await asyncio.wait_for(_read_frame(client), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(
            'no frame within %s s; buffered %r'
            % (timeout, client.buffer[:200])
        )


async def expect_closed(client, timeout=IO_TIMEOUT):
    """Assert the server closes the connection without sending more."""
    assert await client.is_closed(timeout), 'connection still open'
    assert client.buffer == b'', client.buffer[:200]


async def expect_close(client, code, reply=True):
    """Assert the server sends exactly the close frame with ``code``, then
    (after our answering close, if ``reply``) closes the connection."""
    await expect(client, close_frame(code))
    if reply:
        await client.try_send(frame(CLOSE, close_payload(code)))
    await expect_closed(client)


async def open_ws(server, path='/ws', headers=None):
    """Connect and perform the handshake; return the ``Client``."""
    client = await serverutil.Client.open(server.port)
    try:
        await client.send(upgrade_request(server.port, path, headers))
        res = await client.read_response()
        assert res.status_code == 101, res.raw
    except BaseException:
        await client.close()
        raise
    return client


async def with_ws(app, script, path='/ws', headers=None):
    """Start ``app``, open a WebSocket on ``path`` and return ``await
    script(server, client)``; then close the connection and the server."""

    async def run(server, client):
        await client.send(upgrade_request(server.port, path, headers))
        res = await client.read_response()
        assert res.status_code == 101, res.raw
        return await script(server, client)

    return await serverutil.with_client(app, run)


async def with_limit(cls, name, value, coro):
    """Await ``coro`` with ``cls.<name>`` set to ``value``, restored in
    ``finally``."""
    saved = getattr(cls, name)
    setattr(cls, name, value)
    try:
        return await coro
    finally:
        setattr(cls, name, saved)


async def wait_flag(state, name, timeout=CANCEL_TIMEOUT):
    return await serverutil.poll(lambda: name in state, timeout)


def set_nodelay(client):
    """Disable Nagle on the client socket where the runtime allows it, so
    that one-byte writes travel as separate segments."""
    try:
        import socket

        sock = client.writer.get_extra_info('socket')
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except Exception:  # MPY: no socket in get_extra_info, no TCP_NODELAY
        pass


# ---------------------------------------------------------------------------
# applications
# ---------------------------------------------------------------------------


def ws_app(handler):
    """An app with the index route and ``handler`` as the WebSocket
    handler on ``/ws``."""
    app = serverutil.index_app('index')
    app.route('/ws')(with_websocket(handler))
    return app


async def expect_index(server):
    """Assert a plain request to ``/`` is still served."""
    res = await server.request('GET', '/')
    assert res.status_code == 200
    assert res.body == b'index'


async def close_normally(client):
    """Send a 1000 close; expect the server's close and the connection
    closed."""
    await client.send(frame(CLOSE, close_payload(1000)))
    await expect_close(client, 1000, reply=False)


def never():
    yield 'never'  # pragma: no cover


def echo_app(state=None):
    """``/ws`` echoes every message; ``state['cancelled']`` is set when the
    handler sees CancelledError, ``state['ws']`` holds the WebSocket and
    ``state['error']`` an exception that ended it."""
    state = {} if state is None else state

    async def echo(request, ws):
        state['ws'] = ws
        try:
            while True:
                message = await ws.receive()
                await ws.send(message)
        except asyncio.CancelledError:
            state['cancelled'] = True
            raise
        except Exception as exc:
            state['error'] = exc
            raise

    app = ws_app(echo)

    return app


def polite_app(state):
    """The spec's pattern: the handler catches CancelledError, cleans up
    (``state['cleanup']``) and returns."""

    async def polite(request, ws):
        try:
            while True:
                await ws.send(await ws.receive())
        except asyncio.CancelledError:
            state['cleanup'] = True

    app = ws_app(polite)

    return app


# ---------------------------------------------------------------------------
# handshake
# ---------------------------------------------------------------------------


async def test_handshake_response_head():
    app = echo_app()
    server = await serverutil.start(app)
    try:
        client = await serverutil.Client.open(server.port)
        try:
            await client.send(upgrade_request(server.port))
            res = await client.read_response()
            lines = res.raw.split(b'\r\n')
            assert res.raw.endswith(b'\r\n\r\n')
            assert lines[0] == b'HTTP/1.1 101 Switching Protocols'
            assert sorted(lines[1:-2]) == sorted(
                [
                    b'Upgrade: websocket',
                    b'Connection: Upgrade',
                    b'Sec-WebSocket-Accept: ' + SAMPLE_ACCEPT.encode(),
                ]
            )
            assert client.buffer == b''
        finally:
            await client.close()
    finally:
        await server.stop()


async def test_handshake_accept_for_another_key():
    key = key_for(b'0123456789abcdef')

    async def script(server, client):
        await client.send(
            upgrade_request(server.port, headers={'Sec-WebSocket-Key': key})
        )
        res = await client.read_response()
        assert res.status_code == 101
        assert res.headers['sec-websocket-accept'] == accept_for(key)
        assert accept_for(SAMPLE_KEY) == SAMPLE_ACCEPT  # the helper itself

    await serverutil.with_client(echo_app(), script)


async def handshake_status(headers=None, drop=(), method='GET'):
    """Send a handshake to a route accepting GET and POST; return the
    parsed response and whether the WebSocket handler ran."""
    state = {}
    app = serverutil.index_app('index')

    @app.route('/ws', methods=['GET', 'POST'])
    @with_websocket
    async def ws_route(request, ws):
        state['called'] = True
        await ws.send('hi')

    async def script(server, client):
        data = upgrade_request(server.port, '/ws', headers, drop, method)
        await client.send(data)
        return await client.read_response()

    res = await serverutil.with_client(app, script)
    return res, 'called' in state


async def check_bad_request(headers=None, drop=(), method='GET'):
    res, called = await handshake_status(headers, drop, method)
    assert res.status_code == 400, res.raw
    assert res.body == b'Bad Request'
    assert not called


async def test_handshake_upgrade_token_case_insensitive():
    res, called = await handshake_status({'Upgrade': 'WebSocket'})
    assert res.status_code == 101
    assert res.headers['sec-websocket-accept'] == SAMPLE_ACCEPT


async def test_handshake_connection_token_list():
    res, called = await handshake_status({'Connection': 'keep-alive, upgrade'})
    assert res.status_code == 101
    assert res.headers['sec-websocket-accept'] == SAMPLE_ACCEPT


async def test_handshake_post_is_400():
    await check_bad_request(method='POST')


async def test_handshake_missing_upgrade_is_400():
    await check_bad_request(drop=('Upgrade',))


async def test_handshake_other_upgrade_is_400():
    await check_bad_request({'Upgrade': 'h2c'})


async def test_handshake_missing_connection_is_400():
    await check_bad_request(drop=('Connection',))


async def test_handshake_connection_without_upgrade_is_400():
    await check_bad_request({'Connection': 'keep-alive'})


async def test_handshake_missing_key_is_400():
    await check_bad_request(drop=('Sec-WebSocket-Key',))


async def test_handshake_key_not_base64_is_400():
    await check_bad_request({'Sec-WebSocket-Key': '!!!!!!!!!!!!!!!!!!!!!!=='})


async def test_handshake_key_of_15_bytes_is_400():
    key = key_for(b'0123456789abcde')
    await check_bad_request({'Sec-WebSocket-Key': key})


async def test_handshake_key_of_17_bytes_is_400():
    key = key_for(b'0123456789abcdefg')
    await check_bad_request({'Sec-WebSocket-Key': key})


async def test_handshake_empty_key_is_400():
    await check_bad_request({'Sec-WebSocket-Key': ''})


async def check_upgrade_required(headers=None, drop=()):
    res, called = await handshake_status(headers, drop)
    assert res.status_code == 426, res.raw
    assert res.headers['sec-websocket-version'] == '13'
    assert res.getlist('sec-websocket-version') == ['13']
    assert not called


async def test_handshake_missing_version_is_426():
    await check_upgrade_required(drop=('Sec-WebSocket-Version',))


async def test_handshake_version_8_is_426():
    await check_upgrade_required({'Sec-WebSocket-Version': '8'})


async def test_handshake_version_14_is_426():
    await check_upgrade_required({'Sec-WebSocket-Version': '14'})


# ---------------------------------------------------------------------------
# messages
# ---------------------------------------------------------------------------

SIZES = (0, 125, 126, 65535, 65536, 70000)


def pattern(size):
    """ASCII text of ``size`` bytes that is not all one character."""
    text = 'abcdefghijklmnopqrstuvwxyz0123456789'
    return (text * (size // len(text) + 1))[:size]


async def echo_sizes(opcode):
    async def script(server, client):
        for size in SIZES:
            payload = pattern(size).encode()
            if opcode == BINARY:
                payload = bytes(reversed(payload))
            await client.send(frame(opcode, payload))
            await expect(client, server_frame(opcode, payload))
        await close_normally(client)

    await with_limit(
        WebSocket, 'max_message_length', 100000, with_ws(echo_app(), script)
    )


async def test_echo_text_sizes():
    await echo_sizes(TEXT)


async def test_echo_binary_sizes():
    await echo_sizes(BINARY)


async def test_server_frame_length_encodings():
    # 125 in the first byte, 126 and 65535 in 16 bits, 65536 in 64 bits.
    async def script(server, client):
        for size, head in (
            (125, b'\x82\x7d'),
            (126, b'\x82\x7e\x00\x7e'),
            (65535, b'\x82\x7e\xff\xff'),
            (65536, b'\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00'),
        ):
            await client.send(frame(BINARY, b'x' * size))
            assert await read_exactly(client, len(head)) == head
            assert await read_exactly(client, size) == b'x' * size

    await with_limit(
        WebSocket, 'max_message_length', 100000, with_ws(echo_app(), script)
    )


async def test_echo_non_ascii_text():
    text = 'h\xe9llo \u20ac \U0001f600'

    async def script(server, client):
        await client.send(frame(TEXT, text))
        await expect(client, server_frame(TEXT, text.encode()))

    await with_ws(echo_app(), script)


async def test_receive_types():
    state = {}

    async def types(request, ws):
        for _ in range(2):
            message = await ws.receive()
            state.setdefault('got', []).append(message)
            await ws.send(type(message).__name__)

    app = ws_app(types)

    async def script(server, client):
        await client.send(frame(TEXT, 'abc'))
        await expect(client, server_frame(TEXT, 'str'))
        await client.send(frame(BINARY, b'abc'))
        await expect(client, server_frame(TEXT, 'bytes'))
        assert state['got'] == ['abc', b'abc']

    await with_ws(app, script)


async def test_send_types_and_opcode():
    async def sender(request, ws):
        await ws.send('text')
        await ws.send(b'\x00\xff')
        await ws.send('')
        await ws.send(b'')
        await ws.send(b'abc', TEXT)
        await ws.send('xyz', opcode=BINARY)
        await ws.receive()

    app = ws_app(sender)

    async def script(server, client):
        await expect(client, b'\x81\x04text')
        await expect(client, b'\x82\x02\x00\xff')
        await expect(client, b'\x81\x00')
        await expect(client, b'\x82\x00')
        await expect(client, b'\x81\x03abc')
        await expect(client, b'\x82\x03xyz')

    await with_ws(app, script)


async def test_route_arguments_passed_to_handler():
    app = serverutil.index_app('index')

    @app.route('/ws/<name>/<int:n>')
    @with_websocket
    async def named(request, ws, name, n):
        await ws.send('%s %d %s' % (name, n, request.path))
        await ws.receive()

    async def script(server, client):
        await expect(client, server_frame(TEXT, 'bob 7 /ws/bob/7'))

    await with_ws(app, script, path='/ws/bob/7')


async def test_frames_one_byte_at_a_time():
    text = pattern(200)  # a 16-bit length
    data = (
        frame(TEXT, text)
        + frame(PING, b'pp')
        + frame(BINARY, b'\x01\x02\x03')
        + frame(TEXT, 'x' * 65536)  # a 64-bit length
    )
    head = data[: len(data) - 65536]  # one byte at a time up to there

    async def script(server, client):
        set_nodelay(client)
        for i in range(len(head)):
            await client.send(head[i : i + 1])
            await asyncio.sleep(0.001)
        await client.send(data[len(head) :])
        await expect(client, server_frame(TEXT, text))
        await expect(client, server_frame(PONG, b'pp'))
        await expect(client, server_frame(BINARY, b'\x01\x02\x03'))
        await expect(client, server_frame(TEXT, 'x' * 65536))

    await with_limit(
        WebSocket, 'max_message_length', 100000, with_ws(echo_app(), script)
    )


async def test_fragmented_text_with_interleaved_pings():
    # 'w\xf6rld': the two bytes of the o-umlaut are in different fragments.
    word = 'w\xf6rld'.encode()

    async def script(server, client):
        await client.send(
            frame(TEXT, 'Hello ', fin=False)
            + frame(PING, 'a')
            + frame(CONT, word[:2], fin=False)
            + frame(PING, 'b')
            + frame(CONT, b'', fin=False)
            + frame(CONT, word[2:])
        )
        await expect(client, server_frame(PONG, 'a'))
        await expect(client, server_frame(PONG, 'b'))
        await expect(client, server_frame(TEXT, b'Hello ' + word))

    await with_ws(echo_app(), script)


async def test_fragmented_binary_reassembled():
    async def script(server, client):
        await client.send(
            frame(BINARY, b'\x00' * 100, fin=False)
            + frame(CONT, b'\x01' * 200, fin=False)
            + frame(CONT, b'\x02' * 300)
        )
        payload = b'\x00' * 100 + b'\x01' * 200 + b'\x02' * 300
        await expect(client, server_frame(BINARY, payload))
        await client.send(frame(TEXT, 'next'))  # a new message starts
        await expect(client, server_frame(TEXT, 'next'))

    await with_ws(echo_app(), script)


async def test_ping_pong_same_payload():
    async def script(server, client):
        for payload in (b'', b'hello', bytes(range(125))):
            await client.send(frame(PING, payload))
            await expect(client, server_frame(PONG, payload))

    await with_ws(echo_app(), script)


async def test_ping_answered_while_handler_sleeps():
    state = {'release': asyncio.Event()}

    async def sleeper(request, ws):
        await state['release'].wait()  # not in receive()
        await ws.send('awake')
        await ws.receive()

    app = ws_app(sleeper)

    async def script(server, client):
        await client.send(frame(PING, b'are you there'))
        await expect(client, server_frame(PONG, b'are you there'))
        state['release'].set()
        await expect(client, server_frame(TEXT, 'awake'))

    await with_ws(app, script)


async def test_pong_ignored():
    async def script(server, client):
        await client.send(frame(PONG, b'unsolicited') + frame(TEXT, 'after'))
        await expect(client, server_frame(TEXT, 'after'))

    await with_ws(echo_app(), script)


# ---------------------------------------------------------------------------
# message size limit: 1009
# ---------------------------------------------------------------------------


async def test_limit_defaults_to_max_body_length():
    async def script(server, client):
        await client.send(frame(BINARY, b'a' * 100))
        await expect(client, server_frame(BINARY, b'a' * 100))
        await client.send(frame(BINARY, b'a' * 101))
        await expect_close(client, 1009)

    assert WebSocket.max_message_length == -1
    await serverutil.with_request_limit(
        'max_body_length', 100, with_ws(echo_app(), script)
    )


async def test_limit_exact_size_accepted_one_more_refused():
    async def script(server, client):
        await client.send(frame(TEXT, 'a' * 1000))
        await expect(client, server_frame(TEXT, 'a' * 1000))
        await client.send(frame(TEXT, 'a' * 1001))
        await expect_close(client, 1009)

    await with_limit(
        WebSocket, 'max_message_length', 1000, with_ws(echo_app(), script)
    )


async def test_limit_zero_is_unlimited():
    async def script(server, client):
        await client.send(frame(BINARY, b'z' * 70000))
        await expect(client, server_frame(BINARY, b'z' * 70000))

    async def run():
        await serverutil.with_request_limit(
            'max_body_length', 100, with_ws(echo_app(), script)
        )

    await with_limit(WebSocket, 'max_message_length', 0, run())


async def test_limit_checked_from_header_before_payload():
    # Only the header of a 4 GiB frame is sent: the close must come anyway.
    async def script(server, client):
        await client.send(frame(BINARY, length=1 << 32))
        await expect_close(client, 1009, reply=False)

    await with_ws(echo_app(), script)


async def test_limit_checked_from_16_bit_header():
    async def script(server, client):
        await client.send(frame(TEXT, length=2000))
        await expect_close(client, 1009, reply=False)

    await with_limit(
        WebSocket, 'max_message_length', 1000, with_ws(echo_app(), script)
    )


async def test_limit_counts_all_fragments():
    async def script(server, client):
        await client.send(frame(BINARY, b'a' * 600, fin=False))
        await client.send(frame(CONT, length=600))  # header only
        await expect_close(client, 1009, reply=False)

    await with_limit(
        WebSocket, 'max_message_length', 1000, with_ws(echo_app(), script)
    )


async def test_limit_fragments_up_to_limit_accepted():
    async def script(server, client):
        await client.send(
            frame(BINARY, b'a' * 600, fin=False) + frame(CONT, b'b' * 400)
        )
        await expect(client, server_frame(BINARY, b'a' * 600 + b'b' * 400))

    await with_limit(
        WebSocket, 'max_message_length', 1000, with_ws(echo_app(), script)
    )


# ---------------------------------------------------------------------------
# protocol failures: 1002 and 1007
# ---------------------------------------------------------------------------


async def expect_failure(data, code, state=None):
    """Open a WebSocket to the echo app, send ``data`` and expect exactly
    the close frame ``code`` followed by the end of the connection."""

    async def script(server, client):
        await client.send(data)
        await expect_close(client, code)

    await with_ws(echo_app(state), script)


async def test_unmasked_client_frame_is_1002():
    await expect_failure(frame(TEXT, 'hi', mask=None), 1002)


async def test_rsv_bits_are_1002():
    for rsv in (0x40, 0x20, 0x10):
        await expect_failure(frame(TEXT, 'hi', rsv=rsv), 1002)


async def test_rsv_bit_on_control_frame_is_1002():
    await expect_failure(frame(PING, 'hi', rsv=0x40), 1002)


async def test_reserved_opcodes_are_1002():
    for opcode in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
        await expect_failure(frame(opcode, 'hi'), 1002)


async def test_control_frame_over_125_bytes_is_1002():
    await expect_failure(frame(PING, b'p' * 126), 1002)


async def test_close_frame_over_125_bytes_is_1002():
    await expect_failure(frame(CLOSE, close_payload(1000, b'r' * 124)), 1002)


async def test_fragmented_control_frame_is_1002():
    await expect_failure(frame(PING, 'p', fin=False), 1002)


async def test_continuation_without_message_is_1002():
    await expect_failure(frame(CONT, 'orphan'), 1002)


async def test_unfinished_continuation_without_message_is_1002():
    await expect_failure(frame(CONT, 'orphan', fin=False), 1002)


async def test_new_data_frame_inside_fragmented_message_is_1002():
    data = frame(TEXT, 'part', fin=False) + frame(TEXT, 'new')
    await expect_failure(data, 1002)


async def test_new_binary_frame_inside_fragmented_message_is_1002():
    data = frame(BINARY, b'part', fin=False) + frame(BINARY, b'new', False)
    await expect_failure(data, 1002)


async def test_64_bit_length_with_top_bit_is_1002():
    # RFC 6455 section 5.2: the most significant bit must be 0.
    data = b'\x82\xff\x80' + b'\x00' * 7 + MASK
    await expect_failure(data, 1002)


async def test_64_bit_length_with_top_bit_is_1002_when_unlimited():
    data = b'\x82\xff\x80' + b'\x00' * 7 + MASK
    await with_limit(
        WebSocket, 'max_message_length', 0, expect_failure(data, 1002)
    )


async def test_close_with_one_byte_payload_is_1002():
    await expect_failure(frame(CLOSE, b'\x03'), 1002)


async def test_close_with_invalid_codes_is_1002():
    for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000):
        await expect_failure(frame(CLOSE, close_payload(code)), 1002)


async def test_close_with_code_65535_is_1002():
    await expect_failure(frame(CLOSE, close_payload(65535)), 1002)


async def test_invalid_utf8_text_is_1007():
    await expect_failure(frame(TEXT, b'ok \xff'), 1007)


async def test_truncated_utf8_text_is_1007():
    await expect_failure(frame(TEXT, b'\xe2\x82'), 1007)


async def test_invalid_utf8_across_fragments_is_1007():
    data = frame(TEXT, b'a\xc3', fin=False) + frame(CONT, b'(')
    await expect_failure(data, 1007)


async def test_invalid_utf8_close_reason_is_1007():
    await expect_failure(frame(CLOSE, close_payload(1000, b'\xff')), 1007)


async def test_invalid_utf8_binary_is_fine():
    async def script(server, client):
        await client.send(frame(BINARY, b'\xff\xfe'))
        await expect(client, server_frame(BINARY, b'\xff\xfe'))

    await with_ws(echo_app(), script)


async def test_failure_after_messages():
    # A failure in the middle of a session: earlier echoes, then the close.
    async def script(server, client):
        await client.send(frame(TEXT, 'one'))
        await expect(client, server_frame(TEXT, 'one'))
        await client.send(frame(TEXT, 'two', mask=None))
        await expect_close(client, 1002)

    await with_ws(echo_app(), script)


# ---------------------------------------------------------------------------
# closing
# ---------------------------------------------------------------------------


async def client_close(payload, answer):
    """Send a close frame with ``payload``; expect the close frame
    ``answer``, the end of the connection and the handler cancelled."""
    state = {}

    async def script(server, client):
        await client.send(frame(CLOSE, payload))
        await expect(client, answer)
        await expect_closed(client)
        assert await wait_flag(state, 'cancelled')

    await with_ws(echo_app(state), script)


async def test_client_close_code_echoed():
    for code in (1000, 1001, 1003, 1007, 1011, 1014, 3000, 4000, 4999):
        await client_close(close_payload(code), close_frame(code))


async def test_client_close_with_reason_echoes_code_only():
    payload = close_payload(4001, 'bye \u20ac'.encode())
    await client_close(payload, close_frame(4001))


async def test_client_close_without_code_gets_empty_close():
    await client_close(b'', server_frame(CLOSE, b''))


async def test_client_close_inside_fragmented_message():
    # A control frame may come between fragments: the close is honoured.
    payload = close_payload(1001)
    state = {}

    async def script(server, client):
        await client.send(frame(TEXT, 'part', fin=False))
        await client.send(frame(CLOSE, payload))
        await expect(client, close_frame(1001))
        await expect_closed(client)
        assert await wait_flag(state, 'cancelled')

    await with_ws(echo_app(state), script)


async def test_client_eof_cancels_handler_in_receive():
    state = {}

    async def script(server, client):
        await client.send(frame(TEXT, 'x'))
        await expect(client, server_frame(TEXT, 'x'))
        await client.close()
        assert await wait_flag(state, 'cancelled')

    await with_ws(echo_app(state), script)


async def test_client_eof_cancels_sleeping_handler():
    state = {}

    async def sleeper(request, ws):
        try:
            await ws.send('sleeping')
            await asyncio.sleep(60)  # never in receive()
            state['woke'] = True
        except asyncio.CancelledError:
            state['cancelled'] = True
            raise

    app = ws_app(sleeper)

    async def script(server, client):
        await expect(client, server_frame(TEXT, 'sleeping'))
        await client.close()
        assert await wait_flag(state, 'cancelled')
        assert 'woke' not in state

    await with_ws(app, script)


async def test_client_half_close_cancels_handler():
    support.cpython_only()  # MPY: no half-close on a stream
    state = {}

    async def script(server, client):
        await client.send(frame(TEXT, 'x'))
        await expect(client, server_frame(TEXT, 'x'))
        client.shutdown_write()
        assert await wait_flag(state, 'cancelled')
        assert await client.is_closed(IO_TIMEOUT)

    await with_ws(echo_app(state), script)


async def test_client_reset_cancels_handler():
    support.cpython_only()  # needs SO_LINGER on the client socket
    import socket

    state = {}

    async def script(server, client):
        await client.send(frame(TEXT, 'x'))
        await expect(client, server_frame(TEXT, 'x'))
        sock = client.writer.get_extra_info('socket')
        linger = struct.pack('ii', 1, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        client.writer.transport.abort()  # RST instead of FIN
        assert await wait_flag(state, 'cancelled')

    await with_ws(echo_app(state), script)


async def test_no_task_left_after_disconnect():
    support.cpython_only()  # MPY: no asyncio.all_tasks()
    state = {}
    current = asyncio.current_task()

    def others():
        return [t for t in asyncio.all_tasks() if t is not current]

    server = await serverutil.start(echo_app(state))
    try:
        baseline = set(others())  # the server's own tasks
        for _ in range(3):
            client = await open_ws(server)
            await client.send(frame(TEXT, 'x'))
            await expect(client, server_frame(TEXT, 'x'))
            await client.close()
            assert await wait_flag(state, 'cancelled')
            del state['cancelled']
        await serverutil.poll(lambda: set(others()) == baseline, 5)
        assert set(others()) == baseline
    finally:
        await server.stop()
    assert others() == []


async def test_handler_return_closes_with_1000():
    async def once(request, ws):
        message = await ws.receive()
        await ws.send('bye ' + message)

    app = ws_app(once)

    async def script(server, client):
        await client.send(frame(TEXT, 'x'))
        await expect(client, server_frame(TEXT, 'bye x'))
        await expect_close(client, 1000)

    await with_ws(app, script)


async def test_handler_return_closes_even_without_client_close():
    # The client never answers the close: the server closes by itself.
    async def once(request, ws):
        await ws.send('bye')

    app = ws_app(once)

    async def script(server, client):
        await expect(client, server_frame(TEXT, 'bye'))
        await expect_close(client, 1000, reply=False)

    await with_ws(app, script)


async def test_handler_exception_closes_connection():
    async def broken(request, ws):
        await ws.send('before')
        raise ValueError('handler failure (expected by the test)')

    app = ws_app(broken)

    async def script(server, client):
        await expect(client, server_frame(TEXT, 'before'))
        # 1011: an unexpected condition (RFC 6455 section 7.4.1); no HTTP
        # response follows the frames.
        await expect_close(client, 1011)

    await with_ws(app, script)


async def test_close_sends_once_then_send_and_receive_raise():
    state = {}

    async def closer(request, ws):
        await ws.close()
        await ws.close()  # no second close frame
        for name in ('send', 'receive'):
            try:
                if name == 'send':
                    await ws.send('late')
                else:
                    await ws.receive()
            except WebSocketError:
                state[name] = 'WebSocketError'
            except Exception as exc:
                state[name] = repr(exc)
            else:
                state[name] = 'no error'
        state['done'] = True

    app = ws_app(closer)

    async def script(server, client):
        await expect(client, close_frame(1000))
        await client.try_send(frame(CLOSE, close_payload(1000)))
        await expect_closed(client)
        assert await wait_flag(state, 'done')
        assert state['send'] == 'WebSocketError'
        assert state['receive'] == 'WebSocketError'

    await with_ws(app, script)


async def expect_raises_after_close(state, call, name):
    """Wait for the handler's cancel, then assert ``call()`` (the
    method ``name`` of the closed WebSocket) raises WebSocketError."""
    assert await wait_flag(state, 'cancelled')
    try:
        await asyncio.wait_for(call(), IO_TIMEOUT)
    except WebSocketError:
        pass
    else:
        assert False, name + '() after close did not raise'


async def test_send_after_client_disconnect_raises():
    state = {}

    async def script(server, client):
        await close_normally(client)
        await expect_raises_after_close(
            state, lambda: state['ws'].send('late'), 'send'
        )

    await with_ws(echo_app(state), script)


async def test_receive_after_client_disconnect_raises():
    state = {}

    async def script(server, client):
        await client.close()
        await expect_raises_after_close(
            state, lambda: state['ws'].receive(), 'receive'
        )

    await with_ws(echo_app(state), script)


# ---------------------------------------------------------------------------
# concurrency
# ---------------------------------------------------------------------------


async def test_send_from_other_task_while_in_receive():
    count = 20
    size = 20000
    state = {}

    async def busy(request, ws):
        async def pusher():
            for i in range(count):
                await ws.send(bytes((i,)) * size)
                if i % 3 == 0:
                    await asyncio.sleep(0)

        task = asyncio.create_task(pusher())
        try:
            while True:
                message = await ws.receive()
                await ws.send(message * 500)
        finally:
            task.cancel()
            state['finished'] = True

    app = ws_app(busy)

    async def script(server, client):
        for i in range(count):
            await client.send(frame(TEXT, 'm%02d' % i))
        binaries = []
        texts = []
        for _ in range(2 * count):
            first, payload = await read_frame(client)
            if first == 0x82:
                binaries.append(payload)
            else:
                assert first == 0x81, hex(first)
                texts.append(payload)
        assert binaries == [bytes((i,)) * size for i in range(count)]
        assert texts == [('m%02d' % i).encode() * 500 for i in range(count)]
        await close_normally(client)
        assert await wait_flag(state, 'finished')

    await with_ws(app, script)


async def test_handler_swallowing_cancel_on_server():
    state = {}
    app = polite_app(state)

    async def script(server, client):
        await client.send(frame(TEXT, 'x'))
        await expect(client, server_frame(TEXT, 'x'))
        await close_normally(client)
        assert await wait_flag(state, 'cleanup')
        await expect_index(server)

    await with_ws(app, script)


async def test_other_connections_served_during_session():
    async def script(server, client):
        await client.send(frame(TEXT, 'open'))
        await expect(client, server_frame(TEXT, 'open'))
        await expect_index(server)
        await client.send(frame(TEXT, 'still'))
        await expect(client, server_frame(TEXT, 'still'))

    await with_ws(echo_app(), script)


async def test_two_sessions_at_once():
    app = echo_app()
    server = await serverutil.start(app)
    try:
        one = await open_ws(server)
        two = await open_ws(server)
        try:
            await one.send(frame(TEXT, 'one'))
            await two.send(frame(TEXT, 'two'))
            await expect(two, server_frame(TEXT, 'two'))
            await expect(one, server_frame(TEXT, 'one'))
        finally:
            await one.close()
            await two.close()
    finally:
        await server.stop()


async def test_server_serves_after_sessions_end():
    app = echo_app()
    server = await serverutil.start(app)
    try:
        client = await open_ws(server)  # ended by a protocol failure
        try:
            await client.send(frame(TEXT, 'x', mask=None))
            await expect_close(client, 1002)
        finally:
            await client.close()
        client = await open_ws(server)  # ended by the client's close
        try:
            await client.send(frame(CLOSE, close_payload(1000)))
            await expect_close(client, 1000, reply=False)
        finally:
            await client.close()
        client = await open_ws(server)  # dropped
        await client.close()
        await expect_index(server)
        client = await open_ws(server)  # and WebSocket still works
        try:
            await client.send(frame(TEXT, 'again'))
            await expect(client, server_frame(TEXT, 'again'))
        finally:
            await client.close()
    finally:
        await server.stop()


# ---------------------------------------------------------------------------
# websocket_upgrade() inside a route
# ---------------------------------------------------------------------------


def direct_app():
    app = serverutil.index_app('index')

    @app.route('/direct')
    async def direct(request):
        if request.headers.get('Authorization') != 'Bearer good':
            abort(401)
        ws = await websocket_upgrade(request)
        message = await ws.receive()
        await ws.send('echo: ' + message)
        await ws.close()
        return 'this must not be written'

    return app


async def test_upgrade_in_route_rejected_before_upgrade():
    async def script(server, client):
        await client.send(upgrade_request(server.port, '/direct'))
        res = await client.read_response()
        assert res.status_code == 401
        assert res.body == b'Unauthorized'
        assert 'sec-websocket-accept' not in res.headers

    await serverutil.with_client(direct_app(), script)


async def test_upgrade_in_route_accepted():
    headers = {'Authorization': 'Bearer good'}

    async def script(server, client):
        await client.send(frame(TEXT, 'hi'))
        await expect(client, server_frame(TEXT, 'echo: hi'))
        await expect_close(client, 1000)

    await with_ws(direct_app(), script, '/direct', headers)


async def test_upgrade_in_route_returning_none_writes_nothing():
    app = serverutil.index_app('index')

    @app.route('/direct')
    async def direct(request):
        ws = await websocket_upgrade(request)
        await ws.send('only')  # no close(): the server ends the connection

    async def script(server, client):
        await expect(client, server_frame(TEXT, 'only'))
        await expect_closed(client)  # and no HTTP response after the frame

    await with_ws(app, script, '/direct')


async def test_upgrade_in_route_bad_handshake_is_400():
    async def script(server, client):
        headers = {'Authorization': 'Bearer good'}
        data = upgrade_request(server.port, '/direct', headers,
                               drop=('Sec-WebSocket-Key',))  # fmt: skip
        await client.send(data)
        res = await client.read_response()
        assert res.status_code == 400
        assert res.body == b'Bad Request'

    await serverutil.with_client(direct_app(), script)


# ---------------------------------------------------------------------------
# the test client
# ---------------------------------------------------------------------------


def client_app(state):
    app = serverutil.index_app('index')

    @app.route('/echo')
    @with_websocket
    async def echo(request, ws):
        try:
            while True:
                message = await ws.receive()
                await ws.send(message)
        except asyncio.CancelledError:
            state['cancelled'] = True
            raise

    @app.route('/once')
    @with_websocket
    async def once(request, ws):
        message = await ws.receive()
        await ws.send('got ' + message)

    @app.route('/private')
    @with_websocket
    async def private(request, ws):
        await ws.send('secret')
        await ws.receive()

    @app.before_request
    async def check(request):
        if request.path == '/private':
            if request.headers.get('Authorization') != 'Bearer good':
                abort(401)

    @app.route('/direct')
    async def direct(request):
        if request.headers.get('Authorization') != 'Bearer good':
            abort(401)
        ws = await websocket_upgrade(request)
        await ws.send('direct ' + await ws.receive())

    return app


async def run_client(client, path, gen, headers=None, timeout=IO_TIMEOUT):
    return await asyncio.wait_for(client.websocket(path, gen, headers),
                                  timeout)  # fmt: skip


async def test_test_client_echo():
    state = {}
    replies = []

    def gen():
        replies.append((yield 'hello'))
        replies.append((yield b'\x00\xff'))
        replies.append((yield ''))
        replies.append((yield 'h\xe9llo \u20ac'))

    result = await run_client(TestClient(client_app(state)), '/echo', gen)
    assert result is None
    assert replies == ['hello', b'\x00\xff', '', 'h\xe9llo \u20ac']


async def test_test_client_generator_end_sends_close():
    state = {}

    def gen():
        yield 'one'

    await run_client(TestClient(client_app(state)), '/echo', gen)
    assert await wait_flag(state, 'cancelled')


async def test_test_client_none_when_app_ended():
    replies = []

    def gen():
        replies.append((yield 'a'))
        replies.append((yield 'b'))

    result = await run_client(TestClient(client_app({})), '/once', gen)
    assert result is None
    assert replies == ['got a', None]


async def test_test_client_large_message():
    replies = []

    def gen():
        replies.append((yield b'\x07' * 70000))

    async def run():
        await run_client(TestClient(client_app({})), '/echo', gen)

    await with_limit(WebSocket, 'max_message_length', 100000, run())
    assert replies == [b'\x07' * 70000]


async def rejected(path, headers=None):
    """Open ``path`` with the test client where no WebSocket session may
    start; assert a TestResponse comes back and return it."""
    res = await run_client(TestClient(client_app({})), path, never, headers)
    assert isinstance(res, TestResponse)
    return res


async def test_test_client_rejected_returns_response():
    res = await rejected('/private')
    assert res.status_code == 401
    assert res.body == b'Unauthorized'


async def test_test_client_headers_sent():
    replies = []

    def gen():
        replies.append((yield 'x'))

    headers = {'Authorization': 'Bearer good'}
    res = await run_client(
        TestClient(client_app({})), '/private', gen, headers
    )
    assert res is None
    assert replies == ['secret']


async def test_test_client_direct_upgrade():
    replies = []

    def gen():
        replies.append((yield 'hi'))

    client = TestClient(client_app({}))
    res = await run_client(client, '/direct', gen)
    assert isinstance(res, TestResponse)
    assert res.status_code == 401
    headers = {'Authorization': 'Bearer good'}
    res = await run_client(client, '/direct', gen, headers)
    assert res is None
    assert replies == ['direct hi']


async def test_test_client_direct_upgrade_leaves_caller_task_alone():
    # Called without wait_for(), the application runs in this very task:
    # what remains of the session must not cancel it later.
    def gen():
        yield 'hi'

    client = TestClient(client_app({}))
    headers = {'Authorization': 'Bearer good'}
    assert await client.websocket('/direct', gen, headers) is None
    try:
        await asyncio.sleep(0.2)
        res = await client.get('/')
    except asyncio.CancelledError:
        assert False, 'the test task was cancelled after the session'
    assert res.status_code == 200
    assert res.body == b'index'


async def test_test_client_handler_swallowing_cancel():
    state = {}
    replies = []

    def gen():
        replies.append((yield 'one'))

    client = TestClient(polite_app(state))
    assert await client.websocket('/ws', gen) is None
    assert replies == ['one']
    assert state['cleanup'] is True
    await asyncio.sleep(0.05)
    res = await client.get('/')
    assert res.status_code == 200


async def test_test_client_swallowed_cancel_not_left_on_caller_task():
    # CPython 3.11+ counts cancellations (Task.cancelling()); one handled by
    # the handler must not stay counted on the caller's task, where the
    # test client runs the application.
    task = asyncio.current_task()
    if not hasattr(task, 'cancelling'):
        support.skip('Task.cancelling() is CPython 3.11+')

    def gen():
        yield 'one'

    assert await TestClient(polite_app({})).websocket('/ws', gen) is None
    assert task.cancelling() == 0


async def test_test_client_bad_version_returns_426():
    res = await rejected('/echo', {'Sec-WebSocket-Version': '8'})
    assert res.status_code == 426
    assert res.headers['Sec-WebSocket-Version'] == '13'


async def test_test_client_not_found_returns_response():
    res = await rejected('/nowhere')
    assert res.status_code == 404


async def test_test_client_generator_exception_propagates():
    state = {}

    def gen():
        yield 'one'
        raise ValueError('from the generator')

    try:
        await run_client(TestClient(client_app(state)), '/echo', gen)
    except ValueError as exc:
        assert str(exc) == 'from the generator'
    else:
        assert False, 'the exception did not propagate'


async def test_test_client_app_still_usable():
    # After a WebSocket session the same client sends normal requests.
    client = TestClient(client_app({}))

    def gen():
        yield 'x'

    await run_client(client, '/echo', gen)
    res = await client.get('/')
    assert res.status_code == 200
    assert res.body == b'index'


def test_max_message_length_default():
    assert WebSocket.max_message_length == -1
    assert Request.max_body_length == 16 * 1024
