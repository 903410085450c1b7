"""Tests of user logins (microdot.login) through the test client: the
spec's login flow, the ``next`` redirects and the unsafe ones refused, the
"remember me" cookie, fresh logins, logout and the user loader.

Remember-me tokens are signed with a key derived from the session secret
(the secret plus ``'|remember'``, or ``b'|remember'`` for a bytes secret),
so the tests that craft remember tokens sign them with ``REMEMBER_KEY``.

Portable: they run under pytest and under ``tests/mpy_runner.py`` on
MicroPython.
"""

import microdot.login
import microdot.session
from microdot import Microdot, redirect
from microdot.login import Login
from microdot.microdot import urlencode
from microdot.session import Session, epoch_time, with_session
from microdot.test_client import TestClient

KEY = 'microdot-session-tests-secret-key-0123456789'
OTHER_KEY = 'another-secret-key-that-is-long-enough-000'
BYTES_KEY = bytes(range(200, 240))  # not UTF-8
REMEMBER_KEY = KEY + '|remember'
OTHER_REMEMBER_KEY = OTHER_KEY + '|remember'
BYTES_REMEMBER_KEY = BYTES_KEY + b'|remember'
TEXT = 'text/plain; charset=UTF-8'
EPOCH = 'Thu, 01 Jan 1970 00:00:01 GMT'
FORM = {'Content-Type': 'application/x-www-form-urlencoded'}
SESSION_DELETED = (
    'session=; Path=/; Expires=' + EPOCH + '; Max-Age=0; HttpOnly'
)
REMEMBER_DELETED = (
    '_remember=; Path=/; Expires=' + EPOCH + '; Max-Age=0; HttpOnly'
)
DAY = 86400
Y2K = 946684800  # 2000-01-01 in seconds since 1970


class User:
    def __init__(self, id, name):
        self.id = id
        self.name = name


USERS = {1: User(1, 'alice'), 2: User(2, 'bob')}


# -- helpers ------------------------------------------------------------------


def lower_headers(res):
    """The headers of a response as a plain dict with lower-case names."""
    return {name.lower(): value for name, value in res.headers.items()}


def check(res, status, body, headers):
    """Assert the exact status, body and headers (lower-case names)."""
    assert res.status_code == status, (res.status_code, res.body)
    assert res.body == body, res.body
    assert lower_headers(res) == headers, lower_headers(res)


def text_headers(body, cookies=None):
    headers = {'content-type': TEXT, 'content-length': str(len(body))}
    if cookies is not None:
        headers['set-cookie'] = cookies
    return headers


def check_text(res, body, cookies=None):
    """A 200 text response with ``body`` and these Set-Cookie values."""
    check(res, 200, body, text_headers(body, cookies))


def check_redirect(res, location, cookies=None):
    """A 302 to ``location`` with these Set-Cookie values."""
    headers = text_headers(b'', cookies)
    headers['location'] = location
    check(res, 302, b'', headers)


def login_redirect(url):
    """The Location of the redirect to the login page from ``url``."""
    return '/login?next=' + urlencode(url)


def cookie_token(res, name, attributes):
    """The value of the one Set-Cookie of ``res`` for cookie ``name``,
    checking that its attributes are exactly ``attributes``."""
    found = [c for c in res.headers['Set-Cookie'] if c.startswith(name + '=')]
    assert len(found) == 1, res.headers['Set-Cookie']
    assert found[0].endswith(attributes), found[0]
    return found[0][len(name) + 1 : -len(attributes)]


def decode(token, key=KEY):
    return Session(secret_key=key).decode(token)


def encode(payload, key=KEY):
    return Session(secret_key=key).encode(payload)


def now():
    """Seconds since 1970, the clock of the tokens' ``exp``."""
    return int(epoch_time())


class FixedClock:
    """Stands for the ``time`` module: ``time()`` returns ``seconds``."""

    def __init__(self, seconds):
        self.seconds = seconds

    def time(self):
        return self.seconds


async def call_with_clock(clock, run, epoch_offset=0, portable=False):
    """Return ``await run()`` with microdot.session's ``time`` module
    replaced by ``clock`` and its ``_EPOCH_OFFSET`` by ``epoch_offset``
    (the clock of microdot.login too, which uses ``epoch_time()``), with
    the portable JWT code if ``portable``; all restored in ``finally``.
    Should microdot.login import ``time`` again, its clock is replaced
    too, without the offset, as a board's would be."""
    module = microdot.session
    saved = (module.time, module._EPOCH_OFFSET, module._pyjwt)
    login_time = getattr(microdot.login, 'time', None)
    module.time = clock
    module._EPOCH_OFFSET = epoch_offset
    if portable:
        module._pyjwt = None
    if login_time is not None:
        microdot.login.time = clock
    try:
        return await run()
    finally:
        module.time, module._EPOCH_OFFSET, module._pyjwt = saved
        if login_time is not None:
            microdot.login.time = login_time


def add_login_routes(app, login):
    """Add the login flow of the user guide, "User Logins", to ``app``.

    ``POST /login`` logs in the user of form field ``id`` (a user that the
    loader does not know for an unknown id); form field ``remember`` is
    passed as ``True`` for ``yes`` or as a number of days, and
    ``redirect_url`` as given.
    """

    @app.route('/login', methods=['GET', 'POST'])
    async def login_page(req):
        if req.method == 'GET':
            return 'login page'
        user_id = int(req.form['id'])
        user = USERS.get(user_id) or User(user_id, 'ghost')
        remember = req.form.get('remember', '')
        if remember == 'yes':
            remember = True
        else:
            remember = int(remember) if remember else False
        redirect_url = req.form.get('redirect_url', '/')
        return await login.login_user(
            req, user, remember=remember, redirect_url=redirect_url
        )

    @app.get('/')
    @login
    async def index(req):
        return 'Hello ' + req.g.current_user.name

    @app.get('/fresh')
    @login.fresh
    async def fresh(req):
        return 'Fresh ' + req.g.current_user.name

    @app.get('/sync')
    @login
    def sync(req):
        return 'Sync ' + req.g.current_user.name

    @app.get('/users/<int:id>')
    @login
    async def user_page(req, id):
        return '%s sees %d' % (req.g.current_user.name, id)

    @app.get('/whoami')
    async def whoami(req):
        user = await login.get_current_user(req)
        return user.name if user is not None else 'anonymous'

    @app.post('/logout')
    @login
    async def logout(req):
        await login.logout_user(req)
        return redirect('/')


class LoginApp:
    """An app with a Session, a Login (``kwargs``) and the routes of
    ``add_login_routes``; ``loads`` records the user loader's calls."""

    def __init__(
        self, sync_loader=False, cookie_options=None, secret_key=KEY, **kwargs
    ):
        self.app = Microdot()
        Session(self.app, secret_key=secret_key, cookie_options=cookie_options)
        self.login = Login(**kwargs)
        self.loads = []
        if sync_loader:
            self.login.user_loader(self.load_user_sync)
        else:
            self.login.user_loader(self.load_user)
        add_login_routes(self.app, self.login)

    async def load_user(self, user_id):
        self.loads.append(user_id)
        return USERS.get(user_id)

    def load_user_sync(self, user_id):
        self.loads.append(user_id)
        return USERS.get(user_id)

    def client(self, cookies=None):
        return TestClient(self.app, cookies=cookies)


async def log_in(client, user_id=1, remember=None, path='/login'):
    """POST the login form; return the response."""
    body = 'id=%d' % user_id
    if remember is not None:
        body += '&remember=' + remember
    return await client.post(path, headers=FORM, body=body)


async def remember_token(app, remember='yes'):
    """Log in user 1 with ``remember``; return the remember cookie token."""
    res = await log_in(app.client(), remember=remember)
    days = 30 if remember == 'yes' else int(remember)
    attributes = '; Path=/; Max-Age=%d; HttpOnly' % (days * DAY)
    return cookie_token(res, '_remember', attributes)


async def logged_in(user_id=1, remember=None, **options):
    """A ``LoginApp(**options)`` and a client of it that logged in as
    ``user_id`` (with ``remember``)."""
    app = LoginApp(**options)
    client = app.client()
    await log_in(client, user_id, remember)
    return app, client


async def remembered(app, remember='yes'):
    """A new client of ``app`` whose one cookie is the remember cookie of a
    login of user 1 (with ``remember``)."""
    token = await remember_token(app, remember)
    return app.client(cookies={'_remember': token})


# -- not logged in ------------------------------------------------------------


async def test_login_required_redirects_with_next():
    for method, path, location in (
        ('GET', '/', '/login?next=%2F'),
        # the query string is kept
        (
            'GET',
            '/users/7?tab=a&x=1',
            '/login?next=%2Fusers%2F7%3Ftab%3Da%26x%3D1',
        ),
        ('GET', '/sync', '/login?next=%2Fsync'),  # a sync route
        ('GET', '/fresh', '/login?next=%2Ffresh'),  # a fresh-login route
        ('POST', '/logout', '/login?next=%2Flogout'),
    ):
        res = await LoginApp().client().request(method, path)
        check_redirect(res, location)


async def test_custom_login_url():
    app = LoginApp(login_url='/auth/signin')
    res = await app.client().get('/fresh')
    check_redirect(res, '/auth/signin?next=%2Ffresh')


async def test_get_current_user_without_login_is_none():
    res = await LoginApp().client().get('/whoami')
    check_text(res, b'anonymous')


# -- logging in ---------------------------------------------------------------


async def test_login_user_redirects_and_saves_the_session():
    res = await log_in(LoginApp().client())
    assert res.status_code == 302
    assert res.headers['Location'] == '/'
    assert len(res.headers['Set-Cookie']) == 1
    token = cookie_token(res, 'session', '; Path=/; HttpOnly')
    assert decode(token) == {'_user_id': 1, '_fresh': True}
    assert res.body == b''


async def test_logged_in_user_reaches_the_route():
    app, client = await logged_in()
    check_text(await client.get('/'), b'Hello alice')
    check_text(await client.get('/sync'), b'Sync alice')
    check_text(await client.get('/users/7'), b'alice sees 7')


async def test_login_is_fresh():
    app, client = await logged_in()
    check_text(await client.get('/fresh'), b'Fresh alice')


async def test_get_current_user_after_login():
    app, client = await logged_in(2)
    check_text(await client.get('/whoami'), b'bob')


async def test_user_loader_gets_the_user_id():
    app, client = await logged_in(2)
    app.loads.clear()
    await client.get('/')
    assert app.loads == [2]


async def test_sync_user_loader():
    app, client = await logged_in(sync_loader=True)
    check_text(await client.get('/'), b'Hello alice')
    assert app.loads == [1]


async def test_user_loader_returning_none_is_not_logged_in():
    app, client = await logged_in(99)  # the loader does not know user 99
    check_redirect(await client.get('/'), '/login?next=%2F')
    check_text(await client.get('/whoami'), b'anonymous')


async def test_full_flow_back_to_the_page_asked_for():
    app = LoginApp()
    client = app.client()
    res = await client.get('/users/7?tab=a')
    location = res.headers['Location']
    assert location == '/login?next=%2Fusers%2F7%3Ftab%3Da'
    res = await client.post(location, headers=FORM, body='id=1')
    check_redirect_with_session(res, '/users/7?tab=a')
    res = await client.get(res.headers['Location'])
    check_text(res, b'alice sees 7')


def check_redirect_with_session(res, location):
    """A 302 to ``location`` that saves a fresh login of user 1."""
    assert res.status_code == 302
    assert res.headers['Location'] == location, res.headers['Location']
    assert res.body == b''
    token = cookie_token(res, 'session', '; Path=/; HttpOnly')
    assert decode(token) == {'_user_id': 1, '_fresh': True}


async def log_in_with_next(next_url, redirect_url=None):
    """Log user 1 in with ``?next=<next_url>``; return the response."""
    body = 'id=1'
    if redirect_url is not None:
        body += '&redirect_url=' + urlencode(redirect_url)
    path = '/login?next=' + urlencode(next_url)
    return await LoginApp().client().post(path, headers=FORM, body=body)


async def test_next_is_followed():
    for next_url in ('/fresh', '/users/7?tab=a&x=%2F'):
        res = await log_in_with_next(next_url)
        check_redirect_with_session(res, next_url)


async def test_redirect_url_without_next():
    res = (
        await LoginApp()
        .client()
        .post('/login', headers=FORM, body='id=1&redirect_url=%2Fhome')
    )
    check_redirect_with_session(res, '/home')


async def test_empty_next_goes_to_redirect_url():
    res = await log_in_with_next('')
    check_redirect_with_session(res, '/')


async def test_unsafe_next_goes_to_redirect_url():
    for next_url in (
        '//evil.com',  # protocol-relative
        '//evil.com/users/7',
        '///evil.com',
        'https://evil.com',  # absolute
        'http://example.com:1234/fresh',  # absolute, of the same host
        '/\\evil.com',  # backslashes
        '\\\\evil.com',
        '/a\\..\\\\evil.com',
        'javascript:alert(1)',
        'evil.com',  # relative without a slash
        '/x\r\nSet-Cookie: a=b',
        '/x\nLocation: //evil.com',
        # browsers drop tabs and newlines from URLs: '/\t/evil.com' is
        # //evil.com
        '/\t/evil.com',
        '/\x00/evil.com',
        '/\x7f/evil.com',
        ' //evil.com',
    ):
        res = await log_in_with_next(next_url)
        check_redirect_with_session(res, '/')


async def test_unsafe_next_goes_to_the_given_redirect_url():
    res = await log_in_with_next('//evil.com', redirect_url='/home')
    check_redirect_with_session(res, '/home')


async def test_login_user_sets_g_current_user():
    app = Microdot()
    Session(app, secret_key=KEY)
    login = Login()
    login.user_loader(lambda user_id: USERS.get(user_id))
    alice = USERS[1]

    @app.get('/login')
    async def login_page(req):
        res = await login.login_user(req, alice)
        assert req.g.current_user is alice
        assert await login.get_current_user(req) is alice
        return res

    res = await TestClient(app).get('/login')
    check_redirect_with_session(res, '/')


async def test_get_current_user_is_cached_in_g():
    app = LoginApp()
    login = app.login

    @app.app.get('/twice')
    async def twice(req):
        first = await login.get_current_user(req)
        second = await login.get_current_user(req)
        same = first is second is req.g.current_user is USERS[1]
        return 'same' if same else 'different'

    client = app.client()
    await log_in(client)
    app.loads.clear()
    res = await client.get('/twice')
    check_text(res, b'same')
    assert app.loads == [1]


async def test_protected_route_sees_g_current_user():
    app = LoginApp()

    @app.app.get('/g')
    @app.login
    async def g_page(req):
        return 'id=%d' % req.g.current_user.id

    client = app.client()
    await log_in(client, 2)
    res = await client.get('/g')
    check_text(res, b'id=2')


# -- remember me --------------------------------------------------------------


async def check_remember_cookie(remember, max_age):
    """Logging user 1 in with form field ``remember`` at a frozen time sets
    the session cookie of a fresh login and a remember cookie with this
    ``Max-Age`` whose token, signed with REMEMBER_KEY, holds exactly the
    user id and an ``exp`` of ``max_age`` seconds after that time."""
    frozen = now()
    res = await call_with_clock(
        FixedClock(frozen),
        lambda: log_in(LoginApp().client(), remember=remember),
    )
    assert res.status_code == 302
    assert res.headers['Location'] == '/'
    assert len(res.headers['Set-Cookie']) == 2
    attributes = '; Path=/; Max-Age=%d; HttpOnly' % max_age
    token = cookie_token(res, '_remember', attributes)
    payload = decode(token, REMEMBER_KEY)
    assert payload == {'user_id': 1, 'exp': frozen + max_age}, payload
    token = cookie_token(res, 'session', '; Path=/; HttpOnly')
    assert decode(token) == {'_user_id': 1, '_fresh': True}


def check_restored(res, body, user_id=1):
    """A 200 with ``body`` whose one Set-Cookie saves a login of
    ``user_id`` restored from the remember cookie (not fresh)."""
    assert res.status_code == 200, (res.status_code, res.headers)
    assert res.body == body, res.body
    session = cookie_token(res, 'session', '; Path=/; HttpOnly')
    assert len(res.headers['Set-Cookie']) == 1, res.headers['Set-Cookie']
    assert decode(session) == {'_user_id': user_id, '_fresh': False}


async def test_remember_true_sets_a_30_day_cookie():
    await check_remember_cookie('yes', 2592000)


async def test_remember_days_sets_a_cookie_of_that_many_days():
    await check_remember_cookie('7', 604800)


async def test_no_remember_sets_no_remember_cookie():
    res = await log_in(LoginApp().client())
    assert len(res.headers['Set-Cookie']) == 1
    assert res.headers['Set-Cookie'][0].startswith('session=')


async def test_remember_cookie_takes_the_session_cookie_options():
    options = {'secure': True, 'max_age': 60, 'domain': 'example.com'}
    res = await log_in(LoginApp(cookie_options=options).client(), remember='1')
    cookie_token(
        res,
        '_remember',
        '; Path=/; Domain=example.com; Max-Age=86400; Secure; HttpOnly',
    )
    cookie_token(
        res,
        'session',
        '; Path=/; Domain=example.com; Max-Age=60; Secure; HttpOnly',
    )


async def test_remember_token_is_signed_with_the_derived_key():
    token = await remember_token(LoginApp())
    assert decode(token, REMEMBER_KEY)['user_id'] == 1
    try:
        decode(token)
    except ValueError:
        pass
    else:
        raise AssertionError('a remember token is a session token')


async def test_remember_cookie_restores_the_login_in_a_new_client():
    client = await remembered(LoginApp())
    check_restored(await client.get('/'), b'Hello alice')
    # now from the session cookie
    check_text(await client.get('/whoami'), b'alice')


async def test_restored_login_is_not_fresh():
    client = await remembered(LoginApp())
    res = await client.get('/fresh')
    assert res.status_code == 302
    assert res.headers['Location'] == '/login?next=%2Ffresh'
    await client.get('/')
    res = await client.get('/fresh')  # restored into the session: not fresh
    check_redirect(res, '/login?next=%2Ffresh')


async def test_fresh_again_after_a_new_login():
    client = await remembered(LoginApp())
    await client.get('/')
    await log_in(client)
    check_text(await client.get('/fresh'), b'Fresh alice')


async def test_get_current_user_restores_from_the_remember_cookie():
    client = await remembered(LoginApp(), '3')
    check_restored(await client.get('/whoami'), b'alice')


async def test_remember_token_made_with_the_derived_key_logs_in():
    token = encode({'user_id': 2, 'exp': now() + DAY}, REMEMBER_KEY)
    res = await LoginApp().client(cookies={'_remember': token}).get('/')
    check_restored(res, b'Hello bob', 2)


async def test_remember_with_a_bytes_session_key():
    app = LoginApp(secret_key=BYTES_KEY)
    token = await remember_token(app)
    assert decode(token, BYTES_REMEMBER_KEY)['user_id'] == 1
    res = await app.client(cookies={'_remember': token}).get('/')
    assert res.status_code == 200, res.headers
    assert res.body == b'Hello alice'
    session = cookie_token(res, 'session', '; Path=/; HttpOnly')
    assert decode(session, BYTES_KEY) == {'_user_id': 1, '_fresh': False}


async def check_remember_refused(token, app=None):
    """A new client with only ``_remember=<token>`` is not logged in."""
    client = (app or LoginApp()).client(cookies={'_remember': token})
    res = await client.get('/')
    check_redirect(res, '/login?next=%2F')
    res = await client.get('/whoami')
    check_text(res, b'anonymous')


async def test_tampered_remember_cookie_is_ignored():
    token = await remember_token(LoginApp())
    header, payload, signature = token.split('.')
    forged = encode({'user_id': 2, 'exp': now() + DAY}, REMEMBER_KEY)
    forged_payload = forged.split('.')[1]
    await check_remember_refused(
        header + '.' + forged_payload + '.' + signature
    )


async def test_remember_cookie_with_a_changed_signature_is_ignored():
    token = await remember_token(LoginApp())
    flipped = 'A' if token[-10] != 'A' else 'B'
    await check_remember_refused(token[:-10] + flipped + token[-9:])


async def test_bad_remember_cookies_are_ignored():
    tomorrow = now() + DAY
    for token in (
        encode({'user_id': 1, 'exp': now() - 10}, REMEMBER_KEY),  # expired
        encode({'user_id': 1, 'exp': tomorrow}, OTHER_REMEMBER_KEY),
        encode({'user_id': 1, 'exp': tomorrow}, KEY),  # the session key
        encode({'user_id': 1}, REMEMBER_KEY),  # without exp
        encode({'user_id': 1, 'exp': None}, REMEMBER_KEY),
        encode({'user_id': 99, 'exp': tomorrow}, REMEMBER_KEY),  # unknown
        'garbage',
        encode({'exp': tomorrow}, REMEMBER_KEY),  # without user_id
    ):
        await check_remember_refused(token)


async def test_remember_cookie_signed_with_a_bytes_session_key_is_ignored():
    token = encode({'user_id': 1, 'exp': now() + DAY}, BYTES_KEY)
    await check_remember_refused(token, LoginApp(secret_key=BYTES_KEY))


async def test_session_cookie_is_not_a_remember_cookie():
    # The session cookie is signed with the session key, the remember
    # cookie with the derived key: an app that keeps a "user_id" of its own
    # in the session (here the profile last viewed) must not have its
    # session cookie taken as a remember cookie.
    app = LoginApp()
    exp = now() + DAY

    @app.app.get('/profile/<int:id>')
    @with_session
    async def profile(req, session, id):
        session['user_id'] = id
        session['exp'] = exp
        session.save()
        return 'profile'

    res = await app.client().get('/profile/2')
    token = cookie_token(res, 'session', '; Path=/; HttpOnly')
    assert decode(token) == {'user_id': 2, 'exp': exp}
    res = await app.client(cookies={'_remember': token}).get('/')
    check_redirect(res, '/login?next=%2F')


async def test_remember_cookie_is_not_a_session_cookie():
    app = LoginApp()
    token = await remember_token(app)
    client = app.client(cookies={'session': token})
    res = await client.get('/')
    check_redirect(res, '/login?next=%2F')


async def test_remember_cookie_works_on_a_board_counting_from_2000():
    # MPY: on most boards time.time() counts from 2000-01-01, which
    # epoch_time() corrects for (_EPOCH_OFFSET). This emulates such a
    # board: its clock counts from 2000 and the portable JWT code is used.
    frozen = now()
    app = LoginApp()

    async def log_in_and_come_back():
        token = await remember_token(app)
        res = await app.client(cookies={'_remember': token}).get('/')
        return token, res

    token, res = await call_with_clock(
        FixedClock(frozen - Y2K), log_in_and_come_back, Y2K, portable=True
    )
    check_restored(res, b'Hello alice')
    payload = decode(token, REMEMBER_KEY)
    assert payload == {'user_id': 1, 'exp': frozen + 2592000}, payload


# -- logging out --------------------------------------------------------------


async def check_logged_out_of_both(client):
    """POST /logout with ``client`` redirects to / deleting the session and
    the remember cookie, and ``client`` is no longer logged in and keeps no
    cookie."""
    res = await client.post('/logout')
    assert res.status_code == 302
    assert res.body == b''
    assert res.headers['Location'] == '/'
    cookies = res.headers['Set-Cookie']
    assert sorted(cookies) == [REMEMBER_DELETED, SESSION_DELETED], cookies
    res = await client.get('/')
    check_redirect(res, '/login?next=%2F')
    assert client.cookies == {}


async def test_logout_deletes_the_session_and_the_remember_cookie():
    app, client = await logged_in(remember='yes')
    await check_logged_out_of_both(client)


async def test_logout_without_remember_cookie_deletes_only_the_session():
    app, client = await logged_in()
    check_redirect(await client.post('/logout'), '/', [SESSION_DELETED])


async def test_logout_keeps_the_other_session_keys():
    # {"theme":"dark"}, KEY
    theme = (
        'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0aGVtZSI6ImRhcmsifQ.'
        'oNYD23kNUPTmydA0-83u4qk4J0YrImoH5rREAHU-eBc'
    )
    assert encode({'theme': 'dark'}) == theme
    session = encode({'theme': 'dark', '_user_id': 1, '_fresh': True})
    client = LoginApp().client(cookies={'session': session})
    res = await client.post('/logout')
    check_redirect(res, '/', ['session=' + theme + '; Path=/; HttpOnly'])


async def test_logout_of_a_restored_login():
    await check_logged_out_of_both(await remembered(LoginApp()))


async def test_logout_remember_cookie_deletion_takes_the_cookie_options():
    options = {'path': '/', 'secure': True, 'max_age': 60}
    app, client = await logged_in(remember='yes', cookie_options=options)
    res = await client.post('/logout')
    assert sorted(res.headers['Set-Cookie']) == [
        '_remember=; Path=/; Expires=' + EPOCH + '; Max-Age=0; Secure; '
        'HttpOnly',
        'session=; Path=/; Expires=' + EPOCH + '; Max-Age=0; Secure; HttpOnly',
    ]


async def test_logout_sets_g_current_user_to_none():
    app = LoginApp()
    login = app.login

    @app.app.post('/bye')
    async def bye(req):
        await login.get_current_user(req)
        await login.logout_user(req)
        user = await login.get_current_user(req)
        return 'gone' if req.g.current_user is None and user is None else 'x'

    client = app.client()
    await log_in(client)
    res = await client.post('/bye')
    check_text(res, b'gone', [SESSION_DELETED])


# -- mounted sub-application --------------------------------------------------


async def test_login_in_a_mounted_sub_application():
    app = Microdot()
    Session(app, secret_key=KEY)
    admin = Microdot()
    login = Login(login_url='/admin/login')
    login.user_loader(lambda user_id: USERS.get(user_id))
    add_login_routes(admin, login)
    app.mount(admin, url_prefix='/admin', local=True)
    client = TestClient(app)
    res = await client.get('/admin/users/3')
    check_redirect(res, '/admin/login?next=%2Fadmin%2Fusers%2F3')
    res = await client.post(res.headers['Location'], headers=FORM,
                            body='id=2')  # fmt: skip
    assert res.status_code == 302
    assert res.headers['Location'] == '/admin/users/3'
    res = await client.get('/admin/users/3')
    check_text(res, b'bob sees 3')
