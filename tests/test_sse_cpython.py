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

    app = sse_app(events)

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


def sse_app(handler, path='/events'):
    """``/`` says hello; ``path`` is ``handler`` (with_sse)."""
    app = serverutil.index_app('hello')
    app.route(path)(with_sse(handler))
    return app


async def events_of(handler, path='/events'):
    """Serve ``handler`` (with_sse) and return the parsed events."""
    app = sse_app(handler, path)

    async def events(res):
        assert res.status_code == 200
        return await EventParser(res).rest()

    return await with_app(
        app, None, lambda server: stream_with(server, events, path)
    )


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


async def with_app(app, driver, script, probe=None):
    """Serve ``app`` with ``driver`` and return ``await script(server)``;
    ``probe.go`` is set (waiting handlers end) and the server stopped
    afterwards."""
    server = await start(app, driver)
    try:
        return await script(server)
    finally:
        if probe is not None:
            probe.go.set()
        await server.stop()


async def stream_with(server, script, path='/events'):
    """Stream GET ``path`` from ``server`` with httpx; return
    ``await script(res)``."""
    async with http_client(server) as client:
        async with client.stream('GET', path) as res:
            return await script(res)


async def all_events(res):
    return await EventParser(res).rest()


def settle(condition):
    """Poll ``condition`` for at most SETTLE_TIMEOUT seconds."""
    return serverutil.poll(condition, SETTLE_TIMEOUT)


async def after_leaving(driver, leave, count, script):
    """Serve make_app(probe) with ``driver``; return ``(probe, await
    script(server, probe, leave_now))`` where ``await leave_now()`` lets
    ``count`` clients leave the ``leave`` way (LEAVERS)."""
    probe = Probe()

    async def run(server):
        async def leave_now():
            await LEAVERS[leave](server, count)

        return await script(server, probe, leave_now)

    return probe, await with_app(make_app(probe), driver, run, probe)


# -- what the client sees --------------------------------------------------


@pytest.mark.parametrize('driver', DRIVERS)
async def test_response_head(driver):
    probe = Probe()
    probe.go.set()

    async def head_of(res):
        head = (res.status_code, res.http_version, dict(res.headers))
        await res.aread()
        return head

    head = await with_app(
        make_app(probe), driver, lambda server: stream_with(server, head_of)
    )
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

    async def events(req, sse):
        await sse.send('first')
        await asyncio.sleep(1.0)
        await sse.send('second')
        state['done'] = True

    app = sse_app(events)

    async def script(server):
        async with http_client(server) as client:
            start_time = time.monotonic()
            async with client.stream('GET', '/events') as res:
                parser = EventParser(res)
                first = await parser.next()
                first_time = time.monotonic() - start_time
                done_at_first = state['done']
                rest = await parser.rest()
                end_time = time.monotonic() - start_time
        return first, first_time, done_at_first, rest, end_time

    first, first_time, done_at_first, rest, end_time = await with_app(
        app, driver, script
    )
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

    async def script(res):
        parser = EventParser(res)
        first = await parser.next()
        comment = await parser.next()
        probe.go.set()
        return first, comment, await parser.rest()

    saved = SSE.keep_alive_interval
    SSE.keep_alive_interval = 0.2
    try:
        first, comment, rest = await with_app(
            make_app(probe), None, lambda server: stream_with(server, script)
        )
    finally:
        SSE.keep_alive_interval = saved
    assert first == {'data': 'one'}
    assert comment == {'comment': 'keep-alive'}
    assert rest == [{'data': 'two'}]


@pytest.mark.parametrize('driver', DRIVERS)
async def test_many_events_arrive_complete_and_in_order(driver):
    count = 2000

    async def send_many(req, sse):
        for i in range(count):
            await sse.send('%d %s' % (i, 'x' * 500))

    app = sse_app(send_many)

    events = await with_app(
        app, driver, lambda server: stream_with(server, all_events)
    )
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

    async def script(server):
        client = await serverutil.Client.open(server.port)
        try:
            await client.send(b'GET /events HTTP/1.1\r\nHost: x\r\n\r\n')
            stream = await client.read_response()
            await client.send(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
            return stream, await client.read_response()
        finally:
            await client.close()

    stream, res = await with_app(make_app(probe), driver, script)
    assert stream.body == b'data: one\n\ndata: two\n\n'
    assert stream.complete
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'hello'
    assert capsys.readouterr().err == ''


# -- an exception in the handler ---------------------------------------------


@pytest.mark.parametrize('driver', DRIVERS)
async def test_exception_is_printed_and_stream_cut(driver, capsys):
    async def events(req, sse):
        await sse.send('one')
        raise RuntimeError('sse boom')

    app = sse_app(events)

    async def first_then_cut(res):
        parser = EventParser(res)
        first = await parser.next()
        try:
            await parser.next()
        except httpx.RemoteProtocolError:
            return first, True
        return first, False

    async def script(server):
        first, cut = await stream_with(server, first_then_cut)
        return first, cut, await hello(server)

    with LogRecords() as log:
        first, cut, status = await with_app(app, driver, script)
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
    async def script(server, probe, leave_now):
        await leave_now()
        cancelled = await settle(lambda: probe.cancelled == 1)
        return cancelled, await settle(lambda: probe.finished == 1)

    _, (cancelled, finished) = await after_leaving(driver, leave, 1, script)
    assert cancelled, 'the handler was not cancelled'
    assert finished


@pytest.mark.parametrize('driver', DRIVERS)
async def test_half_closing_client_cancels_handler(driver):
    # Documented: a client that half-closes loses streamed responses.
    probe = Probe()

    async def script(server):
        sock = await raw_first_event(server)
        try:
            sock.shutdown(socket.SHUT_WR)
            return await settle(lambda: probe.cancelled == 1)
        finally:
            sock.close()

    cancelled = await with_app(make_app(probe), driver, script, probe)
    assert cancelled, 'the handler was not cancelled'


def new_tasks(baseline):
    return asyncio.all_tasks() - baseline


@pytest.mark.parametrize('driver', DRIVERS)
@pytest.mark.parametrize('leave', sorted(LEAVERS))
async def test_leaving_clients_leave_no_task(driver, leave):
    async def script(server, probe, leave_now):
        baseline = set(asyncio.all_tasks())
        await leave_now()
        settled = await settle(lambda: not new_tasks(baseline))
        return settled, new_tasks(baseline)

    probe, (settled, left) = await after_leaving(
        driver, leave, CLIENTS, script
    )
    assert settled, 'leaked tasks: %r' % describe(left)
    assert probe.started == CLIENTS
    assert probe.cancelled == CLIENTS


@pytest.mark.parametrize('driver', DRIVERS)
async def test_finished_streams_leave_no_task(driver):
    probe = Probe()
    probe.go.set()

    async def script(server):
        baseline = set(asyncio.all_tasks())
        async with http_client(server) as client:
            for _ in range(CLIENTS):
                async with client.stream('GET', '/events') as res:
                    events = await EventParser(res).rest()
                    assert events == [{'data': 'one'}, {'data': 'two'}]
        settled = await settle(lambda: not new_tasks(baseline))
        return settled, new_tasks(baseline)

    settled, left = await with_app(make_app(probe), driver, script)
    assert settled, 'leaked tasks: %r' % describe(left)
    assert probe.cancelled == 0


@needs_proc
@pytest.mark.parametrize('driver', DRIVERS)
@pytest.mark.parametrize('leave', sorted(LEAVERS))
async def test_leaving_clients_release_file_descriptors(driver, leave):
    async def script(server, probe, leave_now):
        baseline = fd_count()
        await leave_now()
        released = await settle(lambda: fd_count() <= baseline)
        return released, fd_count(), baseline

    _, (released, count, baseline) = await after_leaving(
        driver, leave, CLIENTS, script
    )
    assert released, 'open fds: %d, baseline %d' % (count, baseline)


@pytest.mark.parametrize('driver', DRIVERS)
@pytest.mark.parametrize('leave', sorted(LEAVERS))
async def test_leaving_clients_print_nothing(driver, leave, capsys):
    async def script(server, probe, leave_now):
        await leave_now()
        await settle(lambda: probe.finished == CLIENTS)
        assert await hello(server) == (200, 'hello')

    with LogRecords() as log:
        await after_leaving(driver, leave, CLIENTS, script)
        gc.collect()  # a lost task exception is logged when the task dies
    assert_nothing_printed(capsys, log)


@pytest.mark.parametrize('driver', DRIVERS)
@pytest.mark.parametrize('leave', sorted(LEAVERS))
async def test_server_keeps_serving_after_clients_leave(driver, leave):
    async def script(server, probe, leave_now):
        async def first_then_rest(res):
            parser = EventParser(res)
            first = await parser.next()
            probe.go.set()
            return first, await parser.rest()

        await leave_now()
        status = await hello(server)
        return status, await stream_with(server, first_then_rest)

    _, (status, (first, rest)) = await after_leaving(
        driver, leave, CLIENTS, script
    )
    assert status == (200, 'hello')
    assert first == {'data': 'one'}
    assert rest == [{'data': 'two'}]
