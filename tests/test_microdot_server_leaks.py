# runtime: cpython
"""No leaked sockets, tasks or unretrieved task exceptions after clients
reset their connections (SO_LINGER 0: a RST, not a FIN) in the middle of
a request or of a response.

The server runs in the test's own event loop (serverutil.start); the
clients are non-blocking sockets of the same loop. Open file descriptors
are counted in /proc/self/fd (Linux).
"""

import asyncio
import gc
import os

import pytest
import serverutil
from cpythonutil import (
    LogRecords,
    assert_nothing_printed,
    connect_raw,
    fd_count,
    reset,
)

CLIENTS = 50
IO_TIMEOUT = 5  # seconds for one client call
SETTLE_TIMEOUT = 5  # seconds for fds and tasks to be released
STREAM_CHUNKS = 250  # a /stream body lasts 250 * 0.02 s = 5 s
STREAM_INTERVAL = 0.02

pytestmark = pytest.mark.skipif(
    not os.path.isdir('/proc/self/fd'), reason='needs /proc/self/fd'
)

HALF_HEAD = b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: ab'
HALF_BODY = (
    b'POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n'
    b'Content-Length: 1000\r\n\r\n' + b'x' * 100
)
STREAM_REQUEST = b'GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'


class SlowStream:
    """An async iterator yielding 1 KiB every ``STREAM_INTERVAL`` s."""

    def __init__(self):
        self.produced = 0

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.produced >= STREAM_CHUNKS:
            raise StopAsyncIteration
        if self.produced:
            await asyncio.sleep(STREAM_INTERVAL)
        self.produced += 1
        return b'x' * 1024


def make_app():
    app = serverutil.index_app('hello')

    @app.post('/upload')
    async def upload(req):
        return str(len(req.body))

    @app.route('/stream')
    async def stream(req):
        return SlowStream()

    return app


async def reset_after_sending(port, data):
    sock = await connect_raw(port)
    try:
        await asyncio.get_running_loop().sock_sendall(sock, data)
        await asyncio.sleep(0.01)  # let the server start reading
    finally:
        reset(sock)


async def reset_mid_response(port):
    """Request the slow stream, read its first bytes, then reset."""
    loop = asyncio.get_running_loop()
    sock = await connect_raw(port)
    try:
        await loop.sock_sendall(sock, STREAM_REQUEST)
        first = await asyncio.wait_for(loop.sock_recv(sock, 4096), IO_TIMEOUT)
        assert first.startswith(b'HTTP/1.1 200 OK\r\n'), first
    finally:
        reset(sock)


async def run_clients(port, kind):
    """Run ``CLIENTS`` clients of ``kind``, ten at a time."""
    for _ in range(CLIENTS // 10):
        if kind == 'mid-response':
            clients = [reset_mid_response(port) for _ in range(10)]
        else:
            data = {'mid-head': HALF_HEAD, 'mid-body': HALF_BODY}[kind]
            clients = [reset_after_sending(port, data) for _ in range(10)]
        await asyncio.gather(*clients)


async def get_hello(port):
    res = await serverutil.exchange(
        port,
        serverutil.build_request(port, 'GET', '/', {'Connection': 'close'}),
    )
    return serverutil.HTTPResponse(res)


KINDS = ['mid-head', 'mid-body', 'mid-response']


@pytest.mark.parametrize('kind', KINDS)
async def test_resets_release_file_descriptors(kind):
    server = await serverutil.start(make_app())
    try:
        baseline = fd_count()
        await run_clients(server.port, kind)
        released = await serverutil.poll(
            lambda: fd_count() <= baseline, SETTLE_TIMEOUT
        )
        count = fd_count()
    finally:
        await server.stop()
    assert released, 'open fds: %d, baseline %d' % (count, baseline)


@pytest.mark.parametrize('kind', KINDS)
async def test_resets_leave_no_tasks(kind):
    server = await serverutil.start(make_app())
    try:
        baseline = set(asyncio.all_tasks())
        await run_clients(server.port, kind)
        settled = await serverutil.poll(
            lambda: not (asyncio.all_tasks() - baseline), SETTLE_TIMEOUT
        )
        left = asyncio.all_tasks() - baseline
    finally:
        await server.stop()
    assert settled, 'leaked tasks: %r' % sorted(
        repr(task.get_coro()) for task in left
    )


@pytest.mark.parametrize('kind', KINDS)
async def test_resets_print_nothing(kind, capsys):
    with LogRecords() as log:
        server = await serverutil.start(make_app())
        try:
            await run_clients(server.port, kind)
            # Serving one more request gives the server time to fail, if
            # it does, on the resets.
            assert (await get_hello(server.port)).body == b'hello'
            await asyncio.sleep(0.1)
        finally:
            await server.stop()
        gc.collect()  # a lost task exception is logged when the task dies
    assert_nothing_printed(capsys, log)


@pytest.mark.parametrize('kind', KINDS)
async def test_resets_leave_server_serving(kind):
    server = await serverutil.start(make_app())
    try:
        await run_clients(server.port, kind)
        res = await get_hello(server.port)
    finally:
        await server.stop()
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'hello'
