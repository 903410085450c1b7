"""
microdot.websocket
------------------

The server side of the WebSocket protocol (RFC 6455) over the connection
of a request. A reader task answers pings and close frames, enforces the
protocol and hands complete messages to ``receive()``; when the client
leaves, it cancels the route handler.
"""

import asyncio
import binascii
import hashlib
import struct

from microdot.helpers import wraps
from microdot.microdot import HTTPException, Request, Response, abort

try:
    from typing import Any, Callable, List, Optional, Tuple  # noqa: F401
except ImportError:  # MPY: no typing module
    pass

_GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'  # RFC 6455 section 1.3
_BASE64 = b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

CONT = 0
TEXT = 1
BINARY = 2
CLOSE = 8
PING = 9
PONG = 10


class WebSocketError(Exception):
    """Exception raised when an error occurs in a WebSocket connection."""


class _ProtocolError(Exception):
    """The client broke the protocol: close with ``code``."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def accept_key(key: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key``."""
    digest = hashlib.sha1(key + _GUID).digest()
    return binascii.b2a_base64(digest).strip()


def _valid_key(key: str) -> bool:
    """A key is the base64 encoding of 16 bytes (RFC 6455 section 4.1):
    22 characters and ``==``. MPY: a2b_base64 accepts anything."""
    if len(key) != 24 or not key.endswith('=='):
        return False
    for char in key[:22].encode():
        if char not in _BASE64:
            return False
    return True


def _has_token(value: 'Optional[str]', token: str) -> bool:
    if not value:
        return False
    for item in value.split(','):
        if item.strip().lower() == token:
            return True
    return False


def _check_handshake(request: 'Any') -> bytes:
    """Validate an opening handshake (RFC 6455 section 4.2.1) and return
    the accept key; raise a 400, or a 426 for another version."""
    headers = request.headers
    if request.method != 'GET' or request.http_version == '1.0':
        abort(400)
    if not _has_token(headers.get('Upgrade'), 'websocket'):
        abort(400)
    if not _has_token(headers.get('Connection'), 'upgrade'):
        abort(400)
    key = headers.get('Sec-WebSocket-Key', '').strip()
    if not _valid_key(key):
        abort(400)
    if headers.get('Sec-WebSocket-Version', '').strip() != '13':
        error = HTTPException(426)
        error.headers = {'Sec-WebSocket-Version': '13'}
        raise error
    return accept_key(key.encode())


def _unmask(data: bytes, mask: bytes) -> bytes:
    """XOR the payload with the 4-byte mask.

    PERF: one big-integer XOR instead of a loop over the bytes; about 100
    times faster on CPython, and available on MicroPython too.
    """
    n = len(data)
    if not n:
        return data
    key = (mask * (n // 4 + 1))[:n]
    value = int.from_bytes(data, 'big') ^ int.from_bytes(key, 'big')
    return value.to_bytes(n, 'big')


def encode_frame(
    opcode: int, payload: bytes, mask: 'Optional[bytes]' = None
) -> bytes:
    """Return a whole (FIN) frame; clients pass a 4-byte ``mask``."""
    n = len(payload)
    mask_bit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack('!BB', 0x80 | opcode, mask_bit | n)
    elif n < 65536:
        head = struct.pack('!BBH', 0x80 | opcode, mask_bit | 126, n)
    else:
        head = struct.pack('!BBQ', 0x80 | opcode, mask_bit | 127, n)
    if mask:
        return head + mask + _unmask(payload, mask)
    return head + payload


def decode_frame(data: bytes) -> 'Optional[Tuple[bool, int, bytes, int]]':
    """Decode the frame at the start of ``data``.

    Returns ``(fin, opcode, payload, size)``, where ``payload`` is unmasked
    and ``size`` is the number of bytes the frame takes in ``data``, or
    ``None`` when ``data`` does not hold a whole frame yet. The frame is
    not validated: this reads frames that a trusted peer wrote (the test
    client and the ASGI adapter read what ``WebSocket`` sends).

    :param data: the bytes received so far.
    """
    if len(data) < 2:
        return None
    length, start = data[1] & 0x7F, 2
    if length == 126:
        length, start = int.from_bytes(data[2:4], 'big'), 4
    elif length == 127:
        length, start = int.from_bytes(data[2:10], 'big'), 10
    mask = b''
    if data[1] & 0x80:
        mask, start = data[start : start + 4], start + 4
    size = start + length
    if len(data) < size:
        return None
    payload = data[start:size]
    if mask:
        payload = _unmask(payload, mask)
    return bool(data[0] & 0x80), data[0] & 0x0F, payload, size


def _close_payload(payload: bytes) -> bytes:
    """Check a client's close payload (RFC 6455 sections 5.5.1 and 7.4)
    and return the one to answer with: its status code."""
    if not payload:
        return b''
    if len(payload) == 1:
        raise _ProtocolError(1002)
    code = struct.unpack('!H', payload[:2])[0]
    if (
        code < 1000
        or code >= 5000
        or code in (1004, 1005, 1006, 1015)
        or (1016 <= code < 3000)
    ):
        raise _ProtocolError(1002)
    try:
        payload[2:].decode()
    except UnicodeError:
        raise _ProtocolError(1007)
    return payload[:2]


class WebSocket:
    """A WebSocket connection object.

    An instance of this class is sent to handler functions to manage the
    WebSocket connection.

    :param request: the request that was upgraded.
    """

    CONT = CONT
    TEXT = TEXT
    BINARY = BINARY
    CLOSE = CLOSE
    PING = PING
    PONG = PONG

    #: Specify the maximum message size that can be received when calling
    #: the ``receive()`` method. Messages with payloads that are larger
    #: than this size will be rejected and the connection closed. Set to 0
    #: to disable the size check (be aware of potential security issues if
    #: you do this), or to -1 to use the value set in
    #: ``Request.max_body_length``. The default is -1.
    max_message_length = -1

    #: Seconds that ``close()`` waits for the client's close frame.
    close_timeout = 2

    def __init__(self, request: 'Any'):
        self.request = request
        self.reader, self.writer = request.sock
        self.closed = False  # a close frame was sent: no more sends
        self.gone = False  # the client closed or left
        self.cancelled = False  # the handler was cancelled for it
        self.messages = []  # type: List[Any]  # at most one, not taken yet
        self.ready = asyncio.Event()  # a message arrived, or the end
        self.taken = asyncio.Event()  # receive() took the message
        self.ended = asyncio.Event()  # the reader task has ended
        self.lock = asyncio.Lock()  # one frame at a time on the wire
        self.task = None  # type: Any  # the handler, cancelled on leave
        self.reader_task = None  # type: Any

    async def handshake(self, accept: bytes) -> None:
        """Send the 101 response and start reading frames."""
        self.writer.write(
            b'HTTP/1.1 101 Switching Protocols\r\n'
            b'Upgrade: websocket\r\nConnection: Upgrade\r\n'
            b'Sec-WebSocket-Accept: ' + accept + b'\r\n\r\n'
        )
        await self.writer.drain()
        self.task = asyncio.current_task()
        self.reader_task = asyncio.create_task(self._read_loop())

    async def receive(self) -> 'Any':
        """Receive a message from the client: a string for a text message,
        bytes for a binary one. ``WebSocketError`` if the connection is
        closed."""
        while not self.messages:
            if self.gone or self.closed:
                raise WebSocketError('WebSocket connection closed')
            await self.ready.wait()
            self.ready.clear()
        message = self.messages.pop(0)
        self.taken.set()
        return message

    async def send(self, data: 'Any', opcode: 'Optional[int]' = None) -> None:
        """Send a message to the client.

        :param data: the data to send, given as a string or bytes.
        :param opcode: a custom frame opcode to use. If not given, the
                       opcode is ``TEXT`` or ``BINARY`` depending on the
                       type of the data.
        """
        if self.closed or self.gone:
            raise WebSocketError('WebSocket connection closed')
        if opcode is None:
            opcode = TEXT if isinstance(data, str) else BINARY
        if isinstance(data, str):
            data = data.encode()
        try:
            await self._send_frame(opcode, bytes(data))
        except (OSError, EOFError):
            self.gone = True
            raise WebSocketError('WebSocket connection lost')

    async def close(self) -> None:
        """Close the websocket connection: send a close frame (1000) and
        wait for the client's, at most ``close_timeout`` seconds."""
        await self._close(1000)

    async def _close(self, code: int) -> None:
        if not self.closed and not self.gone:
            self.closed = True
            try:
                await self._send_frame(CLOSE, struct.pack('!H', code))
            except (OSError, EOFError):
                self.gone = True
            if not self.gone:
                self.taken.set()  # let the reader go on to the reply
                try:
                    await asyncio.wait_for(self.ended.wait(),
                                           self.close_timeout)  # fmt: skip
                except asyncio.TimeoutError:
                    pass
        self.closed = True
        self._stop_reader()

    async def _send_frame(self, opcode: int, payload: bytes) -> None:
        frame = encode_frame(opcode, payload)
        async with self.lock:  # drain() must not run twice at once
            self.writer.write(frame)
            await self.writer.drain()

    def _stop_reader(self) -> None:
        task, self.reader_task = self.reader_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _limit(self) -> int:
        limit = self.max_message_length
        return Request.max_body_length if limit == -1 else limit

    # -- the reader task ----------------------------------------------------

    async def _read_loop(self) -> None:
        code = None  # type: Optional[bytes]  # the close frame to send
        try:
            while not self.gone:
                message = await self._read_message()
                if self.closed:  # close() waits for the reply only
                    continue
                self.messages.append(message)
                self.taken.clear()
                self.ready.set()
                await self.taken.wait()  # one message at a time
        except _ProtocolError as exc:
            code = struct.pack('!H', exc.code)
        except (OSError, EOFError):
            pass  # the client is gone
        except _ClientClose as exc:
            code = exc.payload
        finally:
            await self._end(code)

    async def _end(self, code: 'Optional[bytes]') -> None:
        """The connection ends: answer with a close frame if one is due,
        wake ``receive()`` and cancel the handler if the client left."""
        initiated = self.closed
        if code is not None and not self.closed:
            self.closed = True
            try:
                await self._send_frame(CLOSE, code)
            except (OSError, EOFError):
                pass
        self.gone = True
        self.ready.set()
        self.ended.set()
        task = self.task
        closing = getattr(self.writer, 'is_closing', None)
        if task is None or initiated or (closing and closing()):
            return  # the handler ended, or the server closes
        if task is not asyncio.current_task():
            self.cancelled = True
            task.cancel()

    async def _read_message(self) -> 'Any':
        """Read frames until a whole data message; control frames in
        between are answered."""
        parts = []  # type: List[bytes]
        size = 0
        first = None  # type: Optional[int]  # the message's opcode
        while True:
            fin, opcode, length = await self._read_header()
            if opcode >= CLOSE:
                await self._control(opcode, await self._read_payload(length))
                continue
            if (opcode == CONT) != (first is not None):
                raise _ProtocolError(1002)  # continuation out of place
            limit = self._limit()
            size += length
            if limit and size > limit:  # before reading the payload
                raise _ProtocolError(1009)
            parts.append(await self._read_payload(length))
            if first is None:
                first = opcode
            if fin:
                break
        data = b''.join(parts)
        if first == TEXT:
            try:
                return data.decode()
            except UnicodeError:
                raise _ProtocolError(1007)
        return data

    async def _read_header(self) -> 'Tuple[bool, int, int]':
        b0, b1 = struct.unpack('!BB', await self.reader.readexactly(2))
        fin = bool(b0 & 0x80)
        opcode = b0 & 0x0F
        length = b1 & 0x7F
        if b0 & 0x70 or opcode not in (CONT, TEXT, BINARY, CLOSE, PING, PONG):
            raise _ProtocolError(1002)  # reserved bits or opcode
        if not b1 & 0x80:
            raise _ProtocolError(1002)  # clients must mask (section 5.1)
        if opcode >= CLOSE and (not fin or length > 125):
            raise _ProtocolError(1002)  # section 5.5
        if length == 126:
            length = struct.unpack('!H', await self.reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack('!Q', await self.reader.readexactly(8))[0]
            if length >> 63:
                raise _ProtocolError(1002)
        return fin, opcode, length

    async def _read_payload(self, length: int) -> bytes:
        mask = await self.reader.readexactly(4)
        if not length:
            return b''
        return _unmask(await self.reader.readexactly(length), mask)

    async def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == PING:
            if not self.closed:
                await self._send_frame(PONG, payload)
        elif opcode == CLOSE:
            raise _ClientClose(_close_payload(payload))


class _ClientClose(Exception):
    """The client sent a close frame; ``payload`` is the answer's."""

    def __init__(self, payload: bytes):
        super().__init__()
        self.payload = payload


async def websocket_upgrade(request: 'Any') -> WebSocket:
    """Upgrade a request handler to a websocket connection.

    This function can be called directly inside a route function to
    process a WebSocket upgrade handshake, for example after the user's
    credentials are verified. The function returns the websocket object::

        @app.route('/echo')
        async def echo(request):
            if not authenticate_user(request):
                abort(401)
            ws = await websocket_upgrade(request)
            while True:
                message = await ws.receive()
                await ws.send(message)

    An invalid handshake is a 400 (426 for another protocol version).
    """
    accept = _check_handshake(request)
    ws = WebSocket(request)
    await ws.handshake(accept)
    return ws


async def _absorb_cancel() -> None:
    """Take a cancellation that the client caused and that the handler may
    not have seen yet, and forget it (CPython 3.11+ counts cancellations,
    and ``asyncio.timeout`` relies on the count)."""
    try:
        await asyncio.sleep(0)
    except asyncio.CancelledError:
        pass
    task = asyncio.current_task()
    if hasattr(task, 'uncancel'):
        task.uncancel()  # type: ignore[union-attr]


def with_websocket(f: 'Callable') -> 'Callable':
    """Decorator to make a route a WebSocket endpoint.

    This decorator is used to define a route that accepts websocket
    connections. The route then receives a websocket object as a second
    argument that it can use to send and receive messages::

        @app.route('/echo')
        @with_websocket
        async def echo(request, ws):
            while True:
                message = await ws.receive()
                await ws.send(message)

    When the route returns, the connection is closed. If the client ends
    the connection, the route is cancelled.
    """

    @wraps(f)
    async def wrapper(request: 'Any', *args: 'Any', **kwargs: 'Any') -> 'Any':
        ws = await websocket_upgrade(request)
        try:
            await f(request, ws, *args, **kwargs)
        except asyncio.CancelledError:
            if not ws.cancelled:  # not the client: the server is stopping
                ws._stop_reader()
                raise
        except Exception as exc:
            ws.task = None
            if not ws.gone or not isinstance(exc, (WebSocketError, OSError,
                                                   EOFError)):  # fmt: skip
                await ws._close(1011)  # 7.4.1: an unexpected condition
                raise  # the server prints it; the response is not sent
        finally:
            ws.task = None  # from here on the client cannot cancel us
        if ws.cancelled:
            await _absorb_cancel()
        await ws.close()
        return Response.already_handled

    return wrapper
