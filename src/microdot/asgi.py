"""
microdot.asgi
-------------

The ASGI adapter (CPython only): an application class whose instances are
ASGI 3 callables, for servers such as uvicorn and hypercorn.

HTTP requests go through the same dispatch as on the built-in server. A
body up to ``Request.max_body_length`` is received before the handler
runs; a larger one (or one of unknown length that grows over the limit) is
received message by message as ``request.stream`` is read. A streamed
response is sent chunk by chunk while a task watches ``receive()``: when
the client leaves, the response is cut short and its body closed. WebSocket
routes run unchanged over a bridge that turns ASGI messages into frames and
frames into ASGI messages. Lifespan events call the functions given to the
application.
"""

import asyncio
import multiprocessing
import os
import signal
import traceback

from microdot.microdot import (
    HTTPException,
    NoCaseDict,
    Request,
    Response,
    invoke_handler,
    parse_content_length,
    read_exactly,
)
from microdot.microdot import Microdot as BaseMicrodot
from microdot.websocket import BINARY, CLOSE, TEXT, decode_frame, encode_frame

try:
    from typing import Any, Callable, Dict, List, Optional, Tuple  # noqa: F401
except ImportError:  # pragma: no cover
    pass

#: Bytes of request body received ahead of the reader while a streamed
#: response is sent (the built-in server's read-ahead limit too).
_READ_AHEAD = 65536

# Statuses whose response never has a body (RFC 9110 section 6.4.1).
_NO_BODY = frozenset(list(range(100, 200)) + [204, 304])

# PERF: header names are encoded once (lower-case bytes, as ASGI wants them)
# and kept: 0.1 us less per header (measured); the table stops growing at
# 256 names.
_HEADER_NAMES = {}  # type: Dict[str, bytes]

# The masking key of the frames that the bridge hands to the WebSocket
# reader: all zeros, so the masked payload is the payload (the frames never
# leave the process).
_MASK = b'\x00\x00\x00\x00'

# The handshake fields that ``websocket_upgrade`` checks. The ASGI server
# has already accepted the handshake; over HTTP/2 (RFC 8441) it has none of
# these, so the missing ones are filled in.
_WEBSOCKET_FIELDS = (
    ('upgrade', 'websocket'),
    ('connection', 'upgrade'),
    ('sec-websocket-key', 'dGhlIHNhbXBsZSBub25jZQ=='),
    ('sec-websocket-version', '13'),
)


def _print_exception(exc: BaseException) -> None:
    traceback.print_exception(type(exc), exc, exc.__traceback__)


def _request_fields(scope: dict) -> 'Dict[str, str]':
    """Decode the ``headers`` of a scope into a dictionary with lower-case
    names, joining repeated fields as the built-in server does (``", "``,
    ``"; "`` for ``Cookie``). Text is UTF-8, as the built-in server reads
    it: anything else raises ``HTTPException(400)``."""
    fields = {}  # type: Dict[str, str]
    try:
        for name, value in scope['headers']:
            name = name.decode().lower()
            if name in fields:
                joiner = '; ' if name == 'cookie' else ', '
                fields[name] = fields[name] + joiner + value.decode()
            else:
                fields[name] = value.decode()
    except UnicodeError:
        raise HTTPException(400)
    return fields


def _has_body(scope: dict, fields: 'Dict[str, str]') -> bool:
    """Tell if a request may have a body (RFC 9112 section 6.3): it has a
    ``Content-Length`` or ``Transfer-Encoding``; over HTTP/2 and later a
    body may come without either."""
    return (
        'content-length' in fields
        or 'transfer-encoding' in fields
        or scope['http_version'] >= '2'
    )


def _request_url(scope: dict) -> str:
    """Return the request target of a scope: the path as it was sent
    (``raw_path``), then ``?`` and the query string if there is one.
    Without ``raw_path`` the decoded ``path`` is quoted back for the core,
    which percent-decodes it again."""
    path = scope.get('raw_path')
    if path is None:
        text = scope['path'].replace('%', '%25').replace('?', '%3F')
        path = text.encode()
    query = scope.get('query_string')
    return (path + b'?' + query if query else path).decode()


def _client_addr(scope: dict) -> 'Any':
    client = scope.get('client')
    return tuple(client) if client is not None else None


_CONTENT_LENGTH = b'content-length'
_CONTENT_TYPE = b'content-type'


def _response_headers(res: Response) -> 'List[Tuple[bytes, bytes]]':
    """Build the ``headers`` of ``http.response.start``: lower-case names,
    a list value as one header each (``Set-Cookie``), text as UTF-8 bytes
    as the built-in server writes it, plus what ``Response.complete()``
    adds. CR or LF in a name or a value raises ``ValueError``.

    PERF: one pass over the headers finds what ``complete()`` would add,
    without its case-insensitive lookups and stores: 2.0 us instead of
    7.5 us per response (measured), about 5% of the requests/s under
    uvicorn. A ``Response`` subclass with a ``complete()`` of its own gets
    it called first.
    """
    if res.__class__.complete is not Response.complete:
        res.complete()
    has_length = has_type = False
    out = []
    for name, value in res.headers.items():
        key = _HEADER_NAMES.get(name)
        if key is None:
            key = _header_name(name)
        if key is _CONTENT_LENGTH:
            has_length = True
        elif key is _CONTENT_TYPE:
            has_type = True
        # PERF: a str value without CR or LF is the common case, inline
        if value.__class__ is str and '\n' not in value and '\r' not in value:
            out.append((key, value.encode()))
        else:
            for item in value if isinstance(value, list) else (value,):
                out.append((key, _header_value(str(item))))
    status = res.status_code
    no_body = status < 200 or status == 204 or status == 304
    body = res.body
    if not has_length and not no_body and isinstance(body, (bytes, bytearray)):
        out.append((_CONTENT_LENGTH, b'%d' % len(body)))
    if not has_type and not (no_body and not body):
        out.append((_CONTENT_TYPE, _default_type(res.default_content_type)))
    return out


def _header_name(name: str) -> bytes:
    key = _header_value(name.lower())
    if key == _CONTENT_LENGTH:  # the same objects, for ``is`` above
        key = _CONTENT_LENGTH
    elif key == _CONTENT_TYPE:
        key = _CONTENT_TYPE
    if len(_HEADER_NAMES) < 256:
        _HEADER_NAMES[name] = key
    return key


def _header_value(text: str) -> bytes:
    """Refuse CR and LF in a header: they would start a new header."""
    if '\r' in text or '\n' in text:
        raise ValueError('CR or LF in header')
    return text.encode()


_DEFAULT_TYPES = {}  # type: Dict[str, bytes]


def _default_type(content_type: str) -> bytes:
    """The ``Content-Type`` that ``Response.complete()`` adds, as bytes:
    text types get ``charset=UTF-8``."""
    value = _DEFAULT_TYPES.get(content_type)
    if value is None:
        text = content_type
        if text.startswith('text/') and 'charset' not in text:
            text += '; charset=UTF-8'
        value = _header_value(text)
        if len(_DEFAULT_TYPES) < 16:
            _DEFAULT_TYPES[content_type] = value
    return value


def _terminate() -> None:
    """Ask the server to stop gracefully: send ``SIGTERM`` to this process,
    or to its parent when this process does not handle the signal and is
    a worker that a server master started with ``multiprocessing``.

    uvicorn handles ``SIGTERM`` in the process that serves. hypercorn
    serves from a worker process that leaves ``SIGTERM`` to its default
    action (an abrupt exit, without the lifespan shutdown) and stops when
    its master is sent ``SIGTERM``, which stops every worker gracefully.
    """
    pid = os.getpid()
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.SIG_IGN):
        if multiprocessing.parent_process() is not None:
            pid = os.getppid()
    os.kill(pid, signal.SIGTERM)


async def _absorb_cancel(task: 'Any') -> None:
    """Take a cancellation that the adapter requested for ``task`` (the
    running one), and forget it (CPython 3.11+ counts cancellations)."""
    try:
        await asyncio.sleep(0)
    except asyncio.CancelledError:
        pass
    if hasattr(task, 'uncancel'):
        task.uncancel()


class _BodyStream:
    """``request.stream`` of a body that is not received whole before the
    handler runs: ``http.request`` messages are received as it is read.

    While a streamed response is sent, ``watch()`` receives in a task of
    its own, to see the client leave; body data that arrives meanwhile is
    kept for ``read()``, at most ``_READ_AHEAD`` bytes ahead of it.

    A body cut short by the client raises ``HTTPException(400)`` and one
    that grows over ``Request.max_content_length`` raises 413, as on the
    built-in server.

    :param receive: the ``receive`` callable of the request.
    :param complete: ``True`` when the whole body was received already.
    """

    def __init__(self, receive: 'Callable', complete: bool = False):
        self.receive = receive
        self.buffer = b''
        self.size = 0  # bytes of body received
        self.complete = complete  # the last http.request was received
        self.disconnected = False  # http.disconnect was received
        self.error = None  # type: Optional[HTTPException]
        self.arrived = None  # type: Any  # an Event, while watched
        self.consumed = None  # type: Any  # an Event, while watched
        self.left = False  # the watcher saw the client leave

    async def fill(self) -> None:
        """Receive one message into the buffer."""
        message = await self.receive()
        if message['type'] != 'http.request':
            self.disconnected = True
            if not self.complete:
                self.error = HTTPException(400)  # the body was cut short
            return
        if self.complete:  # nothing but a disconnect is due now
            return
        data = message.get('body', b'')
        if data:
            self.size += len(data)
            if self.size > Request.max_content_length:
                self.error = HTTPException(413)
                self.complete = True  # no more of it is read
                return
            self.buffer = self.buffer + data if self.buffer else data
        self.complete = not message.get('more_body', False)

    async def read_ahead(self, limit: int) -> None:
        """Receive until the body is complete or over ``limit`` bytes."""
        while not self.complete and self.error is None:
            if len(self.buffer) > limit:
                return
            await self.fill()
        if self.error is not None:
            raise self.error

    async def _more(self) -> None:
        if self.arrived is None:
            await self.fill()
        else:  # the watcher receives: wait for it
            self.arrived.clear()
            await self.arrived.wait()

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes of the body (all of it if ``n < 0``)."""
        if n < 0:
            parts = []  # type: List[bytes]
            while True:
                data = await self.read(65536)
                if not data:
                    return b''.join(parts)
                parts.append(data)
        while not self.buffer:
            if self.error is not None:
                raise self.error
            if self.complete:
                return b''
            await self._more()
        data = self.buffer
        if n < len(data):
            data, self.buffer = data[:n], data[n:]
        else:
            self.buffer = b''
        if self.consumed is not None:
            self.consumed.set()
        return data

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes; ``EOFError`` if the body is shorter."""
        return await read_exactly(self, n)

    async def readline(self) -> bytes:
        """Read up to and including the next LF, or to the end."""
        parts = []  # type: List[bytes]
        while True:
            while not self.buffer and not self.complete:
                if self.error is not None:
                    raise self.error
                await self._more()
            end = self.buffer.find(b'\n')
            data = await self.read(end + 1 if end >= 0 else len(self.buffer))
            parts.append(data)
            if end >= 0 or not data:
                return b''.join(parts)

    async def watch(self) -> None:
        """Receive until the client leaves, keeping body data for
        ``read()``; stop receiving while ``_READ_AHEAD`` bytes wait."""
        arrived = self.arrived = asyncio.Event()
        consumed = self.consumed = asyncio.Event()
        try:
            while not self.disconnected:
                if len(self.buffer) >= _READ_AHEAD:  # back-pressure
                    consumed.clear()
                    await consumed.wait()
                    continue
                await self.fill()
                arrived.set()
        finally:  # from now on readers receive for themselves
            self.arrived = self.consumed = None
            arrived.set()


class _WebSocketBridge:
    """``request.sock`` of a WebSocket request: the reader and the writer
    that the websocket extension works on, over ASGI messages.

    The reader turns each ``websocket.receive`` into a masked client frame
    and ``websocket.disconnect`` into the end of the input (``EOFError``).
    The writer takes the ``101`` head as ``websocket.accept`` and decodes
    the frames written after it: text and binary frames become
    ``websocket.send``, a close frame ``websocket.close``; pings and pongs
    are the server's business and are dropped. ``WebSocket`` writes whole
    frames only, so continuation frames are not expected.

    :param receive: the ``receive`` callable of the connection.
    :param send: the ``send`` callable of the connection.
    :param peer: the client address, for ``get_extra_info('peername')``.
    """

    def __init__(self, receive: 'Callable', send: 'Callable', peer: 'Any'):
        self.receive = receive
        self.send = send
        self.peer = peer
        self.inbound = b''  # client frames not read yet, from ``start``
        self.start = 0
        self.outbound = b''  # bytes written, not decoded yet
        self.messages = []  # type: List[dict]  # for drain() to send
        self.accepted = False  # the 101 head was written
        self.closed = False  # websocket.close is sent or queued
        self.gone = False  # websocket.disconnect was received
        self.taken = False  # the handler wrote: it owns the connection

    # -- the reader ---------------------------------------------------------

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes of client frames; ``EOFError`` once
        the client has left."""
        while len(self.inbound) - self.start < n:
            if self.gone:
                raise EOFError()
            await self._receive()
        start = self.start
        data = self.inbound[start : start + n]
        self.start = start + n
        return data

    async def _receive(self) -> None:
        message = await self.receive()
        kind = message['type']
        if kind == 'websocket.receive':
            text = message.get('text')
            if text is not None:
                frame = encode_frame(TEXT, text.encode(), _MASK)
            else:
                data = message.get('bytes') or b''
                frame = encode_frame(BINARY, data, _MASK)
            self.inbound = self.inbound[self.start :] + frame
            self.start = 0
        elif kind == 'websocket.disconnect':
            self.gone = True

    # -- the writer ---------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Take bytes written by the websocket extension; ``drain()``
        sends the messages they make."""
        self.taken = True
        self.outbound += data
        if not self.accepted:
            end = self.outbound.find(b'\r\n\r\n')
            if end < 0 or self.closed:
                return
            head, self.outbound = self.outbound[:end], self.outbound[end + 4 :]
            if not head.startswith(b'HTTP/1.1 101 '):  # not an upgrade
                self._queue_close(1011)
                return
            self.accepted = True
            self.messages.append({'type': 'websocket.accept'})
        while not self.closed:
            frame = decode_frame(self.outbound)
            if frame is None:
                break
            _, opcode, payload, size = frame
            self.outbound = self.outbound[size:]
            if opcode == TEXT:
                self.messages.append({'type': 'websocket.send',
                                      'text': payload.decode()})  # fmt: skip
            elif opcode == BINARY:
                self.messages.append({'type': 'websocket.send',
                                      'bytes': payload})  # fmt: skip
            elif opcode == CLOSE:
                code = int.from_bytes(payload[:2], 'big') if payload else 1000
                self._queue_close(code, payload[2:].decode())

    def _queue_close(self, code: int, reason: str = '') -> None:
        message = {'type': 'websocket.close', 'code': code}  # type: Any
        if reason:
            message['reason'] = reason
        self.messages.append(message)
        self.closed = True

    async def drain(self) -> None:
        """Send the messages that the bytes written so far make. Once the
        client has left, ``ConnectionResetError``."""
        while self.messages:
            if self.gone:
                self.messages = []
                raise ConnectionResetError()
            await self.send(self.messages.pop(0))

    def get_extra_info(self, name: str, default: 'Any' = None) -> 'Any':
        """Return ``'peername'`` as a ``(host, port)`` tuple."""
        return self.peer if name == 'peername' else default

    def close(self) -> None:
        """Present for stream compatibility: ``finish()`` closes."""

    async def wait_closed(self) -> None:
        """Present for stream compatibility."""

    async def finish(self, handled: bool) -> None:
        """End the connection after the route returned: refuse it if it
        was not accepted (the server answers 403), else close it unless
        it is closed already (1000 when the route ``handled`` it, 1011
        after an error)."""
        if self.gone or self.closed:
            return
        if not self.accepted:
            self._queue_close(1000)
        else:
            self._queue_close(1000 if handled else 1011)
        try:
            await self.drain()
        except OSError:  # the client left meanwhile
            pass


class Microdot(BaseMicrodot):
    """A Microdot application that is an ASGI callable, for ASGI web
    servers such as uvicorn and hypercorn. When using the ASGI support,
    the ``scope`` dictionary provided by the web server is available to
    request handlers as ``request.asgi_scope``.

    :param lifespan_startup: a function (sync or async) that is invoked
                             with the ASGI scope when the web server sends
                             the ASGI ``lifespan.startup`` signal.
    :param lifespan_shutdown: a function (sync or async) that is invoked
                              with the ASGI scope when the web server sends
                              the ASGI ``lifespan.shutdown`` signal.

    A startup or shutdown function that raises makes the server report the
    failure (``lifespan.startup.failed``, with the exception's ``repr`` as
    message).
    """

    def __init__(
        self,
        lifespan_startup: 'Optional[Callable]' = None,
        lifespan_shutdown: 'Optional[Callable]' = None,
    ):
        super().__init__()
        self.lifespan_startup = lifespan_startup
        self.lifespan_shutdown = lifespan_shutdown
        self._in_flight = 0  # requests being answered
        self._terminate = False  # shutdown() was called during a request

    async def __call__(
        self, scope: dict, receive: 'Callable', send: 'Callable'
    ) -> None:
        """The ASGI application callable.

        :param scope: the connection scope.
        :param receive: the awaitable that receives messages.
        :param send: the awaitable that sends messages.
        """
        if scope['type'] != 'http':
            await self._other_scope(scope, receive, send)
            return
        # PERF: HTTP is served here and not in one more coroutine, and a
        # request without a body is built without awaiting anything.
        self._in_flight += 1
        try:
            stream = None  # type: Optional[_BodyStream]
            try:
                fields = _request_fields(scope)
                if _has_body(scope, fields):
                    req, stream = await self._receive_request(
                        scope, fields, receive
                    )
                else:
                    req = self._request(scope, fields, b'', None)
            except HTTPException as exc:
                req, res = await self._bad_request(_client_addr(scope),
                                                   None, exc)  # fmt: skip
            else:
                if req is None:  # the client left while sending its body
                    return
                res = await self.dispatch_request(req)
            if res is not Response.already_handled:
                await self._respond(res, receive, send, stream)
        finally:
            self._request_done()

    async def _other_scope(
        self, scope: dict, receive: 'Any', send: 'Any'
    ) -> None:
        kind = scope['type']
        if kind == 'websocket':
            await self._websocket(scope, receive, send)
        elif kind == 'lifespan':
            await self._lifespan(scope, receive, send)
        else:
            raise ValueError('unsupported ASGI scope type: %r' % kind)

    def shutdown(self) -> None:
        """Request a server shutdown. Under an ASGI server, ``SIGTERM`` is
        sent once the response of the current request is sent (at once
        when no request is being answered): to this process, or to the
        master of a worker process that does not handle it (hypercorn).
        uvicorn and hypercorn stop gracefully on it, lifespan shutdown
        included; a supervisor that restarts its workers (``uvicorn
        --workers``) starts a new one. On the built-in server (``run()``)
        it stops the server as ``microdot.Microdot.shutdown()`` does."""
        if self._stopping is not None:  # the built-in server runs
            super().shutdown()
        elif self._in_flight:
            self._terminate = True
        else:
            _terminate()

    def _request_done(self) -> None:
        self._in_flight -= 1
        if self._terminate:
            self._terminate = False
            _terminate()

    # -- http -----------------------------------------------------------------

    def _request(
        self,
        scope: dict,
        fields: 'Dict[str, str]',
        body: bytes,
        stream: 'Optional[_BodyStream]',
    ) -> Request:
        """Build the request of a scope (``HTTPException(400)`` for a
        target that is not UTF-8 or a bad ``Content-Length``)."""
        try:
            url = _request_url(scope)
        except UnicodeError:
            raise HTTPException(400)
        headers = NoCaseDict()
        # PERF: the names are lower-case, so they go in with one dict
        # update: 1.1 us instead of 4.8 us for three fields (measured)
        headers._update_lower(fields)
        req = Request(self, _client_addr(scope), scope['method'], url,
                      scope['http_version'], headers, body=body,
                      stream=stream)  # fmt: skip
        req.scheme = scope.get('scheme', 'http')
        req.asgi_scope = scope  # type: ignore[attr-defined]
        return req

    async def _receive_request(
        self, scope: dict, fields: 'Dict[str, str]', receive: 'Any'
    ) -> 'Any':
        """Build the request of a scope whose request has a body: receive
        it if it fits in ``body``, else leave it to ``request.stream``.
        Return ``(request, stream)``, where ``stream`` is the
        ``_BodyStream`` of ``request.stream`` if there is one, or
        ``(None, None)`` if the client left meanwhile."""
        body = b''  # type: Optional[bytes]
        stream = None  # type: Optional[_BodyStream]
        error = None  # type: Optional[HTTPException]
        length = fields.get('content-length')
        if length is not None:
            size = parse_content_length(length)
            if size > Request.max_content_length:
                pass  # dispatch_request answers 413, the body unread
            elif size > Request.max_body_length:
                stream = _BodyStream(receive)
            elif size:
                body = await _receive_body(receive)
        else:  # chunked, or HTTP/2 without a length
            body, stream, error = await _receive_unknown_length(receive)
        if body is None:
            return None, None
        req = self._request(scope, fields, body, stream)
        if length is None:
            req.content_length = len(body)
        if error is not None:  # the error handlers see the request
            error.request = req
            raise error
        return req, stream

    async def _respond(
        self,
        res: Response,
        receive: 'Any',
        send: 'Any',
        stream: 'Optional[_BodyStream]',
    ) -> None:
        """Send a response: the head, then a bytes body in one message or
        a streamed body chunk by chunk (``_send_stream``)."""
        try:
            headers = _response_headers(res)
        except ValueError as exc:  # never send such a head: a 500 instead
            _print_exception(exc)
            await send({'type': 'http.response.start', 'status': 500,
                        'headers': [(b'content-length', b'0')]})  # fmt: skip
            await send({'type': 'http.response.body', 'body': b''})
            await res.body_iter().aclose()
            return
        status = res.status_code
        await send({'type': 'http.response.start', 'status': status,
                    'headers': headers})  # fmt: skip
        body = res.body
        if res.is_head or status in _NO_BODY:
            await send({'type': 'http.response.body', 'body': b''})
            if not isinstance(body, (bytes, bytearray)):
                await res.body_iter().aclose()
        elif isinstance(body, (bytes, bytearray)):
            # PERF: the whole body in one message (more_body is False)
            await send({'type': 'http.response.body', 'body': bytes(body)})
        else:
            if not isinstance(stream, _BodyStream):
                stream = _BodyStream(receive, complete=True)
            await self._send_stream(res, send, stream)

    async def _send_stream(
        self, res: Response, send: 'Any', stream: _BodyStream
    ) -> None:
        """Send a streamed body, each chunk as it is produced. A task
        watches ``receive()`` meanwhile (PERF: only for streamed bodies):
        if the client leaves, this task is cancelled, which stops the
        body wherever it waits, and the body is closed (an SSE event
        function is cancelled)."""
        task = asyncio.current_task()
        body_iter = res.body_iter()
        watcher = asyncio.create_task(self._watch(stream, task))
        try:
            async for chunk in body_iter:
                await send({'type': 'http.response.body', 'body': chunk,
                            'more_body': True})  # fmt: skip
            watcher.cancel()  # the next receive() would say disconnect
            await send({'type': 'http.response.body', 'body': b''})
        except asyncio.CancelledError:
            if not stream.left:  # the server cancels us: let it
                raise
        except OSError:  # ASGI 2.4: send() raises once the client left
            pass
        finally:
            watcher.cancel()
            await body_iter.aclose()
        if stream.left:
            await _absorb_cancel(task)

    @staticmethod
    async def _watch(stream: _BodyStream, task: 'Any') -> None:
        """Cancel ``task`` when the client leaves."""
        try:
            await stream.watch()
        except Exception:  # receive() failed: the connection is gone
            pass
        stream.left = True
        task.cancel()

    # -- websocket ------------------------------------------------------------

    async def _websocket(
        self, scope: dict, receive: 'Any', send: 'Any'
    ) -> None:
        message = await receive()
        if message['type'] != 'websocket.connect':
            return  # the client left first
        self._in_flight += 1
        bridge = _WebSocketBridge(receive, send, _client_addr(scope))
        try:
            try:
                req = self._websocket_request(scope, bridge)
            except HTTPException:  # not UTF-8: refuse it (403)
                await bridge.finish(False)
                return
            res = await self.dispatch_request(req)
            await bridge.finish(res is Response.already_handled)
        except asyncio.CancelledError:
            if not bridge.gone:  # the server cancels us
                raise
            await _absorb_cancel(asyncio.current_task())
        finally:
            self._request_done()

    def _websocket_request(
        self, scope: dict, bridge: _WebSocketBridge
    ) -> Request:
        fields = _request_fields(scope)
        try:
            url = _request_url(scope)
        except UnicodeError:
            raise HTTPException(400)
        for name, value in _WEBSOCKET_FIELDS:
            fields.setdefault(name, value)
        headers = NoCaseDict()
        headers._update_lower(fields)
        req = Request(self, bridge.peer, 'GET', url,
                      scope.get('http_version', '1.1'), headers,
                      sock=(bridge, bridge))  # fmt: skip
        req.scheme = 'https' if scope.get('scheme') == 'wss' else 'http'
        req.asgi_scope = scope  # type: ignore[attr-defined]
        return req

    # -- lifespan -------------------------------------------------------------

    async def _lifespan(
        self, scope: dict, receive: 'Any', send: 'Any'
    ) -> None:
        while True:
            kind = (await receive())['type']
            if kind == 'lifespan.startup':
                function = self.lifespan_startup
            elif kind == 'lifespan.shutdown':
                function = self.lifespan_shutdown
            else:
                continue
            try:
                if function is not None:
                    await invoke_handler(function, scope)
            except Exception as exc:
                _print_exception(exc)
                await send({'type': kind + '.failed', 'message': repr(exc)})
                return
            await send({'type': kind + '.complete'})
            if kind == 'lifespan.shutdown':
                return


async def _receive_body(receive: 'Any') -> 'Optional[bytes]':
    """Receive a whole request body; ``None`` if the client leaves."""
    message = await receive()
    if message['type'] != 'http.request':
        return None
    body = message.get('body', b'')
    if not message.get('more_body', False):  # PERF: one message, usually
        return body
    parts = [body]
    while True:
        message = await receive()
        if message['type'] != 'http.request':
            return None
        parts.append(message.get('body', b''))
        if not message.get('more_body', False):
            return b''.join(parts)


async def _receive_unknown_length(receive: 'Any') -> 'Any':
    """Receive a body of unknown length (chunked, or over HTTP/2) into
    ``body`` if it is at most ``Request.max_body_length`` bytes long, else
    leave it to a ``_BodyStream``. Return ``(body, stream, error)``:
    ``body`` is ``None`` if the client left, ``error`` a 413 for a body
    over ``Request.max_content_length``."""
    stream = _BodyStream(receive)
    try:
        await stream.read_ahead(Request.max_body_length)
    except HTTPException as exc:
        if stream.disconnected:
            return None, None, None
        return b'', None, exc
    if stream.complete and len(stream.buffer) <= Request.max_body_length:
        return stream.buffer, None, None
    return b'', stream, None
