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
CHALLENGE = 'Basic realm="Please login", charset="UTF-8"'


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


def text_headers(body):
    """The headers of a text/plain response with ``body`` (bytes)."""
    return {'content-type': TEXT, 'content-length': str(len(body))}


def assert_ok(res, body):
    """A 200 text response whose body is ``body`` (bytes)."""
    assert res.status_code == 200, (res.status_code, res.body)
    assert res.reason is None
    assert headers_of(res) == text_headers(body)
    assert res.body == body


def assert_refused(res, challenge=CHALLENGE):
    """The default 401 response with ``WWW-Authenticate: challenge``."""
    assert res.status_code == 401, (res.status_code, res.body)
    expected = text_headers(b'Unauthorized')
    expected['www-authenticate'] = challenge
    assert headers_of(res) == expected
    assert res.body == b'Unauthorized'


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


def basic_app(sync=False, **kwargs):
    """An app with a ``BasicAuth(**kwargs)`` that accepts ``USERS``; its
    callback is a ``def`` when ``sync``."""
    app = Microdot()
    app.seen = []
    auth = BasicAuth(**kwargs)
    app.auth = auth

    def check(request, username, password):
        app.seen.append((username, password))
        if USERS.get(username) == password:
            return username
        return None

    if sync:

        @auth.authenticate
        def verify(request, username, password):
            return check(request, username, password)

    else:

        @auth.authenticate
        async def verify(request, username, password):
            return check(request, username, password)

    add_routes(app, auth)
    return app


def token_app(sync=False, **kwargs):
    """An app with a ``TokenAuth(**kwargs)`` that accepts ``TOKENS``."""
    app = Microdot()
    app.seen = []
    auth = TokenAuth(**kwargs)
    app.auth = auth

    def check(request, token):
        app.seen.append(token)
        return TOKENS.get(token)

    if sync:

        @auth.authenticate
        def verify(request, token):
            return check(request, token)

    else:

        @auth.authenticate
        async def verify(request, token):
            return check(request, token)

    add_routes(app, auth)
    return app


async def get(app, path, authorization=None, headers=None):
    """GET ``path`` through the test client, with an ``Authorization``
    header when ``authorization`` is given."""
    headers = dict(headers or {})
    if authorization is not None:
        headers['Authorization'] = authorization
    return await TestClient(app).get(path, headers=headers)


async def check_basic_refused(authorization):
    """``authorization`` is malformed: 401 on a protected route without
    calling the callback, and an anonymous user on an optional route."""
    app = basic_app()
    assert_refused(await get(app, '/', authorization))
    assert_refused(await get(app, '/sync', authorization))
    res = await get(app, '/optional', authorization)
    assert_ok(res, b'Hello, anonymous user!')
    assert app.seen == []


async def check_token_refused(authorization, **kwargs):
    """As ``check_basic_refused``, for a ``TokenAuth(**kwargs)``."""
    app = token_app(**kwargs)
    headers = {}
    if authorization is not None:
        headers[kwargs.get('header', 'Authorization')] = authorization
    assert_refused(await get(app, '/', headers=headers), 'Bearer')
    assert_refused(await get(app, '/sync', headers=headers), 'Bearer')
    res = await get(app, '/optional', headers=headers)
    assert_ok(res, b'Hello, anonymous user!')
    assert app.seen == []


# -- BasicAuth: valid credentials ---------------------------------------------


async def test_basic_valid_credentials_async_callback():
    app = basic_app()
    res = await get(app, '/', basic('susan:hello'))
    assert_ok(res, b'Hello, susan!')
    assert app.seen == [('susan', 'hello')]


async def test_basic_valid_credentials_sync_callback():
    app = basic_app(sync=True)
    res = await get(app, '/', basic('susan:hello'))
    assert_ok(res, b'Hello, susan!')
    assert app.seen == [('susan', 'hello')]


async def test_basic_sync_route():
    res = await get(basic_app(), '/sync', basic('susan:hello'))
    assert_ok(res, b'Hello, susan!')


async def test_basic_sync_route_with_sync_callback():
    res = await get(basic_app(sync=True), '/sync', basic('susan:hello'))
    assert_ok(res, b'Hello, susan!')


async def test_basic_sync_route_runs_in_executor_on_cpython():
    support.cpython_only()
    import threading

    app = Microdot()
    auth = BasicAuth()
    threads = []

    @auth.authenticate
    def verify(request, username, password):
        threads.append(threading.current_thread())
        return username

    @app.route('/')
    @auth
    def index(request):
        threads.append(threading.current_thread())
        return request.g.current_user

    res = await get(app, '/', basic('susan:x'))
    assert_ok(res, b'susan')
    loop_thread = threading.current_thread()
    assert len(threads) == 2
    assert threads[0] is not loop_thread
    assert threads[1] is not loop_thread


async def test_basic_current_user_is_the_object_the_callback_returned():
    app = Microdot()
    auth = BasicAuth()
    user = {'name': 'susan'}
    seen = []

    @auth.authenticate
    async def verify(request, username, password):
        return user

    @app.route('/')
    @auth
    async def index(request):
        seen.append(request.g.current_user)
        return 'ok'

    assert_ok(await get(app, '/', basic('susan:hello')), b'ok')
    assert len(seen) == 1
    assert seen[0] is user


async def test_basic_callback_receives_the_request():
    app = Microdot()
    auth = BasicAuth()
    seen = []

    @auth.authenticate
    async def verify(request, username, password):
        seen.append((request.method, request.path))
        return username

    @app.route('/page')
    @auth
    async def page(request):
        return 'ok'

    assert_ok(await get(app, '/page', basic('a:b')), b'ok')
    assert seen == [('GET', '/page')]


async def test_basic_route_arguments_are_passed_through():
    app = Microdot()
    auth = BasicAuth()

    @auth.authenticate
    async def verify(request, username, password):
        return username

    @app.route('/users/<int:user_id>/<name>')
    @auth
    async def user_page(request, user_id, name):
        return '%s %d %s' % (request.g.current_user, user_id + 1, name)

    res = await get(app, '/users/41/bob', basic('susan:x'))
    assert_ok(res, b'susan 42 bob')


async def test_basic_password_with_colons():
    app = basic_app()
    res = await get(app, '/', basic('david:by:e'))
    assert_ok(res, b'Hello, david!')
    assert app.seen == [('david', 'by:e')]


async def test_basic_split_at_first_colon():
    app = basic_app()
    assert_refused(await get(app, '/', basic('a:b:c:')))
    assert app.seen == [('a', 'b:c:')]


async def test_basic_non_ascii_username_and_password():
    app = basic_app()
    res = await get(app, '/', basic('zoë:pässwörd'))
    assert_ok(res, 'Hello, zoë!'.encode())
    assert app.seen == [('zoë', 'pässwörd')]


async def test_basic_empty_username_and_password_reach_the_callback():
    app = basic_app()
    assert_refused(await get(app, '/', basic(':')))
    assert app.seen == [('', '')]


async def test_basic_empty_password():
    app = basic_app()
    assert_refused(await get(app, '/', basic('susan:')))
    assert app.seen == [('susan', '')]


async def test_basic_scheme_lower_case():
    res = await get(basic_app(), '/', basic('susan:hello', 'basic'))
    assert_ok(res, b'Hello, susan!')


async def test_basic_scheme_upper_case():
    res = await get(basic_app(), '/', basic('susan:hello', 'BASIC'))
    assert_ok(res, b'Hello, susan!')


async def test_basic_scheme_mixed_case():
    res = await get(basic_app(), '/', basic('susan:hello', 'bAsIc'))
    assert_ok(res, b'Hello, susan!')


async def test_basic_several_spaces_after_scheme():
    # RFC 9110 section 11.4: credentials = auth-scheme [ 1*SP ... ]
    value = basic('susan:hello').replace(' ', '   ')
    assert_ok(await get(basic_app(), '/', value), b'Hello, susan!')


async def test_basic_trailing_spaces():
    value = basic('susan:hello') + '   '
    assert_ok(await get(basic_app(), '/', value), b'Hello, susan!')


async def test_basic_head_request():
    app = basic_app()
    client = TestClient(app)
    res = await client.request(
        'HEAD', '/', headers={'Authorization': basic('susan:hello')}
    )
    assert res.status_code == 200
    assert headers_of(res) == text_headers(b'Hello, susan!')
    assert res.body == b''


# -- BasicAuth: refused credentials -------------------------------------------


async def test_basic_wrong_password():
    app = basic_app()
    assert_refused(await get(app, '/', basic('susan:wrong')))
    assert app.seen == [('susan', 'wrong')]


async def test_basic_wrong_password_sync_callback():
    app = basic_app(sync=True)
    assert_refused(await get(app, '/', basic('susan:wrong')))
    assert app.seen == [('susan', 'wrong')]


async def test_basic_unknown_user():
    app = basic_app()
    assert_refused(await get(app, '/', basic('nobody:hello')))
    assert app.seen == [('nobody', 'hello')]


async def test_basic_wrong_password_on_sync_route():
    assert_refused(await get(basic_app(), '/sync', basic('susan:x')))


async def test_basic_password_is_case_sensitive():
    assert_refused(await get(basic_app(), '/', basic('susan:HELLO')))


async def test_basic_missing_header():
    app = basic_app()
    assert_refused(await get(app, '/'))
    assert app.seen == []


async def test_basic_missing_header_on_sync_route():
    app = basic_app()
    assert_refused(await get(app, '/sync'))
    assert app.seen == []


async def test_basic_callback_returning_false_value_is_still_a_user():
    # Only None means "no user": an empty user object is a user.
    app = Microdot()
    auth = BasicAuth()

    @auth.authenticate
    async def verify(request, username, password):
        return ''

    @app.route('/')
    @auth
    async def index(request):
        return 'user=%r' % (request.g.current_user,)

    assert_ok(await get(app, '/', basic('a:b')), b"user=''")


# -- BasicAuth: malformed headers ---------------------------------------------


async def test_basic_malformed_invalid_base64_character():
    await check_basic_refused('Basic dXNl!cjpoZWxsbw==')


async def test_basic_malformed_base64_url_alphabet():
    # '-' and '_' belong to base64url, not to the base64 of RFC 7617.
    value = basic('susan:hello>?>')
    assert '+' in value or '/' in value
    await check_basic_refused(value.replace('+', '-').replace('/', '_'))


async def test_basic_malformed_missing_padding():
    value = basic('susan:hello')
    assert value.endswith('=')
    await check_basic_refused(value.rstrip('='))


async def test_basic_malformed_extra_padding():
    await check_basic_refused(basic('susan:hello') + '==')


async def test_basic_malformed_padding_in_the_middle():
    await check_basic_refused('Basic c3U=c2FuOmhlbGxv')


async def test_basic_malformed_only_padding():
    await check_basic_refused('Basic ====')


async def test_basic_malformed_length_not_multiple_of_four():
    await check_basic_refused(basic('susan:hello') + 'A')


async def test_basic_malformed_non_zero_padding_bits():
    # RFC 4648 section 3.5: the low bits of the last character before
    # '==' are zero in canonical base64; 'x' sets one of them ('w' is the
    # canonical character), so only a non-canonical encoder sends this.
    assert basic('a:bc') == 'Basic YTpiYw=='
    await check_basic_refused('Basic YTpiYx==')


async def test_basic_malformed_space_inside_base64():
    await check_basic_refused('Basic dXNl cjpoZWxsbw==')


async def test_basic_malformed_tab_after_scheme():
    await check_basic_refused(basic('susan:hello').replace(' ', '\t'))


async def test_basic_malformed_no_colon():
    await check_basic_refused(basic('susanhello'))


async def test_basic_malformed_empty_decoded_credentials():
    await check_basic_refused('Basic =')


async def test_basic_malformed_wrong_scheme():
    await check_basic_refused(basic('susan:hello', 'Bearer'))


async def test_basic_malformed_scheme_prefix_only():
    # 'Basicx' is another scheme, not 'Basic' followed by credentials.
    await check_basic_refused(basic('susan:hello', 'Basicx'))


async def test_basic_malformed_no_space_after_scheme():
    await check_basic_refused('Basic' + basic('susan:hello')[6:])


async def test_basic_malformed_only_scheme():
    await check_basic_refused('Basic')


async def test_basic_malformed_scheme_and_spaces():
    await check_basic_refused('Basic    ')


async def test_basic_malformed_empty_header():
    await check_basic_refused('')


async def test_basic_malformed_credentials_without_scheme():
    await check_basic_refused(basic('susan:hello')[6:])


async def test_basic_malformed_non_utf8_credentials():
    await check_basic_refused(basic(b'\xff\xfe:hello'))


async def test_basic_malformed_latin1_credentials():
    # 'zoë:x' in ISO-8859-1 is not UTF-8.
    await check_basic_refused(basic(b'zo\xeb:x'))


async def test_basic_malformed_non_ascii_header():
    await check_basic_refused('Basic dXNlcjpwYXNzé')


async def test_basic_malformed_non_ascii_scheme():
    await check_basic_refused(basic('susan:hello', 'Bäsic'))


async def test_basic_malformed_two_credentials():
    value = basic('susan:hello') + ' ' + basic('david:by:e')[6:]
    await check_basic_refused(value)


async def test_basic_malformed_very_long_header():
    await check_basic_refused('Basic ' + 'A' * 1000 + '!')


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


async def test_basic_custom_realm():
    app = basic_app(realm='My App')
    res = await get(app, '/')
    assert_refused(res, 'Basic realm="My App", charset="UTF-8"')


async def test_basic_custom_realm_non_ascii():
    app = basic_app(realm='Zürich')
    res = await get(app, '/')
    assert_refused(res, 'Basic realm="Zürich", charset="UTF-8"')


async def test_basic_realm_quotes_and_backslashes_are_escaped():
    # RFC 9110 section 5.6.4: quoted-pair inside a quoted-string.
    app = basic_app(realm='a "b" \\c')
    res = await get(app, '/')
    assert_refused(res, 'Basic realm="a \\"b\\" \\\\c", charset="UTF-8"')


async def test_basic_custom_charset():
    app = basic_app(charset='ISO-8859-1')
    res = await get(app, '/')
    assert_refused(res, 'Basic realm="Please login", charset="ISO-8859-1"')


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
    app = basic_app(scheme='Custom')
    res = await get(app, '/', basic('susan:hello', 'custom'))
    assert_ok(res, b'Hello, susan!')


async def test_basic_custom_scheme_refuses_basic():
    app = basic_app(scheme='Custom')
    res = await get(app, '/', basic('susan:hello'))
    assert_refused(res, 'Custom realm="Please login", charset="UTF-8"')
    assert app.seen == []


async def test_basic_custom_error_status():
    app = basic_app(error_status=403)
    res = await get(app, '/', basic('susan:wrong'))
    assert res.status_code == 403
    assert headers_of(res) == text_headers(b'Forbidden')
    assert res.body == b'Forbidden'


async def test_basic_custom_error_status_missing_header():
    res = await get(basic_app(error_status=404), '/')
    assert res.status_code == 404
    assert headers_of(res) == text_headers(b'Not Found')
    assert res.body == b'Not Found'


async def test_basic_custom_error_status_unknown_code():
    res = await get(basic_app(error_status=499), '/')
    assert res.status_code == 499
    assert headers_of(res) == text_headers(b'N/A')
    assert res.body == b'N/A'


# -- error responses ----------------------------------------------------------


async def test_errorhandler_sync():
    app = basic_app()
    seen = []

    @app.auth.errorhandler
    def error(request):
        seen.append(request.path)
        return 'Go away', 418, {'X-Reason': 'auth'}

    res = await get(app, '/', basic('susan:wrong'))
    assert res.status_code == 418
    expected = text_headers(b'Go away')
    expected['x-reason'] = 'auth'
    assert headers_of(res) == expected
    assert res.body == b'Go away'
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
    assert res.status_code == 401
    assert headers_of(res) == {
        'content-type': 'application/json',
        'content-length': '17',
        'www-authenticate': 'Basic realm="Custom"',
    }
    assert res.body == b'{"error":"login"}'


async def test_errorhandler_on_sync_route():
    app = basic_app()

    @app.auth.errorhandler
    def error(request):
        return 'nope', 401

    res = await get(app, '/sync', 'Basic %%%')
    assert res.status_code == 401
    assert headers_of(res) == text_headers(b'nope')
    assert res.body == b'nope'


async def test_errorhandler_not_called_for_valid_user():
    app = basic_app()
    seen = []

    @app.auth.errorhandler
    async def error(request):
        seen.append(request.path)
        return 'nope', 401

    assert_ok(await get(app, '/', basic('susan:hello')), b'Hello, susan!')
    assert seen == []


async def test_errorhandler_not_called_by_optional():
    app = basic_app()
    seen = []

    @app.auth.errorhandler
    async def error(request):
        seen.append(request.path)
        return 'nope', 401

    res = await get(app, '/optional', basic('susan:wrong'))
    assert_ok(res, b'Hello, anonymous user!')
    assert seen == []


async def test_errorhandler_may_abort():
    app = basic_app()

    @app.auth.errorhandler
    async def error(request):
        abort(403, 'Not you')

    res = await get(app, '/')
    assert res.status_code == 403
    assert headers_of(res) == text_headers(b'Not you')
    assert res.body == b'Not you'


async def test_errorhandler_returning_none_is_a_server_error():
    app = basic_app()

    @app.auth.errorhandler
    async def error(request):
        return None

    res = await get(app, '/')
    assert res.status_code == 500
    assert headers_of(res) == text_headers(b'Internal Server Error')
    assert res.body == b'Internal Server Error'


async def test_default_error_goes_through_app_errorhandler():
    # The default error is abort(401): the app's handler for 401 shapes
    # the response, and the challenge is added to it.
    app = basic_app()

    @app.errorhandler(401)
    async def unauthorized(request):
        return {'error': 'unauthorized'}, 401

    res = await get(app, '/')
    assert res.status_code == 401
    assert headers_of(res) == {
        'content-type': 'application/json',
        'content-length': '24',
        'www-authenticate': CHALLENGE,
    }
    assert res.body == b'{"error":"unauthorized"}'


async def test_default_error_keeps_challenge_of_app_errorhandler():
    app = basic_app()

    @app.errorhandler(401)
    async def unauthorized(request):
        return 'login', 401, {'WWW-Authenticate': 'Basic realm="x"'}

    res = await get(app, '/')
    assert res.status_code == 401
    expected = text_headers(b'login')
    expected['www-authenticate'] = 'Basic realm="x"'
    assert headers_of(res) == expected
    assert res.body == b'login'


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
    assert res.status_code == 401
    expected = text_headers(b'Unauthorized')
    expected['www-authenticate'] = CHALLENGE
    expected['x-error'] = 'yes'
    assert headers_of(res) == expected
    assert res.body == b'Unauthorized'
    assert calls == ['after_error_request']


async def test_callback_may_abort():
    app = Microdot()
    auth = BasicAuth()

    @auth.authenticate
    async def verify(request, username, password):
        abort(403, 'Locked')

    @app.route('/')
    @auth
    async def index(request):
        return 'ok'

    res = await get(app, '/', basic('susan:hello'))
    assert res.status_code == 403
    assert headers_of(res) == text_headers(b'Locked')
    assert res.body == b'Locked'


async def test_callback_exception_is_a_server_error():
    app = Microdot()
    auth = TokenAuth()

    @auth.authenticate
    async def verify(request, token):
        raise ValueError('database down')

    @app.route('/')
    @auth
    async def index(request):
        return 'ok'

    res = await get(app, '/', 'Bearer abc')
    assert res.status_code == 500
    assert headers_of(res) == text_headers(b'Internal Server Error')
    assert res.body == b'Internal Server Error'


async def test_no_authenticate_callback_is_a_server_error():
    app = Microdot()
    auth = BasicAuth()

    @app.route('/')
    @auth
    async def index(request):
        return 'ok'

    res = await get(app, '/', basic('susan:hello'))
    assert res.status_code == 500
    assert res.body == b'Internal Server Error'


async def test_no_authenticate_callback_missing_header_is_refused():
    app = Microdot()
    auth = BasicAuth()

    @app.route('/')
    @auth
    async def index(request):
        return 'ok'

    assert_refused(await get(app, '/'))


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


async def test_optional_with_valid_credentials():
    app = basic_app()
    res = await get(app, '/optional', basic('susan:hello'))
    assert_ok(res, b'Hello, susan!')
    assert app.seen == [('susan', 'hello')]


async def test_optional_without_credentials():
    app = basic_app()
    res = await get(app, '/optional')
    assert_ok(res, b'Hello, anonymous user!')
    assert app.seen == []


async def test_optional_with_wrong_password():
    app = basic_app()
    res = await get(app, '/optional', basic('susan:wrong'))
    assert_ok(res, b'Hello, anonymous user!')
    assert app.seen == [('susan', 'wrong')]


async def test_optional_with_malformed_base64():
    res = await get(basic_app(), '/optional', 'Basic !!!!')
    assert_ok(res, b'Hello, anonymous user!')


async def test_optional_with_wrong_scheme():
    res = await get(basic_app(), '/optional', 'Bearer secret-token')
    assert_ok(res, b'Hello, anonymous user!')


async def test_optional_with_non_utf8_credentials():
    res = await get(basic_app(), '/optional', basic(b'\xff:\xff'))
    assert_ok(res, b'Hello, anonymous user!')


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


async def test_optional_with_token_auth():
    app = token_app()
    assert_ok(await get(app, '/optional'), b'Hello, anonymous user!')
    res = await get(app, '/optional', 'Bearer secret-token')
    assert_ok(res, b'Hello, susan!')
    res = await get(app, '/optional', 'Bearer wrong')
    assert_ok(res, b'Hello, anonymous user!')
    assert app.seen == ['secret-token', 'wrong']


# -- TokenAuth ----------------------------------------------------------------


async def test_token_valid_async_callback():
    app = token_app()
    res = await get(app, '/', 'Bearer secret-token')
    assert_ok(res, b'Hello, susan!')
    assert app.seen == ['secret-token']


async def test_token_valid_sync_callback():
    app = token_app(sync=True)
    res = await get(app, '/', 'Bearer secret-token')
    assert_ok(res, b'Hello, susan!')
    assert app.seen == ['secret-token']


async def test_token_sync_route():
    res = await get(token_app(sync=True), '/sync', 'Bearer secret-token')
    assert_ok(res, b'Hello, susan!')


async def test_token_current_user_is_the_object_the_callback_returned():
    app = Microdot()
    auth = TokenAuth()
    user = ['susan']
    seen = []

    @auth.authenticate
    def verify(request, token):
        return user

    @app.route('/')
    @auth
    def index(request):
        seen.append(request.g.current_user)
        return 'ok'

    assert_ok(await get(app, '/', 'Bearer x'), b'ok')
    assert len(seen) == 1
    assert seen[0] is user


async def test_token_non_ascii_token():
    app = token_app()
    res = await get(app, '/', 'Bearer tökén')
    assert_ok(res, 'Hello, zoë!'.encode())
    assert app.seen == ['tökén']


async def test_token_scheme_case_insensitive():
    app = token_app()
    assert_ok(await get(app, '/', 'bearer secret-token'), b'Hello, susan!')
    assert_ok(await get(app, '/', 'BEARER secret-token'), b'Hello, susan!')
    assert app.seen == ['secret-token', 'secret-token']


async def test_token_is_stripped():
    app = token_app()
    res = await get(app, '/', 'Bearer    secret-token   ')
    assert_ok(res, b'Hello, susan!')
    assert app.seen == ['secret-token']


async def test_token_keeps_inner_text():
    # Everything after the scheme is the token: the callback judges it.
    app = token_app()
    assert_refused(await get(app, '/', 'Bearer a b=='), 'Bearer')
    assert app.seen == ['a b==']


async def test_token_wrong_token():
    app = token_app()
    assert_refused(await get(app, '/', 'Bearer wrong'), 'Bearer')
    assert app.seen == ['wrong']


async def test_token_token_is_case_sensitive():
    app = token_app()
    assert_refused(await get(app, '/', 'Bearer SECRET-TOKEN'), 'Bearer')
    assert app.seen == ['SECRET-TOKEN']


async def test_token_missing_header():
    await check_token_refused(None)


async def test_token_malformed_wrong_scheme():
    await check_token_refused('Basic secret-token')


async def test_token_malformed_token_without_scheme():
    await check_token_refused('secret-token')


async def test_token_malformed_only_scheme():
    await check_token_refused('Bearer')


async def test_token_malformed_empty_token():
    await check_token_refused('Bearer   ')


async def test_token_malformed_empty_header():
    await check_token_refused('')


async def test_token_malformed_tab_after_scheme():
    await check_token_refused('Bearer\tsecret-token')


async def test_token_malformed_no_space_after_scheme():
    await check_token_refused('Bearersecret-token')


async def test_token_custom_scheme():
    app = token_app(scheme='Token')
    assert_ok(await get(app, '/', 'token secret-token'), b'Hello, susan!')
    assert_refused(await get(app, '/', 'Bearer secret-token'), 'Token')
    assert app.seen == ['secret-token']


async def test_token_custom_header():
    app = token_app(header='X-API-Key')
    res = await get(app, '/', headers={'X-API-Key': 'secret-token'})
    assert_ok(res, b'Hello, susan!')
    assert app.seen == ['secret-token']


async def test_token_custom_header_name_is_case_insensitive():
    app = token_app(header='X-API-Key')
    res = await get(app, '/', headers={'x-api-key': 'secret-token'})
    assert_ok(res, b'Hello, susan!')


async def test_token_custom_header_whole_value_is_the_token():
    app = token_app(header='X-API-Key')
    res = await get(app, '/', headers={'X-API-Key': 'Bearer secret-token'})
    assert_refused(res, 'Bearer')
    assert app.seen == ['Bearer secret-token']


async def test_token_custom_header_value_is_stripped():
    app = token_app(header='X-API-Key')
    res = await get(app, '/', headers={'X-API-Key': '  secret-token  '})
    assert_ok(res, b'Hello, susan!')
    assert app.seen == ['secret-token']


async def test_token_custom_header_ignores_authorization():
    app = token_app(header='X-API-Key')
    res = await get(app, '/', 'Bearer secret-token')
    assert_refused(res, 'Bearer')
    assert app.seen == []


async def test_token_custom_header_missing():
    await check_token_refused(None, header='X-API-Key')


async def test_token_custom_header_empty():
    await check_token_refused('', header='X-API-Key')


async def test_token_custom_header_only_spaces():
    await check_token_refused('   ', header='X-API-Key')


async def test_token_header_named_authorization_in_lower_case():
    app = token_app(header='authorization')
    assert_ok(await get(app, '/', 'Bearer secret-token'), b'Hello, susan!')
    assert_refused(await get(app, '/', 'secret-token'), 'Bearer')
    assert app.seen == ['secret-token']


async def test_token_custom_error_status():
    app = token_app(error_status=403)
    res = await get(app, '/', 'Bearer wrong')
    assert res.status_code == 403
    assert headers_of(res) == text_headers(b'Forbidden')
    assert res.body == b'Forbidden'


async def test_token_custom_scheme_and_header_challenge():
    app = token_app(header='X-Token', scheme='ApiKey')
    assert_refused(await get(app, '/'), 'ApiKey')


async def test_token_errorhandler_sync():
    app = token_app()

    @app.auth.errorhandler
    def error(request):
        return {'error': 'invalid token'}, 401

    res = await get(app, '/', 'Bearer wrong')
    assert res.status_code == 401
    assert headers_of(res) == {
        'content-type': 'application/json',
        'content-length': '25',
    }
    assert res.body == b'{"error":"invalid token"}'


async def test_token_errorhandler_async():
    app = token_app()

    @app.auth.errorhandler
    async def error(request):
        return 'no token', 401, {'WWW-Authenticate': 'Bearer realm="api"'}

    res = await get(app, '/')
    assert res.status_code == 401
    expected = text_headers(b'no token')
    expected['www-authenticate'] = 'Bearer realm="api"'
    assert headers_of(res) == expected
    assert res.body == b'no token'


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


async def fetch(app, path, headers=None):
    """GET ``path`` on a real server with ``Connection: close``."""
    server = await serverutil.start(app)
    try:
        return await server.request('GET', path, headers)
    finally:
        await server.stop()


async def test_server_basic_valid_credentials():
    app = basic_app()
    res = await fetch(app, '/', {'Authorization': basic('zoë:pässwörd')})
    assert res.status_line == b'HTTP/1.1 200 OK'
    body = 'Hello, zoë!'.encode()
    assert res.headers == {
        'content-type': TEXT,
        'content-length': str(len(body)),
        'connection': 'close',
    }
    assert res.body == body
    assert app.seen == [('zoë', 'pässwörd')]


async def test_server_basic_missing_header():
    res = await fetch(basic_app(), '/')
    assert res.status_line == b'HTTP/1.1 401 Unauthorized'
    assert res.headers == {
        'content-type': TEXT,
        'content-length': '12',
        'www-authenticate': CHALLENGE,
        'connection': 'close',
    }
    assert res.getlist('www-authenticate') == [CHALLENGE]
    assert res.body == b'Unauthorized'


async def test_server_basic_sync_callback_and_sync_route():
    app = basic_app(sync=True)
    res = await fetch(app, '/sync', {'Authorization': basic('david:by:e')})
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers == {
        'content-type': TEXT,
        'content-length': '13',
        'connection': 'close',
    }
    assert res.body == b'Hello, david!'


async def test_server_basic_malformed_header():
    app = basic_app()
    res = await fetch(app, '/optional', {'Authorization': 'Basic ###'})
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.body == b'Hello, anonymous user!'
    res = await fetch(app, '/', {'Authorization': 'Basic ###'})
    assert res.status_line == b'HTTP/1.1 401 Unauthorized'
    assert res.headers['www-authenticate'] == CHALLENGE
    assert res.body == b'Unauthorized'
    assert app.seen == []


async def test_server_non_utf8_header_bytes_are_a_bad_request():
    # The core refuses a header value that is not UTF-8 before routing.
    app = basic_app()
    server = await serverutil.start(app)
    try:
        request = serverutil.build_request(
            server.port, 'GET', '/', {'Connection': 'close'}
        )
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
    assert res.headers == {
        'content-type': TEXT,
        'content-length': '12',
        'www-authenticate': 'Bearer',
        'connection': 'close',
    }
    assert res.body == b'Unauthorized'
    assert app.seen == ['secret-token', 'other']


async def test_server_keep_alive_requests_authenticate_separately():
    app = token_app()

    async def script(server, client):
        results = []
        for token in ('secret-token', 'wrong', 'secret-token'):
            data = serverutil.build_request(
                server.port, 'GET', '/', {'Authorization': 'Bearer ' + token}
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
