"""Portable test helpers: import these from tests on both runtimes."""

import asyncio
import sys

IS_MICROPYTHON = sys.implementation.name == 'micropython'

try:
    # pytest reports a unittest.SkipTest as a skip, so raising SkipTest
    # directly works under pytest too.
    from unittest import SkipTest as _SkipBase
except ImportError:  # MPY: no unittest
    _SkipBase = Exception


class SkipTest(_SkipBase):
    """Raised to skip a test; tests/mpy_runner.py counts it as skipped."""


def skip(reason):
    """Skip the running test, giving ``reason``."""
    if not IS_MICROPYTHON and 'pytest' in sys.modules:
        import pytest

        pytest.skip(reason)
    # MicroPython, or tests/mpy_runner.py on CPython.
    raise SkipTest(reason)


def cpython_only():
    """Skip the running test on MicroPython."""
    if IS_MICROPYTHON:
        skip('CPython only')


def run(coro):
    """Run a coroutine to completion and return its result."""
    return asyncio.run(coro)
