"""
microdot.cors
-------------

Cross-Origin Resource Sharing (CORS): the ``Access-Control-*`` response
headers that let scripts of other origins use an application, and the
answers to the preflight requests that browsers send before them (Fetch
standard, section 3.2 "CORS protocol").
"""

from microdot.microdot import Response

try:
    from typing import Any, Dict, List, Optional, Union  # noqa: F401
except ImportError:  # MPY: no typing module
    pass

# RFC 9110 section 5.6.2: the characters of a token (a method or a header
# name); whatever else a preflight asks for is not echoed back.
_TOKEN_CHARS = (
    "!#$%&'*+-.^_`|~0123456789"
    'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
)


def _is_token(text: str) -> bool:
    if not text:
        return False
    for char in text:
        if char not in _TOKEN_CHARS:
            return False
    return True


def _is_token_list(text: str) -> bool:
    """Tell if ``text`` is a comma-separated list of tokens, as the
    ``Access-Control-Request-Headers`` value of a browser."""
    for item in text.split(','):
        if not _is_token(item.strip(' \t')):
            return False
    return True


def _is_origin(text: str) -> bool:
    """Tell if ``text`` looks like a serialized origin,
    ``scheme://host[:port]`` in printable ASCII (RFC 6454 section 6.2);
    ``null`` and anything with a path, userinfo or spaces is not one."""
    scheme, sep, host = text.partition('://')
    if not sep or not _is_token(scheme) or not host:
        return False
    for char in host:
        if char <= ' ' or char > '~' or char in '/?#@\\':
            return False
    return True


def _merge_vary(current: 'Optional[str]', name: str) -> str:
    """Add ``name`` to a ``Vary`` value unless it is listed or ``*``."""
    if not current:
        return name
    for item in current.split(','):
        item = item.strip().lower()
        if item == '*' or item == name.lower():
            return current
    return current + ', ' + name


class CORS:
    """Add CORS headers to HTTP responses.

    :param app: The application to add CORS headers to.
    :param allowed_origins: A list of origins that are allowed to make
                            cross-site requests. If set to '*', all origins
                            are allowed.
    :param allow_credentials: If set to True, the
                              ``Access-Control-Allow-Credentials`` header
                              will be set to ``true`` to indicate to the
                              browser that it can expose cookies and
                              authentication headers.
    :param allowed_methods: A list of methods that are allowed to be used
                            when making cross-site requests. If not set,
                            all methods are allowed.
    :param expose_headers: A list of headers that the browser is allowed to
                           exposed.
    :param allowed_headers: A list of headers that are allowed to be used
                            when making cross-site requests. If not set,
                            all headers are allowed.
    :param max_age: The maximum amount of time in seconds that the browser
                    should cache the results of a preflight request.
    :param handle_cors: If set to False, CORS headers will not be added to
                        responses. This can be useful if you want to add
                        CORS headers manually.

    Origins are compared exactly, as browsers send them
    (``scheme://host[:port]``). A preflight request (``OPTIONS`` with
    ``Origin`` and ``Access-Control-Request-Method``) is answered with a
    204 without running the route.
    """

    def __init__(
        self,
        app: 'Any' = None,
        allowed_origins: 'Union[List[str], str, None]' = None,
        allow_credentials: bool = False,
        allowed_methods: 'Optional[List[str]]' = None,
        expose_headers: 'Optional[List[str]]' = None,
        allowed_headers: 'Optional[List[str]]' = None,
        max_age: 'Optional[int]' = None,
        handle_cors: bool = True,
    ):
        if isinstance(allowed_origins, str) and allowed_origins != '*':
            # one origin: a string would match its substrings with ``in``
            allowed_origins = [allowed_origins]
        #: The allowed origins: a list, ``'*'`` or ``None`` (none).
        self.allowed_origins = allowed_origins  # type: Any
        self.allow_credentials = allow_credentials
        self.allowed_methods = allowed_methods
        self.expose_headers = expose_headers
        self.allowed_headers = allowed_headers
        self.max_age = max_age
        # PERF: the joined header values are built once, not per request
        self._methods = _join(allowed_methods)
        self._expose = _join(expose_headers)
        self._headers = _join(allowed_headers)
        if app is not None:
            self.initialize(app, handle_cors=handle_cors)

    def initialize(self, app: 'Any', handle_cors: bool = True) -> None:
        """Initialize the CORS object for the given application.

        :param app: The application to add CORS headers to.
        :param handle_cors: If set to False, CORS headers will not be added
                            to responses. This can be useful if you want to
                            add CORS headers manually.
        """
        if handle_cors:
            app.before_request(self._before_request)
            app.after_request(self._after_request)
            app.after_error_request(self._after_error_request)

    def get_cors_headers(self, request: 'Any') -> 'Dict[str, str]':
        """Return a dictionary of CORS headers to add to a given request.

        :param request: The request to add CORS headers to.

        The dictionary is empty when the request has no ``Origin`` header
        or its origin is not allowed. For a preflight request it has the
        preflight headers, else those of an actual response. ``Vary`` is
        given as ``Origin``: merge it with the response's own ``Vary``.
        """
        origin = request.headers.get('Origin')
        allow_origin = self._allow_origin(origin)
        if allow_origin is None:
            return {}
        headers = {'Access-Control-Allow-Origin': allow_origin}
        if allow_origin != '*':
            headers['Vary'] = 'Origin'
        if self.allow_credentials:
            headers['Access-Control-Allow-Credentials'] = 'true'
        if _is_preflight(request):
            self._add_preflight_headers(request, headers)
        elif self._expose:
            headers['Access-Control-Expose-Headers'] = self._expose
        return headers

    def _allow_origin(self, origin: 'Optional[str]') -> 'Optional[str]':
        """The ``Access-Control-Allow-Origin`` value for ``origin``, or
        ``None`` when it is not allowed."""
        if not origin:
            return None
        if self.allowed_origins == '*':
            if not self.allow_credentials:
                return '*'
            # a browser rejects '*' with credentials: reflect the origin,
            # but only a real one (a ``null`` origin is any sandboxed page)
            return origin if _is_origin(origin) else None
        if origin in (self.allowed_origins or ()):
            return origin
        return None

    def _add_preflight_headers(self, request: 'Any', headers: dict) -> None:
        method = request.headers.get('Access-Control-Request-Method', '')
        if self._methods is not None:
            headers['Access-Control-Allow-Methods'] = self._methods
        elif _is_token(method):
            headers['Access-Control-Allow-Methods'] = method
        requested = request.headers.get('Access-Control-Request-Headers')
        if requested:
            if self._headers is not None:
                headers['Access-Control-Allow-Headers'] = self._headers
            elif _is_token_list(requested):
                headers['Access-Control-Allow-Headers'] = requested
        if self.max_age is not None:
            headers['Access-Control-Max-Age'] = str(self.max_age)

    def _add_cors_headers(self, request: 'Any', response: 'Any') -> None:
        headers = self.get_cors_headers(request)
        vary = headers.pop('Vary', None)
        response.headers.update(headers)
        if vary is not None:
            response.headers['Vary'] = _merge_vary(
                response.headers.get('Vary'), vary
            )

    def _before_request(self, request: 'Any') -> 'Any':
        if _is_preflight(request):  # the route never sees a preflight
            return Response(status_code=204)
        return None

    def _after_request(self, request: 'Any', response: 'Any') -> 'Any':
        if _is_preflight(request):
            # also replaces the core's 200 to an OPTIONS without a route
            response = Response(status_code=204)
        self._add_cors_headers(request, response)
        return response

    def _after_error_request(self, request: 'Any', response: 'Any') -> 'Any':
        self._add_cors_headers(request, response)
        return response


def _join(items: 'Optional[List[str]]') -> 'Optional[str]':
    return None if items is None else ', '.join(items)


def _is_preflight(request: 'Any') -> bool:
    """Tell if ``request`` is a CORS preflight request (Fetch standard,
    section 3.2.2)."""
    headers = request.headers
    return (
        request.method == 'OPTIONS'
        and 'Origin' in headers
        and 'Access-Control-Request-Method' in headers
    )
