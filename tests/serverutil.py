"""Run a Microdot app on a real socket and talk raw HTTP to it.

Portable: CPython and MicroPython. ``start()`` runs ``app.start_server()``
on 127.0.0.1 in a task and waits, against a deadline, until it listens;
``RunningServer.stop()`` shuts it down and awaits the task with a timeout.
``RunningServer.request()`` asks for ``Connection: close`` and reads until
the server closes the connection; ``exchange()`` sends raw bytes and reads
until EOF. ``Client`` keeps one connection open across several requests:
``read_response()`` parses exactly one response (Content-Length, chunked,
close-delimited, HEAD/1xx/204/304 without a body) and leaves what follows
buffered. Every read is bounded by a timeout.

With the environment variable ``MICRODOT_TEST_DRIVER=streams`` (CPython
only), ``start()`` makes the app use its asyncio streams driver.
"""

import asyncio
import os
import random
import socket
import sys
import time

from microdot import Microdot, Request

IS_MICROPYTHON = sys.implementation.name == 'micropython'

HOST = '127.0.0.1'
START_TIMEOUT = 5  # seconds until the server listens
STOP_TIMEOUT = 10  # seconds for the server task to end after shutdown()
IO_TIMEOUT = 5  # seconds for one request/response exchange
POLL_INTERVAL = 0.005
PORT_ATTEMPTS = 10  # MPY: random ports tried before giving up
READ_SIZE = 4096
MAX_READS = 4096  # bounds a response at 16 MiB


class Deadline:
    """A point in time ``seconds`` from now (MPY: ticks_ms wraps)."""

    def __init__(self, seconds):
        if IS_MICROPYTHON:
            self.start = time.ticks_ms()  # type: ignore[attr-defined]
        else:
            self.start = time.monotonic()
        self.seconds = seconds

    def elapsed(self):
        if IS_MICROPYTHON:
            now = time.ticks_ms()  # type: ignore[attr-defined]
            diff = time.ticks_diff(now, self.start)  # type: ignore
            return diff / 1000
        return time.monotonic() - self.start

    def expired(self):
        return self.elapsed() >= self.seconds


async def poll(condition, timeout):
    """Wait until ``condition()`` is true; return False on timeout."""
    deadline = Deadline(timeout)
    for _ in range(int(timeout / POLL_INTERVAL) + 1):
        if condition():
            return True
        if deadline.expired():
            break
        await asyncio.sleep(POLL_INTERVAL)
    return condition()


async def _serve(app, port, debug, state):
    """Run the server, keeping its outcome in ``state`` (never raises)."""
    try:
        await app.start_server(host=HOST, port=port, debug=debug)
    except Exception as exc:
        state['error'] = exc
    state['done'] = True


class RunningServer:
    """An app serving on ``HOST:port`` in the task ``task``."""

    def __init__(self, app, port, task, state):
        self.app = app
        self.port = port
        self.task = task
        self.state = state

    def finished(self):
        """Tell whether the ``start_server()`` coroutine has returned."""
        return 'done' in self.state

    async def wait_finished(self, timeout=STOP_TIMEOUT):
        """Await the server task (it must end by itself) with a timeout."""
        await asyncio.wait_for(self.task, timeout)
        self._raise_error()

    async def stop(self, timeout=STOP_TIMEOUT):
        """Shut the server down and await its task with a timeout."""
        self.app.shutdown()
        await self.wait_finished(timeout)

    def _raise_error(self):
        error = self.state.get('error')
        if error is not None:
            raise error

    async def exchange(self, data, timeout=IO_TIMEOUT):
        """Send raw bytes and return the raw bytes read until EOF."""
        return await exchange(self.port, data, timeout)

    async def request(self, method, path, headers=None, body=b'',
                      version='1.1', timeout=IO_TIMEOUT):  # fmt: skip
        """Send a request and return the parsed ``HTTPResponse``.

        Unless ``headers`` has a ``Connection`` header, the request carries
        ``Connection: close``, so the response ends where the server closes
        the connection.
        """
        headers = dict(headers or {})
        if not [name for name in headers if name.lower() == 'connection']:
            headers['Connection'] = 'close'
        data = build_request(self.port, method, path, headers, body, version)
        return HTTPResponse(await self.exchange(data, timeout))


def index_app(body):
    """Return a ``Microdot`` app whose route ``/`` returns ``body``; tests
    add their other routes to it."""
    app = Microdot()

    @app.route('/')
    async def index(req):
        return body

    return app


async def with_request_limit(name, value, coro):
    """Await ``coro`` with the class attribute ``Request.<name>`` set to
    ``value``; restore the previous value in ``finally``."""
    saved = getattr(Request, name)
    setattr(Request, name, value)
    try:
        return await coro
    finally:
        setattr(Request, name, saved)


async def read_stream(req, size=1024, reads=1000):
    """Return the body read from ``req.stream`` in reads of up to ``size``
    bytes (bounded: at most ``reads`` reads)."""
    data = b''
    for _ in range(reads):
        chunk = await req.stream.read(size)
        if not chunk:
            break
        data += chunk
    return data


def _choose_port():
    if IS_MICROPYTHON:
        # MPY: a listening socket cannot tell its port, so pick one.
        return random.randint(20000, 60000)
    return 0


def select_driver(app):
    """Force the streams driver when MICRODOT_TEST_DRIVER=streams (for
    tests that call ``app.start_server()`` themselves too)."""
    if IS_MICROPYTHON:  # MPY: the streams driver is the only one
        return
    getenv = getattr(os, 'getenv', None)
    if getenv is not None and getenv('MICRODOT_TEST_DRIVER') == 'streams':
        app._use_streams = True


async def start(app, debug=False, timeout=START_TIMEOUT):
    """Start ``app`` on 127.0.0.1 and return a ``RunningServer`` once it
    listens. On MicroPython a random port is used and an address in use
    means another try, at most ``PORT_ATTEMPTS`` times."""
    select_driver(app)
    for _ in range(PORT_ATTEMPTS):
        port = _choose_port()
        state = {}  # type: dict
        task = asyncio.create_task(_serve(app, port, debug, state))
        await poll(lambda: app.server is not None or 'done' in state,
                   timeout)  # fmt: skip
        if app.server is not None:
            if not IS_MICROPYTHON:
                port = app.server.sockets[0].getsockname()[1]
            return RunningServer(app, port, task, state)
        if 'done' not in state:  # neither listening nor failed in time
            app.shutdown()
            await asyncio.wait_for(task, STOP_TIMEOUT)
            raise AssertionError('server did not listen within timeout')
        error = state.get('error')
        if not (IS_MICROPYTHON and isinstance(error, OSError)):
            raise error or AssertionError('start_server() returned')
    raise AssertionError('no free port after %d attempts' % PORT_ATTEMPTS)


async def with_client(app, script, timeout=IO_TIMEOUT):
    """Start ``app``, open one ``Client`` connection and return ``await
    script(server, client)``; then close the connection and stop the
    server. ``timeout`` bounds the connect."""
    server = await start(app)
    try:
        client = await Client.open(server.port, timeout)
        try:
            return await script(server, client)
        finally:
            await client.close()
    finally:
        await server.stop()


async def _close(writer):
    try:
        writer.close()
        await writer.wait_closed()
    except OSError:  # the server may have reset the connection
        pass


async def _read_to_eof(reader):
    chunks = []  # type: list
    for _ in range(MAX_READS):
        chunk = await reader.read(READ_SIZE)
        if not chunk:
            return b''.join(chunks)
        chunks.append(chunk)
    raise AssertionError('response longer than the client accepts')


async def _exchange(port, data):
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        if data:
            writer.write(data)
            await writer.drain()
        return await _read_to_eof(reader)
    finally:
        await _close(writer)


async def exchange(port, data, timeout=IO_TIMEOUT):
    """Connect, send ``data``, read until the server closes and return
    what was read; ``timeout`` bounds the whole exchange."""
    return await asyncio.wait_for(_exchange(port, data), timeout)


async def _send_and_close(port, data):
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        if data:
            writer.write(data)
            await writer.drain()
    finally:
        await _close(writer)


async def send_and_close(port, data=b'', timeout=IO_TIMEOUT):
    """Connect, send ``data`` (maybe nothing) and close without reading."""
    await asyncio.wait_for(_send_and_close(port, data), timeout)


def build_request(port, method, path, headers=None, body=b'', version='1.1'):
    """Return the bytes of a request with a Host header and, when there is
    a body, a Content-Length header."""
    if isinstance(body, str):
        body = body.encode()
    lines = ['%s %s HTTP/%s' % (method, path, version)]
    lines.append('Host: %s:%d' % (HOST, port))
    if body:
        lines.append('Content-Length: %d' % len(body))
    for name, value in (headers or {}).items():
        lines.append('%s: %s' % (name, value))
    return ('\r\n'.join(lines) + '\r\n\r\n').encode() + body


def _parse_chunk_size(line):
    """Return the size of a chunk size line (extensions ignored) or None
    when it is not valid hex."""
    text = line.split(b';', 1)[0].strip()
    if not text or text.strip(b'0123456789abcdefABCDEF'):
        return None
    return int(text, 16)


def dechunk(data):
    """Decode a chunked body: return ``(body, complete)``. ``complete`` is
    False when ``data`` stops before the last chunk and its trailers (the
    decoded part is returned) or is not valid chunked encoding."""
    chunks = []  # type: list
    position = 0
    while True:
        end = data.find(b'\r\n', position)
        if end < 0:
            return b''.join(chunks), False
        size = _parse_chunk_size(data[position:end])
        if size is None:
            return b''.join(chunks), False
        position = end + 2
        if size == 0:
            return b''.join(chunks), data[end:].endswith(b'\r\n\r\n')
        chunk = data[position : position + size]
        chunks.append(chunk)
        if data[position + size : position + size + 2] != b'\r\n':
            return b''.join(chunks), False
        position += size + 2


class HTTPResponse:
    """A response parsed from raw bytes.

    ``headers`` maps lower-case names to the value of their last line;
    ``getlist(name)`` returns the values of all the lines with that name.
    ``raw_body`` is the body as sent; ``body`` is the same except for a
    chunked response, where it is the decoded data and ``complete`` tells
    whether the last chunk arrived.
    """

    def __init__(self, raw):
        self.raw = raw
        end = raw.find(b'\r\n\r\n')
        if end < 0:
            raise AssertionError('incomplete response head: %r' % raw)
        lines = raw[:end].split(b'\r\n')
        self.raw_body = self.body = raw[end + 4 :]
        self.complete = True
        self.status_line = lines[0]
        parts = lines[0].split(b' ', 2)
        self.version = parts[0]
        self.status_code = int(parts[1])
        self.header_lines = []
        self.headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b':')
            if not sep:
                raise AssertionError('invalid header line: %r' % line)
            item = (name.decode().lower(), value.strip().decode())
            self.header_lines.append(item)
            self.headers[item[0]] = item[1]
        if self.headers.get('transfer-encoding', '').lower() == 'chunked':
            self.body, self.complete = dechunk(self.raw_body)

    def getlist(self, name):
        """Return the values of every header line called ``name``."""
        name = name.lower()
        return [value for key, value in self.header_lines if key == name]


def port_is_free(port):
    """Tell whether a listening socket can be bound to ``HOST:port``.

    SO_REUSEADDR lets the bind ignore connections in TIME_WAIT, as any
    restarting server does, but not a socket still listening there.
    """
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(socket.getaddrinfo(HOST, port)[0][-1])
        sock.listen(1)
        return True
    except OSError:
        return False
    finally:
        sock.close()


class Client:
    """One connection to the server, kept open across several exchanges.

    ``buffer`` holds the bytes received but not yet parsed. Every method
    that waits is bounded by ``timeout`` seconds and raises AssertionError
    with what was received when it runs out.
    """

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.buffer = b''
        self.eof = False  # the server closed the connection
        self.reset = False  # ... with a reset

    @classmethod
    async def open(cls, port, timeout=IO_TIMEOUT):
        """Connect to the server on ``HOST:port``."""
        connect = asyncio.open_connection(HOST, port)
        reader, writer = await asyncio.wait_for(connect, timeout)
        return cls(reader, writer)

    async def send(self, data, timeout=IO_TIMEOUT):
        """Send raw bytes; AssertionError if the server closed or reset
        the connection (see ``try_send()``)."""
        if not await self.try_send(data, timeout):
            raise AssertionError(
                'the server closed the connection; received %r'
                % self.buffer[:300]
            )

    async def try_send(self, data, timeout=IO_TIMEOUT):
        """Send raw bytes; return False if the connection is closed."""
        try:
            self.writer.write(data)
            await asyncio.wait_for(self.writer.drain(), timeout)
        except OSError:
            return False
        return True

    def shutdown_write(self):
        """Half-close: send EOF but keep reading (CPython only)."""
        self.writer.write_eof()

    async def _read_more(self):
        """Read into ``buffer``; return False at EOF."""
        if self.eof:
            return False
        try:
            chunk = await self.reader.read(READ_SIZE)
        except OSError as exc:
            self.eof = self.reset = True
            raise AssertionError(
                'connection reset (%r) after receiving %r'
                % (exc, self.buffer[:300])
            )
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    async def _read_until(self, separator):
        """Return the buffered bytes up to and including ``separator``."""
        for _ in range(MAX_READS):
            end = self.buffer.find(separator)
            if end >= 0:
                end += len(separator)
                data, self.buffer = self.buffer[:end], self.buffer[end:]
                return data
            if not await self._read_more():
                raise AssertionError(
                    'connection closed before %r; received %r'
                    % (separator, self.buffer[:300])
                )
        raise AssertionError('no %r in the first 16 MiB' % separator)

    async def _read_exactly(self, n):
        for _ in range(MAX_READS):
            if len(self.buffer) >= n:
                data, self.buffer = self.buffer[:n], self.buffer[n:]
                return data
            if not await self._read_more():
                raise AssertionError(
                    'connection closed after %d of %d body bytes: %r'
                    % (len(self.buffer), n, self.buffer[:300])
                )
        raise AssertionError('body longer than the client accepts')

    async def _read_to_eof(self):
        for _ in range(MAX_READS):
            if not await self._read_more():
                data, self.buffer = self.buffer, b''
                return data
        raise AssertionError('response longer than the client accepts')

    async def _read_chunked(self):
        """Return the raw bytes of a chunked body, trailers included."""
        parts = []
        for _ in range(MAX_READS):
            line = await self._read_until(b'\r\n')
            parts.append(line)
            size = _parse_chunk_size(line[:-2])
            if size is None:
                raise AssertionError('bad chunk size line %r' % line)
            if size == 0:
                break
            parts.append(await self._read_exactly(size + 2))
        else:
            raise AssertionError('too many chunks')
        for _ in range(MAX_READS):  # trailer fields up to an empty line
            line = await self._read_until(b'\r\n')
            parts.append(line)
            if line == b'\r\n':
                return b''.join(parts)
        raise AssertionError('too many trailer lines')

    async def _read_response(self, head_request):
        if not self.buffer and not await self._read_more():
            raise AssertionError('the server closed without a response')
        head = await self._read_until(b'\r\n\r\n')
        res = HTTPResponse(head)
        headers = res.headers
        if (
            head_request
            or res.status_code < 200
            or res.status_code in (204, 304)
        ):
            body = b''
        elif 'transfer-encoding' in headers:
            if headers['transfer-encoding'].lower() != 'chunked':
                raise AssertionError('unknown framing: %r' % head)
            body = await self._read_chunked()
        elif 'content-length' in headers:
            body = await self._read_exactly(int(headers['content-length']))
        else:  # delimited by the end of the connection
            body = await self._read_to_eof()
        return HTTPResponse(head + body)

    async def read_response(self, head_request=False, timeout=IO_TIMEOUT):
        """Read and return exactly one ``HTTPResponse``; what follows it
        stays in ``buffer``. ``head_request`` means the response is to a
        HEAD request (no body whatever the headers say)."""
        try:
            return await asyncio.wait_for(
                self._read_response(head_request), timeout
            )
        except asyncio.TimeoutError:
            raise AssertionError(
                'no complete response within %s s; received %r'
                % (timeout, self.buffer[:300])
            )

    async def read_until_eof(self, timeout=IO_TIMEOUT):
        """Return everything received until the server closes (buffered
        bytes included); AssertionError on timeout or reset."""
        try:
            return await asyncio.wait_for(self._read_to_eof(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                'connection still open after %s s; received %r'
                % (timeout, self.buffer[:300])
            )

    async def _wait_closed(self):
        for _ in range(MAX_READS):
            try:
                if not await self._read_more():
                    return
            except AssertionError:  # a reset closes the connection too
                return
        raise AssertionError('the server keeps sending data')

    async def is_closed(self, timeout=IO_TIMEOUT):
        """Return True when EOF or a reset arrives within ``timeout``
        seconds, False otherwise. Bytes received meanwhile are appended to
        ``buffer``."""
        try:
            await asyncio.wait_for(self._wait_closed(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def close(self, timeout=IO_TIMEOUT):
        """Close the connection (errors from a gone server are ignored)."""
        try:
            await asyncio.wait_for(_close(self.writer), timeout)
        except asyncio.TimeoutError:
            pass
