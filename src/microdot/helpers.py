"""Small helpers shared by the core and the extensions."""

try:
    from typing import Any, Callable
except ImportError:  # MPY: no typing; annotations are never evaluated there
    pass

try:
    import functools
except ImportError:  # MPY: no functools
    functools = None  # type: ignore[assignment]


def wraps(
    wrapped: 'Callable[..., Any]',
) -> 'Callable[[Callable[..., Any]], Callable[..., Any]]':
    """Return a decorator that makes a wrapper look like ``wrapped``.

    On CPython this is :func:`functools.wraps`, which copies the name,
    docstring and other attributes. On MicroPython functions cannot carry
    attributes, so the decorator returns the wrapper unchanged.

    :param wrapped: The function that the decorated wrapper replaces.
    """
    if functools is not None:
        return functools.wraps(wrapped)

    def decorator(wrapper: 'Callable[..., Any]') -> 'Callable[..., Any]':
        return wrapper

    return decorator
