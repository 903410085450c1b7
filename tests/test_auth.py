"""Tests of microdot.auth: Basic and token authentication, through the test
client and over real sockets.

Portable: they run under pytest and under ``tests/mpy_runner.py`` on
MicroPython. Each app records the arguments its authentication callback
received in ``app.seen`` (a list), so the tests can check what the
extension parsed, and that a malformed header never reaches the callback.
"""

import binascii

import serverutil
import support

from microdot import Microdot, Response, abort
from microdot.auth import BasicAuth, TokenAuth
from microdot.test_client import TestClient

USERS = {'susan': 'hello', 'david': 'by:e', 'zoë': 'pässwörd'}
TOKENS = {'secret-token': 'susan', 'tökén': 'zoë'}

TEXT = 'text/plain; charset=UTF-8'
JSON = 'application/json'
CHALLENGE = 'Basic realm="Please login", charset="UTF-8"'
ANONYMOUS = b'Hello, anonymous user!'


# -- helpers ------------------------------------------------------------------


def headers_of(res):
    """The response headers as a dict with lower-case names (no order)."""
    return {name.lower(): res.headers[name] for name in res.headers}


def basic(credentials, scheme='Basic'):
    """An ``Authorization`` value for ``credentials`` (str or bytes)."""
    if isinstance(credentials, str):
        credentials = credentials.encode()
    encoded = binascii.b2a_base64(credentials, newline=False).decode()
    return scheme + ' ' + encoded


def header(value, name='Authorization'):
    """Request headers with ``name: value``; none when ``value`` is None."""
    if value is None:
        return {}
    return {name: value}


def response_headers(body, extra=None, content_type=TEXT):
    """The headers of a ``content_type`` response with ``body`` (bytes):
    Content-Type, Content-Length and the ``extra`` ones."""
    headers = {'content-type': content_type, 'content-length': str(len(body))}
    headers.update(extra or {})
    return headers


def assert_response(res, status, body, extra=None, content_type=TEXT):
    """A ``status`` response with ``body`` (bytes) and exactly the headers
    ``response_headers(body, extra, content_type)``."""
    assert res.status_code == status, (res.status_code, res.body)
    headers = headers_of(res)
    assert headers == response_headers(body, extra, content_type), headers
    assert res.body == body


def assert_ok(res, body):
    """A 200 text response whose body is ``body`` (bytes)."""
    assert_response(res, 200, body)
    assert res.reason is None


def assert_refused(res, challenge=CHALLENGE):
    """The default 401 response with ``WWW-Authenticate: challenge``."""
    assert_response(res, 401, b'Unauthorized', {'www-authenticate': challenge})


def add_routes(app, auth):
    """Add ``/`` (protected, async), ``/sync`` (protected, ``def``) and
    ``/optional`` (optional, async) to ``app``."""

    @app.route('/')
    @auth
    async def index(request):
        return 'Hello, %s!' % request.g.current_user

    @app.route('/sync')
    @auth
    def sync_index(request):
        return 'Hello, %s!' % request.g.current_user

    @app.route('/optional')
    @auth.optional
    async def optional(request):
        if request.g.current_user is not None:
            return 'Hello, %s!' % request.g.current_user
        return 'Hello, anonymous user!'


def auth_app(auth, check, sync):
    """An app with ``add_routes(app, auth)``; the callback of ``auth``, a
    ``def`` when ``sync``, returns ``check(app, *credentials)``."""
    app = Microdot()
    app.seen = []
    app.auth = auth
    if sync:

        def verify(request, *credentials):
            return check(app, *credentials)

    else:

        async def verify(request, *credentials):
            return check(app, *credentials)

    auth.authenticate(verify)
    add_routes(app, auth)
    return app


def check_password(app, username, password):
    app.seen.append((username, password))
    if USERS.get(username) == password:
        return username
    return None


def check_token(app, token):
    app.seen.append(token)
    return TOKENS.get(token)


def basic_app(sync=False, **kwargs):
    """An app with a ``BasicAuth(**kwargs)`` that accepts ``USERS``; its
    callback is a ``def`` when ``sync``."""
    return auth_app(BasicAuth(**kwargs), check_password, sync)


def token_app(sync=False, **kwargs):
    """An app with a ``TokenAuth(**kwargs)`` that accepts ``TOKENS``."""
    return auth_app(TokenAuth(**kwargs), check_token, sync)


def protected_app(auth, route, verify=None, path='/'):
    """An app whose route ``path`` runs ``route`` behind ``auth``; ``verify``
    is the authentication callback unless it is None (each of them may be
    a ``def`` or an ``async def``)."""
    app = Microdot()
    if verify is not None:
        auth.authenticate(verify)
    app.route(path)(auth(route))
    return app


async def say_ok(request):
    return 'ok'


async def get(app, path, authorization=None, headers=None):
    """GET ``path`` through the test client, with an ``Authorization``
    header when ``authorization`` is given."""
    headers = dict(headers or {})
    if authorization is not None:
        headers['Authorization'] = authorization
    return await TestClient(app).get(path, headers=headers)


async def check_user(app, headers, user, seen):
    """With ``headers``, the protected routes (async and sync) and the
    optional one greet ``user``; the callback saw ``seen`` each time."""
    body = ('Hello, %s!' % user).encode()
    for path in ('/', '/sync', '/optional'):
        assert_ok(await get(app, path, headers=headers), body)
    assert app.seen == [seen] * 3, app.seen


async def check_no_user(app, headers, challenge, seen=None):
    """With ``headers``, the protected routes answer the default 401 with
    ``challenge`` and the optional one greets an anonymous user; the
    callback saw ``seen`` each time, or never ran when ``seen`` is None (a
    missing or malformed header)."""
    assert_refused(await get(app, '/', headers=headers), challenge)
    assert_refused(await get(app, '/sync', headers=headers), challenge)
    assert_ok(await get(app, '/optional', headers=headers), ANONYMOUS)
    assert app.seen == ([] if seen is None else [seen] * 3), app.seen


async def check_basic_user(authorization, user, seen, **kwargs):
    """``check_user`` on a ``basic_app(**kwargs)``."""
    await check_user(basic_app(**kwargs), header(authorization), user, seen)


async def check_basic_no_user(authorization, seen=None, **kwargs):
    """``check_no_user`` on a ``basic_app(**kwargs)``."""
    app = basic_app(**kwargs)
    await check_no_user(app, header(authorization), CHALLENGE, seen)


async def check_token_user(headers, user, seen, **kwargs):
    """``check_user`` on a ``token_app(**kwargs)``."""
    await check_user(token_app(**kwargs), headers, user, seen)


async def check_token_no_user(headers, seen=None, challenge='Bearer', **kw):
    """``check_no_user`` on a ``token_app(**kw)``."""
    await check_no_user(token_app(**kw), headers, challenge, seen)


async def for_each(cases, check):
    """``await check(case)`` for each case; a failure names its case."""
    for case in cases:
        try:
            await check(case)
        except AssertionError as exc:
            raise AssertionError('%r: %s' % (case, exc))


# -- BasicAuth: valid credentials ---------------------------------------------


async def test_basic_valid_credentials_async_callback():
    await check_basic_user(basic('susan:hello'), 'susan', ('susan', 'hello'))


async def test_basic_valid_credentials_sync_callback():
    value = basic('susan:hello')
    await check_basic_user(value, 'susan', ('susan', 'hello'), sync=True)


async def test_basic_sync_route_runs_in_executor_on_cpython():
    support.cpython_only()
    import threading

    threads = []

    def verify(request, username, password):
        threads.append(threading.current_thread())
        return username

    def index(request):
        threads.append(threading.current_thread())
        return request.g.current_user

    app = protected_app(BasicAuth(), index, verify)
    assert_ok(await get(app, '/', basic('susan:x')), b'susan')
    loop_thread = threading.current_thread()
    assert len(threads) == 2
    assert threads[0] is not loop_thread
    assert threads[1] is not loop_thread


async def test_basic_current_user_is_the_object_the_callback_returned():
    user = {'name': 'susan'}
    seen = []

    async def verify(request, username, password):
        return user

    async def index(request):
        seen.append(request.g.current_user)
        return 'ok'

    app = protected_app(BasicAuth(), index, verify)
    assert_ok(await get(app, '/', basic('susan:hello')), b'ok')
    assert len(seen) == 1
    assert seen[0] is user


async def test_basic_callback_receives_the_request():
    seen = []

    async def verify(request, username, password):
        seen.append((request.method, request.path))
        return username

    app = protected_app(BasicAuth(), say_ok, verify, '/page')
    assert_ok(await get(app, '/page', basic('a:b')), b'ok')
    assert seen == [('GET', '/page')]


async def test_basic_route_arguments_are_passed_through():
    async def verify(request, username, password):
        return username

    async def user_page(request, user_id, name):
        return '%s %d %s' % (request.g.current_user, user_id + 1, name)

    path = '/users/<int:user_id>/<name>'
    app = protected_app(BasicAuth(), user_page, verify, path)
    res = await get(app, '/users/41/bob', basic('susan:x'))
    assert_ok(res, b'susan 42 bob')


async def test_basic_password_with_colons():
    await check_basic_user(basic('david:by:e'), 'david', ('david', 'by:e'))


async def test_basic_split_at_first_colon():
    await check_basic_no_user(basic('a:b:c:'), ('a', 'b:c:'))


async def test_basic_non_ascii_username_and_password():
    value = basic('zoë:pässwörd')
    await check_basic_user(value, 'zoë', ('zoë', 'pässwörd'))


async def test_basic_empty_username_or_password_reach_the_callback():
    cases = ((':', ('', '')), ('susan:', ('susan', '')))
    await for_each(
        cases, lambda case: check_basic_no_user(basic(case[0]), case[1])
    )


async def test_basic_scheme_is_case_insensitive():
    await for_each(
        ('basic', 'BASIC', 'bAsIc'),
        lambda scheme: check_basic_user(
            basic('susan:hello', scheme), 'susan', ('susan', 'hello')
        ),
    )


async def test_basic_several_spaces_after_scheme():
    # RFC 9110 section 11.4: credentials = auth-scheme [ 1*SP ... ]
    value = basic('susan:hello').replace(' ', '   ')
    await check_basic_user(value, 'susan', ('susan', 'hello'))


async def test_basic_trailing_spaces():
    value = basic('susan:hello') + '   '
    await check_basic_user(value, 'susan', ('susan', 'hello'))


async def test_basic_head_request():
    app = basic_app()
    client = TestClient(app)
    res = await client.request(
        'HEAD', '/', headers={'Authorization': basic('susan:hello')}
    )
    assert res.status_code == 200
    assert headers_of(res) == response_headers(b'Hello, susan!')
    assert res.body == b''


# -- BasicAuth: refused credentials -------------------------------------------


async def test_basic_wrong_credentials():
    # An unknown user, a wrong password, a password in the wrong case.
    cases = (
        ('susan:wrong', ('susan', 'wrong')),
        ('nobody:hello', ('nobody', 'hello')),
        ('susan:HELLO', ('susan', 'HELLO')),
    )
    await for_each(
        cases, lambda case: check_basic_no_user(basic(case[0]), case[1])
    )


async def test_basic_wrong_password_sync_callback():
    value = basic('susan:wrong')
    await check_basic_no_user(value, ('susan', 'wrong'), sync=True)


async def test_basic_missing_header():
    await check_basic_no_user(None)


async def test_basic_callback_returning_false_value_is_still_a_user():
    # Only None means "no user": an empty user object is a user.
    async def verify(request, username, password):
        return ''

    async def index(request):
        return 'user=%r' % (request.g.current_user,)

    app = protected_app(BasicAuth(), index, verify)
    assert_ok(await get(app, '/', basic('a:b')), b"user=''")


# -- BasicAuth: malformed headers ---------------------------------------------
# Each value is refused on the protected routes and means an anonymous user
# on the optional one, without calling the callback (``check_no_user``).


async def test_basic_malformed_base64_alphabet():
    # '-' and '_' belong to base64url, not to the base64 of RFC 7617.
    url_safe = basic('susan:hello>?>')
    assert '+' in url_safe or '/' in url_safe
    two = basic('susan:hello') + ' ' + basic('david:by:e')[6:]
    values = (
        'Basic dXNl!cjpoZWxsbw==',  # an invalid character
        'Basic !!!!',
        url_safe.replace('+', '-').replace('/', '_'),  # base64url
        'Basic dXNl cjpoZWxsbw==',  # a space inside
        two,  # two credentials
        'Basic dXNlcjpwYXNzé',  # a non-ASCII character
        'Basic ' + 'A' * 1000 + '!',  # very long
    )
    await for_each(values, check_basic_no_user)


async def test_basic_malformed_base64_padding():
    padded = basic('susan:hello')
    assert padded.endswith('=')
    # RFC 4648 section 3.5: the low bits of the last character before
    # '==' are zero in canonical base64; 'x' sets one of them ('w' is the
    # canonical character), so only a non-canonical encoder sends this.
    assert basic('a:bc') == 'Basic YTpiYw=='
    values = (
        padded.rstrip('='),  # missing padding
        basic('susan:hello') + '==',  # extra padding
        'Basic c3U=c2FuOmhlbGxv',  # padding in the middle
        'Basic ====',  # only padding
        basic('susan:hello') + 'A',  # length not a multiple of four
        'Basic YTpiYx==',  # non-zero padding bits
    )
    await for_each(values, check_basic_no_user)


async def test_basic_malformed_decoded_credentials():
    values = (
        basic('susanhello'),  # no colon
        'Basic =',  # empty
        basic(b'\xff\xfe:hello'),  # not UTF-8
        basic(b'\xff:\xff'),
        basic(b'zo\xeb:x'),  # 'zoë:x' in ISO-8859-1 is not UTF-8
    )
    await for_each(values, check_basic_no_user)


async def test_basic_malformed_scheme():
    credentials = basic('susan:hello')[6:]
    values = (
        basic('susan:hello', 'Bearer'),  # another scheme
        'Bearer secret-token',
        # 'Basicx' is another scheme, not 'Basic' followed by credentials.
        basic('susan:hello', 'Basicx'),
        basic('susan:hello', 'Bäsic'),  # a non-ASCII scheme
        'Basic' + credentials,  # no space after the scheme
        'Basic\t' + credentials,  # a tab after the scheme
        credentials,  # no scheme
    )
    await for_each(values, check_basic_no_user)


async def test_basic_malformed_no_credentials():
    await for_each(('Basic', 'Basic    ', ''), check_basic_no_user)


# -- BasicAuth: options -------------------------------------------------------


async def test_basic_app_as_first_argument_means_default_realm():
    # The user guide writes ``BasicAuth(app)``.
    app = Microdot()
    auth = BasicAuth(app)
    assert auth.realm == 'Please login'

    @auth.authenticate
    async def verify(request, username, password):
        if USERS.get(username) == password:
            return username

    @app.route('/')
    @auth
    async def index(request):
        return 'Hello, %s!' % request.g.current_user

    assert_refused(await get(app, '/'))
    assert_ok(await get(app, '/', basic('susan:hello')), b'Hello, susan!')


async def test_basic_custom_realm_and_charset():
    cases = (
        ({'realm': 'My App'}, 'Basic realm="My App", charset="UTF-8"'),
        ({'realm': 'Zürich'}, 'Basic realm="Zürich", charset="UTF-8"'),
        (
            {'charset': 'ISO-8859-1'},
            'Basic realm="Please login", charset="ISO-8859-1"',
        ),
    )

    async def check(case):
        assert_refused(await get(basic_app(**case[0]), '/'), case[1])

    await for_each(cases, check)


async def test_basic_realm_quotes_and_backslashes_are_escaped():
    # RFC 9110 section 5.6.4: quoted-pair inside a quoted-string.
    app = basic_app(realm='a "b" \\c')
    res = await get(app, '/')
    assert_refused(res, 'Basic realm="a \\"b\\" \\\\c", charset="UTF-8"')


async def test_basic_custom_realm_and_charset_positional():
    app = basic_app()
    auth = BasicAuth('Area 51', 'utf-8')
    assert auth.realm == 'Area 51'
    assert auth.charset == 'utf-8'
    assert auth.scheme == 'Basic'
    assert auth.error_status == 401
    assert app.auth.realm == 'Please login'
    assert app.auth.charset == 'UTF-8'


async def test_basic_custom_scheme_accepted():
    value = basic('susan:hello', 'custom')
    await check_basic_user(value, 'susan', ('susan', 'hello'), scheme='Custom')


async def test_basic_custom_scheme_refuses_basic():
    app = basic_app(scheme='Custom')
    res = await get(app, '/', basic('susan:hello'))
    assert_refused(res, 'Custom realm="Please login", charset="UTF-8"')
    assert app.seen == []


async def test_basic_custom_error_status():
    # The status replaces 401, with its phrase as the body ('N/A' for a
    # code without one), for wrong credentials as for a missing header.
    cases = (
        (403, basic('susan:wrong'), b'Forbidden'),
        (404, None, b'Not Found'),
        (499, None, b'N/A'),
    )

    async def check(case):
        status, authorization, body = case
        app = basic_app(error_status=status)
        assert_response(await get(app, '/', authorization), status, body)

    await for_each(cases, check)


# -- error responses ----------------------------------------------------------


def record_errors(app):
    """Give ``app.auth`` an error callback that records the paths it runs
    for and answers ``nope``; return that record."""
    seen = []

    @app.auth.errorhandler
    async def error(request):
        seen.append(request.path)
        return 'nope', 401

    return seen


async def test_errorhandler_sync():
    app = basic_app()
    seen = []

    @app.auth.errorhandler
    def error(request):
        seen.append(request.path)
        return 'Go away', 418, {'X-Reason': 'auth'}

    res = await get(app, '/', basic('susan:wrong'))
    assert_response(res, 418, b'Go away', {'x-reason': 'auth'})
    assert seen == ['/']


async def test_errorhandler_async():
    app = basic_app()

    @app.auth.errorhandler
    async def error(request):
        return Response(
            {'error': 'login'},
            401,
            {'WWW-Authenticate': 'Basic realm="Custom"'},
        )

    res = await get(app, '/')
    challenge = {'www-authenticate': 'Basic realm="Custom"'}
    assert_response(res, 401, b'{"error":"login"}', challenge, JSON)


async def test_errorhandler_on_sync_route():
    app = basic_app()

    @app.auth.errorhandler
    def error(request):
        return 'nope', 401

    res = await get(app, '/sync', 'Basic %%%')
    assert_response(res, 401, b'nope')


async def test_errorhandler_not_called_for_valid_user():
    app = basic_app()
    seen = record_errors(app)
    assert_ok(await get(app, '/', basic('susan:hello')), b'Hello, susan!')
    assert seen == []


async def test_errorhandler_not_called_by_optional():
    app = basic_app()
    seen = record_errors(app)
    res = await get(app, '/optional', basic('susan:wrong'))
    assert_ok(res, ANONYMOUS)
    assert seen == []


async def test_errorhandler_may_abort():
    app = basic_app()

    @app.auth.errorhandler
    async def error(request):
        abort(403, 'Not you')

    assert_response(await get(app, '/'), 403, b'Not you')


async def test_errorhandler_returning_none_is_a_server_error():
    app = basic_app()

    @app.auth.errorhandler
    async def error(request):
        return None

    res = await get(app, '/')
    assert_response(res, 500, b'Internal Server Error')


async def test_default_error_goes_through_app_errorhandler():
    # The default error is abort(401): the app's handler for 401 shapes
    # the response, and the challenge is added to it.
    app = basic_app()

    @app.errorhandler(401)
    async def unauthorized(request):
        return {'error': 'unauthorized'}, 401

    res = await get(app, '/')
    challenge = {'www-authenticate': CHALLENGE}
    assert_response(res, 401, b'{"error":"unauthorized"}', challenge, JSON)


async def test_default_error_keeps_challenge_of_app_errorhandler():
    app = basic_app()

    @app.errorhandler(401)
    async def unauthorized(request):
        return 'login', 401, {'WWW-Authenticate': 'Basic realm="x"'}

    res = await get(app, '/')
    assert_response(
        res, 401, b'login', {'www-authenticate': 'Basic realm="x"'}
    )


async def test_default_error_runs_after_error_request_handlers():
    app = basic_app()
    calls = []

    @app.after_request
    async def after(request, response):
        calls.append('after_request')

    @app.after_error_request
    async def after_error(request, response):
        calls.append('after_error_request')
        response.headers['X-Error'] = 'yes'

    res = await get(app, '/')
    extra = {'www-authenticate': CHALLENGE, 'x-error': 'yes'}
    assert_response(res, 401, b'Unauthorized', extra)
    assert calls == ['after_error_request']


async def test_callback_may_abort():
    async def verify(request, username, password):
        abort(403, 'Locked')

    app = protected_app(BasicAuth(), say_ok, verify)
    res = await get(app, '/', basic('susan:hello'))
    assert_response(res, 403, b'Locked')


async def test_callback_exception_is_a_server_error():
    async def verify(request, token):
        raise ValueError('database down')

    app = protected_app(TokenAuth(), say_ok, verify)
    res = await get(app, '/', 'Bearer abc')
    assert_response(res, 500, b'Internal Server Error')


async def test_no_authenticate_callback_is_a_server_error():
    app = protected_app(BasicAuth(), say_ok)
    res = await get(app, '/', basic('susan:hello'))
    assert res.status_code == 500
    assert res.body == b'Internal Server Error'


async def test_no_authenticate_callback_missing_header_is_refused():
    assert_refused(await get(protected_app(BasicAuth(), say_ok), '/'))


async def test_decorators_return_the_callbacks():
    auth = BasicAuth()

    def verify(request, username, password):
        return None

    def error(request):
        return 'x'

    assert auth.authenticate(verify) is verify
    assert auth.errorhandler(error) is error
    assert auth.auth_callback is verify
    assert auth.error_callback is error


# -- optional -----------------------------------------------------------------
# ``check_user`` and ``check_no_user`` request ``/optional`` too: every
# valid, wrong, missing or malformed credential above is also checked on a
# route with optional authentication.


async def test_optional_sync_route_and_sync_callback():
    app = basic_app(sync=True)

    @app.route('/optional-sync')
    @app.auth.optional
    def optional_sync(request):
        return 'user=%r' % (request.g.current_user,)

    assert_ok(await get(app, '/optional-sync'), b'user=None')
    res = await get(app, '/optional-sync', basic('susan:hello'))
    assert_ok(res, b"user='susan'")


async def test_optional_passes_route_arguments():
    app = basic_app()

    @app.route('/items/<int:item_id>')
    @app.auth.optional
    async def item(request, item_id):
        return '%r %d' % (request.g.current_user, item_id)

    assert_ok(await get(app, '/items/7'), b'None 7')
    assert_ok(await get(app, '/items/8', basic('susan:hello')), b"'susan' 8")


# -- TokenAuth ----------------------------------------------------------------


async def test_token_valid_async_callback():
    headers = header('Bearer secret-token')
    await check_token_user(headers, 'susan', 'secret-token')


async def test_token_valid_sync_callback():
    headers = header('Bearer secret-token')
    await check_token_user(headers, 'susan', 'secret-token', sync=True)


async def test_token_current_user_is_the_object_the_callback_returned():
    user = ['susan']
    seen = []

    def verify(request, token):
        return user

    def index(request):
        seen.append(request.g.current_user)
        return 'ok'

    app = protected_app(TokenAuth(), index, verify)
    assert_ok(await get(app, '/', 'Bearer x'), b'ok')
    assert len(seen) == 1
    assert seen[0] is user


async def test_token_non_ascii_token():
    await check_token_user(header('Bearer tökén'), 'zoë', 'tökén')


async def test_token_scheme_case_insensitive():
    await for_each(
        ('bearer secret-token', 'BEARER secret-token'),
        lambda value: check_token_user(header(value), 'susan', 'secret-token'),
    )


async def test_token_is_stripped():
    headers = header('Bearer    secret-token   ')
    await check_token_user(headers, 'susan', 'secret-token')


async def test_token_keeps_inner_text():
    # Everything after the scheme is the token: the callback judges it.
    await check_token_no_user(header('Bearer a b=='), 'a b==')


async def test_token_wrong_token():
    # Tokens are case-sensitive.
    await for_each(
        ('wrong', 'SECRET-TOKEN'),
        lambda token: check_token_no_user(header('Bearer ' + token), token),
    )


async def test_token_missing_header():
    await check_token_no_user({})


async def test_token_malformed_scheme():
    values = (
        'Basic secret-token',  # another scheme
        'secret-token',  # no scheme
        'Bearer\tsecret-token',  # a tab after the scheme
        'Bearersecret-token',  # no space after the scheme
    )
    await for_each(values, lambda value: check_token_no_user(header(value)))


async def test_token_malformed_empty_token():
    await for_each(
        ('Bearer', 'Bearer   ', ''),
        lambda value: check_token_no_user(header(value)),
    )


async def test_token_custom_scheme():
    value = 'token secret-token'
    await check_token_user(
        header(value), 'susan', 'secret-token', scheme='Token'
    )
    value = 'Bearer secret-token'
    await check_token_no_user(header(value), challenge='Token', scheme='Token')


async def test_token_custom_header():
    headers = {'X-API-Key': 'secret-token'}
    await check_token_user(
        headers, 'susan', 'secret-token', header='X-API-Key'
    )


async def test_token_custom_header_name_is_case_insensitive():
    headers = {'x-api-key': 'secret-token'}
    await check_token_user(
        headers, 'susan', 'secret-token', header='X-API-Key'
    )


async def test_token_custom_header_whole_value_is_the_token():
    value = 'Bearer secret-token'
    headers = {'X-API-Key': value}
    await check_token_no_user(headers, value, header='X-API-Key')


async def test_token_custom_header_value_is_stripped():
    headers = {'X-API-Key': '  secret-token  '}
    await check_token_user(
        headers, 'susan', 'secret-token', header='X-API-Key'
    )


async def test_token_custom_header_ignores_authorization():
    headers = header('Bearer secret-token')
    await check_token_no_user(headers, header='X-API-Key')


async def test_token_custom_header_missing():
    await check_token_no_user({}, header='X-API-Key')


async def test_token_custom_header_empty():
    await for_each(
        ('', '   '),
        lambda value: check_token_no_user(
            {'X-API-Key': value}, header='X-API-Key'
        ),
    )


async def test_token_header_named_authorization_in_lower_case():
    # It still holds the scheme and the token.
    value = 'Bearer secret-token'
    kwargs = {'header': 'authorization'}
    await check_token_user(header(value), 'susan', 'secret-token', **kwargs)
    await check_token_no_user(header('secret-token'), **kwargs)


async def test_token_custom_error_status():
    app = token_app(error_status=403)
    res = await get(app, '/', 'Bearer wrong')
    assert_response(res, 403, b'Forbidden')


async def test_token_custom_scheme_and_header_challenge():
    kwargs = {'header': 'X-Token', 'scheme': 'ApiKey'}
    await check_token_no_user({}, challenge='ApiKey', **kwargs)


async def test_token_errorhandler_sync():
    app = token_app()

    @app.auth.errorhandler
    def error(request):
        return {'error': 'invalid token'}, 401

    res = await get(app, '/', 'Bearer wrong')
    assert_response(res, 401, b'{"error":"invalid token"}', None, JSON)


async def test_token_errorhandler_async():
    app = token_app()

    @app.auth.errorhandler
    async def error(request):
        return 'no token', 401, {'WWW-Authenticate': 'Bearer realm="api"'}

    res = await get(app, '/')
    challenge = {'www-authenticate': 'Bearer realm="api"'}
    assert_response(res, 401, b'no token', challenge)


async def test_token_and_basic_on_one_app():
    app = Microdot()
    basic_auth = BasicAuth()
    token_auth = TokenAuth()

    @basic_auth.authenticate
    async def verify_password(request, username, password):
        return 'basic:' + username

    @token_auth.authenticate
    async def verify_token(request, token):
        return 'token:' + token

    @app.route('/basic')
    @basic_auth
    async def by_password(request):
        return request.g.current_user

    @app.route('/token')
    @token_auth
    async def by_token(request):
        return request.g.current_user

    assert_ok(await get(app, '/basic', basic('a:b')), b'basic:a')
    assert_ok(await get(app, '/token', 'Bearer t'), b'token:t')
    assert_refused(await get(app, '/basic', 'Bearer t'))
    assert_refused(await get(app, '/token', basic('a:b')), 'Bearer')


# -- over a real server -------------------------------------------------------

CLOSE = {'connection': 'close'}


async def fetch(app, path, headers=None):
    """GET ``path`` on a real server with ``Connection: close``."""
    server = await serverutil.start(app)
    try:
        return await server.request('GET', path, headers)
    finally:
        await server.stop()


async def test_server_basic_valid_credentials():
    app = basic_app()
    res = await fetch(app, '/', header(basic('zoë:pässwörd')))
    assert res.status_line == b'HTTP/1.1 200 OK'
    body = 'Hello, zoë!'.encode()
    assert res.headers == response_headers(body, CLOSE)
    assert res.body == body
    assert app.seen == [('zoë', 'pässwörd')]


async def test_server_basic_missing_header():
    res = await fetch(basic_app(), '/')
    assert res.status_line == b'HTTP/1.1 401 Unauthorized'
    extra = {'www-authenticate': CHALLENGE, 'connection': 'close'}
    assert res.headers == response_headers(b'Unauthorized', extra)
    assert res.getlist('www-authenticate') == [CHALLENGE]
    assert res.body == b'Unauthorized'


async def test_server_basic_sync_callback_and_sync_route():
    app = basic_app(sync=True)
    res = await fetch(app, '/sync', header(basic('david:by:e')))
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers == response_headers(b'Hello, david!', CLOSE)
    assert res.body == b'Hello, david!'


async def test_server_basic_malformed_header():
    app = basic_app()
    res = await fetch(app, '/optional', header('Basic ###'))
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == ANONYMOUS
    res = await fetch(app, '/', header('Basic ###'))
    assert res.status_line == b'HTTP/1.1 401 Unauthorized'
    assert res.headers['www-authenticate'] == CHALLENGE
    assert res.body == b'Unauthorized'
    assert app.seen == []


async def test_server_non_utf8_header_bytes_are_a_bad_request():
    # The core refuses a header value that is not UTF-8 before routing.
    app = basic_app()
    server = await serverutil.start(app)
    try:
        request = serverutil.build_request(server.port, 'GET', '/', CLOSE)
        request = request[:-2] + b'Authorization: Basic \xff\xfe\r\n\r\n'
        res = serverutil.HTTPResponse(await server.exchange(request))
    finally:
        await server.stop()
    assert res.status_line == b'HTTP/1.1 400 Bad Request'
    assert res.body == b'Bad Request'
    assert app.seen == []


async def test_server_token_custom_header():
    app = token_app(header='X-API-Key')
    res = await fetch(app, '/', {'X-API-Key': 'secret-token'})
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'Hello, susan!'
    res = await fetch(app, '/', {'X-API-Key': 'other'})
    assert res.status_line == b'HTTP/1.1 401 Unauthorized'
    extra = {'www-authenticate': 'Bearer', 'connection': 'close'}
    assert res.headers == response_headers(b'Unauthorized', extra)
    assert res.body == b'Unauthorized'
    assert app.seen == ['secret-token', 'other']


async def test_server_keep_alive_requests_authenticate_separately():
    app = token_app()

    async def script(server, client):
        results = []
        for token in ('secret-token', 'wrong', 'secret-token'):
            data = serverutil.build_request(
                server.port, 'GET', '/', header('Bearer ' + token)
            )
            await client.send(data)
            results.append(await client.read_response())
        return results

    ok, refused, ok_again = await serverutil.with_client(app, script)
    assert ok.status_line == b'HTTP/1.1 200 OK'
    assert ok.body == b'Hello, susan!'
    assert refused.status_line == b'HTTP/1.1 401 Unauthorized'
    assert refused.headers['www-authenticate'] == 'Bearer'
    assert refused.body == b'Unauthorized'
    assert ok_again.status_line == b'HTTP/1.1 200 OK'
    assert ok_again.body == b'Hello, susan!'
