"""CPython-only helpers of the ``# runtime: cpython`` server tests: raw
non-blocking client sockets, resets (SO_LINGER 0), open file descriptors
and the records of the ``asyncio`` logger.

Portable test modules must not import this module (MPY: no logging, no
``loop.sock_connect``).
"""

import asyncio
import gc
import logging
import os
import socket
import struct

import serverutil

IO_TIMEOUT = serverutil.IO_TIMEOUT


class LogRecords(logging.Handler):
    """Collects the records of the ``asyncio`` logger (where "Task
    exception was never retrieved" and transport errors go)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []  # type: list[str]

    def emit(self, record):
        self.messages.append(self.format(record))

    def __enter__(self):
        logging.getLogger('asyncio').addHandler(self)
        return self

    def __exit__(self, *exc_info):
        logging.getLogger('asyncio').removeHandler(self)


def assert_nothing_printed(capsys, log):
    """Nothing on stdout or stderr (pytest's ``capsys``) and no record in
    ``log``, a ``LogRecords``."""
    gc.collect()  # a lost task exception is logged when the task dies
    out, err = capsys.readouterr()
    assert out == ''
    assert err == ''
    assert log.messages == []


def fd_count():
    """Return the number of open file descriptors (Linux)."""
    return len(os.listdir('/proc/self/fd'))


async def connect_raw(port, timeout=IO_TIMEOUT):
    """Return a non-blocking socket connected to ``HOST:port``."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    try:
        await asyncio.wait_for(
            loop.sock_connect(sock, (serverutil.HOST, port)), timeout
        )
    except BaseException:
        sock.close()
        raise
    return sock


def linger_zero(sock):
    """Set SO_LINGER 0: closing ``sock`` sends a RST, not a FIN."""
    sock.setsockopt(
        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)
    )


def reset(sock):
    """Close with SO_LINGER 0: the peer gets a RST, not a FIN."""
    linger_zero(sock)
    sock.close()
