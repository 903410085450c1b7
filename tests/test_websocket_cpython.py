"""microdot.websocket against an independent client: the PyPI
``websockets`` library, over real sockets to the built-in server, with
both server drivers (asyncio Protocol and streams).
"""

# runtime: cpython

import asyncio

import pytest
import serverutil
from websockets.asyncio.client import connect
from websockets.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidStatus,
)

from microdot import abort
from microdot.websocket import WebSocket, websocket_upgrade, with_websocket

TIMEOUT = 10

DRIVERS = ['protocol', 'streams']


def make_app(state):
    app = serverutil.index_app('index')

    @app.route('/echo')
    @with_websocket
    async def echo(request, ws):
        state['open'] = state.get('open', 0) + 1
        try:
            while True:
                message = await ws.receive()
                await ws.send(message)
        except asyncio.CancelledError:
            state['cancelled'] = state.get('cancelled', 0) + 1
            raise
        finally:
            state['open'] -= 1

    @app.route('/once')
    @with_websocket
    async def once(request, ws):
        await ws.send('bye ' + await ws.receive())

    @app.route('/closer')
    @with_websocket
    async def closer(request, ws):
        await ws.send('closing')
        await ws.close()
        state['closed'] = True

    @app.route('/private')
    async def private(request):
        if request.headers.get('Authorization') != 'Bearer good':
            abort(401)
        ws = await websocket_upgrade(request)
        await ws.send('welcome')
        await ws.send('echo ' + await ws.receive())
        await ws.close()

    return app


async def serve(driver, state):
    app = make_app(state)
    if driver == 'streams':
        app._use_streams = True
    return await serverutil.start(app)


def url(server, path):
    return 'ws://%s:%d%s' % (serverutil.HOST, server.port, path)


def client(server, path, **kwargs):
    kwargs.setdefault('proxy', None)
    kwargs.setdefault('open_timeout', TIMEOUT)
    kwargs.setdefault('close_timeout', TIMEOUT)
    return connect(url(server, path), **kwargs)


async def bounded(coro):
    return await asyncio.wait_for(coro, TIMEOUT)


@pytest.fixture
def limit():
    """Restore WebSocket.max_message_length after the test."""
    saved = WebSocket.max_message_length
    yield
    WebSocket.max_message_length = saved


async def run(driver, script):
    """Serve the app with ``driver`` and ``await script(server, state)``;
    the server is stopped afterwards."""
    state = {}
    server = await serve(driver, state)
    try:
        return await script(server, state)
    finally:
        await server.stop()


async def exchange(ws, message, reply):
    """Send ``message`` and assert the next message received is ``reply``."""
    await bounded(ws.send(message))
    assert await bounded(ws.recv()) == reply


async def echo(ws, message):
    """Send ``message`` and assert it comes back unchanged."""
    await exchange(ws, message, message)


async def expect_closed(ws, error, code):
    """Assert the next recv() raises ``error`` with the server's ``code``."""
    with pytest.raises(error):
        await bounded(ws.recv())
    assert ws.close_exc.rcvd.code == code


async def expect_cancelled(state, count):
    """Assert ``count`` echo handlers were cancelled and none is open."""
    await serverutil.poll(lambda: state.get('cancelled') == count, 5)
    assert state['cancelled'] == count
    assert state['open'] == 0


@pytest.mark.parametrize('driver', DRIVERS)
async def test_echo_text_and_binary(driver):
    async def script(server, state):
        async with client(server, '/echo') as ws:
            for message in ['hello', '', 'h\xe9llo \u20ac', b'\x00\xff', b'']:
                await echo(ws, message)

    await run(driver, script)


@pytest.mark.parametrize('driver', DRIVERS)
async def test_large_binary(driver, limit):
    WebSocket.max_message_length = 3 * 1024 * 1024
    data = bytes(range(256)) * (2 * 1024 * 1024 // 256)

    async def script(server, state):
        async with client(server, '/echo', max_size=None) as ws:
            await echo(ws, data)

    await run(driver, script)


@pytest.mark.parametrize('driver', DRIVERS)
async def test_fragmented_message(driver):
    async def script(server, state):
        async with client(server, '/echo') as ws:
            fragments = ['frag1 ', 'frag2 ', 'fr\xe4g3']
            await exchange(ws, fragments, 'frag1 frag2 fr\xe4g3')
            await exchange(ws, [b'\x01', b'\x02\x03'], b'\x01\x02\x03')

    await run(driver, script)


@pytest.mark.parametrize('driver', DRIVERS)
async def test_ping_pong(driver):
    async def script(server, state):
        async with client(server, '/echo', ping_interval=None) as ws:
            for payload in (b'payload', b'', b'x' * 125):
                pong = await ws.ping(payload)
                latency = await bounded(pong)
                assert latency >= 0
            await echo(ws, 'after pings')

    await run(driver, script)


@pytest.mark.parametrize('driver', DRIVERS)
@pytest.mark.parametrize('code', [1000, 1001, 3000, 4000, 4999])
async def test_client_close_code_echoed(driver, code):
    async def script(server, state):
        ws = await bounded(client(server, '/echo'))
        await echo(ws, 'x')
        await bounded(ws.close(code, 'client reason'))
        assert ws.close_exc.rcvd is not None
        assert ws.close_exc.rcvd.code == code
        assert ws.close_exc.rcvd.reason == ''
        await expect_cancelled(state, 1)

    await run(driver, script)


@pytest.mark.parametrize('driver', DRIVERS)
async def test_handler_return_closes_1000(driver):
    async def script(server, state):
        async with client(server, '/once') as ws:
            await exchange(ws, 'now', 'bye now')
            await expect_closed(ws, ConnectionClosedOK, 1000)

    await run(driver, script)


@pytest.mark.parametrize('driver', DRIVERS)
async def test_server_close_1000(driver):
    async def script(server, state):
        async with client(server, '/closer') as ws:
            assert await bounded(ws.recv()) == 'closing'
            await expect_closed(ws, ConnectionClosedOK, 1000)
            assert ws.close_exc.sent.code == 1000
        await serverutil.poll(lambda: 'closed' in state, 5)
        assert state['closed'] is True

    await run(driver, script)


@pytest.mark.parametrize('driver', DRIVERS)
async def test_message_too_big_1009(driver):
    async def script(server, state):
        async with client(server, '/echo') as ws:
            await echo(ws, b'a' * (16 * 1024))
            await bounded(ws.send(b'a' * (16 * 1024 + 1)))
            await expect_closed(ws, ConnectionClosedError, 1009)

    await run(driver, script)


@pytest.mark.parametrize('driver', DRIVERS)
async def test_upgrade_in_route(driver):
    async def script(server, state):
        with pytest.raises(InvalidStatus) as info:
            await bounded(client(server, '/private'))
        assert info.value.response.status_code == 401
        assert info.value.response.body == b'Unauthorized'
        headers = {'Authorization': 'Bearer good'}
        async with client(
            server, '/private', additional_headers=headers
        ) as ws:
            assert await bounded(ws.recv()) == 'welcome'
            await exchange(ws, 'me', 'echo me')
            await expect_closed(ws, ConnectionClosedOK, 1000)

    await run(driver, script)


@pytest.mark.parametrize('driver', DRIVERS)
async def test_many_concurrent_clients(driver):
    clients = 50
    messages = 20

    async def script(server, state):
        async def talk(n):
            async with client(server, '/echo') as ws:
                for i in range(messages):
                    text = 'client %d message %d' % (n, i)
                    await ws.send(text)
                    assert await ws.recv() == text
                    await ws.send(text.encode() * 100)
                    assert await ws.recv() == text.encode() * 100
            return n

        done = await asyncio.wait_for(
            asyncio.gather(*[talk(n) for n in range(clients)]), 30
        )
        assert done == list(range(clients))
        await expect_cancelled(state, clients)
        res = await server.request('GET', '/')
        assert res.status_code == 200
        assert res.body == b'index'

    await run(driver, script)


@pytest.mark.parametrize('driver', DRIVERS)
async def test_client_vanishes_cancels_handler(driver):
    async def script(server, state):
        ws = await bounded(client(server, '/echo'))
        await echo(ws, 'x')
        ws.transport.abort()  # no close frame, a reset
        await expect_cancelled(state, 1)

    await run(driver, script)
