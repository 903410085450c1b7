# runtime: cpython
"""HTTPS with ``start_server(ssl=...)``: real clients verify a throwaway
certificate (made by ``trustme``), and clients that abort the TLS
handshake neither disturb other clients nor print anything.

The server runs in the test's own event loop; blocking clients
(``requests``) run in a thread through ``asyncio.to_thread``.
"""

import asyncio
import ssl
from typing import Optional

import httpx
import pytest
import requests
import serverutil
from cpythonutil import (
    LogRecords,
    assert_nothing_printed,
    connect_raw,
    fd_count,
    linger_zero,
    reset,
)

trustme = pytest.importorskip('trustme', reason='pip install trustme')

HOST = serverutil.HOST
IO_TIMEOUT = 5  # seconds for one client call
STOP_TIMEOUT = 10  # seconds for start_server() to return after shutdown()
SETTLE_TIMEOUT = 5  # seconds for file descriptors to be released
ABORTING_CLIENTS = 20

_CERTS = {}  # type: dict


def certificates():
    """Return ``(ca, leaf)``, made once per test session."""
    if not _CERTS:
        ca = trustme.CA()
        _CERTS['ca'] = ca
        _CERTS['leaf'] = ca.issue_cert(HOST, 'localhost')
    return _CERTS['ca'], _CERTS['leaf']


def server_context():
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificates()[1].configure_cert(context)
    return context


def client_context():
    context = ssl.create_default_context()
    certificates()[0].configure_trust(context)
    return context


def client_hello():
    """Return the bytes of a real ClientHello for 127.0.0.1."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client_context().wrap_bio(incoming, outgoing, server_hostname=HOST)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:  # it waits for the ServerHello
        pass
    hello = outgoing.read()
    assert hello[:1] == b'\x16'  # a TLS handshake record
    return hello


def make_app():
    app = serverutil.index_app('hello')

    @app.route('/scheme')
    async def scheme(req):
        return req.scheme

    @app.route('/client-port')
    async def client_port(req):
        return str(req.client_addr[1])

    return app


class TLSServer:
    """``app.start_server(ssl=...)`` on 127.0.0.1 in a task of this loop."""

    def __init__(self, app):
        self.app = app
        self.task: Optional[asyncio.Task] = None
        self.port = 0

    async def __aenter__(self):
        serverutil.select_driver(self.app)
        self.task = asyncio.create_task(
            self.app.start_server(host=HOST, port=0, ssl=server_context())
        )
        task = self.task
        await serverutil.poll(
            lambda: self.app.server is not None or task.done(), IO_TIMEOUT
        )
        if task.done():
            task.result()  # raises the error of start_server()
            raise AssertionError('start_server() returned at once')
        assert self.app.server is not None, 'the server did not listen'
        self.port = self.app.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info):
        self.app.shutdown()
        assert self.task is not None
        try:
            await asyncio.wait_for(self.task, STOP_TIMEOUT)
        except asyncio.TimeoutError:
            raise AssertionError('start_server() did not return')

    @property
    def url(self):
        return 'https://%s:%d' % (HOST, self.port)


async def get(url, path='/'):
    async with httpx.AsyncClient(verify=client_context()) as client:
        return await asyncio.wait_for(client.get(url + path), IO_TIMEOUT)


async def read_until_closed(sock, timeout=IO_TIMEOUT):
    """Read until EOF or a reset; fail if the peer keeps it open."""
    loop = asyncio.get_running_loop()

    async def read():
        for _ in range(1000):
            try:
                if not await loop.sock_recv(sock, 4096):
                    return
            except ConnectionError:
                return
        raise AssertionError('the server kept sending')

    try:
        await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError('the server did not close the connection')


# -- serving HTTPS -----------------------------------------------------------


async def test_https_response_verified_by_httpx():
    async with TLSServer(make_app()) as server:
        res = await get(server.url)
    assert res.status_code == 200
    assert res.headers['content-type'] == 'text/plain; charset=UTF-8'
    assert res.headers['content-length'] == '5'
    assert res.content == b'hello'


async def test_https_response_verified_by_requests(tmp_path):
    ca_file = tmp_path / 'ca.pem'
    certificates()[0].cert_pem.write_to_path(str(ca_file))
    async with TLSServer(make_app()) as server:
        res = await asyncio.to_thread(
            requests.get, server.url + '/', verify=str(ca_file),
            timeout=IO_TIMEOUT,
        )  # fmt: skip
    assert res.status_code == 200
    assert res.content == b'hello'


async def test_request_scheme_is_https():
    async with TLSServer(make_app()) as server:
        res = await get(server.url, '/scheme')
    assert res.content == b'https'


async def test_keep_alive_over_tls_reuses_the_connection():
    async with TLSServer(make_app()) as server:
        async with httpx.AsyncClient(verify=client_context()) as client:
            first = await asyncio.wait_for(
                client.get(server.url + '/client-port'), IO_TIMEOUT
            )
            second = await asyncio.wait_for(
                client.get(server.url + '/client-port'), IO_TIMEOUT
            )
    assert first.status_code == second.status_code == 200
    assert 'connection' not in first.headers
    assert second.content == first.content  # the same client socket


async def test_keep_alive_over_raw_tls_socket():
    requests_bytes = serverutil.build_request(
        0, 'GET', '/'
    ) + serverutil.build_request(0, 'GET', '/scheme', {'Connection': 'close'})
    async with TLSServer(make_app()) as server:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                HOST, server.port, ssl=client_context(), server_hostname=HOST
            ),
            IO_TIMEOUT,
        )
        try:
            writer.write(requests_bytes)
            await writer.drain()
            raw = await asyncio.wait_for(reader.read(), IO_TIMEOUT)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ssl.SSLError):
                pass
    assert raw.count(b'HTTP/1.1 200 OK\r\n') == 2, raw
    second_start = raw.index(b'HTTP/1.1', 1)
    first = serverutil.HTTPResponse(raw[:second_start])
    second = serverutil.HTTPResponse(raw[second_start:])
    assert first.body == b'hello'
    assert 'connection' not in first.headers
    assert second.headers['connection'] == 'close'
    assert second.body == b'https'


# -- clients that abort the handshake ----------------------------------------


async def serve_quietly(capsys, script):
    """Return ``await script(server)``; then another client must still be
    served and nothing must have been printed or logged."""
    with LogRecords() as log:
        async with TLSServer(make_app()) as server:
            result = await script(server)
            after = await get(server.url)
    assert after.content == b'hello'
    assert_nothing_printed(capsys, log)
    return result


async def send_raw(port, data):
    """Return a raw (not TLS) socket to ``port`` that has sent ``data``."""
    sock = await connect_raw(port)
    try:
        await asyncio.get_running_loop().sock_sendall(sock, data)
    except BaseException:
        sock.close()
        raise
    return sock


def half_hello():
    hello = client_hello()
    return hello[: len(hello) // 2]


async def test_garbage_handshake_is_closed_and_others_are_served(capsys):
    async def script(server):
        bad = await send_raw(server.port, b'GET / HTTP/1.1\r\n\r\n')
        try:
            good = await get(server.url)
            await read_until_closed(bad)
        finally:
            bad.close()
        return good

    good = await serve_quietly(capsys, script)
    assert good.content == b'hello'


async def test_half_client_hello_does_not_block_others(capsys):
    hello = half_hello()

    async def script(server):
        bad = await send_raw(server.port, hello)
        try:
            return await get(server.url)  # while bad is mid-handshake
        finally:
            bad.close()

    good = await serve_quietly(capsys, script)
    assert good.content == b'hello'


async def test_reset_during_handshake_prints_nothing(capsys):
    hello = half_hello()

    async def script(server):
        reset(await send_raw(server.port, hello))
        reset(await connect_raw(server.port))  # no byte at all

    await serve_quietly(capsys, script)


async def tls_connect(port):
    return await asyncio.wait_for(
        asyncio.open_connection(
            HOST, port, ssl=client_context(), server_hostname=HOST
        ),
        IO_TIMEOUT,
    )


def abort(writer):
    """Drop a TLS connection with a RST: no close_notify, no FIN."""
    linger_zero(writer.get_extra_info('socket'))
    writer.transport.abort()


async def test_reset_after_handshake_prints_nothing(capsys):
    async def script(server):
        _, idle = await tls_connect(server.port)
        abort(idle)
        _, partial = await tls_connect(server.port)
        partial.write(b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: a')
        await partial.drain()
        abort(partial)

    await serve_quietly(capsys, script)


async def test_aborted_handshakes_release_file_descriptors():
    hello = half_hello()
    async with TLSServer(make_app()) as server:
        baseline = fd_count()
        for _ in range(ABORTING_CLIENTS):
            reset(await send_raw(server.port, hello))
            _, writer = await tls_connect(server.port)
            abort(writer)
        released = await serverutil.poll(
            lambda: fd_count() <= baseline, SETTLE_TIMEOUT
        )
        count = fd_count()
        after = await get(server.url)
    assert released, 'open fds: %d, baseline %d' % (count, baseline)
    assert after.content == b'hello'
