# runtime: cpython
"""Run ``deploy_app`` under a deployment target in a child process.

Targets: ``builtin`` (``python tests/deploy_app.py PORT``), ``uvicorn``
and ``hypercorn`` (``deploy_app:asgi_app``), ``gunicorn`` with three
workers (``deploy_app:wsgi_app``). ``DeployServer.start()`` picks a free
port on 127.0.0.1, starts the target and polls ``GET /ready`` against a
deadline; ``stop()`` sends SIGTERM and waits with a timeout, killing the
child only as a last resort, and then raises. The child's stdout and
stderr go to files in a work directory, so they never fill a pipe and
can be read at any time for failure messages. Each child leads a process
group, so that a cleanup kills the workers of a server with it.
"""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time

HOST = '127.0.0.1'
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT_DIR = os.path.dirname(TESTS_DIR)
SRC_DIR = os.path.join(ROOT_DIR, 'src')

TARGETS = ['builtin', 'uvicorn', 'hypercorn', 'gunicorn']
ASGI_TARGETS = ['uvicorn', 'hypercorn']
GUNICORN_WORKERS = 3

START_TIMEOUT = 20  # seconds until the target answers GET /ready
STOP_TIMEOUT = 10  # seconds for the child to exit after SIGTERM
KILL_TIMEOUT = 5  # seconds to reap a killed child
PROBE_TIMEOUT = 1  # seconds for one readiness request
POLL_INTERVAL = 0.05
START_ATTEMPTS = 3  # a port taken between the probe and the bind: retry
OUTPUT_TAIL = 4000  # characters of output in failure messages


def clean_exit_code(target):
    """The exit code of ``target`` after a graceful stop on SIGTERM:
    uvicorn (0.29 and later) raises the signal it caught again once it has
    shut down, so its status is that of SIGTERM; the others exit 0."""
    return -signal.SIGTERM if target == 'uvicorn' else 0


def free_port():
    """Return a port that was free a moment ago (bound, then released)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def command(target, port):
    """Return ``(argv, cwd)`` that serve ``deploy_app`` on ``port``."""
    python = sys.executable
    if target == 'builtin':
        return [python, os.path.join(TESTS_DIR, 'deploy_app.py'),
                str(port)], ROOT_DIR  # fmt: skip
    if target == 'uvicorn':
        return [python, '-m', 'uvicorn', '--app-dir', 'tests',
                'deploy_app:asgi_app', '--host', HOST,
                '--port', str(port)], ROOT_DIR  # fmt: skip
    if target == 'hypercorn':
        bind = '%s:%d' % (HOST, port)
        argv = [python, '-m', 'hypercorn', '--bind', bind,
                'deploy_app:asgi_app']  # fmt: skip
        return argv, TESTS_DIR  # hypercorn imports from its working dir
    if target == 'gunicorn':
        return [python, '-m', 'gunicorn', '--chdir', 'tests',
                '-w', str(GUNICORN_WORKERS), '-b', '%s:%d' % (HOST, port),
                'deploy_app:wsgi_app'], ROOT_DIR  # fmt: skip
    raise ValueError('unknown target %r' % target)


def wait_until(condition, timeout, interval=POLL_INTERVAL):
    """Poll ``condition()`` until it is true or ``timeout`` seconds have
    passed; return its last value."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 1):
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
    return condition()


def _is_ready(port):
    conn = http.client.HTTPConnection(HOST, port, timeout=PROBE_TIMEOUT)
    try:
        conn.request('GET', '/ready')
        res = conn.getresponse()
        return res.status == 200 and res.read() == b'ready'
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class DeployServer:
    """``deploy_app`` served by ``target``; files go to ``workdir``."""

    def __init__(self, target, workdir, env=None):
        self.target = target
        self.env = env or {}  # more environment variables for the child
        self.workdir = str(workdir)
        self.state_dir = os.path.join(self.workdir, 'state')
        os.makedirs(self.state_dir, exist_ok=True)
        self.proc = None  # a subprocess.Popen once started
        self.port = 0
        self.runs = 0  # children started (one per attempt)
        self.killed = False

    # -- start ---------------------------------------------------------

    def start(self, timeout=START_TIMEOUT):
        """Start the target and return once it answers ``GET /ready``."""
        for _ in range(START_ATTEMPTS):
            self.spawn()
            if wait_until(self._ready_or_exited, timeout):
                if self.proc.poll() is None:
                    return self
                if 'already in use' not in self.output():
                    break  # exited for another reason: report it
            else:
                self.close()
                raise AssertionError(
                    '%s did not answer GET /ready within %s s:\n%s'
                    % (self.target, timeout, self.output_tail())
                )
        raise AssertionError('%s exited at start (code %s):\n%s'
                             % (self.target, self.proc.returncode,
                                self.output_tail()))  # fmt: skip

    def spawn(self):
        """Start the child on a free port, without waiting for it."""
        self.port = free_port()
        self.runs += 1
        argv, cwd = command(self.target, self.port)
        env = dict(os.environ, PYTHONUNBUFFERED='1',
                   DEPLOY_STATE_DIR=self.state_dir)  # fmt: skip
        env.update(self.env)
        path = os.environ.get('PYTHONPATH')
        env['PYTHONPATH'] = SRC_DIR + (os.pathsep + path if path else '')
        with open(self._log('out'), 'w') as out:
            with open(self._log('err'), 'w') as err:
                self.proc = subprocess.Popen(
                    argv, cwd=cwd, env=env, stdout=out, stderr=err,
                    stdin=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip

    def _ready_or_exited(self):
        return self.proc.poll() is not None or _is_ready(self.port)

    # -- output and state ------------------------------------------------

    def _log(self, stream):
        name = '%s-%d.%s' % (self.target, self.runs, stream)
        return os.path.join(self.workdir, name)

    def output(self):
        """Return what the current child wrote: stdout, then stderr."""
        text = ''
        for stream in ('out', 'err'):
            try:
                with open(self._log(stream)) as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def output_tail(self):
        text = self.output()
        if len(text) > OUTPUT_TAIL:
            text = '...' + text[-OUTPUT_TAIL:]
        return '--- %s output ---\n%s' % (self.target, text)

    def read_state(self, name):
        """Return the text of a state file the app wrote, or None."""
        try:
            with open(os.path.join(self.state_dir, name)) as f:
                return f.read()
        except OSError:
            return None

    # -- requests ----------------------------------------------------------

    @property
    def base_url(self):
        return 'http://%s:%d' % (HOST, self.port)

    @property
    def ws_url(self):
        return 'ws://%s:%d' % (HOST, self.port)

    # -- stop ------------------------------------------------------------

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout):
        """Wait for the child to exit by itself; return its exit code.
        AssertionError (after killing it) if it still runs at the
        deadline."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise AssertionError('%s still ran %s s later:\n%s'
                                 % (self.target, timeout,
                                    self.output_tail()))  # fmt: skip

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then wait at most ``timeout`` seconds; return the exit
        code. A child that had to be killed is an AssertionError."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def close(self):
        """Kill the child if it still runs and reap it (for cleanups).
        The child leads a process group of its own: its workers are
        killed with it."""
        if not self.running():
            return  # reaped: its pid, and so the group id, may be reused
        self.killed = True
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:  # pragma: no cover - the group is gone meanwhile
            pass
        try:
            self.proc.wait(KILL_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        try:
            if exc_info[0] is None:
                self.stop()
        finally:
            self.close()
