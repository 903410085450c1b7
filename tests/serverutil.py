"""Run a Microdot app on a real socket and talk raw HTTP to it.

Portable: CPython and MicroPython. ``start()`` runs ``app.start_server()``
on 127.0.0.1 in a task and waits, against a deadline, until it listens;
``RunningServer.stop()`` shuts it down and awaits the task with a timeout.
The client sends bytes with ``asyncio.open_connection`` and reads until the
server closes the connection (every response carries
``Connection: close``).
"""

import asyncio
import random
import socket
import sys
import time

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
        """Send a request and return the parsed ``HTTPResponse``."""
        data = build_request(self.port, method, path, headers, body, version)
        return HTTPResponse(await self.exchange(data, timeout))


def _choose_port():
    if IS_MICROPYTHON:
        # MPY: a listening socket cannot tell its port, so pick one.
        return random.randint(20000, 60000)
    return 0


async def start(app, debug=False, timeout=START_TIMEOUT):
    """Start ``app`` on 127.0.0.1 and return a ``RunningServer`` once it
    listens. On MicroPython a random port is used and an address in use
    means another try, at most ``PORT_ATTEMPTS`` times."""
    for _ in range(PORT_ATTEMPTS):
        port = _choose_port()
        state = {}
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


async def _close(writer):
    try:
        writer.close()
        await writer.wait_closed()
    except OSError:  # the server may have reset the connection
        pass


async def _read_to_eof(reader):
    chunks = []
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


class HTTPResponse:
    """A response parsed from raw bytes.

    ``headers`` maps lower-case names to the value of their last line;
    ``getlist(name)`` returns the values of all the lines with that name.
    """

    def __init__(self, raw):
        self.raw = raw
        end = raw.find(b'\r\n\r\n')
        if end < 0:
            raise AssertionError('incomplete response head: %r' % raw)
        lines = raw[:end].split(b'\r\n')
        self.body = raw[end + 4 :]
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
