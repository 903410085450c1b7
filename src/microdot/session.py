"""
microdot.session
----------------

Secure user sessions: the session data is a JSON Web Token signed with
HMAC-SHA256 (HS256) and stored in a cookie in the client's browser.

On CPython PyJWT signs and verifies the token. MicroPython has neither
PyJWT nor ``hmac`` nor ``base64``, so there this module uses a small HS256
implementation of its own over ``hashlib`` and ``binascii``; the tokens of
either side are accepted by the other. The claims are this module's JSON on
both runtimes, and only ``exp`` and ``nbf`` are checked in them.
"""

import binascii
import hashlib
import json
import time

from microdot.helpers import wraps
from microdot.microdot import invoke_handler

try:
    import jwt as _pyjwt
except ImportError:  # MicroPython, or CPython without PyJWT
    _pyjwt = None  # type: ignore[assignment]

try:
    from typing import Any, Callable, Optional, Union  # noqa: F401
except ImportError:  # MPY: no typing module
    pass

# ---------------------------------------------------------------------------
# HS256 JSON Web Tokens, portable
# ---------------------------------------------------------------------------

_B64URL = b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

#: base64url of ``{"alg":"HS256","typ":"JWT"}``, the header PyJWT writes.
_JWT_HEADER = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9'

# MPY: time.time() counts from 2000 on the boards whose epoch is 2000; a
# token's "exp" counts from 1970 wherever it was made.
_EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0


def epoch_time() -> float:
    """Return the seconds since 1970, the clock of a token's ``exp``
    claim, on every board."""
    return time.time() + _EPOCH_OFFSET


def _json_dumps(payload: dict) -> bytes:
    # Raw UTF-8 rather than \u escapes: MPY's json.loads does not join
    # escaped surrogate pairs, so text beyond the BMP would not survive.
    try:
        text = json.dumps(payload, separators=(',', ':'), ensure_ascii=False)
    except TypeError:  # MPY: no ensure_ascii, and it never escapes
        text = json.dumps(payload, separators=(',', ':'))
    return text.encode()


def _b64url_encode(data: bytes) -> str:
    text = binascii.b2a_base64(data).rstrip(b'\n=')
    return text.replace(b'+', b'-').replace(b'/', b'_').decode()


def _b64url_decode(text: str) -> bytes:
    data = text.encode()
    # PERF: strip() removes alphabet bytes from both ends, so anything left
    # over is a byte outside it. MPY: a2b_base64 skips bad bytes silently.
    if data.strip(_B64URL) or len(data) % 4 == 1:
        raise ValueError('Invalid base64url text')
    data = data.replace(b'-', b'+').replace(b'_', b'/')
    return binascii.a2b_base64(data + b'=' * (-len(data) % 4))


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """Return the HMAC-SHA256 (RFC 2104) of ``message`` under ``key``."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key + b'\x00' * (64 - len(key))
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
    inner.update(message)
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))
    outer.update(inner.digest())
    return outer.digest()


def _same_bytes(a: bytes, b: bytes) -> bool:
    """Compare in time that does not depend on where the bytes differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for x, y in zip(a, b):
        diff |= x ^ y
    return diff == 0


def _key_bytes(key: 'Union[str, bytes]') -> bytes:
    return key.encode() if isinstance(key, str) else bytes(key)


def _is_time(value: 'Any') -> bool:
    """A finite number (``inf - inf`` and ``nan - nan`` are not 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value - value == 0


def jwt_encode(payload: dict, key: 'Union[str, bytes]') -> str:
    """Return an HS256 JSON Web Token with ``payload`` as its claims."""
    body = _b64url_encode(_json_dumps(payload))
    signing_input = _JWT_HEADER + '.' + body
    signature = hmac_sha256(_key_bytes(key), signing_input.encode())
    return signing_input + '.' + _b64url_encode(signature)


def jwt_decode(token: str, key: 'Union[str, bytes]') -> dict:
    """Return the claims of an HS256 JSON Web Token.

    ``ValueError`` is raised for a token that is malformed, is not HS256,
    has a wrong signature, is expired (``exp``) or not yet valid (``nbf``).
    """
    parts = token.split('.')
    if len(parts) != 3:
        raise ValueError('A token has three segments')
    try:
        header = json.loads(_b64url_decode(parts[0]))
        signature = _b64url_decode(parts[2])
    except Exception:
        raise ValueError('Malformed token')
    if not isinstance(header, dict) or header.get('alg') != 'HS256':
        raise ValueError('The token is not HS256')
    signing_input = (parts[0] + '.' + parts[1]).encode()
    if not _same_bytes(hmac_sha256(_key_bytes(key), signing_input), signature):
        raise ValueError('Wrong token signature')
    return _claims(_b64url_decode(parts[1]))


def _claims(payload_json: bytes) -> dict:
    """Parse the verified payload of a token and check its times.

    Only ``exp`` and ``nbf`` are checked, the same way on both runtimes;
    other registered names (``sub``, ``iat``, ``aud``, ...) are the
    application's session data. A time that is present must be a finite
    number, even ``null`` is refused (as PyJWT does).
    """
    try:
        payload = json.loads(payload_json)
    except Exception:
        raise ValueError('Malformed token')
    if not isinstance(payload, dict):
        raise ValueError('The token claims are not an object')
    now = epoch_time()
    exp = payload.get('exp')  # type: Any
    if 'exp' in payload and (not _is_time(exp) or exp <= now):
        raise ValueError('The token has expired')
    nbf = payload.get('nbf')  # type: Any
    if 'nbf' in payload and (not _is_time(nbf) or nbf > now):
        raise ValueError('The token is not valid yet')
    return payload


# ---------------------------------------------------------------------------
# Sessions
# ---------------------------------------------------------------------------


class SessionDict(dict):
    """A session dictionary.

    The session dictionary is a standard Python dictionary that has been
    extended with convenience ``save()`` and ``delete()`` methods.
    """

    def __init__(self, request: 'Any', session_dict: dict):
        super().__init__(session_dict)
        self.request = request

    def save(self) -> None:
        """Update the session cookie."""
        session_for(self.request).update(self.request, self)

    def delete(self) -> None:
        """Delete the session cookie."""
        session_for(self.request).delete(self.request)


class Session:
    """User sessions stored in a signed cookie.

    :param app: The application instance.
    :param secret_key: The secret key, as a string or bytes object.
    :param cookie_options: A dictionary with cookie options to pass as
                           arguments to ``Response.set_cookie()``. The
                           defaults are ``path='/'`` and
                           ``http_only=True``.
    """

    #: The name of the session cookie.
    cookie_name = 'session'

    def __init__(
        self,
        app: 'Any' = None,
        secret_key: 'Union[str, bytes, None]' = None,
        cookie_options: 'Optional[dict]' = None,
    ):
        self.secret_key = secret_key
        self.cookie_options = {'path': '/', 'http_only': True}  # type: dict
        if cookie_options:
            self.cookie_options.update(cookie_options)
        if app is not None:
            self.initialize(app)

    def initialize(
        self,
        app: 'Any',
        secret_key: 'Union[str, bytes, None]' = None,
        cookie_options: 'Optional[dict]' = None,
    ) -> None:
        """Attach the sessions to an application.

        :param app: The application instance.
        :param secret_key: The secret key, as a string or bytes object.
        :param cookie_options: Cookie options, merged over those given to
                               the constructor.
        """
        if secret_key is not None:
            self.secret_key = secret_key
        if cookie_options:
            self.cookie_options.update(cookie_options)
        app._session = self

    def _key(
        self, secret_key: 'Union[str, bytes, None]'
    ) -> 'Union[str, bytes]':
        key = self.secret_key if secret_key is None else secret_key
        if key is None:
            raise ValueError('The session secret key is not configured')
        return key

    def encode(
        self, payload: dict, secret_key: 'Union[str, bytes, None]' = None
    ) -> str:
        """Return ``payload`` as a signed token (a JWT, HS256)."""
        key = self._key(secret_key)
        if _pyjwt is None:
            return jwt_encode(payload, key)
        # PyJWT signs (its JWS layer); the claims are this module's JSON,
        # so no claim name is refused on one runtime and kept on the other
        return _pyjwt.api_jws.encode(_json_dumps(payload), key, 'HS256')

    def decode(
        self, token: str, secret_key: 'Union[str, bytes, None]' = None
    ) -> dict:
        """Return the payload of a signed token.

        ``ValueError`` is raised if the token is invalid, tampered with,
        signed with another key or expired.
        """
        key = self._key(secret_key)
        if _pyjwt is None:
            return jwt_decode(token, key)
        try:
            payload_json = _pyjwt.api_jws.decode(
                token, key, algorithms=['HS256']
            )
        except _pyjwt.InvalidTokenError as exc:
            raise ValueError(str(exc))
        return _claims(payload_json)

    def get(self, request: 'Any') -> SessionDict:
        """Retrieve the user session.

        :param request: The client request.

        The return value is a session dictionary with the data stored in
        the user's session, or ``{}`` if the session data is not available
        or invalid.
        """
        session = getattr(request.g, '_session', None)
        if session is not None:
            return session
        key = self._key(None)
        data = {}  # type: dict
        token = request.cookies.get(self.cookie_name)
        if token:
            try:
                data = self.decode(token, key)
            except Exception:  # whatever is wrong, the session is empty
                pass
        session = SessionDict(request, data)
        request.g._session = session
        return session

    def update(self, request: 'Any', session: dict) -> None:
        """Update the user session.

        :param request: The client request.
        :param session: A dictionary with the update session data for the
                        user.

        Calling this method adds a cookie with the updated session to the
        request currently being processed.
        """
        # MPY: dict(a_dict_subclass) fails there; items() is a plain view.
        token = self.encode(dict(session.items()))
        options = self.cookie_options

        def set_session_cookie(request, response):
            response.set_cookie(self.cookie_name, token, **options)
            return response

        self._on_response(request, set_session_cookie)

    def delete(self, request: 'Any') -> None:
        """Remove the user session.

        :param request: The client request.

        Calling this method adds a cookie removal header to the request
        currently being processed.
        """
        options = self.cookie_options

        def delete_session_cookie(request, response):
            response.delete_cookie(self.cookie_name, **options)
            return response

        request.g._session = SessionDict(request, {})
        self._on_response(request, delete_session_cookie)

    @staticmethod
    def _on_response(request: 'Any', action: 'Callable') -> None:
        """Make ``action`` the one change of the session cookie that the
        response of ``request`` gets: the last save or delete wins."""
        first = getattr(request.g, '_session_action', None) is None
        request.g._session_action = action
        if first:

            def apply(request, response):
                return request.g._session_action(request, response)

            request.after_request(apply)


def session_for(request: 'Any') -> Session:
    """Return the :class:`Session` that serves ``request``: the one of the
    mounted sub-application that owns the route, if it has one, else the
    application's."""
    for app in (request.subapp, request.app):
        session = getattr(app, '_session', None)
        if session is not None:
            return session
    raise RuntimeError('No Session is initialized for this application')


def with_session(f: 'Callable') -> 'Callable':
    """Decorator that passes the user session to the route handler.

    The session dictionary is passed to the decorated function as an
    argument after the request object. Note that the decorator does not
    save the session. To update the session, call the ``session.save()``
    method.
    """

    @wraps(f)
    async def wrapper(request, *args, **kwargs):
        session = session_for(request).get(request)
        return await invoke_handler(f, request, session, *args, **kwargs)

    return wrapper
