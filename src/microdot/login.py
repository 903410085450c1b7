"""
microdot.login
--------------

User logins: the logged in user's id is kept in the user session, and an
optional signed "remember me" cookie logs the user back in after the
browser session ends.
"""

from microdot.helpers import wraps
from microdot.microdot import invoke_handler, redirect, urlencode
from microdot.session import epoch_time, session_for

try:
    from typing import Any, Callable, Optional  # noqa: F401
except ImportError:  # MPY: no typing module
    pass


def _is_local_url(url: 'Optional[str]') -> bool:
    """Tell whether ``url`` is a path on this site, safe to redirect to.

    ``//host`` and ``/\\host`` are read by browsers as other hosts, and
    control characters can hide either.
    """
    if not url or url[0] != '/' or url[1:2] in ('/', '\\'):
        return False
    for char in url:
        if char == '\\' or ord(char) < 32 or ord(char) == 127:
            return False
    return True


def _remember_key(secret_key: 'Any') -> 'Any':
    """The key of remember-me tokens: the session key with a suffix, so
    that a session cookie is never accepted as a remember cookie."""
    if secret_key is None:
        raise ValueError('The session secret key is not configured')
    suffix = '|remember'
    return secret_key + (
        suffix if isinstance(secret_key, str) else b'|remember'
    )


class Login:
    """User login support for Microdot.

    :param login_url: the URL to redirect to when a login is required. The
                      default is '/login'.
    """

    #: The name of the "remember me" cookie.
    remember_cookie_name = '_remember'
    #: The days a "remember me" cookie lasts with ``remember=True``.
    remember_days = 30

    def __init__(self, login_url: str = '/login'):
        self.login_url = login_url
        self.user_loader_callback = None  # type: Optional[Callable]

    def user_loader(self, f: 'Callable') -> 'Callable':
        """Decorator to configure the user callback.

        The decorated function receives the user ID as an argument and must
        return the corresponding user object, or ``None`` if the user ID is
        invalid.
        """
        self.user_loader_callback = f
        return f

    async def _load_user(self, user_id: 'Any') -> 'Any':
        if self.user_loader_callback is None:
            raise RuntimeError('No user loader is configured')
        return await invoke_handler(self.user_loader_callback, user_id)

    def _remembered_user_id(self, request: 'Any') -> 'Any':
        token = request.cookies.get(self.remember_cookie_name)
        if token:
            sessions = session_for(request)
            try:
                claims = sessions.decode(
                    token, _remember_key(sessions.secret_key)
                )
            except Exception:  # tampered, expired or from another key
                return None
            if 'exp' in claims:  # a remember token always expires
                return claims.get('user_id')
        return None

    async def get_current_user(self, request: 'Any') -> 'Any':
        """Return the logged in user, or ``None``.

        :param request: the request object

        A login restored from the "remember me" cookie is written back to
        the user session, marked as not fresh. The user is also stored in
        ``request.g.current_user``.
        """
        g = request.g
        if getattr(g, '_login_checked', False):
            return g.current_user
        session = session_for(request).get(request)
        user_id = session.get('_user_id')
        restored = False
        if user_id is None:
            user_id = self._remembered_user_id(request)
            restored = user_id is not None
        user = None
        if user_id is not None:
            user = await self._load_user(user_id)
        if user is not None and restored:
            session['_user_id'] = user_id
            session['_fresh'] = False
            session.save()
        g.current_user = user
        g._login_checked = True
        return user

    def _redirect_to_login(self, request: 'Any') -> 'Any':
        sep = '&' if '?' in self.login_url else '?'
        return redirect(
            self.login_url + sep + 'next=' + urlencode(request.url)
        )

    async def login_user(
        self,
        request: 'Any',
        user: 'Any',
        remember: 'Any' = False,
        redirect_url: str = '/',
    ) -> 'Any':
        """Log a user in.

        :param request: the request object
        :param user: the user object
        :param remember: if the user's logged in state should be remembered
                         with a cookie after the session ends. Set to the
                         number of days the remember cookie should last, or
                         to ``True`` to use a default duration of 30 days.
        :param redirect_url: the URL to redirect to after login

        This call marks the user as logged in by storing their user ID in
        the user session. The method returns a redirect response, either to
        the URL the user originally intended to visit, or if there is no
        original URL to the URL specified by ``redirect_url``. Only a path
        on this site is followed as the original URL.
        """
        sessions = session_for(request)
        session = sessions.get(request)
        session['_user_id'] = user.id
        session['_fresh'] = True
        session.save()
        request.g.current_user = user
        request.g._login_checked = True
        next_url = request.args.get('next')
        res = redirect(next_url if _is_local_url(next_url) else redirect_url)
        if remember:
            days = self.remember_days if remember is True else int(remember)
            max_age = days * 86400
            token = sessions.encode(
                {'user_id': user.id, 'exp': int(epoch_time()) + max_age},
                _remember_key(sessions.secret_key),
            )
            options = dict(sessions.cookie_options)  # type: dict
            options.pop('expires', None)
            options['max_age'] = max_age
            res.set_cookie(self.remember_cookie_name, token, **options)
        return res

    async def logout_user(self, request: 'Any') -> None:
        """Log a user out.

        :param request: the request object

        This call removes information about the user's log in from the user
        session. If a remember cookie exists, it is removed as well.
        """
        sessions = session_for(request)
        session = sessions.get(request)
        session.pop('_user_id', None)
        session.pop('_fresh', None)
        if session:
            session.save()
        else:  # nothing else was kept in it
            session.delete()
        request.g.current_user = None
        request.g._login_checked = True
        if self.remember_cookie_name in request.cookies:
            options = sessions.cookie_options

            def forget(request, response):
                response.delete_cookie(self.remember_cookie_name, **options)
                return response

            request.after_request(forget)

    def __call__(self, f: 'Callable') -> 'Callable':
        """Decorator to protect a route with authentication.

        If the user is not logged in, Microdot will redirect to the login
        page first. The decorated route will only run after successful
        login by the user. If the user is already logged in, the route will
        run immediately.
        """
        return self._protect(f, False)

    def fresh(self, f: 'Callable') -> 'Callable':
        """Decorator to protect a route with "fresh" authentication.

        This decorator prevents the route from running when the login
        session is not fresh. A fresh session is a session that has been
        created from direct user interaction with the login page, while a
        non-fresh session occurs when a login is restored from a "remember
        me" cookie.
        """
        return self._protect(f, True)

    def _protect(self, f: 'Callable', fresh: bool) -> 'Callable':
        @wraps(f)
        async def wrapper(request, *args, **kwargs):
            user = await self.get_current_user(request)
            if user is None or (
                fresh and not session_for(request).get(request).get('_fresh')
            ):
                return self._redirect_to_login(request)
            return await invoke_handler(f, request, *args, **kwargs)

        return wrapper
