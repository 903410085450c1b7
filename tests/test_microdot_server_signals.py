# runtime: cpython
"""``app.run()`` in a child process, stopped by SIGTERM and SIGINT.

Each test starts ``APP_SCRIPT`` with ``sys.executable`` (PYTHONPATH=src)
on a port it picked, talks to it with blocking sockets and signals it.
The child is always killed and reaped in ``finally``.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import serverutil

HOST = serverutil.HOST
SRC_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'src')
START_TIMEOUT = 10  # seconds for the child to listen
EXIT_TIMEOUT = 10  # seconds for the child to exit after a signal
IO_TIMEOUT = 5  # seconds for one request/response exchange
SLOW_SECONDS = 1.5  # the /slow handler's sleep, well under shutdown_timeout

APP_SCRIPT = """
import asyncio
import sys

from microdot import Microdot

port, debug, loop = int(sys.argv[1]), sys.argv[2] == '1', sys.argv[3]
if loop == 'uvloop':
    import uvloop

    uvloop.install()
app = Microdot()
app.keep_alive_timeout = 30  # only the signal may close idle connections
app.shutdown_timeout = 10
started = []


@app.route('/')
async def index(req):
    return 'hello'


@app.route('/x')
async def x(req):
    return 'x'


@app.route('/slow')
async def slow(req):
    started.append(True)
    await asyncio.sleep(%s)
    return 'slow done'


@app.route('/started')
async def is_started(req):
    return 'yes' if started else 'no'


@app.route('/loop')
async def loop_module(req):
    return type(asyncio.get_running_loop()).__module__


app.run(host='127.0.0.1', port=port, debug=debug)
""" % (SLOW_SECONDS,)

ACCESS_LINE = re.compile(r'^\S+ [A-Z]+ \S+ \d{3}$')


def free_port():
    """Return a port that was free a moment ago (bound, then released)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout):
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.02) + 1):
        if condition() or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return condition()


def build_request(port, path, close=True):
    headers = {'Connection': 'close'} if close else None
    return serverutil.build_request(port, 'GET', path, headers)


def read_until_eof(sock):
    chunks = []  # type: list[bytes]
    for _ in range(serverutil.MAX_READS):
        chunk = sock.recv(serverutil.READ_SIZE)
        if not chunk:
            return b''.join(chunks)
        chunks.append(chunk)
    raise AssertionError('response longer than the client accepts')


def get(port, path):
    """One request with ``Connection: close``; return the parsed response."""
    with socket.create_connection((HOST, port), IO_TIMEOUT) as sock:
        sock.sendall(build_request(port, path))
        return serverutil.HTTPResponse(read_until_eof(sock))


class AppProcess:
    """The child process serving APP_SCRIPT on ``port``."""

    def __init__(self, tmp_path, debug=False, loop='asyncio'):
        script = tmp_path / 'app.py'
        script.write_text(APP_SCRIPT)
        env = dict(os.environ, PYTHONPATH=SRC_DIR, PYTHONUNBUFFERED='1')
        env.pop('PYTHONWARNINGS', None)
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(self.port),
             '1' if debug else '0', loop],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.out = self.err = ''

    def __enter__(self):
        try:
            self.wait_listening()
        except BaseException:
            self.kill()
            raise
        return self

    def __exit__(self, *exc_info):
        self.kill()

    def _listening(self):
        if self.proc.poll() is not None:
            return True  # exited: reported by wait_listening()
        try:
            # A bare connect, no request: no access-log line.
            socket.create_connection((HOST, self.port), 0.2).close()
            return True
        except OSError:
            return False

    def wait_listening(self):
        listening = wait_until(self._listening, START_TIMEOUT)
        if self.proc.poll() is not None:
            out, err = self.proc.communicate(timeout=EXIT_TIMEOUT)
            raise AssertionError('the app exited at start:\n' + out + err)
        assert listening, 'the app did not listen within %s s' % (
            START_TIMEOUT
        )

    def signal(self, signum, timeout=EXIT_TIMEOUT):
        """Send ``signum`` and wait for the exit; keep stdout/stderr."""
        self.proc.send_signal(signum)
        try:
            self.out, self.err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                'the app did not exit within %s s of signal %d:\n%s%s'
                % (timeout, signum, self.out, self.err)
            )
        return self.proc.returncode

    def kill(self):
        """Kill the child if it still runs and reap it (for ``finally``)."""
        if self.proc.poll() is None:
            self.proc.kill()
        # communicate() returns all the output, also when called again.
        self.out, self.err = self.proc.communicate(timeout=EXIT_TIMEOUT)

    def assert_clean_stderr(self):
        assert 'Traceback' not in self.err, self.err
        assert 'Task exception was never retrieved' not in self.err, self.err


def start_slow_request(app):
    """Send a /slow request and return its socket once the handler runs."""
    sock = socket.create_connection((HOST, app.port), IO_TIMEOUT)
    try:
        sock.sendall(build_request(app.port, '/slow'))
        started = wait_until(
            lambda: get(app.port, '/started').body == b'yes', IO_TIMEOUT
        )
        assert started, 'the /slow handler did not start'
    except BaseException:
        sock.close()
        raise
    return sock


SIGNALS = [signal.SIGTERM, signal.SIGINT]
SIGNAL_IDS = ['SIGTERM', 'SIGINT']


@pytest.mark.parametrize('signum', SIGNALS, ids=SIGNAL_IDS)
def test_signal_lets_in_flight_request_complete(tmp_path, signum):
    with AppProcess(tmp_path) as app:
        with start_slow_request(app) as sock:
            app.proc.send_signal(signum)
            res = serverutil.HTTPResponse(read_until_eof(sock))
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers['content-length'] == '9'
    assert res.body == b'slow done'


@pytest.mark.parametrize('signum', SIGNALS, ids=SIGNAL_IDS)
def test_signal_with_in_flight_request_exits_0(tmp_path, signum):
    with AppProcess(tmp_path) as app:
        with start_slow_request(app) as sock:
            code = app.signal(signum)
            read_until_eof(sock)
    assert code == 0, app.err


@pytest.mark.parametrize('signum', SIGNALS, ids=SIGNAL_IDS)
def test_signal_frees_port(tmp_path, signum):
    with AppProcess(tmp_path) as app:
        assert not serverutil.port_is_free(app.port)  # the probe is valid
        assert get(app.port, '/').body == b'hello'
        app.signal(signum)
    assert serverutil.port_is_free(app.port)


@pytest.mark.parametrize('signum', SIGNALS, ids=SIGNAL_IDS)
def test_signal_prints_no_traceback(tmp_path, signum):
    with AppProcess(tmp_path) as app:
        with start_slow_request(app) as sock:
            app.signal(signum)
            read_until_eof(sock)
    app.assert_clean_stderr()


@pytest.mark.parametrize('signum', SIGNALS, ids=SIGNAL_IDS)
def test_signal_closes_idle_keep_alive_connection(tmp_path, signum):
    # keep_alive_timeout is 30 s and shutdown_timeout 10 s in the child:
    # a prompt exit proves the idle connection was closed at once.
    with AppProcess(tmp_path) as app:
        with socket.create_connection((HOST, app.port), IO_TIMEOUT) as sock:
            sock.sendall(build_request(app.port, '/', close=False))
            head = b''
            for _ in range(100):  # bounded: the response is 5 body bytes
                head += sock.recv(serverutil.READ_SIZE)
                if head.endswith(b'hello'):
                    break
            start = time.monotonic()
            code = app.signal(signum, timeout=3)
            elapsed = time.monotonic() - start
            rest = read_until_eof(sock)
    assert head.startswith(b'HTTP/1.1 200 OK\r\n')
    assert head.endswith(b'\r\n\r\nhello')
    assert rest == b''
    assert code == 0, app.err
    assert elapsed < 3


def require_uvloop():
    try:
        import uvloop  # noqa: F401
    except ImportError:
        pytest.skip('uvloop is not importable (pip install uvloop)')


def test_run_after_uvloop_install_serves_on_uvloop(tmp_path):
    require_uvloop()
    with AppProcess(tmp_path, loop='uvloop') as app:
        hello = get(app.port, '/')
        loop = get(app.port, '/loop')
    assert hello.status_line == b'HTTP/1.1 200 OK'
    assert hello.body == b'hello'
    assert loop.body.startswith(b'uvloop')


def test_run_after_uvloop_install_stops_on_sigterm(tmp_path):
    require_uvloop()
    with AppProcess(tmp_path, loop='uvloop') as app:
        with start_slow_request(app) as sock:
            code = app.signal(signal.SIGTERM)
            slow = serverutil.HTTPResponse(read_until_eof(sock))
    assert slow.body == b'slow done'
    assert code == 0, app.err
    app.assert_clean_stderr()
    assert serverutil.port_is_free(app.port)


def access_lines(out):
    return [line for line in out.splitlines() if ACCESS_LINE.match(line)]


def test_debug_prints_one_access_line_per_request(tmp_path):
    with AppProcess(tmp_path, debug=True) as app:
        responses = [
            get(app.port, '/x?a=1'),
            get(app.port, '/missing'),
            get(app.port, '/x?a=1'),
        ]
        app.signal(signal.SIGTERM)
    assert [res.status_code for res in responses] == [200, 404, 200]
    assert access_lines(app.out) == [
        '127.0.0.1 GET /x?a=1 200',
        '127.0.0.1 GET /missing 404',
        '127.0.0.1 GET /x?a=1 200',
    ]


def test_debug_logs_each_request_of_a_keep_alive_connection(tmp_path):
    with AppProcess(tmp_path, debug=True) as app:
        with socket.create_connection((HOST, app.port), IO_TIMEOUT) as sock:
            sock.sendall(
                build_request(app.port, '/', close=False)
                + build_request(app.port, '/x')
            )
            raw = read_until_eof(sock)
        app.signal(signal.SIGTERM)
    assert raw.count(b'HTTP/1.1 200 OK\r\n') == 2
    assert access_lines(app.out) == [
        '127.0.0.1 GET / 200',
        '127.0.0.1 GET /x 200',
    ]


def test_debug_off_prints_nothing(tmp_path):
    with AppProcess(tmp_path, debug=False) as app:
        assert get(app.port, '/x?a=1').status_code == 200
        assert get(app.port, '/missing').status_code == 404
        app.signal(signal.SIGTERM)
    assert app.out == ''
