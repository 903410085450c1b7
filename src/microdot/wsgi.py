"""
microdot.wsgi
-------------

The WSGI adapter (CPython only): ``Microdot`` from this module is a WSGI
callable (PEP 3333), so an application runs under a synchronous WSGI server
such as Gunicorn or uWSGI while its handlers still run on asyncio.

How a request runs
    Every server thread gets its own asyncio event loop, made on its first
    request, kept for the next ones and closed when the thread ends. The
    adapter builds a ``Request`` from the environ and runs
    ``dispatch_request()`` to completion on that loop. ``def`` handlers run
    in the loop's thread executor, as under the built-in server, so
    ``async def`` handlers are still the better choice.

Requests
    ``PATH_INFO`` arrives percent-decoded, as a latin-1 string of the raw
    bytes (PEP 3333); the adapter turns it back into bytes and re-quotes
    it, so the core decodes the path as UTF-8 exactly as it decodes a raw
    request line (invalid UTF-8 is a 400). Routes match ``PATH_INFO``
    alone: an application mounted under a ``SCRIPT_NAME`` sees the paths
    below it. Header values are decoded from latin-1 back to UTF-8 text.
    Servers join a repeated ``Cookie`` field with ``,``; the adapter joins
    the cookies with ``; `` again, as the built-in server does (a cookie
    value never holds a comma followed by ``name=``, RFC 6265 section
    4.1.1).

    The body is read from ``wsgi.input``: above
    ``Request.max_content_length`` the request gets a 413 without reading
    it; up to ``Request.max_body_length`` it is read into ``request.body``;
    a larger one is left for ``request.stream``, whose reads take it from
    ``wsgi.input`` a piece at a time. A body without ``Content-Length``
    (chunked) is read only from servers that say ``wsgi.input_terminated``
    (Gunicorn does); other servers give such a request a 411. The
    ``environ`` dictionary is ``request.environ``.

Responses
    The status line and headers go to ``start_response``. A bytes body is
    returned as a one-item list; a streamed body (a generator, a file, an
    SSE stream) becomes an iterable that produces each chunk, on the
    thread's loop, only when the server asks for it; its ``close()``
    closes the body, which cancels an SSE task. An exception from the
    body goes to the server, which closes the connection (the head is
    out). Hop-by-hop headers are left to the server (PEP 3333), header
    text is sent as the UTF-8 bytes the built-in server would send, and a
    header with CR or LF gives a bare 500 instead, as there.

WebSocket under Gunicorn
    Gunicorn puts the client socket in ``environ['gunicorn.socket']``. For
    a ``sync`` or ``gthread`` worker, ``request.sock`` is then a reader and
    writer over a non-blocking duplicate of that socket, driven by the
    thread's loop (``loop.sock_recv``/``sock_sendall``), so
    ``with_websocket`` routes work unchanged. What Gunicorn needs once the
    handler has owned the socket, found by running Gunicorn 27 (sync and
    gthread workers) with the ``websockets`` client:

    - no response at all. Returning any iterable, even ``[]``, makes
      Gunicorn write a status line (``HTTP/1.1 None``) after the close
      frame. ``__call__`` raises ``StopIteration`` instead: both workers
      take it as "close the connection" (a debug log line, then a
      graceful close that sends the FIN the client waits for);
    - no error response either: when a worker times out, Gunicorn raises
      ``SystemExit`` inside the handler and would then write a 500 into
      the WebSocket stream. The adapter shuts the connection down before
      it lets any exception out, so the client sees the connection end;
    - a thread per connection: a WebSocket holds its worker thread until
      it ends. A ``sync`` worker cannot report to the arbiter meanwhile,
      so a connection longer than ``--timeout`` gets the worker killed;
      use ``--worker-class gthread --threads N`` (at most N at a time per
      worker).

    The duplicate shares the file status flags with Gunicorn's socket, so
    the adapter gives that socket its timeout (blocking mode) back; the
    graceful close of Gunicorn 27 sets a timeout anyway. TLS sockets
    (``--certfile``) cannot be duplicated, and the green sockets of
    gevent or eventlet workers do not mix with asyncio: there, and under
    any other WSGI server, a WebSocket handshake is answered 501, with a
    body that points to Gunicorn and to the ASGI adapter
    (``microdot.asgi``), which supports WebSocket everywhere.
"""

import sys

if sys.implementation.name == 'micropython':
    raise ImportError('microdot.wsgi needs CPython (a WSGI server)')

import asyncio  # noqa: E402
import atexit  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import traceback  # noqa: E402
from typing import (  # noqa: E402
    Any,
    Callable,
    Iterable,
    List,
    Optional,
    Set,
    Tuple,
)
from urllib.parse import quote_from_bytes  # noqa: E402

from microdot.microdot import (  # noqa: E402
    HTTPException,
    Request,
    Response,
    parse_content_length,
    read_exactly,
    reason_phrase,
)
from microdot.microdot import Microdot as BaseMicrodot  # noqa: E402

__all__ = ['Microdot']

# Bytes that stay as they are when the raw path is quoted again: RFC 3986
# pchar and '/'. '%', '?' and '#' must be quoted, or the core would read
# them as escapes, a query or a fragment.
_PATH_SAFE = b"/!$&'()*+,;=:@-._~"
# Query strings are not decoded by servers: only non-ASCII bytes, spaces
# and controls (sent raw by some clients) get quoted.
_QUERY_SAFE = bytes(range(33, 127))

# PEP 3333: the server, not the application, manages these (RFC 9110
# section 7.6.1). wsgiref refuses them outright.
_HOP_BY_HOP = frozenset((
    'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
    'te', 'trailer', 'trailers', 'transfer-encoding', 'upgrade',
))  # fmt: skip

# A comma that a server put between two Cookie fields: followed by a
# cookie name (an RFC 9110 token) and '='.
_COOKIE_JOIN = re.compile(r",[ \t]*(?=[!#$%&'*+\-.^_`|~0-9A-Za-z]+=)")

# Bytes read from ``wsgi.input`` at a time when a whole large body is
# asked for (``await request.stream.read()``).
_INPUT_CHUNK_SIZE = 64 * 1024

_WEBSOCKET_UNSUPPORTED = (
    'WebSocket needs Gunicorn (sync or gthread worker, without TLS) or the '
    'ASGI adapter (microdot.asgi)'
)


# ============================================================================
# One event loop per server thread
# ============================================================================


class _ThreadLoop:
    """Owns the event loop of one thread and closes it (and its thread
    executor) when the thread ends and drops its thread-local data, or,
    for the main thread, when the interpreter exits.

    Tasks still pending then (a stream whose ``close()`` the server never
    called, a WebSocket cut by a worker timeout) are cancelled and given
    up to a second to unwind, as ``asyncio.run()`` does, rather than
    destroyed pending.
    """

    def __init__(self):
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        loop = self.loop
        if loop.is_closed() or loop.is_running():
            return
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.wait(tasks, timeout=1))
        loop.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


_local = threading.local()


@atexit.register
def _close_main_loop() -> None:
    owner = getattr(_local, 'owner', None)  # the main thread's
    if owner is not None:
        owner.close()


def _thread_loop() -> asyncio.AbstractEventLoop:
    """Return the asyncio event loop of the current thread, creating it on
    the first call in the thread."""
    try:
        return _local.owner.loop
    except AttributeError:
        _local.owner = _ThreadLoop()
        return _local.owner.loop


# ============================================================================
# Requests
# ============================================================================


def _wsgi_bytes(text: str) -> bytes:
    """The bytes of a PEP 3333 string (latin-1); a server that passes
    decoded text instead is taken at its word (UTF-8)."""
    try:
        return text.encode('latin-1')
    except UnicodeEncodeError:
        return text.encode()


def _header_text(value: str) -> str:
    """Decode a header value from its latin-1 form to UTF-8 text, as the
    built-in server does; invalid UTF-8 is a 400."""
    if value.isascii():  # PERF: nearly every value
        return value
    try:
        return _wsgi_bytes(value).decode()
    except UnicodeError:
        raise HTTPException(400)


def _request_url(environ: dict) -> str:
    """Return the request target for the core, built from ``PATH_INFO``
    and ``QUERY_STRING``: the path is percent-encoded again, so that the
    core's decoding gives the text that the client sent.

    :param environ: the WSGI environ dictionary.
    """
    path = environ.get('PATH_INFO') or '/'
    url = quote_from_bytes(_wsgi_bytes(path), _PATH_SAFE)
    query = environ.get('QUERY_STRING')
    if query:
        url += '?' + quote_from_bytes(_wsgi_bytes(query), _QUERY_SAFE)
    return url


def _request_headers(environ: dict) -> dict:
    """Return the request headers of an environ, with lower-case names:
    the ``HTTP_*`` variables plus ``CONTENT_TYPE`` and ``CONTENT_LENGTH``.

    :param environ: the WSGI environ dictionary.
    """
    headers = {}
    for key, value in environ.items():
        if key.startswith('HTTP_'):
            headers[key[5:].replace('_', '-').lower()] = _header_text(value)
    for key, name in (('CONTENT_TYPE', 'content-type'),
                      ('CONTENT_LENGTH', 'content-length')):  # fmt: skip
        value = environ.get(key)
        if value:
            headers[name] = _header_text(value)
    cookie = headers.get('cookie')
    if cookie and ',' in cookie:
        headers['cookie'] = _COOKIE_JOIN.sub('; ', cookie)
    return headers


def _client_addr(environ: dict) -> 'Optional[Tuple[str, int]]':
    host = environ.get('REMOTE_ADDR')
    if host is None:
        return None
    port = environ.get('REMOTE_PORT')
    return host, int(port) if port and port.isdigit() else 0


def _http_version(environ: dict) -> str:
    protocol = environ.get('SERVER_PROTOCOL', '')
    return protocol[5:] if protocol.startswith('HTTP/') else '1.1'


def _read_exactly(wsgi_input: 'Any', length: int) -> bytes:
    """Read a whole body of ``length`` bytes; a shorter one is a 400."""
    parts = []
    while length > 0:
        data = wsgi_input.read(min(length, _INPUT_CHUNK_SIZE))
        if not data:
            raise HTTPException(400)  # the client sent less than it said
        parts.append(data)
        length -= len(data)
    return b''.join(parts)


class _InputStream:
    """``request.stream`` for a body larger than ``max_body_length``: it
    reads ``wsgi.input`` a piece at a time, never past the body.

    The reads block the thread's loop, which serves this request only.
    A body shorter than its ``Content-Length`` raises
    ``HTTPException(400)``; a chunked one that grows over
    ``Request.max_content_length`` raises 413.

    :param wsgi_input: the ``wsgi.input`` stream.
    :param length: the body length, or -1 when the server delimits it.
    :param pending: bytes of the body already read from ``wsgi_input``.
    """

    def __init__(self, wsgi_input: 'Any', length: int, pending: bytes = b''):
        self.input = wsgi_input
        self.remaining = length  # -1: until the server says it ended
        self.pending = pending
        self.size = len(pending)  # bytes taken from the input so far

    def _read_input(self, n: int) -> bytes:
        if self.remaining == 0:
            return b''
        if self.remaining > 0:
            data = self.input.read(min(n, self.remaining))
            if not data:
                raise HTTPException(400)
            self.remaining -= len(data)
        else:
            data = self.input.read(n)
            if not data:
                self.remaining = 0
        self.size += len(data)
        if self.size > Request.max_content_length:
            raise HTTPException(413)
        return data

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes of the body (all of it if ``n < 0``)."""
        if n < 0:
            parts = [self.pending]
            self.pending = b''
            while True:
                data = self._read_input(_INPUT_CHUNK_SIZE)
                if not data:
                    return b''.join(parts)
                parts.append(data)
        if self.pending:
            data, self.pending = self.pending[:n], self.pending[n:]
            return data
        return self._read_input(n) if n else b''

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes; ``EOFError`` if the body is shorter."""
        return await read_exactly(self, n)

    async def readline(self) -> bytes:
        """Read up to and including the next LF, or to the end."""
        line = b''
        while not line.endswith(b'\n'):
            end = self.pending.find(b'\n')
            if end >= 0:
                return line + await self.read(end + 1)
            if self.pending:
                line += await self.read(len(self.pending))
            if self.remaining == 0:
                break
            limit = self.remaining if self.remaining > 0 else (
                _INPUT_CHUNK_SIZE)  # fmt: skip
            data = self.input.readline(limit)
            if not data:
                self._read_input(1)  # the body ended early (400)
                break
            self.size += len(data)
            if self.remaining > 0:
                self.remaining -= len(data)
            if self.size > Request.max_content_length:
                raise HTTPException(413)
            line += data
        return line


def _read_body(environ: dict, headers: dict) -> 'Tuple[Any, Any, int]':
    """Return ``(body, stream, length)`` for a request; the body is not
    read when its length is over ``Request.max_content_length``."""
    wsgi_input = environ.get('wsgi.input')
    value = headers.get('content-length')
    if value is not None:
        length = parse_content_length(value)
        if length == 0 or length > Request.max_content_length:
            return None, None, length  # dispatch_request answers a 413
        if length <= Request.max_body_length:
            return _read_exactly(wsgi_input, length), None, length
        return None, _InputStream(wsgi_input, length), length
    if 'transfer-encoding' not in headers:
        return None, None, 0  # no body (RFC 9112 section 6.3)
    if not environ.get('wsgi.input_terminated'):
        raise HTTPException(411)  # reading could block past the body
    # chunked: read up to the limit and see if the body ends there
    stream = _InputStream(wsgi_input, -1)
    limit = Request.max_body_length
    parts = []  # type: List[bytes]
    size = 0
    while size <= limit:
        data = stream._read_input(limit + 1 - size)
        if not data:
            return b''.join(parts), None, size
        parts.append(data)
        size += len(data)
    stream.pending = b''.join(parts)
    return None, stream, -1


# ============================================================================
# WebSocket: the socket of Gunicorn as request.sock
# ============================================================================


class _NoSocket:
    """``request.sock`` where the server does not give out its socket:
    any use of it (a WebSocket handshake) ends the request with a 501."""

    taken = False

    @staticmethod
    def _refuse(*args: 'Any') -> 'Any':
        raise HTTPException(501, _WEBSOCKET_UNSUPPORTED)

    write = read = readexactly = readline = drain = _refuse

    def is_closing(self) -> bool:
        return False


_NO_SOCKET = _NoSocket()
_NO_SOCKETS = (_NO_SOCKET, _NO_SOCKET)


class _SocketStream:
    """A reader and writer over the socket of a Gunicorn connection, for
    ``request.sock`` (the interface ``microdot.websocket`` uses).

    Nothing happens until the first read or write: then the socket is
    duplicated and the duplicate is made non-blocking for the thread's
    loop. ``release()`` ends the tasks that still use it (such as the
    reader task of a WebSocket, cancelled but not unwound yet), closes the
    duplicate and gives the server's socket its blocking mode back (the
    two share the file status flags).

    :param server_socket: ``environ['gunicorn.socket']``.
    """

    def __init__(self, server_socket: socket.socket):
        self.server_socket = server_socket
        self.sock = None  # type: Optional[socket.socket]
        self.timeout = None  # type: Optional[float]
        self.buf = b''
        self.out = []  # type: List[bytes]
        #: A handler wrote to the connection: it owns it.
        self.taken = False
        self.closed = False
        # the tasks that did I/O on the socket
        self.tasks: Set[asyncio.Task] = set()

    def _socket(self) -> socket.socket:
        if self.closed:
            raise ConnectionResetError()
        if self.sock is None:
            self.timeout = self.server_socket.gettimeout()
            self.sock = self.server_socket.dup()
            self.sock.setblocking(False)
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        return self.sock

    async def _fill(self) -> None:
        data = await asyncio.get_running_loop().sock_recv(
            self._socket(), 65536
        )
        if not data:
            raise EOFError()
        self.buf += data

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes (until the end of the input if
        ``n < 0``)."""
        try:
            while not self.buf or n < 0:
                await self._fill()
        except EOFError:
            pass
        if n < 0:
            n = len(self.buf)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes; ``EOFError`` at the end of input."""
        while len(self.buf) < n:
            await self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    async def readline(self) -> bytes:
        """Read up to and including the next LF, or to the end."""
        try:
            while b'\n' not in self.buf:
                await self._fill()
        except EOFError:
            return await self.read(len(self.buf))
        return await self.read(self.buf.find(b'\n') + 1)

    def write(self, data: bytes) -> None:
        """Queue bytes for ``drain()`` to send."""
        self.taken = True
        self.out.append(data)

    async def drain(self) -> None:
        """Send the queued bytes."""
        if self.out:
            data = b''.join(self.out)
            self.out = []
            loop = asyncio.get_running_loop()
            await loop.sock_sendall(self._socket(), data)

    async def awrite(self, data: bytes) -> None:
        """Write ``data`` and send it."""
        self.write(data)
        await self.drain()

    def is_closing(self) -> bool:
        """Tell if the adapter is closing the connection."""
        return self.closed

    def close(self) -> None:
        """Present for stream compatibility: ``release()`` closes."""

    async def wait_closed(self) -> None:
        """Present for stream compatibility."""

    def get_extra_info(self, name: str, default: 'Any' = None) -> 'Any':
        """Return ``'peername'`` and ``'socket'`` like an asyncio stream."""
        if name == 'peername':
            try:
                return self.server_socket.getpeername()
            except OSError:
                return default
        return self.server_socket if name == 'socket' else default

    def release(
        self, loop: asyncio.AbstractEventLoop, abort: bool = False
    ) -> None:
        """End the tasks that still use the socket (at most a second),
        close the duplicate and give the server's socket its timeout (and
        so its blocking mode) back; with ``abort``, shut the connection
        down, so that nothing more can be written to it.

        :param loop: the thread's event loop, which is not running.
        """
        self.closed = True
        tasks = [task for task in self.tasks if not task.done()]
        self.tasks = set()
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.wait(tasks, timeout=1))
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()
        try:
            if abort:
                self.server_socket.shutdown(socket.SHUT_RDWR)
            if sock is not None:
                self.server_socket.settimeout(self.timeout)
        except OSError:  # the connection is already gone
            pass


def _request_sockets(environ: dict) -> 'Tuple[Any, Any]':
    """The ``request.sock`` pair: the Gunicorn socket when WebSocket can
    use it (a plain TCP socket of a sync or gthread worker), else one that
    answers 501."""
    server_socket = environ.get('gunicorn.socket')
    # not Gunicorn; or a TLS socket (ssl.SSLSocket), which cannot be
    # duplicated; or the green socket of a gevent or eventlet worker
    if type(server_socket) is not socket.socket:
        return _NO_SOCKETS
    stream = _SocketStream(server_socket)
    return stream, stream


# ============================================================================
# Responses
# ============================================================================


def _latin1(text: str) -> str:
    """The PEP 3333 form of header text: its UTF-8 bytes as latin-1, so
    the server sends what the built-in server would."""
    return text if text.isascii() else text.encode().decode('latin-1')


def _check(text: str) -> str:
    if '\r' in text or '\n' in text:
        raise ValueError('CR or LF in a response header')
    return _latin1(text)


def _response_head(res: Response) -> 'Tuple[str, List[Tuple[str, str]]]':
    """Return the ``start_response`` arguments of a completed response:
    the status (code and reason phrase) and the header list, with one
    item per value of a list (``Set-Cookie``) and no hop-by-hop headers.
    A CR or LF in any of them raises ``ValueError``.

    :param res: the response, after ``res.complete()``.
    """
    code = res.status_code
    status = '%d %s' % (code, _check(res.reason or reason_phrase(code)))
    headers = []
    for name, value in res.headers.items():
        if name.lower() in _HOP_BY_HOP:
            continue
        name = _check(name)
        if isinstance(value, list):
            for item in value:
                headers.append((name, _check(str(item))))
        else:
            headers.append((name, _check(str(value))))
    return status, headers


async def _next_chunk(chunks: 'Any') -> 'Optional[bytes]':
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        return None


class _ResponseIterator:
    """The WSGI iterable of a streamed body: each ``next()`` runs the body
    on the thread's loop until it produces its next chunk, so the chunks
    are made as the server sends them. ``close()`` (PEP 3333: the server
    calls it, also when the client left) closes the body.

    An exception from the body propagates to the server, which logs it
    and closes the connection, as the built-in server does once the head
    is out.

    :param loop: the thread's event loop.
    :param res: the response whose body is streamed.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, res: Response):
        self.loop = loop
        self.chunks = res.body_iter()

    def __iter__(self) -> '_ResponseIterator':
        return self

    def __next__(self) -> bytes:
        chunk = self.loop.run_until_complete(_next_chunk(self.chunks))
        if chunk is None:
            raise StopIteration
        return chunk

    def close(self) -> None:
        """Close the body (once): a generator, a file, an SSE task."""
        if not self.loop.is_closed():
            self.loop.run_until_complete(self.chunks.aclose())


# ============================================================================
# Microdot
# ============================================================================


class Microdot(BaseMicrodot):
    """A Microdot application that is a WSGI callable.

    Use it as the application of any WSGI web server, such as Gunicorn::

        from microdot.wsgi import Microdot

        app = Microdot()

        @app.route('/')
        async def index(request):
            return 'Hello, World!'

    and then ``gunicorn test:app``. Handlers get the WSGI environ as
    ``request.environ``.
    """

    def __call__(
        self, environ: dict, start_response: 'Callable'
    ) -> 'Iterable[bytes]':
        """Handle one request: the WSGI application interface.

        :param environ: the WSGI environ dictionary.
        :param start_response: the server's ``start_response`` function.
        """
        loop = _thread_loop()
        sock = _request_sockets(environ)
        if sock is _NO_SOCKETS:
            res = self._handle(loop, environ, sock)
            return self._respond(loop, res, start_response)
        stream = sock[1]
        try:
            res = self._handle(loop, environ, sock)
        except BaseException:  # such as SystemExit from a worker timeout
            # the server would write an error response into the WebSocket
            # stream if it still could: cut the connection first
            stream.release(loop, abort=stream.taken)
            raise
        stream.release(loop)
        if stream.taken:  # the handler owned the socket (a WebSocket)
            raise StopIteration('the handler took the connection')
        return self._respond(loop, res, start_response)

    def _handle(
        self, loop: asyncio.AbstractEventLoop, environ: dict, sock: 'Any'
    ) -> Response:
        """Read the request of an environ and return its response."""
        try:
            req = self._wsgi_request(environ, sock)
        except HTTPException as exc:
            exc.request = self._error_request(environ, sock)
            _, res = loop.run_until_complete(
                self._bad_request(exc.request.client_addr, sock, exc)
            )
            return res
        return loop.run_until_complete(self.dispatch_request(req))

    def _wsgi_request(self, environ: dict, sock: 'Any' = None) -> Request:
        """Build the ``Request`` of a WSGI environ, reading the body as the
        limits say (see the module documentation). Bad input raises
        ``HTTPException``.

        :param environ: the WSGI environ dictionary.
        :param sock: the ``request.sock`` pair to give the request.
        """
        headers = _request_headers(environ)
        body, stream, length = _read_body(environ, headers)
        req = Request(self, _client_addr(environ),
                      environ.get('REQUEST_METHOD', 'GET'),
                      _request_url(environ), _http_version(environ),
                      headers, body=body, stream=stream,
                      sock=sock)  # fmt: skip
        if 0 <= length != req.content_length:  # a chunked body read whole
            req.content_length = length
        req.scheme = environ.get('wsgi.url_scheme', 'http')
        req.environ = environ  # type: ignore[attr-defined]
        return req

    def _error_request(self, environ: dict, sock: 'Any') -> Request:
        """The request that the error handlers see for input that could
        not be read: what could be parsed of it."""
        method = environ.get('REQUEST_METHOD', 'GET')
        version = _http_version(environ)
        addr = _client_addr(environ)
        try:
            headers = _request_headers(environ)
            headers.pop('content-length', None)
            req = Request(self, addr, method, _request_url(environ), version,
                          headers, sock=sock)  # fmt: skip
        except HTTPException:
            req = Request(self, addr, method, '/', version, {}, sock=sock)
        req.environ = environ  # type: ignore[attr-defined]
        return req

    def _respond(
        self,
        loop: asyncio.AbstractEventLoop,
        res: Response,
        start_response: 'Callable',
    ) -> 'Iterable[bytes]':
        res.complete()
        body = res.body
        streamed = not isinstance(body, (bytes, bytearray))
        try:
            status, headers = _response_head(res)
        except ValueError:  # a header with CR or LF: never send it
            traceback.print_exc()
            if streamed:
                loop.run_until_complete(res.body_iter().aclose())
            # a new list each time: servers may add headers to it
            start_response(
                '500 Internal Server Error', [('Content-Length', '0')]
            )
            return []
        start_response(status, headers)
        code = res.status_code
        if res.is_head or code in (204, 304) or code < 200:
            if streamed:  # never sent: release it now
                loop.run_until_complete(res.body_iter().aclose())
            return []
        if streamed:
            return _ResponseIterator(loop, res)
        return [bytes(body)] if body else []
