"""Tests of Server-Sent Events (microdot.sse) over real sockets and through
the test client, and of the core rule that a client disconnect during a
streamed response closes the body iterator.

Portable: they run under pytest and under ``tests/mpy_runner.py`` on
MicroPython. Each server test starts its own app on 127.0.0.1 (see
serverutil), talks raw HTTP to it and stops it in ``finally``. Handlers
that wait for the test wait at most ``WAIT_LIMIT`` seconds.
"""

import asyncio

import serverutil

from microdot.sse import SSE, sse_response, with_sse
from microdot.test_client import TestClient

IO_TIMEOUT = 5  # seconds for one read by the test
SETTLE_TIMEOUT = 5  # seconds for the server to notice a disconnect
WAIT_LIMIT = 10  # seconds a handler waits for the test at most
KEEP_ALIVE = 0.3  # SSE.keep_alive_interval in the keep-alive tests

SSE_HEADERS = {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'transfer-encoding': 'chunked',
}


# -- helpers ------------------------------------------------------------------


def sse_headers(extra, removed=()):
    """SSE_HEADERS with the headers of ``extra`` added and the names in
    ``removed`` left out."""
    headers = dict(SSE_HEADERS)
    for name in removed:
        del headers[name]
    headers.update(extra)
    return headers


def custom_app(*args, **kwargs):
    """An app whose ``/custom`` returns ``sse_response(req, sender('one'),
    *args, **kwargs)``."""
    app = serverutil.index_app('hello')

    @app.route('/custom')
    async def custom(req):
        return sse_response(req, sender('one'), *args, **kwargs)

    return app


def sse_app(handler, path='/events'):
    """Return an app with ``handler`` as a ``with_sse`` route at ``path``
    and ``/`` answering ``hello``."""
    app = serverutil.index_app('hello')
    app.route(path)(with_sse(handler))
    return app


def sender(*args, **kwargs):
    """Return an SSE handler that sends one event with these arguments."""

    async def handler(req, sse):
        await sse.send(*args, **kwargs)

    return handler


async def fetch(app, path='/events', version='1.1'):
    """GET ``path`` with ``Connection: close``; return the HTTPResponse."""
    server = await serverutil.start(app)
    try:
        return await server.request('GET', path, version=version)
    finally:
        await server.stop()


async def stream_of(handler):
    """Return the decoded event stream of ``handler``, checking that it is
    a 200 that ends with the last chunk."""
    res = await fetch(sse_app(handler))
    assert res.status_line == b'HTTP/1.1 200 OK', res.raw
    assert res.complete, res.raw
    return res.body


async def assert_stream(expected, *args, **kwargs):
    """A handler sending one event with these arguments streams exactly
    ``expected``."""
    body = await stream_of(sender(*args, **kwargs))
    assert body == expected, body


async def bounded(coro, timeout, what):
    """Await ``coro``; AssertionError saying ``what`` after ``timeout`` s."""
    try:
        return await asyncio.wait_for(coro, timeout)
    except asyncio.TimeoutError:
        raise AssertionError('%s within %s s' % (what, timeout))


def get_request(path='/events'):
    """A keep-alive GET request (the response may be an endless stream)."""
    return ('GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' % path).encode()


class EventReader:
    """Reads a chunked event stream on a ``serverutil.Client`` one event
    at a time, as the events arrive."""

    def __init__(self, client):
        self.client = client
        self.data = b''  # decoded body bytes not returned yet
        self.ended = False  # the last chunk arrived

    async def head(self, timeout=IO_TIMEOUT):
        """Read the response head; return it as an HTTPResponse."""
        raw = await bounded(
            self.client._read_until(b'\r\n\r\n'), timeout, 'no response head'
        )
        return serverutil.HTTPResponse(raw)

    async def _read_chunk(self):
        client = self.client
        line = await client._read_until(b'\r\n')
        size = serverutil._parse_chunk_size(line[:-2])
        assert size is not None, 'bad chunk size line %r' % line
        if size == 0:
            assert await client._read_until(b'\r\n') == b'\r\n'
            self.ended = True
            return
        data = await client._read_exactly(size + 2)
        assert data[-2:] == b'\r\n', 'bad chunk %r' % data
        self.data += data[:-2]

    async def _next_event(self):
        while b'\n\n' not in self.data:
            assert not self.ended, 'stream ended; left %r' % self.data
            await self._read_chunk()
        end = self.data.find(b'\n\n') + 2
        event, self.data = self.data[:end], self.data[end:]
        return event

    async def event(self, timeout=IO_TIMEOUT):
        """Return the next event (or comment), blank line included."""
        return await bounded(self._next_event(), timeout, 'no event')

    async def _rest(self):
        while not self.ended:
            await self._read_chunk()
        data, self.data = self.data, b''
        return data

    async def end(self, timeout=IO_TIMEOUT):
        """Read up to the last chunk; return the data not returned yet."""
        return await bounded(self._rest(), timeout, 'no last chunk')


async def with_stream(app, script, path='/events'):
    """Start ``app``, open a connection, send a keep-alive GET ``path`` and
    return ``await script(server, client, reader)``; the connection is
    closed and the server stopped afterwards."""
    server = await serverutil.start(app)
    try:
        client = await serverutil.Client.open(server.port)
        try:
            await client.send(get_request(path))
            return await script(server, client, EventReader(client))
        finally:
            await client.close()
    finally:
        await server.stop()


async def get_hello(server):
    """A request on a new connection: the server still serves."""
    res = await server.request('GET', '/')
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'hello'


async def with_keep_alive(interval, coro):
    """Await ``coro`` with ``SSE.keep_alive_interval`` set to
    ``interval``; restore the previous value in ``finally``."""
    saved = SSE.keep_alive_interval
    SSE.keep_alive_interval = interval
    try:
        return await coro
    finally:
        SSE.keep_alive_interval = saved


class Probe:
    """What a handler tells the test: how far it got."""

    def __init__(self):
        self.go = asyncio.Event()  # set by the test to let the handler on
        self.sent = 0
        self.cancelled = False  # the handler saw CancelledError
        self.finished = False  # the handler's finally ran
        self.errors = []  # names of the exceptions send() raised


async def watched(probe, coro):
    """Await ``coro``, recording in ``probe`` its cancellation and its
    end."""
    try:
        await coro
    except asyncio.CancelledError:
        probe.cancelled = True
        raise
    finally:
        probe.finished = True


def waiting_handler(probe, before=1):
    """An SSE handler that sends ``before`` events, then waits for
    ``probe.go`` (at most WAIT_LIMIT s) and sends 'two'; it records its
    cancellation in ``probe``."""

    async def send_and_wait(sse):
        for _ in range(before):
            await sse.send('one')
            probe.sent += 1
        await asyncio.wait_for(probe.go.wait(), WAIT_LIMIT)
        await sse.send('two')
        probe.sent += 1

    async def handler(req, sse):
        await watched(probe, send_and_wait(sse))

    return handler


# -- the response head --------------------------------------------------------


async def test_response_head():
    async def script(server, client, reader):
        head = await reader.head()
        await reader.event()
        return head

    head = await with_stream(sse_app(sender('one')), script)
    assert head.status_line == b'HTTP/1.1 200 OK'
    assert head.headers == SSE_HEADERS


async def test_head_arrives_before_the_first_event():
    probe = Probe()

    async def script(server, client, reader):
        head = await reader.head()  # the handler has sent nothing yet
        sent = probe.sent
        probe.go.set()
        return head, sent, await reader.event()

    app = sse_app(waiting_handler(probe, before=0))
    head, sent, event = await with_stream(app, script)
    assert head.status_code == 200
    assert sent == 0
    assert event == b'data: two\n\n'


async def test_connection_close_request_gets_close_header():
    res = await fetch(sse_app(sender('one')))
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers == sse_headers({'connection': 'close'})
    assert res.body == b'data: one\n\n'
    assert res.complete


async def test_http10_client_gets_a_close_delimited_stream():
    async def handler(req, sse):
        await sse.send('one')
        await asyncio.sleep(0.05)
        await sse.send('two')

    res = await fetch(sse_app(handler), version='1.0')
    assert res.status_line == b'HTTP/1.0 200 OK'
    assert res.headers == sse_headers(
        {'connection': 'close'}, ['transfer-encoding']
    )
    assert res.raw_body == b'data: one\n\ndata: two\n\n'


async def test_sse_response_keyword_arguments_reach_the_response():
    app = custom_app(status_code=202, headers={'X-A': 'b'})
    res = await fetch(app, '/custom')
    assert res.status_line == b'HTTP/1.1 202 Accepted'
    assert res.headers == sse_headers({'x-a': 'b', 'connection': 'close'})
    assert res.body == b'data: one\n\n'
    assert res.complete


async def test_sse_response_positional_arguments_reach_the_response():
    res = await fetch(custom_app(202, {'X-A': 'b'}), '/custom')
    assert res.status_line == b'HTTP/1.1 202 Accepted'
    assert res.headers['x-a'] == 'b'
    assert res.headers['content-type'] == 'text/event-stream'
    assert res.headers['cache-control'] == 'no-cache'
    assert res.body == b'data: one\n\n'


async def test_with_sse_passes_url_arguments():
    async def handler(req, sse, n):
        await sse.send(n * 2)

    res = await fetch(sse_app(handler, '/events/<int:n>'), '/events/21')
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'data: 42\n\n'


# -- event bytes --------------------------------------------------------------


async def test_str_data():
    await assert_stream(b'data: hello\n\n', 'hello')


async def test_non_ascii_str_data_is_utf8():
    await assert_stream(
        b'data: caf\xc3\xa9 \xe2\x82\xac\n\n', 'caf\u00e9 \u20ac'
    )


async def test_bytes_data_sent_as_is():
    await assert_stream(
        b'data: raw \xe2\x82\xac bytes\n\n', b'raw \xe2\x82\xac bytes'
    )


async def test_dict_data_is_compact_json():
    await assert_stream(b'data: {"a":[1,"x"]}\n\n', {'a': [1, 'x']})


async def test_non_ascii_json_is_utf8_as_in_core_json_bodies():
    await assert_stream(b'data: {"a":"caf\xc3\xa9"}\n\n', {'a': 'caf\u00e9'})


async def test_list_data_is_compact_json():
    await assert_stream(b'data: [1,2,"three",null]\n\n', [1, 2, 'three', None])


async def test_int_data_is_str():
    await assert_stream(b'data: 42\n\n', 42)


async def test_other_data_is_str():
    class Thing:
        def __str__(self):
            return 'a thing'

    await assert_stream(b'data: a thing\n\n', Thing())


async def test_event_field():
    await assert_stream(
        b'event: greeting\ndata: hello\n\n', 'hello', event='greeting'
    )


async def test_id_field():
    await assert_stream(b'id: 17\ndata: hello\n\n', 'hello', event_id='17')


async def test_retry_field():
    await assert_stream(b'retry: 5000\ndata: hello\n\n', 'hello', retry=5000)


async def test_all_fields_in_order():
    await assert_stream(
        b'event: update\nid: 7\nretry: 250\ndata: {"n":1}\n\n',
        {'n': 1},
        event='update',
        event_id='7',
        retry=250,
    )


async def test_several_events_in_order():
    async def handler(req, sse):
        await sse.send('one')
        await sse.send('two', event='second')
        await sse.send(3)

    body = await stream_of(handler)
    assert body == b'data: one\n\nevent: second\ndata: two\n\ndata: 3\n\n'


# -- multi-line data ----------------------------------------------------------


async def test_lf_splits_data_lines():
    await assert_stream(
        b'data: one\ndata: two\ndata: three\n\n', 'one\ntwo\nthree'
    )


async def test_crlf_splits_data_lines():
    await assert_stream(b'data: one\ndata: two\n\n', 'one\r\ntwo')


async def test_cr_splits_data_lines():
    await assert_stream(b'data: one\ndata: two\n\n', 'one\rtwo')


async def test_mixed_line_ends_split_data_lines():
    await assert_stream(
        b'data: a\ndata: b\ndata: c\ndata: d\n\n', 'a\rb\nc\r\nd'
    )


async def test_bytes_data_lines_are_split():
    await assert_stream(
        b'data: one\ndata: two\ndata: three\ndata: four\n\n',
        b'one\r\ntwo\nthree\rfour',
    )


async def test_blank_line_in_data_does_not_end_the_event():
    await assert_stream(b'data: one\ndata: \ndata: two\n\n', 'one\n\ntwo')


async def test_field_lines_in_data_stay_data():
    await assert_stream(
        b'data: one\ndata: event: evil\ndata: id: 666\n\n',
        'one\nevent: evil\r\nid: 666',
    )


async def test_multi_line_json_is_one_line():
    await assert_stream(b'data: {"text":"a\\nb"}\n\n', {'text': 'a\nb'})


# -- CR or LF in event and id: ValueError, nothing sent -----------------------


async def refused(**fields):
    """Send an event with ``fields``, then 'after'; return the names of
    the exceptions the first send raised and the stream."""
    errors = []

    async def handler(req, sse):
        try:
            await sse.send('evil', **fields)
        except Exception as exc:
            errors.append(type(exc).__name__)
        await sse.send('after')

    return errors, await stream_of(handler)


async def assert_refused(**fields):
    """The send with ``fields`` raised ValueError and sent nothing."""
    errors, body = await refused(**fields)
    assert errors == ['ValueError']
    assert body == b'data: after\n\n'


async def test_lf_in_event_is_refused():
    await assert_refused(event='x\ndata: injected')


async def test_cr_in_event_is_refused():
    await assert_refused(event='x\rid: 666')


async def test_crlf_in_event_is_refused():
    await assert_refused(event='x\r\n\r\ndata: injected')


async def test_lf_in_id_is_refused():
    await assert_refused(event_id='1\ndata: injected')


async def test_cr_in_id_is_refused():
    await assert_refused(event_id='1\revent: evil')


async def test_refused_event_sends_none_of_its_fields():
    await assert_refused(event='ok', event_id='1\n', retry=100)


# -- flushing and the end of the stream ---------------------------------------


async def test_each_event_is_flushed_as_sent():
    probe = Probe()

    async def script(server, client, reader):
        await reader.head()
        first = await reader.event()  # the handler waits for go
        sent = probe.sent
        probe.go.set()
        return first, sent, await reader.event()

    first, sent, second = await with_stream(sse_app(waiting_handler(probe)),
                                            script)  # fmt: skip
    assert first == b'data: one\n\n'
    assert sent == 1
    assert second == b'data: two\n\n'


async def test_stream_ends_with_last_chunk_when_handler_returns():
    probe = Probe()

    async def script(server, client, reader):
        await reader.head()
        await reader.event()
        probe.go.set()
        return await reader.end()

    rest = await with_stream(sse_app(waiting_handler(probe)), script)
    assert rest == b'data: two\n\n'
    assert probe.finished and not probe.cancelled


async def test_connection_serves_next_request_after_stream():
    async def script(server, client, reader):
        await reader.head()
        assert await reader.end() == b'data: one\n\n'
        await client.send(get_request('/'))
        return await client.read_response()

    res = await with_stream(sse_app(sender('one')), script)
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'hello'


# -- keep-alive comments ------------------------------------------------------


def test_keep_alive_interval_default():
    assert SSE.keep_alive_interval == 15


async def test_keep_alive_comment_after_interval():
    probe = Probe()

    async def script(server, client, reader):
        await reader.head()
        first = await reader.event()
        deadline = serverutil.Deadline(0)
        comment = await reader.event()
        waited = deadline.elapsed()
        probe.go.set()
        return first, comment, waited, await reader.end()

    app = sse_app(waiting_handler(probe))
    first, comment, waited, rest = await with_keep_alive(
        KEEP_ALIVE, with_stream(app, script)
    )
    assert first == b'data: one\n\n'
    assert comment == b': keep-alive\n\n'
    assert waited >= KEEP_ALIVE / 2, waited
    assert rest == b'data: two\n\n'


async def test_keep_alive_comment_before_first_event():
    probe = Probe()

    async def script(server, client, reader):
        await reader.head()
        comment = await reader.event()
        probe.go.set()
        return comment, await reader.end()

    app = sse_app(waiting_handler(probe, before=0))
    comment, rest = await with_keep_alive(KEEP_ALIVE, with_stream(app, script))
    assert comment == b': keep-alive\n\n'
    assert rest == b'data: two\n\n'


async def test_no_keep_alive_while_events_flow():
    async def handler(req, sse):
        for i in range(6):
            await sse.send(i)
            await asyncio.sleep(KEEP_ALIVE / 3)

    body = await with_keep_alive(KEEP_ALIVE, stream_of(handler))
    assert body == b''.join(b'data: %d\n\n' % i for i in range(6))


async def test_keep_alive_none_disables_comments():
    async def handler(req, sse):
        await asyncio.sleep(0.5)
        await sse.send('one')

    body = await with_keep_alive(None, stream_of(handler))
    assert body == b'data: one\n\n'


# -- errors in the handler ----------------------------------------------------


def failing_handler(probe):
    async def handler(req, sse):
        await sse.send('one')
        probe.sent += 1
        raise RuntimeError('sse handler failed')

    return handler


async def test_exception_in_handler_closes_the_connection():
    probe = Probe()

    async def script(server, client, reader):
        await reader.head()
        event = await reader.event()
        closed = await client.is_closed(IO_TIMEOUT)
        return event, closed, reader.ended, client.buffer

    app = sse_app(failing_handler(probe))
    event, closed, ended, left = await with_stream(app, script)
    assert event == b'data: one\n\n'
    assert closed
    assert not ended  # no last chunk: the client sees a cut stream
    assert left == b''


async def test_server_keeps_serving_after_handler_exception():
    probe = Probe()

    async def script(server, client, reader):
        await reader.head()
        await reader.event()
        assert await client.is_closed(IO_TIMEOUT)
        await get_hello(server)

    await with_stream(sse_app(failing_handler(probe)), script)
    assert probe.sent == 1


# -- client disconnects -------------------------------------------------------


async def disconnect_after(reader_script, handler_factory):
    """Run a stream, let ``reader_script(client, reader)`` read what it
    wants, close the connection and poll for the handler's cleanup.
    Return ``(probe, cancelled, finished)``, then check the server still
    serves."""
    probe = Probe()

    async def script(server, client, reader):
        await reader_script(client, reader)
        await client.close()
        cancelled = await serverutil.poll(lambda: probe.cancelled,
                                          SETTLE_TIMEOUT)  # fmt: skip
        finished = await serverutil.poll(lambda: probe.finished,
                                         SETTLE_TIMEOUT)  # fmt: skip
        await get_hello(server)
        return cancelled, finished

    cancelled, finished = await with_stream(
        sse_app(handler_factory(probe)), script
    )
    return probe, cancelled, finished


async def read_first_event(client, reader):
    await reader.head()
    assert await reader.event() == b'data: one\n\n'


async def read_head_only(client, reader):
    await reader.head()


def sending_handler(probe):
    """Sends an event every 20 ms for at most WAIT_LIMIT seconds."""

    async def send_all(sse):
        await sse.send('one')
        for _ in range(WAIT_LIMIT * 50):
            await asyncio.sleep(0.02)
            await sse.send('more')
            probe.sent += 1

    async def handler(req, sse):
        await watched(probe, send_all(sse))

    return handler


async def test_disconnect_while_waiting_cancels_handler():
    probe, cancelled, finished = await disconnect_after(
        read_first_event, waiting_handler
    )
    assert cancelled, 'the handler was not cancelled'
    assert finished
    assert probe.sent == 1


async def test_disconnect_before_first_event_cancels_handler():
    probe, cancelled, finished = await disconnect_after(
        read_head_only, lambda probe: waiting_handler(probe, before=0)
    )
    assert cancelled, 'the handler was not cancelled'
    assert finished
    assert probe.sent == 0


async def test_disconnect_while_sending_cancels_handler():
    probe, cancelled, finished = await disconnect_after(
        read_first_event, sending_handler
    )
    assert cancelled, 'the handler was not cancelled'
    assert finished
    assert probe.sent < WAIT_LIMIT * 50


async def test_disconnect_during_keep_alive_cancels_handler():
    async def read_keep_alive(client, reader):
        await read_first_event(client, reader)
        assert await reader.event() == b': keep-alive\n\n'

    probe, cancelled, finished = await with_keep_alive(
        KEEP_ALIVE, disconnect_after(read_keep_alive, waiting_handler)
    )
    assert cancelled, 'the handler was not cancelled'
    assert finished


async def test_send_in_cancellation_cleanup_does_not_hang():
    def handler_factory(probe):
        async def handler(req, sse):
            try:
                await sse.send('one')
                await asyncio.sleep(WAIT_LIMIT)
            except asyncio.CancelledError:
                probe.cancelled = True
                try:  # the client is gone: this must not wait forever
                    await sse.send('bye')
                except Exception as exc:
                    probe.errors.append(type(exc).__name__)
                raise
            finally:
                probe.finished = True

        return handler

    probe, cancelled, finished = await disconnect_after(
        read_first_event, handler_factory
    )
    assert cancelled, 'the handler was not cancelled'
    assert finished, 'the cleanup hangs in send()'


# -- core: a disconnect closes a streamed body --------------------------------


class BodyProbe:
    def __init__(self):
        self.produced = 0
        self.cancelled = False  # a pending __anext__/read was cancelled
        self.closed = False  # aclose()/close() was called
        self.exhausted = False  # the body ran to its end


async def wait_for_more(probe):
    """What a slow body does after its first chunk: wait WAIT_LIMIT
    seconds (recording a cancellation), then mark the body exhausted."""
    try:
        await asyncio.sleep(WAIT_LIMIT)
    except asyncio.CancelledError:
        probe.cancelled = True
        raise
    probe.exhausted = True


class SlowAsyncBody:
    """An async iterator (MPY: no async generators): one chunk, then it
    waits WAIT_LIMIT seconds before the next."""

    def __init__(self, probe):
        self.probe = probe

    def __aiter__(self):
        return self

    async def __anext__(self):
        probe = self.probe
        if probe.produced:
            await wait_for_more(probe)
            raise StopAsyncIteration
        probe.produced += 1
        return b'first chunk'

    async def aclose(self):
        self.probe.closed = True


class SlowFile:
    """A file-like body with an async ``read``: one chunk, then it waits
    WAIT_LIMIT seconds."""

    def __init__(self, probe):
        self.probe = probe

    async def read(self, n=-1):
        probe = self.probe
        if probe.produced:
            await wait_for_more(probe)
            return b''
        probe.produced += 1
        return b'first chunk'

    def close(self):
        self.probe.closed = True


def endless_generator(probe):
    """A sync generator of 1 KiB chunks (20 MiB at most)."""
    try:
        for _ in range(20 * 1024):
            probe.produced += 1
            yield b'x' * 1024
        probe.exhausted = True
    except GeneratorExit:
        probe.cancelled = True
        raise
    finally:
        probe.closed = True


async def disconnect_from_body(make_body):
    """Serve ``make_body(probe)`` at /body, read the head and the first
    chunk, close the connection, poll until the body is closed; return
    ``(probe, closed)`` after checking the server still serves."""
    probe = BodyProbe()
    app = serverutil.index_app('hello')

    @app.route('/body')
    async def body(req):
        return make_body(probe)

    async def script(server, client, reader):
        head = await reader.head()
        assert head.headers['transfer-encoding'] == 'chunked'
        await bounded(reader._read_chunk(), IO_TIMEOUT, 'no chunk')
        await client.close()
        closed = await serverutil.poll(lambda: probe.closed, SETTLE_TIMEOUT)
        await get_hello(server)
        return closed

    closed = await with_stream(app, script, '/body')
    return probe, closed


async def test_disconnect_closes_waiting_async_iterator_body():
    probe, closed = await disconnect_from_body(SlowAsyncBody)
    assert closed, 'aclose() was not called'
    assert not probe.exhausted


async def test_disconnect_cancels_pending_anext_of_body():
    probe, closed = await disconnect_from_body(SlowAsyncBody)
    assert closed
    assert probe.cancelled, 'the pending __anext__() was not cancelled'


async def test_disconnect_closes_waiting_file_body():
    probe, closed = await disconnect_from_body(SlowFile)
    assert closed, 'close() was not called'
    assert probe.cancelled
    assert not probe.exhausted


async def test_disconnect_closes_generator_body():
    probe, closed = await disconnect_from_body(endless_generator)
    assert closed, 'the generator was not closed'
    assert probe.cancelled  # GeneratorExit: closed before its end
    assert not probe.exhausted


class TwoChunks:
    """An async iterator: two chunks, a short sleep before each."""

    def __init__(self):
        self.chunks = [b'one,', b'two']

    def __aiter__(self):
        return self

    async def __anext__(self):
        if not self.chunks:
            raise StopAsyncIteration
        await asyncio.sleep(0.02)
        return self.chunks.pop(0)


async def test_connection_serves_next_request_after_streamed_body():
    app = serverutil.index_app('hello')

    @app.route('/body')
    async def body(req):
        return TwoChunks()

    async def script(server, client, reader):
        head = await reader.head()
        assert head.headers['transfer-encoding'] == 'chunked'
        assert await reader.end() == b'one,two'
        await client.send(get_request('/'))
        return await client.read_response()

    res = await with_stream(app, script, '/body')
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'hello'


# -- test client --------------------------------------------------------------


async def test_test_client_returns_whole_event_stream():
    async def handler(req, sse):
        await sse.send('hello', event='greeting')
        await sse.send({'a': 1}, event_id='2')
        await sse.send('x\ny', retry=10)

    res = await TestClient(sse_app(handler)).get('/events')
    assert res.status_code == 200
    assert res.headers['Content-Type'] == 'text/event-stream'
    assert res.headers['Cache-Control'] == 'no-cache'
    expected = (
        b'event: greeting\ndata: hello\n\n'
        b'id: 2\ndata: {"a":1}\n\n'
        b'retry: 10\ndata: x\ndata: y\n\n'
    )
    assert res.body == expected
    assert res.text == expected.decode()
    assert res.json is None


async def test_test_client_waits_for_handler_to_end():
    async def handler(req, sse):
        for i in range(3):
            await asyncio.sleep(0.05)
            await sse.send(i)

    res = await bounded(
        TestClient(sse_app(handler)).get('/events'), IO_TIMEOUT, 'no response'
    )
    assert res.body == b'data: 0\n\ndata: 1\n\ndata: 2\n\n'


async def test_test_client_empty_stream():
    async def handler(req, sse):
        pass

    res = await TestClient(sse_app(handler)).get('/events')
    assert res.status_code == 200
    assert res.body == b''
    assert res.text == ''


async def test_test_client_sse_response_arguments():
    app = custom_app(status_code=201, headers={'X-A': 'b'})
    res = await TestClient(app).get('/custom')
    assert res.status_code == 201
    assert res.headers['X-A'] == 'b'
    assert res.headers['Content-Type'] == 'text/event-stream'
    assert res.body == b'data: one\n\n'


async def test_test_client_refused_event_sends_nothing():
    errors = []

    async def handler(req, sse):
        try:
            await sse.send('evil', event='a\nb')
        except ValueError:
            errors.append('ValueError')
        await sse.send('after')

    res = await TestClient(sse_app(handler)).get('/events')
    assert errors == ['ValueError']
    assert res.body == b'data: after\n\n'
