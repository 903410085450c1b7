"""Operation of the built-in server: graceful shutdown, embedding next to
other tasks and clients that vanish in the middle of an exchange.

Portable: they run under pytest and under ``tests/mpy_runner.py`` on
MicroPython. Each test starts its own app on 127.0.0.1 (see serverutil)
and stops it in ``finally``. Connections are persistent (HTTP/1.1 without
``Connection: close``), so responses are read by their length with the
small ``Conn`` client below, never "until EOF" unless a close is expected.
The task-leak checks use ``asyncio.all_tasks()`` and run on CPython only.
"""

import asyncio

import serverutil
import support

HOST = serverutil.HOST
IO_TIMEOUT = 5  # seconds for one request/response exchange
CLOSE_TIMEOUT = 2  # seconds for the server to close a connection
SETTLE_TIMEOUT = 3  # seconds for tasks to end after a client vanished
READ_SIZE = 4096
MAX_READS = 4096  # bounds a response at 16 MiB
STREAM_CHUNKS = 200  # a slow streaming body lasts 200 * 0.02 s = 4 s
STREAM_INTERVAL = 0.02
TEXT_PLAIN = 'text/plain; charset=UTF-8'


# -- a persistent-connection client ------------------------------------------


class Conn:
    """A client connection that can carry several requests in a row."""

    def __init__(self, port, reader, writer):
        self.port = port
        self.reader = reader
        self.writer = writer
        self.buffer = b''

    async def send(self, data):
        self.writer.write(data)
        await self.writer.drain()

    async def request(self, method, path, headers=None, timeout=IO_TIMEOUT):
        """Send a request (keep-alive unless ``headers`` say otherwise)
        and return its parsed response."""
        await self.send(
            serverutil.build_request(self.port, method, path, headers)
        )
        return await self.response(timeout)

    async def response(self, timeout=IO_TIMEOUT):
        """Read one response, its body delimited by Content-Length,
        chunked encoding or (with neither) the end of the connection."""
        return await asyncio.wait_for(self._read_response(), timeout)

    async def _fill(self):
        chunk = await self.reader.read(READ_SIZE)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    async def _read_head(self):
        for _ in range(MAX_READS):
            end = self.buffer.find(b'\r\n\r\n')
            if end >= 0:
                head = self.buffer[: end + 4]
                self.buffer = self.buffer[end + 4 :]
                return serverutil.HTTPResponse(head)
            if not await self._fill():
                raise AssertionError('EOF inside a head: %r' % self.buffer)
        raise AssertionError('response head too long')

    async def _read_exactly(self, length):
        for _ in range(MAX_READS):
            if len(self.buffer) >= length:
                break
            if not await self._fill():
                raise AssertionError('EOF inside a body: %r' % self.buffer)
        data = self.buffer[:length]
        self.buffer = self.buffer[length:]
        return data

    async def _read_line(self):
        for _ in range(MAX_READS):
            end = self.buffer.find(b'\r\n')
            if end >= 0:
                return await self._read_exactly(end + 2)
            if not await self._fill():
                raise AssertionError('EOF inside a chunk: %r' % self.buffer)
        raise AssertionError('chunk size line too long')

    async def _read_chunked(self):
        body = b''
        for _ in range(MAX_READS):
            size = int(await self._read_line(), 16)
            if size == 0:
                assert await self._read_line() == b'\r\n'
                return body
            body += await self._read_exactly(size)
            assert await self._read_exactly(2) == b'\r\n'
        raise AssertionError('too many chunks')

    async def _read_response(self):
        res = await self._read_head()
        length = res.headers.get('content-length')
        if length is not None:
            res.body = await self._read_exactly(int(length))
        elif res.headers.get('transfer-encoding') == 'chunked':
            res.body = await self._read_chunked()
        else:
            res.body = await self._read_rest()
        return res

    async def _read_rest(self):
        for _ in range(MAX_READS):
            try:
                more = await self._fill()
            except OSError:  # a reset ends the connection too
                more = False
            if not more:
                data = self.buffer
                self.buffer = b''
                return data
        raise AssertionError('response longer than the client accepts')

    async def read_until_closed(self, timeout=CLOSE_TIMEOUT):
        """Return the bytes received until the server closed the
        connection (EOF or reset); fail if it is still open after
        ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(self._read_rest(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                'server did not close the connection within %s s' % timeout
            )

    async def close(self):
        try:
            self.writer.close()
            await self.writer.wait_closed()
        except OSError:  # the server may have reset the connection
            pass


async def connect(port, timeout=IO_TIMEOUT):
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(HOST, port), timeout
    )
    return Conn(port, reader, writer)


async def is_refused(port, timeout=IO_TIMEOUT):
    """Tell whether a new connection to ``port`` gets no response: the
    connection is refused, reset or closed without a byte."""
    try:
        conn = await connect(port, timeout)
    except OSError:
        return True
    try:
        request = serverutil.build_request(
            port, 'GET', '/', {'Connection': 'close'}
        )
        await conn.send(request)
        return await conn.read_until_closed(timeout) == b''
    except OSError:  # MPY: a refused connect shows up on first use
        return True
    finally:
        await conn.close()


def connection_header_ok(res):
    """The response to a request that was in flight during shutdown may
    announce the close or say nothing (the contract does not fix it)."""
    return res.getlist('connection') in ([], ['close'])


# -- task bookkeeping (CPython only) -----------------------------------------


def task_snapshot():
    """Return the set of running tasks (None on MicroPython: no
    ``asyncio.all_tasks``)."""
    if support.IS_MICROPYTHON:
        return None
    return set(asyncio.all_tasks())


def describe_tasks(tasks):
    return ', '.join(sorted(repr(task.get_coro()) for task in tasks))


async def assert_no_new_tasks(baseline, timeout=SETTLE_TIMEOUT):
    """Wait until no task exists besides those of ``baseline``."""
    if baseline is None:
        return
    settled = await serverutil.poll(
        lambda: not (asyncio.all_tasks() - baseline), timeout
    )
    assert settled, 'leaked tasks: ' + describe_tasks(
        asyncio.all_tasks() - baseline
    )


# -- the app -----------------------------------------------------------------


class State:
    """What the handlers of ``make_app()`` share with the test."""

    def __init__(self):
        self.release = asyncio.Event()  # the /slow handler waits for it
        self.started = 0  # calls of the /slow handler
        self.produced = 0  # chunks produced by the /stream body
        self.closed = False  # the /stream body was closed


class SlowStream:
    """An async iterator (MPY: no async generators) that yields a chunk
    every ``STREAM_INTERVAL`` seconds, counting the chunks it produced."""

    def __init__(self, state):
        self.state = state
        state.produced = 0
        state.closed = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.state.produced >= STREAM_CHUNKS:
            raise StopAsyncIteration
        if self.state.produced:
            await asyncio.sleep(STREAM_INTERVAL)
        self.state.produced += 1
        return b'x' * 1024

    async def aclose(self):
        self.state.closed = True


def make_app():
    """Return ``(app, state)``, ``state`` a ``State``."""
    app = serverutil.index_app('hello')
    state = State()

    @app.route('/slow')
    async def slow(req):
        state.started += 1
        await state.release.wait()
        return 'slow done'

    @app.route('/shutdown')
    async def shutdown(req):
        req.app.shutdown()
        return 'bye'

    @app.route('/stream')
    async def stream(req):
        return SlowStream(state)

    return app, state


async def start(app):
    server = await serverutil.start(app)
    assert not serverutil.port_is_free(server.port)  # the probe is valid
    return server


async def stop(server, state):
    """Release any waiting handler and stop the server (for ``finally``)."""
    state.release.set()
    if server.finished() or server.task.done():  # done: cancelled by a
        return  # timeout that the test already reports
    try:
        await server.stop()
    except asyncio.TimeoutError:
        raise AssertionError('the server did not stop after shutdown()')


async def wait_finished(server, timeout=CLOSE_TIMEOUT):
    """Wait for ``start_server()`` to return after a shutdown."""
    try:
        await server.wait_finished(timeout=timeout)
    except asyncio.TimeoutError:
        raise AssertionError(
            'start_server() did not return within %s s of shutdown()' % timeout
        )


async def get(port, path='/'):
    """One request on a new connection, which the client then closes."""
    conn = await connect(port)
    try:
        return await conn.request('GET', path)
    finally:
        await conn.close()


async def wait_started(state, count=1):
    started = await serverutil.poll(lambda: state.started >= count, IO_TIMEOUT)
    assert started, 'the /slow handler did not start'


def assert_hello(res):
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'hello'


class Session:
    """``make_app()`` served by ``start()``. ``baseline`` holds the tasks
    from before the server started (see ``task_snapshot()``)."""

    def __init__(self, settings):
        self.app, self.state = make_app()
        for name in settings:
            setattr(self.app, name, settings[name])
        self.baseline = task_snapshot()
        self.server = None
        self.port = 0

    async def send_slow(self, conn):
        """Send GET /slow on ``conn`` and wait until its handler runs."""
        await conn.send(serverutil.build_request(self.port, 'GET', '/slow'))
        await wait_started(self.state)

    async def shutdown_during_slow(self, conn):
        """``send_slow(conn)``, then ``app.shutdown()``."""
        await self.send_slow(conn)
        self.app.shutdown()


async def with_session(script, connections=1, **settings):
    """Serve ``make_app()`` (``settings`` are set as app attributes), open
    ``connections`` connections and return ``await script(session,
    *conns)``; then close them and stop the server."""
    session = Session(settings)
    server = session.server = await start(session.app)
    session.port = server.port
    conns = []
    try:
        for _ in range(connections):
            conns.append(await connect(server.port))
        return await script(session, *conns)
    finally:
        for conn in conns:
            await conn.close()
        await stop(server, session.state)


# -- shutdown() from a handler -----------------------------------------------


async def test_shutdown_request_gets_its_full_response():
    async def script(session, conn):
        return await conn.request('GET', '/shutdown')

    res = await with_session(script)
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers['content-type'] == TEXT_PLAIN
    assert res.headers['content-length'] == '3'
    assert connection_header_ok(res), res.header_lines
    assert res.body == b'bye'


async def test_shutdown_request_connection_is_closed_after_response():
    async def script(session, conn):
        await conn.request('GET', '/shutdown')
        return await conn.read_until_closed()

    rest = await with_session(script)
    assert rest == b''


async def test_shutdown_from_handler_returns_while_client_keeps_socket():
    # The client never closes its keep-alive connection: the server must
    # close it itself for start_server() to return.
    async def script(session, conn):
        await conn.request('GET', '/shutdown')
        await wait_finished(session.server)
        assert session.server.finished()
        assert session.app.server is None

    await with_session(script)


async def test_port_is_free_after_shutdown_from_handler():
    async def script(session, conn):
        await conn.request('GET', '/shutdown')
        await wait_finished(session.server)
        return serverutil.port_is_free(session.port)

    free = await with_session(script)
    assert free


async def test_shutdown_leaves_no_tasks():
    async def script(session, idle):
        assert_hello(await idle.request('GET', '/'))
        assert (await get(session.port, '/shutdown')).body == b'bye'
        await wait_finished(session.server)
        await assert_no_new_tasks(session.baseline)

    await with_session(script)


# -- shutdown with other connections open ------------------------------------


async def test_in_flight_request_finishes_during_shutdown():
    async def script(session, slow, other):
        await session.send_slow(slow)
        bye = await other.request('GET', '/shutdown')
        # The slow request holds start_server() open.
        waited = not session.server.finished()
        session.state.release.set()
        res = await slow.response()
        await wait_finished(session.server)
        return bye, waited, res

    bye, waited, res = await with_session(script, 2)
    assert bye.body == b'bye'
    assert waited
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers['content-length'] == '9'
    assert connection_header_ok(res), res.header_lines
    assert res.body == b'slow done'


async def test_in_flight_connection_is_closed_after_its_response():
    async def script(session, slow):
        await session.shutdown_during_slow(slow)
        session.state.release.set()
        await slow.response()
        return await slow.read_until_closed()

    rest = await with_session(script)
    assert rest == b''


async def test_new_connections_are_not_served_during_shutdown():
    async def script(session, slow):
        await session.shutdown_during_slow(slow)
        # The in-flight request keeps start_server() running, but the
        # listening socket must be closed (a short window is tolerated).
        deadline = serverutil.Deadline(CLOSE_TIMEOUT)
        refused = False
        for _ in range(100):
            refused = await is_refused(session.port)
            if refused or deadline.expired():
                break
            await asyncio.sleep(0.02)
        return refused, not session.server.finished()

    refused, still_running = await with_session(script)
    assert refused
    assert still_running


async def test_idle_keep_alive_connection_is_closed_by_shutdown():
    async def script(session, idle):
        assert_hello(await idle.request('GET', '/'))
        session.app.shutdown()
        rest = await idle.read_until_closed()
        await wait_finished(session.server)
        return rest

    rest = await with_session(
        script,
        keep_alive_timeout=30,  # so only the shutdown can close it
        shutdown_timeout=30,  # an idle connection is not in flight
    )
    assert rest == b''


async def test_shutdown_with_stuck_request_returns_after_shutdown_timeout():
    async def script(session, stuck):
        await session.shutdown_during_slow(stuck)
        elapsed = serverutil.Deadline(0)
        await wait_finished(session.server, IO_TIMEOUT)
        return elapsed.elapsed()

    seconds = await with_session(script, shutdown_timeout=0.5)
    assert seconds >= 0.45, 'returned after %.2f s' % seconds
    assert seconds < 1.5, 'returned after %.2f s' % seconds


async def test_stuck_request_connection_is_closed_after_shutdown_timeout():
    async def script(session, stuck):
        await session.shutdown_during_slow(stuck)
        await wait_finished(session.server, IO_TIMEOUT)
        # The handler never answered: the client sees EOF or a reset.
        rest = await stuck.read_until_closed(timeout=1)
        return rest, serverutil.port_is_free(session.port)

    rest, free = await with_session(script, shutdown_timeout=0.5)
    assert rest == b''
    assert free


async def test_stuck_request_task_is_not_leaked_after_shutdown_timeout():
    support.cpython_only()

    async def script(session, stuck):
        await session.shutdown_during_slow(stuck)
        await wait_finished(session.server, IO_TIMEOUT)
        # The handler still waits for 'release': it must have been
        # cancelled, not left behind.
        await assert_no_new_tasks(session.baseline, timeout=1)

    await with_session(script, shutdown_timeout=0.5)


# -- embedding: the server next to other tasks -------------------------------


class Ticker:
    """A task that counts until cancelled: proves the loop keeps running
    other work and that the server leaves it alone."""

    def __init__(self):
        self.ticks = 0
        self.task = asyncio.create_task(self._run())

    async def _run(self):
        for _ in range(100000):  # bounded: 1000 s at most
            await asyncio.sleep(0.01)
            self.ticks += 1

    async def cancel(self):
        self.task.cancel()
        try:
            await asyncio.wait_for(self.task, IO_TIMEOUT)
        except asyncio.CancelledError:
            pass

    async def wait_ticks(self, count):
        return await serverutil.poll(lambda: self.ticks >= count, IO_TIMEOUT)

    async def check_served_meanwhile(self, port, count):
        """GET / on ``port``, wait for ``count`` ticks, GET / again."""
        assert_hello(await get(port))
        assert await self.wait_ticks(count)
        assert_hello(await get(port))


async def test_server_task_runs_next_to_another_task():
    # The user guide's pattern: asyncio.create_task(app.start_server()).
    app, state = make_app()
    ticker = Ticker()
    try:
        server = await start(app)
        try:
            await ticker.check_served_meanwhile(server.port, ticker.ticks + 3)
            app.shutdown()
            await wait_finished(server)
        finally:
            await stop(server, state)
        alive = not ticker.task.done()  # shutdown left the other task alone
        assert await ticker.wait_ticks(ticker.ticks + 3)
    finally:
        await ticker.cancel()
    assert alive


async def start_in_background(app):
    """``start_server(start_serving=False)`` on 127.0.0.1: return the port
    once the coroutine has returned (MPY: random ports, several tries)."""
    serverutil.select_driver(app)
    for _ in range(serverutil.PORT_ATTEMPTS):
        port = 0 if not support.IS_MICROPYTHON else serverutil._choose_port()
        try:
            await asyncio.wait_for(
                app.start_server(host=HOST, port=port, start_serving=False),
                IO_TIMEOUT,
            )
        except OSError:
            if support.IS_MICROPYTHON:  # address in use: try another
                continue
            raise
        if not support.IS_MICROPYTHON:
            port = app.server.sockets[0].getsockname()[1]
        return port
    raise AssertionError(
        'no free port after %d attempts' % serverutil.PORT_ATTEMPTS
    )


async def stop_background(app):
    app.shutdown()
    stopped = await serverutil.poll(lambda: app.server is None, IO_TIMEOUT)
    assert stopped, 'the background server did not stop'


async def test_start_serving_false_returns_and_serves_in_background():
    app, state = make_app()
    ticker = Ticker()
    try:
        port = await start_in_background(app)
        try:
            assert app.server is not None
            await ticker.check_served_meanwhile(port, 3)
        finally:
            state.release.set()
            await stop_background(app)
        assert not ticker.task.done()
    finally:
        await ticker.cancel()


async def test_start_serving_false_shutdown_frees_port():
    app, state = make_app()
    port = await start_in_background(app)
    try:
        assert_hello(await get(port))
    finally:
        await stop_background(app)
    assert serverutil.port_is_free(port)


async def test_start_serving_false_shutdown_from_handler_closes_idle():
    # shutdown() from a handler on one connection while another one idles.
    app, state = make_app()
    app.keep_alive_timeout = 30
    port = await start_in_background(app)
    idle = await connect(port)
    other = await connect(port)
    try:
        assert_hello(await idle.request('GET', '/'))
        bye = await other.request('GET', '/shutdown')
        rest = await idle.read_until_closed()
        stopped = await serverutil.poll(
            lambda: app.server is None, CLOSE_TIMEOUT
        )
    finally:
        await idle.close()
        await other.close()
        await stop_background(app)
    assert bye.body == b'bye'
    assert rest == b''
    assert stopped


# -- clients that vanish -----------------------------------------------------

HALF_HEAD = b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: ab'
HALF_BODY = (
    b'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n'
    + b'0123456789'
)


async def vanish_and_check(data, clients=5):
    """Send ``data`` from ``clients`` connections that then close; check
    that the server keeps serving and (CPython) leaves no task behind."""

    async def script(session):
        baseline = task_snapshot()
        for _ in range(clients):
            await serverutil.send_and_close(session.port, data)
        await assert_no_new_tasks(baseline)
        assert_hello(await get(session.port))

    await with_session(script, 0)


async def test_client_vanishing_mid_head_leaves_server_serving():
    await vanish_and_check(HALF_HEAD)


async def test_client_vanishing_mid_body_leaves_server_serving():
    await vanish_and_check(HALF_BODY)


async def test_client_vanishing_before_sending_leaves_server_serving():
    await vanish_and_check(b'')


async def read_some_then_close(port):
    """Request the slow stream, read its first bytes and close."""
    conn = await connect(port)
    try:
        await conn.send(serverutil.build_request(port, 'GET', '/stream'))
        assert await asyncio.wait_for(conn._fill(), IO_TIMEOUT)
        assert conn.buffer.startswith(b'HTTP/1.1 200 OK\r\n')
    finally:
        await conn.close()


async def test_client_vanishing_mid_response_stops_the_stream():
    async def script(session):
        state = session.state
        await read_some_then_close(session.port)
        # The body would last STREAM_CHUNKS * STREAM_INTERVAL = 4 s: the
        # server must notice the closed connection and stop pulling it.
        stopped = await serverutil.poll(lambda: state.closed, SETTLE_TIMEOUT)
        return stopped, state.produced

    stopped, produced = await with_session(script, 0)
    assert stopped, 'the body iterator was not closed'
    assert produced < STREAM_CHUNKS


async def test_client_vanishing_mid_response_leaves_server_serving():
    async def script(session):
        baseline = task_snapshot()
        await read_some_then_close(session.port)
        await assert_no_new_tasks(baseline)
        assert_hello(await get(session.port))

    await with_session(script, 0)
