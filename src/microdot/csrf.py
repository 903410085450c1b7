"""
microdot.csrf
-------------

Cross-Site Request Forgery (CSRF) protection from the headers that browsers
add to their requests: ``Sec-Fetch-Site`` (Fetch Metadata), and ``Origin``
for older browsers, as the OWASP CSRF Prevention Cheat Sheet describes.
Clients other than browsers send neither and are not affected.
"""

from microdot.helpers import wraps
from microdot.microdot import abort, invoke_handler

try:
    from typing import Any, Callable, Optional  # noqa: F401
except ImportError:  # MPY: no typing module
    pass

# The state-changing methods that are checked; the others always pass.
_UNSAFE_METHODS = ('POST', 'PUT', 'PATCH', 'DELETE')

_DEFAULT_PORTS = {'http': ':80', 'https': ':443'}
_HOST_CHARS = '-.0123456789abcdefghijklmnopqrstuvwxyz'
_MAX_WRAPPERS = 32  # bounds the walk down a ``__wrapped__`` chain


class CSRF:
    """Protection against Cross-Site Request Forgery attacks.

    :param app: The application to protect.
    :param cors: An optional ``CORS`` object: the origins in its list of
                 allowed origins may send state-changing requests
                 (``'*'`` authorizes none).
    :param protect_all: If ``True``, all the routes are protected, except
                        those decorated with ``exempt``. If ``False``, only
                        the routes decorated with ``protect`` are.
    :param allow_subdomains: If ``True``, requests from subdomains of the
                             application's domain (same-site requests) are
                             allowed.

    A request with a state-changing method (``POST``, ``PUT``, ``PATCH`` or
    ``DELETE``) that fails the check gets a 403 response.
    """

    def __init__(
        self,
        app: 'Any' = None,
        cors: 'Any' = None,
        protect_all: bool = True,
        allow_subdomains: bool = False,
    ):
        self.cors = cors
        self.protect_all = protect_all
        self.allow_subdomains = allow_subdomains
        self._exempt = set()  # type: set
        self._protected = set()  # type: set
        if app is not None:
            self.initialize(app, cors)

    def initialize(self, app: 'Any', cors: 'Any' = None) -> None:
        """Initialize the CSRF object for the given application.

        :param app: The application to protect.
        :param cors: An optional ``CORS`` object whose allowed origins may
                     send state-changing requests.
        """
        if cors is not None:
            self.cors = cors
        app.before_request(self._before_request)

    def exempt(self, f: 'Callable') -> 'Callable':
        """Decorator to exempt a route from the CSRF check when all the
        routes are protected."""
        self._exempt.add(f)
        return f

    def protect(self, f: 'Callable') -> 'Callable':
        """Decorator to protect a route from CSRF attacks when
        ``protect_all`` is ``False``.

        The returned function checks the request before calling ``f``, so
        the decorator may go above or below other decorators.
        """
        self._protected.add(f)

        @wraps(f)
        async def wrapper(request, *args, **kwargs):
            self._check(request)
            return await invoke_handler(f, request, *args, **kwargs)

        self._protected.add(wrapper)
        return wrapper

    def _is_allowed(self, request: 'Any') -> bool:
        """Tell if ``request`` passes the CSRF check. Requests with a safe
        method always pass."""
        if request.method not in _UNSAFE_METHODS:
            return True
        headers = request.headers
        site = headers.get('Sec-Fetch-Site')
        if site is not None:
            if site == 'same-origin' or site == 'none':
                return True
            if site == 'same-site' and self.allow_subdomains:
                return True
            if site in ('same-site', 'cross-site'):
                return self._cors_allows(headers.get('Origin'))
            return False
        return self._origin_allowed(request, headers.get('Origin'))

    def _origin_allowed(self, request: 'Any', origin: 'Optional[str]') -> bool:
        """The check for browsers that do not send ``Sec-Fetch-Site``."""
        if origin is None:  # a client that is not a browser
            return True
        host = request.headers.get('Host', '')
        if _normalize(origin) == _normalize(request.scheme + '://' + host):
            return True
        if self._cors_allows(origin):
            return True
        return self.allow_subdomains and _same_domain(origin, host)

    def _cors_allows(self, origin: 'Optional[str]') -> bool:
        """Tell if ``origin`` is in the CORS object's explicit list."""
        if origin is None or self.cors is None:
            return False
        allowed = self.cors.allowed_origins
        if not allowed or isinstance(allowed, str):  # None, [] or '*'
            return False
        return origin in allowed

    def _check(self, request: 'Any') -> None:
        if not self._is_allowed(request):
            abort(403)

    def _before_request(self, request: 'Any') -> None:
        if request.method not in _UNSAFE_METHODS:
            return
        if self.protect_all:
            if _find(request.route, self._exempt):
                return
        elif not _find(request.route, self._protected):
            return
        self._check(request)


def _find(f: 'Any', functions: set) -> bool:
    """Tell if ``f`` or a function it wraps (``__wrapped__``, set by
    ``functools.wraps``) is in ``functions``. MPY: functions carry no
    attributes, so only ``f`` itself is found there."""
    for _ in range(_MAX_WRAPPERS):
        if f is None:
            return False
        if f in functions:
            return True
        f = getattr(f, '__wrapped__', None)
    return False


def _normalize(origin: str) -> str:
    """Lower-case an origin and drop its scheme's default port."""
    origin = origin.lower()
    scheme = origin.partition('://')[0]
    port = _DEFAULT_PORTS.get(scheme)
    if port is not None and origin.endswith(port):
        origin = origin[: -len(port)]
    return origin


def _hostname(host: str) -> str:
    """The lower-case name of a ``host[:port]``, without the port."""
    host = host.lower()
    if host.startswith('['):  # an IPv6 literal
        return host.partition(']')[0] + ']'
    return host.partition(':')[0]


def _same_domain(origin: str, host: str) -> bool:
    """Tell if the host of ``origin`` and the request host ``host`` share
    their last two labels (``a.example.com`` and ``b.example.com``). IP
    addresses only match themselves."""
    origin_host = _hostname(origin.partition('://')[2])
    request_host = _hostname(host)
    for char in origin_host:  # such as '@' of a forged userinfo
        if char not in _HOST_CHARS:
            return False
    labels = request_host.split('.')
    if len(labels) < 2 or request_host.startswith('['):
        return False
    if labels[-1].isdigit():  # an IPv4 address
        return False
    domain = '.'.join(labels[-2:])
    return origin_host == domain or origin_host.endswith('.' + domain)
