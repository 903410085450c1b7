"""Microdot: the impossibly small web framework for Python and MicroPython."""

from microdot.microdot import (  # noqa: F401
    AsyncBytesIO,
    Microdot,
    MultiDict,
    NoCaseDict,
    Request,
    Response,
    URLPattern,
    abort,
    iscoroutine,
    redirect,
    send_file,
)

__version__ = '0.1.0'
