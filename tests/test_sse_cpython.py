# runtime: cpython
"""Server-Sent Events seen by a real streaming HTTP client (httpx), and
what a client that leaves does to the server: the handler is cancelled,
no task, socket or message is left behind, the server keeps serving.

The server runs in the test's own event loop (serverutil.start), with
either driver ('protocol', the CPython default, and 'streams'). Events are
read as they arrive with ``client.stream()`` and parsed as the WHATWG
EventSource parser does.
"""

import asyncio
import gc
import json
import os
import socket
import time

import httpx
import pytest
import serverutil
from cpythonutil import (
    LogRecords,
    assert_nothing_printed,
    connect_raw,
    fd_count,
    reset,
)

from microdot.sse import SSE, with_sse

IO_TIMEOUT = 5  # seconds for one read by the test
SETTLE_TIMEOUT = 5  # seconds for the server to notice a disconnect
WAIT_LIMIT = 10  # seconds a handler waits for the test at most
CLIENTS = 10  # clients that leave in the leak tests

DRIVERS = ['protocol', 'streams']

needs_proc = pytest.mark.skipif(
    not os.path.isdir('/proc/self/fd'), reason='needs /proc/self/fd'
)


# -- helpers -----------------------------------------------------------------


class Probe:
    """What the handlers tell the test."""

    def __init__(self):
        self.go = asyncio.Event()  # set by the test to let handlers on
        self.started = 0
        self.cancelled = 0  # handlers that saw CancelledError
        self.finished = 0  # handlers whose finally ran
        self.errors = []  # type: list


def make_app(probe):
    """``/`` says hello; ``/events`` sends 'one', waits for ``probe.go``
    (at most WAIT_LIMIT s), sends 'two'; it counts in ``probe``."""
    app = serverutil.index_app('hello')

    @app.route('/events')
    @with_sse
    async def events(req, sse):
        probe.started += 1
        try:
            await sse.send('one')
            await asyncio.wait_for(probe.go.wait(), WAIT_LIMIT)
            await sse.send('two')
        except asyncio.CancelledError:
            probe.cancelled += 1
            raise
        finally:
            probe.finished += 1

    return app


async def start(app, driver):
    if driver == 'streams':
        app._use_streams = True
    return await serverutil.start(app)


def http_client(server):
    return httpx.AsyncClient(
        base_url='http://127.0.0.1:%d' % server.port, timeout=IO_TIMEOUT
    )


class EventParser:
    """Dispatches the events of a streamed httpx response as dicts of
    their fields (``data`` lines joined with LF); a comment line is
    returned as ``{'comment': text}``."""

    def __init__(self, response):
        self.lines = response.aiter_lines()

    async def _next(self):
        fields = {}  # type: dict
        async for line in self.lines:
            if line == '':
                if fields:
                    return fields
                continue
            if line.startswith(':'):
                return {'comment': line[1:].lstrip(' ')}
            name, _, value = line.partition(':')
            if value.startswith(' '):
                value = value[1:]
            if name == 'data' and 'data' in fields:
                fields['data'] += '\n' + value
            else:
                fields[name] = value
        assert not fields, 'unterminated event %r' % fields
        return None  # the end of the stream

    async def next(self, timeout=IO_TIMEOUT):
        """The next event or comment; ``None`` at the end of the stream."""
        return await asyncio.wait_for(self._next(), timeout)

    async def rest(self, timeout=IO_TIMEOUT):
        """All the events up to the end of the stream."""
        found = []
        for _ in range(100000):
            event = await self.next(timeout)
            if event is None:
                return found
            found.append(event)
        raise AssertionError('endless stream')


async def events_of(handler, path='/events'):
    """Serve ``handler`` (with_sse) and return the parsed events."""
    app = serverutil.index_app('hello')
    app.route(path)(with_sse(handler))
    server = await serverutil.start(app)
    try:
        async with http_client(server) as client:
            async with client.stream('GET', path) as res:
                assert res.status_code == 200
                return await EventParser(res).rest()
    finally:
        await server.stop()


async def leave_after_first_event(client):
    """Open /events, read the first event and close the stream."""
    async with client.stream('GET', '/events') as res:
        assert await EventParser(res).next() == {'data': 'one'}


async def leave_with_httpx(server, count=1):
    async with http_client(server) as client:
        await asyncio.gather(
            *[leave_after_first_event(client) for _ in range(count)]
        )


async def raw_first_event(server):
    """A raw socket that has received the head and the first event."""
    loop = asyncio.get_running_loop()
    sock = await connect_raw(server.port)
    request = b'GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
    await loop.sock_sendall(sock, request)
    received = b''
    while b'data: one\n\n' not in received:
        data = await asyncio.wait_for(loop.sock_recv(sock, 4096), IO_TIMEOUT)
        assert data, 'closed after %r' % received
        received += data
    return sock


async def leave_with_reset(server, count=1):
    for _ in range(count):
        reset(await raw_first_event(server))


async def leave_with_fin(server, count=1):
    for _ in range(count):
        (await raw_first_event(server)).close()


LEAVERS = {
    'httpx': leave_with_httpx,
    'fin': leave_with_fin,
    'reset': leave_with_reset,
}


def describe(tasks):
    return sorted(repr(task.get_coro()) for task in tasks)


async def hello(server):
    async with http_client(server) as client:
        res = await client.get('/')
    return res.status_code, res.text


# -- what the client sees --------------------------------------------------


@pytest.mark.parametrize('driver', DRIVERS)
async def test_response_head(driver):
    probe = Probe()
    probe.go.set()
    server = await start(make_app(probe), driver)
    try:
        async with http_client(server) as client:
            async with client.stream('GET', '/events') as res:
                head = (res.status_code, res.http_version, dict(res.headers))
                await res.aread()
    finally:
        await server.stop()
    assert head == (
        200,
        'HTTP/1.1',
        {
            'content-type': 'text/event-stream',
            'cache-control': 'no-cache',
            'transfer-encoding': 'chunked',
        },
    )


@pytest.mark.parametrize('driver', DRIVERS)
async def test_first_event_arrives_while_handler_sleeps(driver):
    state = {'done': False}
    app = serverutil.index_app('hello')

    @app.route('/events')
    @with_sse
    async def events(req, sse):
        await sse.send('first')
        await asyncio.sleep(1.0)
        await sse.send('second')
        state['done'] = True

    server = await start(app, driver)
    try:
        async with http_client(server) as client:
            start_time = time.monotonic()
            async with client.stream('GET', '/events') as res:
                parser = EventParser(res)
                first = await parser.next()
                first_time = time.monotonic() - start_time
                done_at_first = state['done']
                rest = await parser.rest()
                end_time = time.monotonic() - start_time
    finally:
        await server.stop()
    assert first == {'data': 'first'}
    assert not done_at_first
    assert first_time < 0.8, first_time
    assert rest == [{'data': 'second'}]
    assert end_time >= 0.95, end_time


async def test_events_as_an_eventsource_parser_reads_them():
    async def handler(req, sse):
        await sse.send('hello')
        await sse.send({'a': [1, 2]}, event='json')
        await sse.send(b'bytes')
        await sse.send(3.5)
        await sse.send('l1\nl2\r\nl3\rl4', event_id='9')
        await sse.send('r', retry=1500)

    events = await events_of(handler)
    assert events == [
        {'data': 'hello'},
        {'event': 'json', 'data': '{"a":[1,2]}'},
        {'data': 'bytes'},
        {'data': '3.5'},
        {'id': '9', 'data': 'l1\nl2\nl3\nl4'},
        {'retry': '1500', 'data': 'r'},
    ]
    assert json.loads(events[1]['data']) == {'a': [1, 2]}


async def test_cr_lf_in_event_or_id_injects_nothing():
    errors = []

    async def handler(req, sse):
        attempts = [
            {'event': 'x\r\ndata: injected'},
            {'event': 'x\nid: 666'},
            {'event': 'x\r\r'},
            {'event_id': '1\r\nevent: evil'},
            {'event_id': '1\rretry: 1'},
            {'event_id': '1\n\ndata: injected'},
        ]
        for fields in attempts:
            try:
                await sse.send('evil', **fields)
            except Exception as exc:
                errors.append(type(exc).__name__)
        await sse.send('after')

    events = await events_of(handler)
    assert errors == ['ValueError'] * 6
    assert events == [{'data': 'after'}]


async def test_keep_alive_comment_reaches_the_client():
    probe = Probe()
    saved = SSE.keep_alive_interval
    SSE.keep_alive_interval = 0.2
    try:
        server = await serverutil.start(make_app(probe))
        try:
            async with http_client(server) as client:
                async with client.stream('GET', '/events') as res:
                    parser = EventParser(res)
                    first = await parser.next()
                    comment = await parser.next()
                    probe.go.set()
                    rest = await parser.rest()
        finally:
            await server.stop()
    finally:
        SSE.keep_alive_interval = saved
    assert first == {'data': 'one'}
    assert comment == {'comment': 'keep-alive'}
    assert rest == [{'data': 'two'}]


@pytest.mark.parametrize('driver', DRIVERS)
async def test_many_events_arrive_complete_and_in_order(driver):
    count = 2000
    app = serverutil.index_app('hello')

    @app.route('/events')
    @with_sse
    async def events(req, sse):
        for i in range(count):
            await sse.send('%d %s' % (i, 'x' * 500))

    server = await start(app, driver)
    try:
        async with http_client(server) as client:
            async with client.stream('GET', '/events') as res:
                events = await EventParser(res).rest()
    finally:
        await server.stop()
    assert events == [{'data': '%d %s' % (i, 'x' * 500)} for i in range(count)]


async def test_concurrent_streams_are_independent():
    app = serverutil.index_app('hello')

    @app.route('/events/<int:n>')
    @with_sse
    async def events(req, sse, n):
        for i in range(3):
            await asyncio.sleep(0.01 * n)
            await sse.send('%d.%d' % (n, i))

    async def read(client, n):
        async with client.stream('GET', '/events/%d' % n) as res:
            return await EventParser(res).rest()

    server = await serverutil.start(app)
    try:
        async with http_client(server) as client:
            results = await asyncio.gather(
                *[read(client, n) for n in range(5)]
            )
    finally:
        await server.stop()
    for n, events in enumerate(results):
        assert events == [{'data': '%d.%d' % (n, i)} for i in range(3)]


@pytest.mark.parametrize('driver', DRIVERS)
async def test_same_connection_serves_a_request_after_a_stream(driver, capsys):
    probe = Probe()
    probe.go.set()
    server = await start(make_app(probe), driver)
    try:
        client = await serverutil.Client.open(server.port)
        try:
            await client.send(b'GET /events HTTP/1.1\r\nHost: x\r\n\r\n')
            stream = await client.read_response()
            await client.send(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
            res = await client.read_response()
        finally:
            await client.close()
    finally:
        await server.stop()
    assert stream.body == b'data: one\n\ndata: two\n\n'
    assert stream.complete
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'hello'
    assert capsys.readouterr().err == ''


# -- an exception in the handler ---------------------------------------------


@pytest.mark.parametrize('driver', DRIVERS)
async def test_exception_is_printed_and_stream_cut(driver, capsys):
    app = serverutil.index_app('hello')

    @app.route('/events')
    @with_sse
    async def events(req, sse):
        await sse.send('one')
        raise RuntimeError('sse boom')

    with LogRecords() as log:
        server = await start(app, driver)
        try:
            async with http_client(server) as client:
                async with client.stream('GET', '/events') as res:
                    parser = EventParser(res)
                    first = await parser.next()
                    try:
                        await parser.next()
                    except httpx.RemoteProtocolError:
                        cut = True
                    else:
                        cut = False
            status = await hello(server)
        finally:
            await server.stop()
        gc.collect()
    err = capsys.readouterr().err
    assert first == {'data': 'one'}
    assert cut, 'the stream was not cut short'
    assert status == (200, 'hello')
    assert 'Traceback (most recent call last)' in err
    assert 'RuntimeError: sse boom' in err
    assert err.count('RuntimeError: sse boom') == 1
    assert log.messages == []


# -- clients that leave ----------------------------------------------------


@pytest.mark.parametrize('driver', DRIVERS)
@pytest.mark.parametrize('leave', sorted(LEAVERS))
async def test_leaving_client_cancels_handler(driver, leave):
    probe = Probe()
    server = await start(make_app(probe), driver)
    try:
        await LEAVERS[leave](server)
        cancelled = await serverutil.poll(
            lambda: probe.cancelled == 1, SETTLE_TIMEOUT
        )
        finished = await serverutil.poll(
            lambda: probe.finished == 1, SETTLE_TIMEOUT
        )
    finally:
        probe.go.set()
        await server.stop()
    assert cancelled, 'the handler was not cancelled'
    assert finished


@pytest.mark.parametrize('driver', DRIVERS)
async def test_half_closing_client_cancels_handler(driver):
    # Documented: a client that half-closes loses streamed responses.
    probe = Probe()
    server = await start(make_app(probe), driver)
    try:
        sock = await raw_first_event(server)
        try:
            sock.shutdown(socket.SHUT_WR)
            cancelled = await serverutil.poll(
                lambda: probe.cancelled == 1, SETTLE_TIMEOUT
            )
        finally:
            sock.close()
    finally:
        probe.go.set()
        await server.stop()
    assert cancelled, 'the handler was not cancelled'


@pytest.mark.parametrize('driver', DRIVERS)
@pytest.mark.parametrize('leave', sorted(LEAVERS))
async def test_leaving_clients_leave_no_task(driver, leave):
    probe = Probe()
    server = await start(make_app(probe), driver)
    try:
        baseline = set(asyncio.all_tasks())
        await LEAVERS[leave](server, CLIENTS)
        settled = await serverutil.poll(
            lambda: not (asyncio.all_tasks() - baseline), SETTLE_TIMEOUT
        )
        left = asyncio.all_tasks() - baseline
    finally:
        probe.go.set()
        await server.stop()
    assert settled, 'leaked tasks: %r' % describe(left)
    assert probe.started == CLIENTS
    assert probe.cancelled == CLIENTS


@pytest.mark.parametrize('driver', DRIVERS)
async def test_finished_streams_leave_no_task(driver):
    probe = Probe()
    probe.go.set()
    server = await start(make_app(probe), driver)
    try:
        baseline = set(asyncio.all_tasks())
        async with http_client(server) as client:
            for _ in range(CLIENTS):
                async with client.stream('GET', '/events') as res:
                    events = await EventParser(res).rest()
                    assert events == [{'data': 'one'}, {'data': 'two'}]
        settled = await serverutil.poll(
            lambda: not (asyncio.all_tasks() - baseline), SETTLE_TIMEOUT
        )
        left = asyncio.all_tasks() - baseline
    finally:
        await server.stop()
    assert settled, 'leaked tasks: %r' % describe(left)
    assert probe.cancelled == 0


@needs_proc
@pytest.mark.parametrize('driver', DRIVERS)
@pytest.mark.parametrize('leave', sorted(LEAVERS))
async def test_leaving_clients_release_file_descriptors(driver, leave):
    probe = Probe()
    server = await start(make_app(probe), driver)
    try:
        baseline = fd_count()
        await LEAVERS[leave](server, CLIENTS)
        released = await serverutil.poll(
            lambda: fd_count() <= baseline, SETTLE_TIMEOUT
        )
        count = fd_count()
    finally:
        probe.go.set()
        await server.stop()
    assert released, 'open fds: %d, baseline %d' % (count, baseline)


@pytest.mark.parametrize('driver', DRIVERS)
@pytest.mark.parametrize('leave', sorted(LEAVERS))
async def test_leaving_clients_print_nothing(driver, leave, capsys):
    probe = Probe()
    with LogRecords() as log:
        server = await start(make_app(probe), driver)
        try:
            await LEAVERS[leave](server, CLIENTS)
            await serverutil.poll(
                lambda: probe.finished == CLIENTS, SETTLE_TIMEOUT
            )
            assert await hello(server) == (200, 'hello')
        finally:
            probe.go.set()
            await server.stop()
        gc.collect()  # a lost task exception is logged when the task dies
    assert_nothing_printed(capsys, log)


@pytest.mark.parametrize('driver', DRIVERS)
@pytest.mark.parametrize('leave', sorted(LEAVERS))
async def test_server_keeps_serving_after_clients_leave(driver, leave):
    probe = Probe()
    server = await start(make_app(probe), driver)
    try:
        await LEAVERS[leave](server, CLIENTS)
        status = await hello(server)
        async with http_client(server) as client:
            async with client.stream('GET', '/events') as res:
                parser = EventParser(res)
                first = await parser.next()
                probe.go.set()
                rest = await parser.rest()
    finally:
        probe.go.set()
        await server.stop()
    assert status == (200, 'hello')
    assert first == {'data': 'one'}
    assert rest == [{'data': 'two'}]
