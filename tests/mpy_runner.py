"""A tiny test runner for the portable tests, on MicroPython and CPython.

Usage::

    micropython tests/mpy_runner.py [MODULE | MODULE.TEST ...]

It imports each ``tests/test_*.py`` module, except those with a line
``# runtime: cpython``, and calls its ``test_*`` functions in source order.
A test that returns a coroutine (an ``async def`` test) is run with
``asyncio.run()``. A test passes when it returns, is skipped when it raises
``support.SkipTest`` and fails on any other exception. The last line is
``N passed, N failed, N skipped``; the exit status is 1 when a test failed
or none ran.

MicroPython has no pytest, unittest, inspect, functools or os.path, so
this file uses only sys, os, gc, io and asyncio.
"""

import gc
import os
import sys

IS_MICROPYTHON = sys.implementation.name == 'micropython'
CPYTHON_MARKER = '# runtime: cpython'
TIMEOUT = 60  # seconds per async test, as pytest-timeout's setting


def _parent(path):
    """Return the directory part of ``path`` (MPY: no os.path)."""
    if '/' not in path:
        return '.'
    return path.rsplit('/', 1)[0] or '/'


def _tests_dir():
    """Return the absolute path of the directory holding this file."""
    path = __file__.replace('\\', '/')
    if not path.startswith('/') and ':' not in path:
        path = os.getcwd().replace('\\', '/') + '/' + path
    while '/./' in path:
        path = path.replace('/./', '/')
    return _parent(path)


def _read(path):
    with open(path) as f:
        return f.read()


def _is_cpython_only(text):
    for line in text.split('\n'):
        if line.rstrip() == CPYTHON_MARKER:
            return True
    return False


def _format_exception(exc):
    """Return the traceback of ``exc`` as text."""
    if IS_MICROPYTHON:
        import io

        buffer = io.StringIO()
        sys.print_exception(exc, buffer)  # type: ignore[attr-defined]
        return buffer.getvalue()
    import traceback

    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return ''.join(lines)


def _progress(mark):
    sys.stdout.write(mark)
    if hasattr(sys.stdout, 'flush'):
        sys.stdout.flush()


class Results:
    """Counts outcomes and keeps the report lines for the end."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.reports = []

    def add_pass(self):
        self.passed += 1
        _progress('.')

    def add_failure(self, name, detail):
        self.failed += 1
        self.reports.append('FAIL ' + name + '\n' + detail.rstrip('\n'))
        _progress('F')

    def add_skip(self, name, reason):
        self.skipped += 1
        self.reports.append('SKIP ' + name + ': ' + reason)
        _progress('s')


def _parse_filters(args):
    """Map module name to a set of test names, or None for all tests."""
    selected = {}
    for arg in args:
        arg = arg.replace('\\', '/').rsplit('/', 1)[-1]
        if arg.endswith('.py'):
            arg = arg[:-3]
        parts = arg.split('.', 1)
        module = parts[0]
        if len(parts) == 1 or selected.get(module, 0) is None:
            selected[module] = None
        else:
            selected.setdefault(module, set()).add(parts[1])
    return selected


def _discover(tests_dir):
    names = []
    for entry in sorted(os.listdir(tests_dir)):
        if entry.startswith('test_') and entry.endswith('.py'):
            names.append(entry[:-3])
    return names


def _test_names(module, text):
    """Return the module's test function names in source order."""
    found = []
    for name in dir(module):
        if name.startswith('test_') and callable(getattr(module, name)):
            # 'def test_x(' also finds 'async def test_x('.
            position = text.find('def ' + name + '(')
            found.append((len(text) if position < 0 else position, name))
    found.sort()
    return [name for _, name in found]


def _run_coroutine(coro):
    import asyncio

    if IS_MICROPYTHON:
        # MPY: asyncio.run() keeps one global loop; start each test afresh.
        asyncio.new_event_loop()
    asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def _run_test(name, function, results, skip_class):
    try:
        result = function()
        if result is not None:
            _run_coroutine(result)
    except skip_class as exc:
        results.add_skip(name, str(exc))
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        results.add_failure(name, _format_exception(exc))
    else:
        results.add_pass()


def _run_module(name, path, only, results, skip_class):
    """Import test module ``name`` and run its tests (``only`` if set)."""
    text = _read(path)
    if _is_cpython_only(text):
        results.reports.append('SKIP ' + name + ': ' + CPYTHON_MARKER)
        return
    loaded = set(sys.modules)
    try:
        module = __import__(name)
    except skip_class as exc:
        results.add_skip(name, str(exc))
        return
    except Exception as exc:
        results.add_failure(name + ' (import)', _format_exception(exc))
        return
    names = _test_names(module, text)
    for test_name in only or ():
        if test_name not in names:
            results.add_failure(name + '.' + test_name, 'no such test')
    for test_name in names:
        if only is None or test_name in only:
            function = getattr(module, test_name)
            _run_test(name + '.' + test_name, function, results, skip_class)
    # MPY: the 2 MB heap holds every module imported so far; drop those
    # this test module brought in (extensions, helpers) so that the later
    # modules find the room that they would have when run alone.
    for module_name in list(sys.modules):
        if module_name not in loaded:
            del sys.modules[module_name]


def run_all(tests_dir, selected, results):
    """Run the selected modules (all when ``selected`` is empty)."""
    from support import SkipTest

    modules = _discover(tests_dir)
    for name in selected:
        if name not in modules:
            results.add_failure(name, 'no such test module')
    for name in modules:
        if selected and name not in selected:
            continue
        path = tests_dir + '/' + name + '.py'
        _run_module(name, path, selected.get(name), results, SkipTest)
        gc.collect()


def main():
    tests_dir = _tests_dir()
    for path in (tests_dir, _parent(tests_dir) + '/src'):
        sys.path.insert(0, path)
    version = '.'.join(str(n) for n in sys.implementation.version[:3])
    print('mpy_runner on %s %s' % (sys.implementation.name, version))
    results = Results()
    run_all(tests_dir, _parse_filters(sys.argv[1:]), results)
    print()
    for report in results.reports:
        print(report)
    if results.passed + results.failed == 0:
        print('no test ran')
    print(
        '%d passed, %d failed, %d skipped'
        % (results.passed, results.failed, results.skipped)
    )
    ran = results.passed + results.failed
    sys.exit(1 if results.failed or ran == 0 else 0)


if __name__ == '__main__':
    main()
