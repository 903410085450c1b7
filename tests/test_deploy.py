# runtime: cpython
"""End-to-end checks of ``deploy_app`` on every deployment target: the
built-in server, uvicorn and hypercorn (``microdot.asgi``) and gunicorn
with three workers (``microdot.wsgi``), each a real child process on
127.0.0.1 (see ``deployutil``).

The ``server`` fixture starts each target once for the module and stops
it with SIGTERM at the end (a target that must be killed, or exits with
another code than 0, fails there). Lifespan and ``shutdown()`` checks
start servers of their own. Clients: httpx (streamed reads with arrival
times) and the ``websockets`` library.

Do not import ``deploy_app`` here: it lowers the ``Request`` limits of the
process that imports it. Its constants are repeated below.
"""

import time
import uuid

import httpx
import pytest
from deployutil import (
    ASGI_TARGETS,
    TARGETS,
    DeployServer,
    clean_exit_code,
    wait_until,
)
from websockets.exceptions import ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect

IO_TIMEOUT = 5  # seconds for one request or WebSocket operation
STATE_TIMEOUT = 5  # seconds for the app to record what a client did
EXIT_TIMEOUT = 10  # seconds for a server to exit after /shutdown

# The values of deploy_app.
MAX_CONTENT_LENGTH = 4096
MAX_BODY_LENGTH = 512
STREAM_CHUNKS = [b'chunk 0\n', b'chunk 1\n', b'chunk 2\n', b'chunk 3\n']
STREAM_DELAY = 0.3
SSE_DELAY = 0.25
SSE_BODY = b'data: one\n\ndata: {"n":2}\n\nevent: end\nid: 3\ndata: three\n\n'
BIG_BODY = bytes(range(256)) * 400

TEXT_TYPE = 'text/plain; charset=UTF-8'


# -- fixtures and helpers -----------------------------------------------------


@pytest.fixture(scope='module', params=TARGETS)
def server(request, tmp_path_factory):
    """``deploy_app`` served by one target for the whole module. The last
    test of the module stops it; if that test did not run, the stop is
    checked here."""
    target = request.param
    srv = DeployServer(target, tmp_path_factory.mktemp(target))
    srv.start()
    try:
        yield srv
        if srv.running():
            assert_stops_cleanly(srv)
    finally:
        srv.close()


def assert_stops_cleanly(server):
    """SIGTERM stops ``server`` in time (``stop()`` raises if it had to be
    killed), with its clean exit code and no traceback printed."""
    code = server.stop()
    assert code == clean_exit_code(server.target), server.output_tail()
    assert 'Traceback' not in server.output(), server.output_tail()


def client(server, **kwargs):
    return httpx.Client(base_url=server.base_url, timeout=IO_TIMEOUT,
                        **kwargs)  # fmt: skip


def request(server, method, path, **kwargs):
    """One request on a connection of its own."""
    with client(server) as c:
        return c.request(method, path, **kwargs)


def only(server, targets):
    if server.target not in targets:
        pytest.skip('only for %s' % ', '.join(targets))


def timed_reads(response, start):
    """Read a streamed ``response`` to its end; return the list of
    ``(seconds since start, bytes)`` of every read."""
    reads = []
    for data in response.iter_raw():
        reads.append((time.monotonic() - start, data))
    return reads


def arrival_times(reads, pieces):
    """Return the time at which the last byte of each of ``pieces``
    (consecutive parts of the body) arrived."""
    times = []
    received = 0
    end = 0
    reads = list(reads)
    for piece in pieces:
        end += len(piece)
        while received < end:
            elapsed, data = reads.pop(0)
            received += len(data)
        times.append(elapsed)
    return times


def ws_connect(server, path):
    return connect(server.ws_url + path, open_timeout=IO_TIMEOUT,
                   close_timeout=IO_TIMEOUT)  # fmt: skip


# -- routing ------------------------------------------------------------------


@pytest.mark.parametrize(
    'method, path, status, headers, content',
    [
        pytest.param('GET', '/text', 200,
                     {'content-type': TEXT_TYPE, 'content-length': '13'},
                     b'Hello, World!', id='text'),
        pytest.param('HEAD', '/text', 200,
                     {'content-length': '13', 'content-type': TEXT_TYPE},
                     b'', id='head_has_get_headers_and_no_body'),
        pytest.param('GET', '/missing', 404, {}, b'Not Found',
                     id='not_found'),
        pytest.param('POST', '/text', 405, {'allow': 'GET, HEAD, OPTIONS'},
                     b'Method Not Allowed', id='method_not_allowed'),
        pytest.param('OPTIONS', '/text', 200,
                     {'allow': 'GET, HEAD, OPTIONS'}, b'',
                     id='automatic_options'),
        pytest.param('GET', '/sync', 200, {}, b'sync handler',
                     id='sync_handler'),
        pytest.param('GET', '/big', 200, {'content-length': '102400'},
                     BIG_BODY, id='large_response_body'),
    ],
)  # fmt: skip
def test_response(server, method, path, status, headers, content):
    res = request(server, method, path)
    assert res.status_code == status
    for name, value in headers.items():
        assert res.headers[name] == value
    assert res.content == content


def test_percent_encoded_path_and_query(server):
    res = request(server, 'GET', '/path/caf%C3%A9/a%2Fb%20c+d?x=1&x=2&y=a+b')
    assert res.status_code == 200
    assert res.json() == {
        'path': '/path/café/a/b c+d',
        'rest': 'café/a/b c+d',
        'query_string': 'x=1&x=2&y=a+b',
        'args': {'x': ['1', '2'], 'y': ['a b']},
    }


def test_request_carries_adapter_data(server):
    expected = {
        'builtin': {'asgi_scope': None, 'environ': None},
        'uvicorn': {'asgi_scope': 'http', 'environ': None},
        'hypercorn': {'asgi_scope': 'http', 'environ': None},
        'gunicorn': {'asgi_scope': None, 'environ': 'GET'},
    }[server.target]
    expected.update(client='127.0.0.1', scheme='http')
    res = request(server, 'GET', '/adapter')
    assert res.json() == expected


# -- request bodies -----------------------------------------------------------


def test_json_echo(server):
    res = request(server, 'POST', '/json', json={'a': [1, 'é'], 'b': None})
    assert res.status_code == 200
    assert res.headers['content-type'] == 'application/json'
    assert res.content == '{"echo":{"a":[1,"é"],"b":null}}'.encode()


def test_urlencoded_form(server):
    data = {'name': 'a b&c=é', 'x': ['1', '2']}
    res = request(server, 'POST', '/form', data=data)
    assert res.status_code == 200
    assert res.json() == {'name': ['a b&c=é'], 'x': ['1', '2']}


def test_small_body_is_in_request_body(server):
    body = b'0123456789' * 10
    res = request(server, 'POST', '/upload', content=body)
    assert res.status_code == 200
    assert res.headers['x-body-length'] == '100'
    assert res.content == body


def test_large_body_is_read_from_request_stream(server):
    body = bytes(range(256)) * 12  # 3072 bytes, over max_body_length
    res = request(server, 'POST', '/upload', content=body)
    assert res.status_code == 200
    assert res.headers['x-body-length'] == '0'
    assert res.content == body


def test_body_at_max_content_length_is_accepted(server):
    body = b'x' * MAX_CONTENT_LENGTH
    res = request(server, 'POST', '/upload', content=body)
    assert res.status_code == 200
    assert res.content == body


def test_body_over_max_content_length_is_413(server):
    res = request(server, 'POST', '/upload',
                  content=b'x' * (MAX_CONTENT_LENGTH + 1))  # fmt: skip
    assert res.status_code == 413
    assert res.content == b'Content Too Large'


def test_small_chunked_body_is_in_request_body(server):
    parts = [b'a' * 40, b'b' * 60]
    res = request(server, 'POST', '/upload', content=iter(parts))
    assert res.status_code == 200
    assert res.headers['x-body-length'] == '100'
    assert res.content == b''.join(parts)


def test_large_chunked_body_is_read_from_request_stream(server):
    parts = [bytes([i]) * 1000 for i in range(3)]
    res = request(server, 'POST', '/upload', content=iter(parts))
    assert res.status_code == 200
    assert res.headers['x-body-length'] == '0'
    assert res.content == b''.join(parts)


# -- cookies and sessions -----------------------------------------------------


def test_set_cookies_are_separate_header_lines(server):
    res = request(server, 'GET', '/cookies/set')
    assert res.status_code == 200
    assert sorted(res.headers.get_list('set-cookie')) == [
        'a=1',
        'b=two; Path=/; HttpOnly',
    ]


def test_cookie_header_is_parsed(server):
    res = request(server, 'GET', '/cookies/read',
                  headers={'Cookie': 'a=1; b=two'})  # fmt: skip
    assert res.json() == {'a': '1', 'b': 'two'}


def test_cookies_set_are_sent_back(server):
    with client(server) as c:
        c.get('/cookies/set')
        res = c.get('/cookies/read')
    assert res.json() == {'a': '1', 'b': 'two'}


def test_session_counter_increments_exactly(server):
    counts = []
    with client(server) as c:
        for _ in range(30):
            counts.append(c.get('/session').json()['count'])
    assert counts == list(range(1, 31))


def test_session_cookie_is_honoured_by_every_worker(server):
    only(server, ['gunicorn'])
    counts, pids = [], set()
    with client(server, headers={'Connection': 'close'}) as c:
        for _ in range(100):  # until all the workers have answered
            data = c.get('/session').json()
            counts.append(data['count'])
            pids.add(data['pid'])
            if len(pids) == 3 and len(counts) >= 30:
                break
    assert counts == list(range(1, len(counts) + 1))
    assert len(pids) >= 2, pids


# -- streaming ----------------------------------------------------------------


def test_streamed_response_bytes(server):
    res = request(server, 'GET', '/stream')
    assert res.status_code == 200
    assert res.headers['transfer-encoding'] == 'chunked'
    assert 'content-length' not in res.headers
    assert res.content == b''.join(STREAM_CHUNKS)


def test_streamed_chunks_arrive_as_produced(server):
    with client(server) as c:
        start = time.monotonic()
        with c.stream('GET', '/stream') as res:
            reads = timed_reads(res, start)
    times = arrival_times(reads, STREAM_CHUNKS)
    # The last chunk is produced (len - 1) delays after the request.
    last_produced = (len(STREAM_CHUNKS) - 1) * STREAM_DELAY
    assert b''.join(data for _, data in reads) == b''.join(STREAM_CHUNKS)
    assert times[0] < last_produced, times
    for earlier, later in zip(times, times[1:]):
        assert later - earlier > STREAM_DELAY / 2, times


def test_sse_bytes(server):
    res = request(server, 'GET', '/sse')
    assert res.status_code == 200
    assert res.headers['content-type'] == 'text/event-stream'
    assert res.headers['cache-control'] == 'no-cache'
    assert res.content == SSE_BODY


def test_sse_events_arrive_one_by_one(server):
    events = [event + b'\n\n' for event in SSE_BODY.split(b'\n\n')[:-1]]
    with client(server) as c:
        start = time.monotonic()
        with c.stream('GET', '/sse') as res:
            reads = timed_reads(res, start)
    times = arrival_times(reads, events)
    # The last event is sent (len - 1) delays after the request.
    last_sent = (len(events) - 1) * SSE_DELAY
    assert b''.join(data for _, data in reads) == SSE_BODY
    assert times[0] < last_sent, times
    for earlier, later in zip(times, times[1:]):
        assert later - earlier > SSE_DELAY / 2, times


def test_client_leaving_cancels_event_stream(server):
    stream_id = uuid.uuid4().hex
    name = 'sse-' + stream_id
    with client(server) as c:
        with c.stream('GET', '/sse-forever?id=' + stream_id) as res:
            received = b''
            for data in res.iter_raw():
                received += data
                if received.count(b'\n\n') >= 2:
                    break
    assert received.startswith(b'data: 0\n\ndata: 1\n\n')
    outcome = wait_until(lambda: server.read_state(name) != 'running',
                         STATE_TIMEOUT)  # fmt: skip
    assert outcome
    assert server.read_state(name) == 'cancelled'


# -- WebSocket ----------------------------------------------------------------


def test_websocket_echo(server):
    with ws_connect(server, '/ws') as ws:
        ws.send('hello')
        text = ws.recv(IO_TIMEOUT)
        ws.send('héllo ✓')
        unicode = ws.recv(IO_TIMEOUT)
        ws.send(b'\x00\x01\xff')
        binary = ws.recv(IO_TIMEOUT)
    assert text == 'hello'
    assert unicode == 'héllo ✓'
    assert binary == b'\x00\x01\xff'


def test_websocket_closed_by_the_server(server):
    with ws_connect(server, '/ws-bye') as ws:
        message = ws.recv(IO_TIMEOUT)
        try:
            ws.recv(IO_TIMEOUT)
        except ConnectionClosedOK as exc:
            close = exc.rcvd
        else:
            raise AssertionError('the connection stayed open')
    assert message == 'bye'
    assert close.code == 1000


def test_websocket_refused_by_the_route(server):
    # ASGI servers answer 403 to a websocket.close before the accept.
    expected = 403 if server.target in ASGI_TARGETS else 401
    try:
        ws_connect(server, '/ws-refuse').close()
    except InvalidStatus as exc:
        status = exc.response.status_code
    else:
        raise AssertionError('the upgrade was accepted')
    assert status == expected


# -- lifespan -----------------------------------------------------------------


def test_lifespan_startup_ran_before_requests(server):
    expected = ['lifespan'] if server.target in ASGI_TARGETS else []
    assert request(server, 'GET', '/lifespan').json() == {'startup': expected}


# Last of the module for each target: it stops the shared server.
def test_sigterm_stops_the_server_cleanly(server):
    assert_stops_cleanly(server)


# -- servers of their own -----------------------------------------------------


@pytest.mark.parametrize('target', ASGI_TARGETS)
def test_lifespan_callbacks_get_the_lifespan_scope(target, tmp_path):
    srv = DeployServer(target, tmp_path)
    with srv:
        running = srv.read_state('lifespan.log')
    assert running == 'startup lifespan\n'
    assert srv.read_state('lifespan.log') == (
        'startup lifespan\nshutdown lifespan\n'
    )


@pytest.mark.parametrize('target', ['builtin'] + ASGI_TARGETS)
def test_shutdown_from_a_route_stops_the_server(target, tmp_path):
    srv = DeployServer(target, tmp_path)
    srv.start()
    try:
        res = request(srv, 'GET', '/shutdown')
        code = srv.wait_exit(EXIT_TIMEOUT)
    finally:
        srv.close()
    assert res.status_code == 200
    assert res.content == b'shutting down'
    assert code == clean_exit_code(target), srv.output_tail()


@pytest.mark.parametrize('target', ASGI_TARGETS)
def test_shutdown_from_a_route_runs_lifespan_shutdown(target, tmp_path):
    srv = DeployServer(target, tmp_path)
    srv.start()
    try:
        request(srv, 'GET', '/shutdown')
        srv.wait_exit(EXIT_TIMEOUT)
    finally:
        srv.close()
    assert srv.read_state('lifespan.log') == (
        'startup lifespan\nshutdown lifespan\n'
    )


@pytest.mark.parametrize('target', ASGI_TARGETS)
def test_failed_lifespan_startup_is_reported(target, tmp_path):
    srv = DeployServer(target, tmp_path, env={'DEPLOY_FAIL': 'startup'})
    srv.spawn()
    try:
        srv.wait_exit(EXIT_TIMEOUT)  # the server refuses to start
    finally:
        srv.close()
    # The server prints the message of lifespan.startup.failed: the repr.
    message = "RuntimeError('deploy-app startup refused')"
    assert message in srv.output(), srv.output_tail()
    assert srv.read_state('lifespan.log') is None


@pytest.mark.parametrize('target', ASGI_TARGETS)
def test_failed_lifespan_shutdown_is_reported(target, tmp_path):
    srv = DeployServer(target, tmp_path, env={'DEPLOY_FAIL': 'shutdown'})
    with srv:
        assert srv.read_state('lifespan.log') == 'startup lifespan\n'
    message = "RuntimeError('deploy-app shutdown refused')"
    assert message in srv.output(), srv.output_tail()
