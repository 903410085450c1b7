"""
microdot.auth
-------------

Authentication for routes: Basic Authentication with a username and a
password (RFC 7617), and tokens such as ``Bearer`` ones (RFC 6750) sent in
a header. The application decides who a user is in its ``authenticate``
callback; the extension parses the header, refuses malformed ones and
answers with the error response when there is no valid user.
"""

import binascii

from microdot.helpers import wraps
from microdot.microdot import HTTPException, Microdot, invoke_handler

try:
    from typing import Any, Callable, Optional, Tuple  # noqa: F401
except ImportError:  # MPY: no typing module
    pass

_DEFAULT_REALM = 'Please login'


def _authorization_credentials(
    value: 'Optional[str]', scheme: str
) -> 'Optional[str]':
    """Return the credentials of an ``Authorization`` header value written
    ``<scheme> <credentials>``, or ``None`` if it is missing or uses
    another scheme. The scheme is case-insensitive and one or more spaces
    follow it (RFC 9110 section 11.4)."""
    if value is None:
        return None
    name, _, credentials = value.strip().partition(' ')
    if name.lower() != scheme.lower():
        return None
    return credentials.strip()


def _decode_base64(text: str) -> 'Optional[bytes]':
    """Decode strict base64 (RFC 4648 section 4), or return ``None``.

    ``binascii.a2b_base64`` skips characters outside the alphabet and
    accepts extra padding on both runtimes (MPY: no ``strict_mode``; it
    came in CPython 3.11), so the decoded bytes are encoded again: only
    their canonical text is accepted, which also refuses stray bits.
    """
    data = text.encode()
    try:
        decoded = binascii.a2b_base64(data)
    except ValueError:  # binascii.Error is a ValueError
        return None
    if binascii.b2a_base64(decoded, newline=False) != data:
        return None
    return decoded


def _quote(text: str) -> str:
    """Return ``text`` as an RFC 9110 quoted-string (section 5.6.4)."""
    return '"' + text.replace('\\', '\\\\').replace('"', '\\"') + '"'


class _Auth:
    """The callbacks and route decorators that both kinds share.

    Subclasses define ``_credentials(request)`` (the arguments of the
    authentication callback after the request, or ``None``) and set
    ``challenge``, the ``WWW-Authenticate`` value of a 401 response.
    """

    challenge = ''

    def __init__(self, scheme: str, error_status: int):
        self.scheme = scheme
        self.error_status = error_status
        self.auth_callback = None  # type: Optional[Callable]
        self.error_callback = None  # type: Optional[Callable]

    def authenticate(self, f: 'Callable') -> 'Callable':
        """Decorator to configure the authentication callback.

        The callback, sync or async, returns a user object if the
        credentials are valid, or ``None`` if they are not.
        """
        self.auth_callback = f
        return f

    def errorhandler(self, f: 'Callable') -> 'Callable':
        """Decorator to configure the error callback.

        Microdot calls the error callback, sync or async, with the request
        to allow the application to generate a custom error response; its
        return value is the response. The default error response is to
        call ``abort(401)`` (the configured ``error_status``).
        """
        self.error_callback = f
        return f

    def _credentials(self, request: 'Any') -> 'Optional[Tuple]':
        raise NotImplementedError()  # pragma: no cover

    async def _get_user(self, request: 'Any') -> 'Any':
        """Return the user of the request, or ``None`` when the header is
        missing or malformed or the callback rejects the credentials."""
        credentials = self._credentials(request)
        if credentials is None:
            return None
        if self.auth_callback is None:
            raise RuntimeError('no authenticate callback was configured')
        return await invoke_handler(self.auth_callback, request, *credentials)

    async def _error_response(self, request: 'Any') -> 'Any':
        """Return what the error callback returns, or abort with
        ``error_status`` (and the challenge on a 401)."""
        if self.error_callback is not None:
            return await invoke_handler(self.error_callback, request)
        error = HTTPException(self.error_status)
        if self.error_status == 401:  # RFC 9110 section 15.5.2
            error.headers = {'WWW-Authenticate': self.challenge}
        raise error

    def __call__(self, f: 'Callable') -> 'Callable':
        """Decorator to protect a route with authentication.

        Routes that are decorated in this way will only be invoked if the
        authentication callback returned a valid user object, otherwise
        the error callback will be executed. The user object is available
        to the route as ``request.g.current_user``.
        """

        @wraps(f)
        async def protected(request: 'Any', *args: 'Any', **kwargs: 'Any'):
            user = await self._get_user(request)
            if user is None:
                return await self._error_response(request)
            request.g.current_user = user
            return await invoke_handler(f, request, *args, **kwargs)

        return protected

    def optional(self, f: 'Callable') -> 'Callable':
        """Decorator to make authentication optional for a route.

        The route always runs; ``request.g.current_user`` is the user
        object when valid credentials were given, or ``None``.
        """

        @wraps(f)
        async def optional(request: 'Any', *args: 'Any', **kwargs: 'Any'):
            request.g.current_user = await self._get_user(request)
            return await invoke_handler(f, request, *args, **kwargs)

        return optional


class BasicAuth(_Auth):
    """Basic Authentication.

    :param realm: The realm that is displayed when the user is prompted to
                  authenticate in the browser. An application object given
                  here (``BasicAuth(app)``) means the default realm.
    :param charset: The charset that is used to encode the realm.
    :param scheme: The authentication scheme. Defaults to 'Basic'.
    :param error_status: The error status code to return when
                         authentication fails. Defaults to 401.

    The authentication callback receives the request, the username and the
    password: ``f(request, username, password)``.
    """

    def __init__(
        self,
        realm: 'Any' = _DEFAULT_REALM,
        charset: str = 'UTF-8',
        scheme: str = 'Basic',
        error_status: int = 401,
    ):
        super().__init__(scheme, error_status)
        if isinstance(realm, Microdot):
            realm = _DEFAULT_REALM
        self.realm = realm
        self.charset = charset
        self.challenge = '%s realm=%s, charset=%s' % (
            scheme, _quote(realm), _quote(charset)
        )  # fmt: skip

    def _credentials(self, request: 'Any') -> 'Optional[Tuple]':
        """``(username, password)``, split at the first colon of the
        decoded credentials (RFC 7617 section 2)."""
        encoded = _authorization_credentials(
            request.headers.get('Authorization'), self.scheme
        )
        if not encoded:
            return None
        decoded = _decode_base64(encoded)
        if decoded is None:
            return None
        try:
            text = decoded.decode()
        except UnicodeError:
            return None
        username, colon, password = text.partition(':')
        if not colon:
            return None
        return username, password


class TokenAuth(_Auth):
    """Token based authentication.

    :param header: The name of the header that will contain the token.
                   Defaults to 'Authorization'.
    :param scheme: The authentication scheme. Defaults to 'Bearer'.
    :param error_status: The error status code to return when
                         authentication fails. Defaults to 401.

    In the ``Authorization`` header the token follows the scheme; any
    other header holds the token alone. The authentication callback
    receives the request and the token: ``f(request, token)``.
    """

    def __init__(
        self,
        header: str = 'Authorization',
        scheme: str = 'Bearer',
        error_status: int = 401,
    ):
        super().__init__(scheme, error_status)
        self.header = header
        self.challenge = scheme

    def _credentials(self, request: 'Any') -> 'Optional[Tuple]':
        value = request.headers.get(self.header)
        if self.header.lower() == 'authorization':
            value = _authorization_credentials(value, self.scheme)
        elif value is not None:
            value = value.strip()
        if not value:
            return None
        return (value,)
