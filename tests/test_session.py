"""Tests of user sessions (microdot.session): the spec's example app, the
exact Set-Cookie headers of save and delete, the tokens (known answers
derived once with PyJWT and pasted as literals, so MicroPython checks the
same bytes), every kind of bad cookie, mounted sub-applications and hooks.

Portable: they run under pytest and under ``tests/mpy_runner.py`` on
MicroPython. A few tests run the app on a real server on 127.0.0.1 (see
serverutil).

Most tests use ``KEY``, 44 bytes long (PyJWT advises 32 bytes or more for
HS256); the spec's example keeps the spec's ``'top-secret'``.
"""

import time

import serverutil

import microdot.session
from microdot import Microdot, Request, abort, redirect
from microdot.session import Session, SessionDict, epoch_time, with_session
from microdot.test_client import TestClient

KEY = 'microdot-session-tests-secret-key-0123456789'
OTHER_KEY = 'another-secret-key-that-is-long-enough-000'
BYTES_KEY = bytes(range(200, 240))  # not UTF-8
LONG_KEY = 'k' * 100  # longer than a SHA-256 block: HMAC hashes it first
SPEC_KEY = 'top-secret'

TEXT = 'text/plain; charset=UTF-8'
JSON = 'application/json'
EPOCH = 'Thu, 01 Jan 1970 00:00:01 GMT'
DELETED = 'session=; Path=/; Expires=' + EPOCH + '; Max-Age=0; HttpOnly'
ERROR = b'Internal Server Error'
FORM = {'Content-Type': 'application/x-www-form-urlencoded'}
Y2K = 946684800  # 2000-01-01 in seconds since 1970

# Tokens made with PyJWT 2.15 (jwt.encode(payload, key, algorithm='HS256'),
# plus json_encoder=<a JSONEncoder with ensure_ascii=False> for non-ASCII
# text, which Session.encode writes as raw UTF-8 on both runtimes) or, for
# the odd ones, with hmac.new(key, header + '.' + payload, hashlib.sha256)
# over the segments as they are. The comment above each gives its payload
# and key.
HEADER = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9'  # {"alg":"HS256","typ":"JWT"}
HS512_HEADER = 'eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9'  # "alg":"HS512"
NONE_HEADER = 'eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0'  # "alg":"none"
ALICE_PAYLOAD = 'eyJ1c2VyIjoiYWxpY2UifQ'  # {"user":"alice"}


def jws(header, payload, signature):
    """A token from its three base64url segments."""
    return header + '.' + payload + '.' + signature


# {"user":"alice"}, KEY
ALICE = jws(
    HEADER, ALICE_PAYLOAD, 'nf55TDi7kLfsKdEGncamG26vOh0-HERQAIO0wNSVjEM'
)
# {}, KEY
EMPTY = jws(HEADER, 'e30', 'zOXdMKeCidq3hgyHwXy-GSSZV35Hvi5q-itf2p9rmZY')
# {"user":"alice"}, BYTES_KEY
ALICE_BYTES_KEY = jws(
    HEADER, ALICE_PAYLOAD, 'pqMrJP545lvdCl2aq_45aQuBYECCMYuVuW-g8KtmV1k'
)
# {"user":"alice"}, LONG_KEY
ALICE_LONG_KEY = jws(
    HEADER, ALICE_PAYLOAD, 'ky0NuTf_XwRbG2CRQVIealPuPd3dvdDOFmf94sY_Kbk'
)
# {"user":"alice"}, OTHER_KEY
ALICE_OTHER_KEY = jws(
    HEADER, ALICE_PAYLOAD, 'getYrjHfz9Mj3hVyv8zSsb2YVIdXXWmH7Rj4kQoLF-I'
)
# {"username":"alice"}, SPEC_KEY
SPEC_ALICE = jws(
    HEADER,
    'eyJ1c2VybmFtZSI6ImFsaWNlIn0',
    'LLTff7PoQdnWczW7LouxhTfEyMOQeSWS3AaHuSffW_I',
)
# {"data":{"n":[1,2.5,true,null,"x"]}}, KEY
NESTED = jws(
    HEADER,
    'eyJkYXRhIjp7Im4iOlsxLDIuNSx0cnVlLG51bGwsIngiXX19',
    'QsSxpVS2xP3evRpCOBbLsWYvwBlIno7XkYGfVFthwP8',
)
# {"a":1,"b":"two","c":[3]}, KEY
MULTI = jws(
    HEADER,
    'eyJhIjoxLCJiIjoidHdvIiwiYyI6WzNdfQ',
    '5FkHhtaYxZ0QsXk2noElofLWaAWBlCP-5sdqmUw9hpo',
)
# {"next":"/private"}, KEY
NEXT_PRIVATE = jws(
    HEADER,
    'eyJuZXh0IjoiL3ByaXZhdGUifQ',
    'wm3wMZEnsWHzoLjI-fAk4A2SWN3KJBVQDqTXBNhNlTI',
)
# {"theme":"dark"}, KEY
THEME = jws(
    HEADER,
    'eyJ0aGVtZSI6ImRhcmsifQ',
    'oNYD23kNUPTmydA0-83u4qk4J0YrImoH5rREAHU-eBc',
)
# {"user":"alice","exp":4102444800} (2100-01-01), KEY
FUTURE_EXP = jws(
    HEADER,
    'eyJ1c2VyIjoiYWxpY2UiLCJleHAiOjQxMDI0NDQ4MDB9',
    'oD2xKpxonR3-y5tLCsP9pK_xJmXgZUsH4eeg2h1aLgE',
)
# {"user":"alice","nbf":1000000000} (2001), KEY
PAST_NBF = jws(
    HEADER,
    'eyJ1c2VyIjoiYWxpY2UiLCJuYmYiOjEwMDAwMDAwMDB9',
    'qyd-KJUnK3WPi_yAN_3nxz8JYgx-LDoyYvp7O4XHAuE',
)
# {"alg": "HS256", "typ": "JWT"} and {"user": "alice"} (with spaces), KEY
SPACED_JSON = jws(
    'eyJhbGciOiAiSFMyNTYiLCAidHlwIjogIkpXVCJ9',
    'eyJ1c2VyIjogImFsaWNlIn0',
    'xpAGQVWDyYjQzm583ocUn2pknBIyDZ9NKqvei_cc-Og',
)
# {"name":"é€"} as raw UTF-8, KEY
UTF8_RAW = jws(
    HEADER,
    'eyJuYW1lIjoiw6nigqwifQ',
    '9pvPW7pvUNla5A9MQVd-WeSHDNeSCMO7T2spLJ2jdH8',
)
# {"name":"😀"} as raw UTF-8 (text beyond the BMP), KEY
NON_BMP_RAW = jws(
    HEADER,
    'eyJuYW1lIjoi8J-YgCJ9',
    '6_lGK3Bb1u8dKi8yQc54AZ9aSadB43yLNz4ya1ZrA8c',
)
# {"name":"\u00e9\u20ac"} (JSON escapes, as default PyJWT writes), KEY
UTF8_ESCAPED = jws(
    HEADER,
    'eyJuYW1lIjoiXHUwMGU5XHUyMGFjIn0',
    'NKfzmNbmQ7Fn9nZQX77dYoRFfyP_oLf6Ba8svhRaDf8',
)
# Keys named like registered JWT claims (RFC 7519 section 4.1), as an
# application may keep them in its session. KEY.
# {"sub":42}
SUB_INT = jws(
    HEADER, 'eyJzdWIiOjQyfQ', 'WKDr-QhYMadq2UpKfwy8FfP6cF3r4JZubKY2fu4zmGg'
)
# {"aud":"x"}
AUD = jws(
    HEADER, 'eyJhdWQiOiJ4In0', 'is6PWDpxaOt1HtcRztuWrm1r7G-wIZqAsbJSWVfVIkI'
)
# {"jti":7}
JTI_INT = jws(
    HEADER, 'eyJqdGkiOjd9', 'jQrqa5bZJUEArcR3BwC1KwjfqbqH-HQr98tAIzI0Grc'
)
# {"iat":"yesterday"}
IAT_TEXT = jws(
    HEADER,
    'eyJpYXQiOiJ5ZXN0ZXJkYXkifQ',
    '6kp_bzeCK_NrWTjR9aIi0tqHReAmxCM_cP3k_N4QgRs',
)
# {"iat":4102444800}
IAT_FUTURE = jws(
    HEADER,
    'eyJpYXQiOjQxMDI0NDQ4MDB9',
    'yz7GMBQzcJSunMgEot4BKOAcJDoVJJdAJyQ4FAz7utI',
)
# {"iss":1} (hmac: PyJWT refuses to encode a non-text iss)
ISS_INT = jws(
    HEADER, 'eyJpc3MiOjF9', '8ZqRd_jY9YXwwU-NU_LXBZp8sVuM6NZPABKKqSSURGE'
)

# Tokens that must be refused.
# {"user":"mallory"} with the signature of ALICE
TAMPERED_PAYLOAD = jws(HEADER, 'eyJ1c2VyIjoibWFsbG9yeSJ9', ALICE.split('.')[2])
# ALICE with the first signature character changed
TAMPERED_SIGNATURE = jws(HEADER, ALICE_PAYLOAD, 'm' + ALICE.split('.')[2][1:])
# {"user":"alice"}, HS512, KEY
HS512 = jws(
    HS512_HEADER,
    ALICE_PAYLOAD,
    'UA47PvCAyZG5DbS08sL3L7q_M9HBj4p51nDVLV9l1jU0Dgv8Tea68CmXCDp1KMTyMWuCj'
    'sgZXIVzEtrvzcsTMQ',
)
# {"user":"alice"}, header "alg":"HS512" but an HS256 signature, KEY
HS512_HEADER_HS256_SIGNATURE = jws(
    HS512_HEADER, ALICE_PAYLOAD, 'UTR9sORA3zMG2cCmEg2JeY6sA-vpnUH1ARc8gXD7pjE'
)
# {"user":"alice"}, "alg":"none", no signature
ALG_NONE = jws(NONE_HEADER, ALICE_PAYLOAD, '')
# {"user":"alice"}, "alg":"none" with a valid HS256 signature, KEY
ALG_NONE_SIGNED = jws(
    NONE_HEADER, ALICE_PAYLOAD, '9-dbuXLkwgSqxOlz29xNKtbAp64NUb-wba_QIyMhHCU'
)
# {"user":"alice","exp":1000000000} (2001), KEY
EXPIRED = jws(
    HEADER,
    'eyJ1c2VyIjoiYWxpY2UiLCJleHAiOjEwMDAwMDAwMDB9',
    'NyG_tVQQ_kgw_pKOhCjO1xWMwTx8DVt7Na3Yl7IxRJ4',
)
# {"user":"alice","nbf":4102444800} (2100), KEY
FUTURE_NBF = jws(
    HEADER,
    'eyJ1c2VyIjoiYWxpY2UiLCJuYmYiOjQxMDI0NDQ4MDB9',
    '7qsBA-8kPIfSrAe0rk8Oh_vEzVP_4UoWo-Bm3sZcTy8',
)
# {"user":"alice","exp":"soon"}, KEY
EXP_TEXT = jws(
    HEADER,
    'eyJ1c2VyIjoiYWxpY2UiLCJleHAiOiJzb29uIn0',
    'J8ggUn4f2N_8PlD2eT-MlygmSf6dOjdGnhZCFSauypE',
)
# {"user":"alice","nbf":"later"}, KEY
NBF_TEXT = jws(
    HEADER,
    'eyJ1c2VyIjoiYWxpY2UiLCJuYmYiOiJsYXRlciJ9',
    'WwOx65eRso0Z1BeKHSF2EavZSekVWIjz9SkZ3zoCYmE',
)
# {"user":"alice","exp":null}, KEY
EXP_NULL = jws(
    HEADER,
    'eyJ1c2VyIjoiYWxpY2UiLCJleHAiOm51bGx9',
    'EzZj21CouQ2ohfzBovegrzEamomWKx4JuBD8lZTOjSg',
)
# {"user":"alice","nbf":null}, KEY
NBF_NULL = jws(
    HEADER,
    'eyJ1c2VyIjoiYWxpY2UiLCJuYmYiOm51bGx9',
    'A_7KUarG8Bt7naugiD86vKTkHvma7RCst1A9dJlmZy8',
)
# {"user":"alice","exp":true} (hmac), KEY
EXP_TRUE = jws(
    HEADER,
    'eyJ1c2VyIjoiYWxpY2UiLCJleHAiOnRydWV9',
    'ZM9dp0L0ih07pfw8z4YvuzaOi-Chdwj1zdrTGXKyvS0',
)
# [1,2]; "alice"; 42; null. KEY
LIST_PAYLOAD = jws(
    HEADER, 'WzEsMl0', 'Vjt8ZwiVEvh1DEwuMNjtjQWfUsrd7YQIosonuEWyC-M'
)
STR_PAYLOAD = jws(
    HEADER, 'ImFsaWNlIg', 'esE8t-ohJAl9rChkFYxyOyUFifjctMXLZ003wIpwx8I'
)
INT_PAYLOAD = jws(HEADER, 'NDI', 'bLULgCOkSDvu9SPO4aZa7O4VhUMWVHjSFdMtzk3y7JY')
NULL_PAYLOAD = jws(
    HEADER, 'bnVsbA', 'vtvAfBsEciM5CVvBuPJy-PuUCP6KW1-FTMNjYD7jD6k'
)
# {"user": (cut JSON), KEY
BAD_JSON = jws(
    HEADER, 'eyJ1c2VyIjo', 'a-Efiomk8-q77dTe2DvRrkCSi1IpFO3Ra3jQ7PHDRtI'
)
# {"user":"\xff"} (not UTF-8), KEY
NOT_UTF8 = jws(
    HEADER, 'eyJ1c2VyIjoi_yJ9', 'vjZcZWdKrH8zT7Z0AQVYAc72uKqH1BkKZk3QuBMPajU'
)
# header segments 'nope' and '["HS256"]', KEY
HEADER_NOT_JSON = jws(
    'bm9wZQ', ALICE_PAYLOAD, 'o9DGYAvEvtIpQ73c6zJ3Co7a8kCAY-AaX63BINc7HS4'
)
HEADER_LIST = jws(
    'WyJIUzI1NiJd',
    ALICE_PAYLOAD,
    'viJpR_01vpl2_M8g9dSNWqMbM7Db0KiZlQuDx2d_9vE',
)
# a payload segment with '!' (not base64url), signed as it is, KEY
BAD_BASE64_CHAR = jws(
    HEADER,
    ALICE_PAYLOAD + '!',
    'KvAAVKBKb-lRE-mCO7GaeJhFJw2Mhs0b1bB26DqTX48',
)
# a payload segment 'e30xx' (5 characters: no base64 has that length), KEY
BAD_BASE64_LENGTH = jws(
    HEADER, 'e30xx', 'g2Hf0ufdLWElUHrx8OLEbkbwbU4xkuvjfJNnWhG1C7Y'
)


# Every cookie option, and the Set-Cookie values of a save (of ALICE) and a
# delete with them.
ALL_OPTIONS = {
    'path': '/app',
    'domain': 'example.com',
    'http_only': False,
    'secure': True,
    'max_age': 3600,
    'partitioned': True,
}
ALL_OPTIONS_SAVED = (
    'session=' + ALICE + '; Path=/app; Domain=example.com; Max-Age=3600; '
    'Secure; Partitioned'
)
ALL_OPTIONS_DELETED = (
    'session=; Path=/app; Domain=example.com; Expires='
    + EPOCH
    + '; Max-Age=0; Secure; Partitioned'
)
ALICE_JSON = b'{"user":"alice"}'


# -- helpers ------------------------------------------------------------------


def lower_headers(res):
    """The headers of a response as a plain dict with lower-case names."""
    return {name.lower(): value for name, value in res.headers.items()}


def check(res, status, body, headers):
    """Assert the exact status, body and headers (lower-case names) of a
    test client response."""
    assert res.status_code == status, (res.status_code, res.body)
    assert res.body == body, res.body
    assert lower_headers(res) == headers, lower_headers(res)


def text_headers(body, cookies=None, content_type=TEXT):
    """The headers of a response with ``body`` and the given Set-Cookie
    values."""
    headers = {'content-type': content_type, 'content-length': str(len(body))}
    if cookies is not None:
        headers['set-cookie'] = cookies
    return headers


def check_text(res, body, cookies=None):
    """A 200 text response with ``body`` and these Set-Cookie values."""
    check(res, 200, body, text_headers(body, cookies))


def check_json(res, body, cookies=None):
    """A 200 JSON response with ``body`` and these Set-Cookie values."""
    check(res, 200, body, text_headers(body, cookies, JSON))


def check_500(res):
    check(res, 500, ERROR, text_headers(ERROR))


def redirect_headers(location, cookies=None):
    headers = text_headers(b'', cookies)
    headers['location'] = location
    return headers


def check_redirect(res, location, cookies=None):
    """A 302 to ``location`` with these Set-Cookie values."""
    check(res, 302, b'', redirect_headers(location, cookies))


def saved(token, options='; Path=/; HttpOnly'):
    """The Set-Cookie value of a saved session."""
    return 'session=' + token + options


def deleted(before='; Path=/', after='; HttpOnly'):
    """The Set-Cookie value of a deleted session: the attributes ``before``
    Expires and those ``after`` Max-Age."""
    return 'session=' + before + '; Expires=' + EPOCH + '; Max-Age=0' + after


def spec_app():
    """The example app of the user guide, "Secure User Sessions"."""
    app = Microdot()
    Session(app, secret_key=SPEC_KEY)

    @app.route('/', methods=['GET', 'POST'])
    @with_session
    async def index(req, session):
        username = session.get('username')
        if req.method == 'POST':
            username = req.form.get('username')
            session['username'] = username
            session.save()
            return redirect('/')
        if username is None:
            return 'Not logged in'
        else:
            return 'Logged in as ' + username

    @app.post('/logout')
    @with_session
    async def logout(req, session):
        session.delete()
        return redirect('/')

    return app


async def spec_login():
    """A test client of the spec's app and the response to its login of
    alice."""
    client = TestClient(spec_app())
    res = await client.post('/', headers=FORM, body='username=alice')
    return client, res


def add_session_routes(app, prefix=''):
    """Add ``/read`` (the session as JSON), ``/save`` (stores user=alice)
    and ``/delete`` to ``app``."""

    @app.get(prefix + '/read')
    @with_session
    async def read(req, session):
        return dict(session.items())

    @app.get(prefix + '/save')
    @with_session
    async def save(req, session):
        session['user'] = 'alice'
        session.save()
        return 'saved'

    @app.get(prefix + '/delete')
    @with_session
    async def delete(req, session):
        session.delete()
        return 'deleted'

    return app


def session_app(secret_key=KEY, cookie_options=None):
    """An app with a Session and the routes of ``add_session_routes``."""
    app = Microdot()
    Session(app, secret_key=secret_key, cookie_options=cookie_options)
    return add_session_routes(app)


async def check_save(app, cookie=None, path='/save'):
    """GET ``path`` (a ``/save`` route) on ``app`` answers ``saved`` with
    the one Set-Cookie ``cookie`` (default: ALICE, default options)."""
    res = await TestClient(app).get(path)
    check_text(res, b'saved', [cookie or saved(ALICE)])


async def get_index(index, cookies=None, sessions=None):
    """GET / (sending ``cookies``) on an app whose route ``/`` is
    ``index``, with ``sessions`` (default: a new Session(KEY)) on it."""
    app = Microdot()
    (sessions or Session(secret_key=KEY)).initialize(app)
    app.get('/')(index)
    return await TestClient(app, cookies=cookies).get('/')


async def serve_requests(app, *requests):
    """Send ``requests``, tuples of ``RunningServer.request()`` arguments,
    one after the other to ``app`` on a real server; return the
    responses."""
    server = await serverutil.start(app)
    try:
        responses = []
        for request in requests:
            responses.append(await server.request(*request))
        return responses
    finally:
        await server.stop()


async def read_with_cookie(token, app=None):
    """GET /read sending ``session=<token>``; return the response."""
    client = TestClient(app or session_app(), cookies={'session': token})
    return await client.get('/read')


async def check_session_read(token, expected_body):
    """Reading a session from ``token`` gives a 200 whose JSON body is
    ``expected_body`` and no Set-Cookie."""
    check_json(await read_with_cookie(token), expected_body)


def result_or_refused(f, *args):
    """``f(*args)``, or ``'refused'`` for a ValueError."""
    try:
        return f(*args)
    except ValueError:
        return 'refused'


async def check_rejected(token):
    """``token`` is refused: ``decode()`` raises ValueError and a request
    with it as the session cookie sees an empty session (a 200)."""
    result = result_or_refused(Session(secret_key=KEY).decode, token)
    assert result == 'refused', (token, result)
    await check_session_read(token, b'{}')


class FixedClock:
    """Stands for the ``time`` module: ``time()`` returns ``seconds``."""

    def __init__(self, seconds):
        self.seconds = seconds

    def time(self):
        return self.seconds


def call_on_board(clock, epoch_offset, f):
    """Return ``f()`` run as on a board: microdot.session's ``time`` module
    replaced by ``clock``, its ``_EPOCH_OFFSET`` by ``epoch_offset`` and
    the portable JWT code in use (as on MicroPython); all three restored."""
    module = microdot.session
    saved = (module.time, module._EPOCH_OFFSET, module._pyjwt)
    module.time = clock
    module._EPOCH_OFFSET = epoch_offset
    module._pyjwt = None
    try:
        return f()
    finally:
        module.time, module._EPOCH_OFFSET, module._pyjwt = saved


def make_request(cookie=None, app=None):
    """A Request for GET / on ``app``, with a Cookie header if given."""
    headers = {'host': 'example.com'}
    if cookie is not None:
        headers['cookie'] = cookie
    return Request(
        app or Microdot(), ('127.0.0.1', 1234), 'GET', '/', '1.1', headers
    )


def session_of(cookie=None):
    """What Session(KEY).get() returns for a request with the Cookie header
    ``cookie``: always a SessionDict."""
    data = Session(secret_key=KEY).get(make_request(cookie))
    assert isinstance(data, SessionDict)
    return data


# -- the spec's example app ---------------------------------------------------


async def test_spec_example_not_logged_in():
    res = await TestClient(spec_app()).get('/')
    check_text(res, b'Not logged in')


async def test_spec_example_login_saves_the_session_cookie():
    client, res = await spec_login()
    check_redirect(res, '/', [saved(SPEC_ALICE)])


async def test_spec_example_session_survives_the_next_request():
    client, res = await spec_login()
    check_text(await client.get('/'), b'Logged in as alice')


async def test_spec_example_logout_deletes_the_session_cookie():
    client, res = await spec_login()
    check_redirect(await client.post('/logout'), '/', [DELETED])
    check_text(await client.get('/'), b'Not logged in')


async def test_spec_example_reads_a_known_token():
    client = TestClient(spec_app(), cookies={'session': SPEC_ALICE})
    check_text(await client.get('/'), b'Logged in as alice')


async def test_spec_example_over_a_real_server():
    cookie = {'Cookie': 'session=' + SPEC_ALICE}
    login, page, logout = await serve_requests(
        spec_app(),
        ('POST', '/', FORM, 'username=alice'),
        ('GET', '/', cookie),
        ('POST', '/logout', cookie),
    )
    assert login.status_line == b'HTTP/1.1 302 Found', login.raw
    assert login.headers['location'] == '/', login.raw
    assert login.getlist('set-cookie') == [saved(SPEC_ALICE)], login.raw
    assert login.body == b''
    assert page.status_line == b'HTTP/1.1 200 OK', page.raw
    assert page.getlist('set-cookie') == [], page.raw
    assert page.body == b'Logged in as alice'
    assert logout.status_line == b'HTTP/1.1 302 Found', logout.raw
    assert logout.getlist('set-cookie') == [DELETED], logout.raw


async def test_tampered_cookie_over_a_real_server_is_an_empty_session():
    cookie = {'Cookie': 'session=' + TAMPERED_PAYLOAD}
    (res,) = await serve_requests(session_app(), ('GET', '/read', cookie))
    assert res.status_line == b'HTTP/1.1 200 OK', res.raw
    assert res.headers['content-type'] == JSON
    assert res.getlist('set-cookie') == [], res.raw
    assert res.body == b'{}'


async def test_every_cookie_option_over_a_real_server():
    save, delete = await serve_requests(
        session_app(cookie_options=ALL_OPTIONS),
        ('GET', '/save'),
        ('GET', '/delete'),
    )
    assert save.status_line == b'HTTP/1.1 200 OK', save.raw
    assert save.getlist('set-cookie') == [ALL_OPTIONS_SAVED], save.raw
    assert delete.getlist('set-cookie') == [ALL_OPTIONS_DELETED], delete.raw


# -- setting up ---------------------------------------------------------------


async def test_session_with_the_app_argument():
    await check_save(session_app())


async def test_session_initialized_later():
    app = add_session_routes(Microdot())
    Session().initialize(app, secret_key=KEY)
    await check_save(app)


async def test_initialize_keeps_the_constructor_key():
    app = add_session_routes(Microdot())
    Session(secret_key=KEY).initialize(app)
    await check_save(app)


async def test_initialize_takes_cookie_options():
    app = add_session_routes(Microdot())
    Session().initialize(app, secret_key=KEY, cookie_options={'secure': True})
    await check_save(app, saved(ALICE, '; Path=/; Secure; HttpOnly'))


def test_cookie_options_argument_is_not_changed():
    options = {'secure': True}
    Session(Microdot(), secret_key=KEY, cookie_options=options)
    assert options == {'secure': True}


async def check_key_round_trip(key, token):
    """A session_app with ``key`` saves ALICE as ``token`` and reads it."""
    await check_save(session_app(key), saved(token))
    check_json(await read_with_cookie(token, session_app(key)), ALICE_JSON)


async def test_bytes_secret_key():
    await check_key_round_trip(BYTES_KEY, ALICE_BYTES_KEY)


async def test_key_longer_than_a_hash_block():
    await check_key_round_trip(LONG_KEY, ALICE_LONG_KEY)


def test_encode_without_a_secret_key_raises_value_error():
    assert result_or_refused(Session().encode, {'user': 'alice'}) == 'refused'


def test_decode_without_a_secret_key_raises_value_error():
    assert result_or_refused(Session().decode, ALICE) == 'refused'


async def test_saving_without_a_secret_key_is_a_500():
    check_500(await TestClient(session_app(None)).get('/save'))


async def test_reading_without_a_secret_key_is_a_500():
    check_500(await read_with_cookie(ALICE, session_app(None)))


async def test_with_session_without_a_session_object_is_a_500():
    check_500(await TestClient(add_session_routes(Microdot())).get('/read'))


# -- tokens: known answers ----------------------------------------------------

# (key, payload, token): encode() makes the token, decode() reads it back
KNOWN_ANSWERS = (
    (KEY, {'user': 'alice'}, ALICE),
    (KEY, {}, EMPTY),
    (KEY, {'data': {'n': [1, 2.5, True, None, 'x']}}, NESTED),
    (BYTES_KEY, {'user': 'alice'}, ALICE_BYTES_KEY),
    (LONG_KEY, {'user': 'alice'}, ALICE_LONG_KEY),
    (KEY, {'name': 'é€'}, UTF8_RAW),  # non-ASCII text as raw UTF-8
    (KEY, {'name': '😀'}, NON_BMP_RAW),  # text beyond the BMP too
)
# ... and tokens that decode() reads but encode() does not make (several
# claims: MicroPython's dicts have no fixed order)
DECODED_ONLY = (
    (KEY, {'a': 1, 'b': 'two', 'c': [3]}, MULTI),
    (KEY, {'user': 'alice'}, SPACED_JSON),
    (KEY, {'name': 'é€'}, UTF8_ESCAPED),
    (KEY, {'user': 'alice', 'exp': 4102444800}, FUTURE_EXP),
    (KEY, {'user': 'alice', 'nbf': 1000000000}, PAST_NBF),
)


def test_encode_known_answers():
    for key, payload, token in KNOWN_ANSWERS:
        assert Session(secret_key=key).encode(payload) == token, payload


def test_decode_known_answers():
    for key, payload, token in KNOWN_ANSWERS + DECODED_ONLY:
        assert Session(secret_key=key).decode(token) == payload, token


def test_encode_secret_key_argument_overrides_the_session_key():
    session = Session(secret_key=OTHER_KEY)
    assert session.encode({'user': 'alice'}, secret_key=KEY) == ALICE
    assert session.encode({'user': 'alice'}) == ALICE_OTHER_KEY


def test_encode_returns_str():
    assert isinstance(Session(secret_key=KEY).encode({}), str)


def test_decode_secret_key_argument_overrides_the_session_key():
    session = Session(secret_key=OTHER_KEY)
    assert session.decode(ALICE, secret_key=KEY) == {'user': 'alice'}


def test_round_trips():
    for key, payload in (
        (KEY, {'a': 1, 'b': 'two', 'é': ['€', None, False, 1.5], 'd': {}}),
        (KEY, {'😀': 'smile 😀 é', 'list': ['𝄞', '€']}),  # beyond the BMP
        (BYTES_KEY, {'user': 'alice', 'n': 3}),
    ):
        session = Session(secret_key=key)
        assert session.decode(session.encode(payload)) == payload, payload


# -- the session cookie: what is read -----------------------------------------


async def test_no_cookie_is_an_empty_session():
    check_json(await TestClient(session_app()).get('/read'), b'{}')


async def test_valid_cookie_is_read():
    await check_session_read(ALICE, ALICE_JSON)


async def test_cookie_with_several_claims_is_read():
    res = await read_with_cookie(MULTI)
    assert res.status_code == 200
    assert res.json == {'a': 1, 'b': 'two', 'c': [3]}
    assert 'Set-Cookie' not in res.headers


async def test_cookie_with_future_exp_is_read():
    res = await read_with_cookie(FUTURE_EXP)
    assert res.status_code == 200
    assert res.json == {'user': 'alice', 'exp': 4102444800}


# An application may keep keys named like registered JWT claims in its
# session; the session must come back the same on both runtimes.


async def test_sessions_with_registered_claim_names_are_read():
    for token, body in (
        (SUB_INT, b'{"sub":42}'),
        (AUD, b'{"aud":"x"}'),
        (JTI_INT, b'{"jti":7}'),
        (IAT_TEXT, b'{"iat":"yesterday"}'),
        (IAT_FUTURE, b'{"iat":4102444800}'),
        (ISS_INT, b'{"iss":1}'),
    ):
        await check_session_read(token, body)


async def check_key_survives(name, value, token, body):
    """A route that saves ``{name: value}`` sets the session cookie
    ``token``, and the next request reads the session back as ``body``."""
    app = session_app()

    @app.get('/login')
    @with_session
    async def login(req, session):
        session[name] = value
        session.save()
        return 'ok'

    client = TestClient(app)
    check_text(await client.get('/login'), b'ok', [saved(token)])
    check_json(await client.get('/read'), body)


async def test_saved_registered_claim_names_survive_the_next_request():
    for name, value, token, body in (
        ('sub', 42, SUB_INT, b'{"sub":42}'),
        ('aud', 'x', AUD, b'{"aud":"x"}'),
        ('iss', 1, ISS_INT, b'{"iss":1}'),
    ):
        await check_key_survives(name, value, token, body)


# -- the session cookie: what is refused --------------------------------------


async def test_empty_cookie_is_an_empty_session():
    await check_session_read('', b'{}')


async def test_tampered_tokens_and_other_keys_are_refused():
    for token in (TAMPERED_PAYLOAD, TAMPERED_SIGNATURE, ALICE_OTHER_KEY):
        await check_rejected(token)


async def test_malformed_tokens_are_refused():
    for token in (
        ALICE[:-1],  # truncated signature
        ALICE[: len(ALICE) // 2],  # truncated to half
        HEADER + '.' + ALICE_PAYLOAD + '.',  # signature cut off
        HEADER + '.' + ALICE_PAYLOAD,  # two segments
        ALICE + '.' + ALICE_PAYLOAD,  # four segments
        ALICE_PAYLOAD,  # one segment
        '..',
        'not-a-token',
        ALICE + '!',  # non-base64 character in the signature
        BAD_BASE64_CHAR,  # ... in the payload
        BAD_BASE64_LENGTH,
        HEADER_NOT_JSON,
        HEADER_LIST,  # a header that is not an object
        BAD_JSON,
        NOT_UTF8,
    ):
        await check_rejected(token)


async def test_other_algorithms_are_refused():
    for token in (
        ALG_NONE,  # without a signature
        ALG_NONE_SIGNED,  # with an HS256 signature
        HS512,
        HS512_HEADER_HS256_SIGNATURE,
    ):
        await check_rejected(token)


async def test_payloads_that_are_not_objects_are_refused():
    for token in (LIST_PAYLOAD, STR_PAYLOAD, INT_PAYLOAD, NULL_PAYLOAD):
        await check_rejected(token)


async def test_bad_time_claims_are_refused():
    for token in (
        EXPIRED,
        FUTURE_NBF,
        EXP_TEXT,
        NBF_TEXT,
        EXP_NULL,
        NBF_NULL,
        EXP_TRUE,
    ):
        await check_rejected(token)


# -- token times: seconds since 1970 on every board ---------------------------


def test_epoch_offset_matches_this_platform():
    expected = Y2K if time.gmtime(0)[0] == 2000 else 0
    assert microdot.session._EPOCH_OFFSET == expected


def test_epoch_time_counts_from_1970_here():
    offset = Y2K if time.gmtime(0)[0] == 2000 else 0
    before = time.time()
    now = epoch_time()
    after = time.time()
    assert before + offset <= now <= after + offset, (before, now, after)


def test_epoch_time_on_a_board_counting_from_2000():
    assert call_on_board(FixedClock(1000), Y2K, epoch_time) == Y2K + 1000


def test_exp_and_nbf_on_a_board_counting_from_2000():
    # The board's clock says now - Y2K; the claims count from 1970.
    now = int(epoch_time())
    session = Session(secret_key=KEY)
    valid = session.encode({'exp': now + 100, 'nbf': now - 100})
    expired = session.encode({'exp': now - 100})
    early = session.encode({'nbf': now + 100})

    def judge():
        return [
            result_or_refused(session.decode, t)
            for t in (valid, expired, early)
        ]

    results = call_on_board(FixedClock(now - Y2K), Y2K, judge)
    assert results == [
        {'exp': now + 100, 'nbf': now - 100},
        'refused',
        'refused',
    ]


async def test_bad_cookie_then_save_replaces_it():
    client = TestClient(session_app(), cookies={'session': TAMPERED_PAYLOAD})
    check_text(await client.get('/save'), b'saved', [saved(ALICE)])
    check_json(await client.get('/read'), ALICE_JSON)


# -- Session.get(), update(), delete() ---------------------------------------


def test_get_returns_a_session_dict():
    data = session_of('session=' + ALICE)
    assert isinstance(data, dict)
    assert data == {'user': 'alice'}


def test_get_without_cookie_is_empty():
    assert session_of() == {}


def test_get_with_a_bad_cookie_is_empty():
    assert session_of('session=' + EXPIRED) == {}


def test_get_is_cached_per_request():
    session = Session(secret_key=KEY)
    req = make_request('session=' + ALICE)
    first = session.get(req)
    first['user'] = 'bob'
    assert session.get(req) is first
    assert session.get(make_request('session=' + ALICE)) is not first


async def test_with_session_passes_the_cached_session():
    sessions = Session(secret_key=KEY)

    @with_session
    async def index(req, session):
        return 'same' if sessions.get(req) is session else 'different'

    check_text(await get_index(index, sessions=sessions), b'same')


async def test_update_directly():
    sessions = Session(secret_key=KEY)

    async def index(req):
        sessions.update(req, {'user': 'alice'})
        return 'updated'

    res = await get_index(index, sessions=sessions)
    check_text(res, b'updated', [saved(ALICE)])


async def test_delete_directly():
    sessions = Session(secret_key=KEY)

    async def index(req):
        sessions.delete(req)
        return 'deleted'

    res = await get_index(index, sessions=sessions)
    check_text(res, b'deleted', [DELETED])


async def test_delete_empties_the_cached_session():
    sessions = Session(secret_key=KEY)

    async def index(req):
        sessions.get(req)
        sessions.delete(req)
        return dict(sessions.get(req).items())

    res = await get_index(index, {'session': ALICE}, sessions)
    check_json(res, b'{}', [DELETED])


async def test_session_dict_built_by_hand_saves():
    async def index(req):
        SessionDict(req, {'user': 'alice'}).save()
        return 'saved'

    check_text(await get_index(index), b'saved', [saved(ALICE)])


async def test_session_dict_built_by_hand_deletes():
    async def index(req):
        session = SessionDict(req, {'user': 'alice'})
        assert session == {'user': 'alice'}
        session.delete()
        return 'deleted'

    check_text(await get_index(index), b'deleted', [DELETED])


async def test_session_without_changes_sets_no_cookie():
    res = await read_with_cookie(ALICE)
    assert 'Set-Cookie' not in res.headers


async def test_save_keeps_the_old_data():
    client = TestClient(session_app(), cookies={'session': THEME})
    res = await client.get('/save')
    assert res.status_code == 200
    cookie = res.headers['Set-Cookie']
    assert len(cookie) == 1
    assert cookie[0].startswith('session=')
    assert cookie[0].endswith('; Path=/; HttpOnly')
    token = cookie[0][len('session=') : -len('; Path=/; HttpOnly')]
    assert Session(secret_key=KEY).decode(token) == {
        'theme': 'dark',
        'user': 'alice',
    }


# -- one Set-Cookie per request: the last call wins ---------------------------


async def test_save_then_delete_deletes():
    @with_session
    async def index(req, session):
        session['user'] = 'alice'
        session.save()
        session.delete()
        return 'ok'

    check_text(await get_index(index), b'ok', [DELETED])


async def test_delete_then_save_saves():
    sessions = Session(secret_key=KEY)

    async def index(req):
        sessions.delete(req)
        sessions.update(req, {'user': 'alice'})
        return 'ok'

    res = await get_index(index, sessions=sessions)
    check_text(res, b'ok', [saved(ALICE)])


async def test_two_saves_send_the_last_one():
    sessions = Session(secret_key=KEY)

    async def index(req):
        sessions.update(req, {'user': 'bob'})
        sessions.update(req, {'user': 'alice'})
        return 'ok'

    res = await get_index(index, sessions=sessions)
    check_text(res, b'ok', [saved(ALICE)])


async def test_two_deletes_send_one_cookie():
    @with_session
    async def index(req, session):
        session.delete()
        session.delete()
        return 'ok'

    check_text(await get_index(index), b'ok', [DELETED])


async def test_error_after_save_sets_no_cookie():
    @with_session
    async def index(req, session):
        session['user'] = 'alice'
        session.save()
        abort(403)

    res = await get_index(index)
    check(res, 403, b'Forbidden', text_headers(b'Forbidden'))


# -- with_session -------------------------------------------------------------


async def test_with_session_on_a_sync_route_reads():
    @with_session
    def index(req, session):
        return 'user=' + session.get('user', 'none')

    check_text(await get_index(index, {'session': ALICE}), b'user=alice')


async def test_with_session_on_a_sync_route_saves():
    @with_session
    def index(req, session):
        session['user'] = 'alice'
        session.save()
        return 'saved'

    check_text(await get_index(index), b'saved', [saved(ALICE)])


async def test_with_session_on_a_sync_route_deletes():
    @with_session
    def index(req, session):
        session.delete()
        return 'deleted'

    res = await get_index(index, {'session': ALICE})
    check_text(res, b'deleted', [DELETED])


async def test_with_session_passes_url_arguments():
    app = Microdot()
    Session(app, secret_key=KEY)

    @app.get('/users/<int:id>/<name>')
    @with_session
    async def user(req, session, id, name):
        return '%s %d %s' % (session['user'], id, name)

    client = TestClient(app, cookies={'session': ALICE})
    check_text(await client.get('/users/7/bob'), b'alice 7 bob')


# -- cookie options -----------------------------------------------------------

EXPIRES = 'Wed, 21 Oct 2037 07:28:00 GMT'

# cookie options -> the Set-Cookie values of a save and of a delete (None:
# not checked); a delete drops Max-Age and Expires for its own
COOKIE_OPTION_CASES = (
    (None, saved(ALICE), DELETED),  # the defaults
    (ALL_OPTIONS, ALL_OPTIONS_SAVED, ALL_OPTIONS_DELETED),
    ({'path': '/app'}, saved(ALICE, '; Path=/app; HttpOnly'), None),
    (
        {'domain': 'example.com'},
        saved(ALICE, '; Path=/; Domain=example.com; HttpOnly'),
        None,
    ),
    ({'http_only': False}, saved(ALICE, '; Path=/'), deleted(after='')),
    (
        {'secure': True},
        saved(ALICE, '; Path=/; Secure; HttpOnly'),
        deleted(after='; Secure; HttpOnly'),
    ),
    ({'max_age': 60}, saved(ALICE, '; Path=/; Max-Age=60; HttpOnly'), DELETED),
    (
        {'expires': EXPIRES},
        saved(ALICE, '; Path=/; Expires=' + EXPIRES + '; HttpOnly'),
        DELETED,
    ),
    (
        {'partitioned': True},
        saved(ALICE, '; Path=/; HttpOnly; Partitioned'),
        deleted(after='; HttpOnly; Partitioned'),
    ),
)


async def test_cookie_options_in_save_and_delete():
    for options, save, delete in COOKIE_OPTION_CASES:
        app = session_app(cookie_options=options)
        res = await TestClient(app).get('/save')
        assert res.headers['Set-Cookie'] == [save], options
        if delete is not None:
            res = await TestClient(app).get('/delete')
            assert res.headers['Set-Cookie'] == [delete], options


async def test_test_client_keeps_the_cookie_under_its_path():
    app = Microdot()
    Session(app, secret_key=KEY, cookie_options={'path': '/app'})
    add_session_routes(app, '/app')
    add_session_routes(app)
    client = TestClient(app)
    await client.get('/app/save')
    check_json(await client.get('/app/read'), ALICE_JSON)
    check_json(await client.get('/read'), b'{}')


# -- hooks --------------------------------------------------------------------


def redirecting_app():
    """An app whose before_request handler saves {"next": "/private"} and
    redirects to /login for /private, and whose after_request handler adds
    ``X-After: yes`` and an ``other=1`` cookie."""
    app = Microdot()
    sessions = Session(app, secret_key=KEY)

    @app.before_request
    async def require_login(req):
        if req.path == '/private':
            session = sessions.get(req)
            session['next'] = req.path
            session.save()
            return redirect('/login')

    @app.after_request
    async def add_header(req, res):
        res.headers['X-After'] = 'yes'
        res.set_cookie('other', '1')
        return res

    @app.get('/private')
    async def private(req):
        return 'private'

    @app.get('/public')
    @with_session
    async def public(req, session):
        session.delete()
        return 'public'

    return app


async def test_before_request_redirect_saves_the_session():
    res = await TestClient(redirecting_app()).get('/private')
    assert res.status_code == 302
    assert res.body == b''
    cookies = res.headers['Set-Cookie']
    assert sorted(cookies) == ['other=1', saved(NEXT_PRIVATE)], cookies
    headers = lower_headers(res)
    del headers['set-cookie']
    assert headers == {
        'location': '/login',
        'x-after': 'yes',
        'content-type': TEXT,
        'content-length': '0',
    }


async def test_after_request_cookie_and_session_deletion_both_sent():
    res = await TestClient(redirecting_app()).get('/public')
    assert res.status_code == 200
    assert res.body == b'public'
    assert sorted(res.headers['Set-Cookie']) == ['other=1', DELETED]
    assert res.headers['X-After'] == 'yes'


async def test_session_cookie_survives_an_after_request_replacing_response():
    app = Microdot()
    Session(app, secret_key=KEY)

    @app.after_request
    async def replace(req, res):
        return 'replaced'

    add_session_routes(app)
    res = await TestClient(app).get('/save')
    check_text(res, b'replaced', [saved(ALICE)])


# -- mounted sub-applications -------------------------------------------------


def mounted_app(local, sub_session):
    """A parent app with Session(KEY) and the session routes, and a sub-app
    with the same routes mounted at /sub (``local`` as given); the sub-app
    has its own Session(OTHER_KEY, path /sub) when ``sub_session``."""
    app = session_app()
    sub = add_session_routes(Microdot())
    if sub_session:
        Session(sub, secret_key=OTHER_KEY, cookie_options={'path': '/sub'})
    app.mount(sub, url_prefix='/sub', local=local)
    return app


async def test_mount_without_own_session_uses_the_parent_session():
    for local in (False, True):
        await check_save(mounted_app(local, False), path='/sub/save')


async def test_mount_without_own_session_reads_the_parent_cookie():
    app = mounted_app(False, False)
    check_json(await read_with_cookie(ALICE, app), ALICE_JSON)
    client = TestClient(app, cookies={'session': ALICE})
    check_json(await client.get('/sub/read'), ALICE_JSON)


async def test_mount_with_own_session_uses_the_sub_session():
    cookie = saved(ALICE_OTHER_KEY, '; Path=/sub; HttpOnly')
    for local in (False, True):
        await check_save(mounted_app(local, True), cookie, '/sub/save')


async def test_mount_with_own_session_parent_routes_use_the_parent():
    for local in (False, True):
        await check_save(mounted_app(local, True))


async def test_mount_with_own_session_checks_the_sub_key():
    for local in (False, True):
        app = mounted_app(local, True)
        client = TestClient(app, cookies={'session': ALICE_OTHER_KEY})
        check_json(await client.get('/sub/read'), ALICE_JSON)
        # the parent refuses the sub's key
        check_json(await client.get('/read'), b'{}')
        client = TestClient(app, cookies={'session': ALICE})
        # and the sub the parent's
        check_json(await client.get('/sub/read'), b'{}')


async def test_mount_with_own_session_delete_uses_the_sub_options():
    res = await TestClient(mounted_app(True, True)).get('/sub/delete')
    check_text(res, b'deleted', [deleted('; Path=/sub')])


async def test_local_sub_app_before_request_redirect_saves_the_session():
    app = session_app()
    sub = Microdot()
    sub_sessions = Session(sub, secret_key=OTHER_KEY)

    @sub.before_request
    async def to_login(req):
        session = sub_sessions.get(req)
        session['user'] = 'alice'
        session.save()
        return redirect('/login')

    @sub.after_request
    async def stamp(req, res):
        res.headers['X-Sub'] = 'yes'
        return res

    @sub.get('/page')
    async def page(req):
        return 'page'

    app.mount(sub, url_prefix='/sub', local=True)
    client = TestClient(app)
    res = await client.get('/sub/page')
    headers = redirect_headers('/login', [saved(ALICE_OTHER_KEY)])
    headers['x-sub'] = 'yes'
    check(res, 302, b'', headers)
    # the sub-app's hooks stay local
    check_text(await client.get('/save'), b'saved', [saved(ALICE)])


async def test_non_local_sub_app_before_request_applies_to_parent_routes():
    app = Microdot()
    Session(app, secret_key=KEY)
    sub = Microdot()

    @sub.before_request
    @with_session
    async def remember_next(req, session):
        if req.path == '/private':
            session['next'] = req.path
            session.save()
            return redirect('/login')

    @app.get('/private')
    async def private(req):
        return 'private'

    app.mount(sub, url_prefix='/sub')
    res = await TestClient(app).get('/private')
    check_redirect(res, '/login', [saved(NEXT_PRIVATE)])
