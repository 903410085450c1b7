# runtime: cpython
"""microdot.session and PyJWT: the module's own portable JWT code (what
MicroPython runs: ``jwt_encode``, ``jwt_decode``, ``hmac_sha256``) and
PyJWT accept each other's tokens, the MicroPython binary itself makes
tokens that PyJWT verifies and verifies PyJWT's and the Session's (text
beyond the BMP included), and ``exp``/``nbf`` are judged as PyJWT judges
them. Token JSON is raw UTF-8 on both runtimes: the same bytes as default
PyJWT for ASCII payloads, as PyJWT with an ``ensure_ascii=False`` encoder
for the others.

``Session.encode``/``decode`` use PyJWT on CPython; the tests that need the
portable path through a Session set ``microdot.session._pyjwt`` to None
with pytest's ``monkeypatch``.
"""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time

import jwt
import pytest

import microdot.session
from microdot import Microdot
from microdot.session import (
    Session,
    hmac_sha256,
    jwt_decode,
    jwt_encode,
    with_session,
)
from microdot.test_client import TestClient

KEY = 'microdot-session-tests-secret-key-0123456789'
BYTES_KEY = bytes(range(200, 240))
LONG_KEY = 'k' * 100
KEYS = [KEY, BYTES_KEY, LONG_KEY, 'top-secret', b'\x00' * 64]
PAYLOADS = [
    {},
    {'user': 'alice'},
    {'a': 1, 'b': 'two', 'c': [3, 4.5, None, True, False], 'd': {'e': {}}},
    {'name': 'é€ ü', 'quote': '"\\\n\t'},
    {'user_id': 1, 'exp': 4102444800},
    {'n': -12345678901234567890},
]
# Text beyond the BMP: default PyJWT escapes it as surrogate pairs
# ("\ud83d\ude00"), which MicroPython's json.loads does not join; the
# Session writes it as raw UTF-8 on both runtimes.
NON_BMP_PAYLOADS = [
    {'name': 'smile 😀'},
    {'😀': ['𝄞', 'é€', {'k': '🎉'}]},
]

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.path.join(os.path.dirname(TESTS_DIR), 'src')
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), 'micropython')
CHILD_TIMEOUT = 30  # seconds for a MicroPython child process

# Run by MicroPython: argv is [script, src dir, command, key, data]. It
# prints one line: the token, the claims as JSON (raw UTF-8) or
# "ValueError: <message>".
MPY_SCRIPT = """
import json
import sys

sys.path.insert(0, sys.argv[1])
from microdot.session import Session

command, key, data = sys.argv[2], sys.argv[3], sys.argv[4]
session = Session(secret_key=key)
try:
    if command == 'encode':
        print(session.encode(json.loads(data)))
    else:
        print(json.dumps(session.decode(data)))
except ValueError as exc:
    print('ValueError: ' + str(exc))
"""


class RawUtf8Encoder(json.JSONEncoder):
    """A JSON encoder that writes non-ASCII text as it is."""

    def __init__(self, *args, **kwargs):
        kwargs['ensure_ascii'] = False
        super().__init__(*args, **kwargs)


def is_ascii(payload):
    return json.dumps(payload, ensure_ascii=False).isascii()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def pyjwt_decode(token, key):
    return jwt.decode(token, key, algorithms=['HS256'])


def pyjwt_encode_raw_utf8(payload, key):
    """The token that the Session should make: PyJWT's, raw UTF-8."""
    return jwt.encode(
        payload, key, algorithm='HS256', json_encoder=RawUtf8Encoder
    )


def assert_expired_everywhere(token):
    """Default PyJWT, the portable code and the Session refuse ``token``
    as expired."""
    with pytest.raises(jwt.ExpiredSignatureError):
        pyjwt_decode(token, KEY)
    with pytest.raises(ValueError):
        jwt_decode(token, KEY)
    with pytest.raises(ValueError):
        Session(secret_key=KEY).decode(token)


# -- the portable code and PyJWT ----------------------------------------------


@pytest.mark.parametrize('key', KEYS)
@pytest.mark.parametrize('payload', PAYLOADS)
def test_own_tokens_are_accepted_by_pyjwt(key, payload):
    assert pyjwt_decode(jwt_encode(payload, key), key) == payload


@pytest.mark.parametrize('key', KEYS)
@pytest.mark.parametrize('payload', PAYLOADS)
def test_pyjwt_tokens_are_accepted_by_own_code(key, payload):
    token = jwt.encode(payload, key, algorithm='HS256')
    assert jwt_decode(token, key) == payload


@pytest.mark.parametrize('key', KEYS)
@pytest.mark.parametrize('payload', PAYLOADS + NON_BMP_PAYLOADS)
def test_own_tokens_are_the_same_bytes_as_raw_utf8_pyjwt(key, payload):
    assert jwt_encode(payload, key) == pyjwt_encode_raw_utf8(payload, key)


@pytest.mark.parametrize('key', KEYS)
@pytest.mark.parametrize(
    'payload', [payload for payload in PAYLOADS if is_ascii(payload)]
)
def test_own_tokens_of_ascii_payloads_are_default_pyjwt_tokens(key, payload):
    assert jwt_encode(payload, key) == jwt.encode(
        payload, key, algorithm='HS256'
    )


@pytest.mark.parametrize('key', KEYS)
@pytest.mark.parametrize('payload', NON_BMP_PAYLOADS)
def test_pyjwt_tokens_with_non_bmp_text_are_accepted_by_own_code(key, payload):
    for token in (
        jwt.encode(payload, key, algorithm='HS256'),
        pyjwt_encode_raw_utf8(payload, key),
    ):
        assert jwt_decode(token, key) == payload
        assert Session(secret_key=key).decode(token) == payload


@pytest.mark.parametrize('key_length', [0, 1, 31, 32, 63, 64, 65, 200])
@pytest.mark.parametrize('message_length', [0, 1, 55, 56, 64, 1000])
def test_hmac_sha256_matches_the_standard_library(key_length, message_length):
    key = bytes((7 * i + 3) % 256 for i in range(key_length))
    message = bytes((5 * i + 1) % 256 for i in range(message_length))
    expected = hmac.new(key, message, hashlib.sha256).digest()
    assert hmac_sha256(key, message) == expected


def test_hmac_sha256_rfc4231_case_2():
    digest = hmac_sha256(b'Jefe', b'what do ya want for nothing?')
    assert digest.hex() == (
        '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'
    )


@pytest.mark.parametrize('length', range(0, 40))
def test_own_base64url_matches_the_standard_library(length):
    data = bytes((37 * i + 250) % 256 for i in range(length))
    token = jwt_encode({'d': data.hex()}, KEY)
    text = '{"d":"%s"}' % data.hex()
    assert token.split('.')[1] == b64url(text.encode())
    assert jwt_decode(token, KEY) == {'d': data.hex()}


def test_session_uses_pyjwt_on_cpython():
    assert microdot.session._pyjwt is jwt


@pytest.mark.parametrize('payload', PAYLOADS + NON_BMP_PAYLOADS)
def test_session_tokens_equal_own_tokens(payload):
    session = Session(secret_key=KEY)
    token = session.encode(payload)
    assert token == jwt_encode(payload, KEY)
    assert jwt_decode(token, KEY) == payload


def test_session_token_of_non_ascii_text_is_raw_utf8():
    token = Session(secret_key=KEY).encode({'name': 'é€😀'})
    segment = b64url_decode(token.split('.')[1])
    assert segment == b'{"name":"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"}'
    assert token != jwt.encode({'name': 'é€😀'}, KEY, algorithm='HS256')


async def test_session_app_on_the_portable_code(monkeypatch):
    monkeypatch.setattr(microdot.session, '_pyjwt', None)
    app = Microdot()
    Session(app, secret_key=KEY)

    @app.get('/save')
    @with_session
    async def save(req, session):
        session['user'] = 'alice'
        session['n'] = 2
        session.save()
        return 'saved'

    @app.get('/read')
    @with_session
    async def read(req, session):
        return dict(session)

    client = TestClient(app)
    res = await client.get('/save')
    cookie = res.headers['Set-Cookie'][0]
    token = cookie[len('session=') : -len('; Path=/; HttpOnly')]
    assert pyjwt_decode(token, KEY) == {'user': 'alice', 'n': 2}
    res = await client.get('/read')
    assert res.json == {'user': 'alice', 'n': 2}
    token = jwt.encode({'user': 'bob'}, KEY, algorithm='HS256')
    client = TestClient(app, cookies={'session': token})
    res = await client.get('/read')
    assert res.json == {'user': 'bob'}


# -- registered claim names: PyJWT's path and the portable path agree ---------
# Only exp and nbf are checked; aud, iat, iss, sub and jti are the
# application's session data.


CLAIM_PAYLOADS = {
    'sub-int': {'sub': 42},
    'aud': {'aud': 'x'},
    'jti-int': {'jti': 7},
    'iat-text': {'iat': 'yesterday'},
    'iat-future': {'iat': 4102444800},
    'iss-int': {'iss': 1},
}


@pytest.mark.parametrize(
    'payload', CLAIM_PAYLOADS.values(), ids=CLAIM_PAYLOADS.keys()
)
def test_session_decode_agrees_with_the_portable_code(payload):
    token = jwt_encode(payload, KEY)
    assert jwt_decode(token, KEY) == payload  # what MicroPython does
    assert Session(secret_key=KEY).decode(token) == payload


@pytest.mark.parametrize(
    'payload', CLAIM_PAYLOADS.values(), ids=CLAIM_PAYLOADS.keys()
)
def test_session_encodes_registered_claim_names_like_the_portable_code(
    payload,
):
    session = Session(secret_key=KEY)
    assert session.encode(payload) == jwt_encode(payload, KEY)


def test_session_reads_claims_that_default_pyjwt_refuses():
    token = jwt_encode({'aud': 'x', 'sub': 42, 'jti': 7}, KEY)
    with pytest.raises(jwt.InvalidTokenError):
        pyjwt_decode(token, KEY)
    assert Session(secret_key=KEY).decode(token) == {
        'aud': 'x',
        'sub': 42,
        'jti': 7,
    }


# -- exp and nbf, as PyJWT judges them ----------------------------------------


def outcome(decode, token):
    try:
        decode(token)
    except (ValueError, jwt.InvalidTokenError):
        return 'refused'
    return 'accepted'


# claim -> seconds from now
OFFSETS = {
    'exp-100': {'exp': -100},
    'exp-3': {'exp': -3},
    'exp+3': {'exp': 3},
    'exp+100': {'exp': 100},
    'nbf-100': {'nbf': -100},
    'nbf-3': {'nbf': -3},
    'nbf+3': {'nbf': 3},
    'nbf+100': {'nbf': 100},
    'valid-window': {'exp': 100, 'nbf': -100},
    'past-window': {'exp': -100, 'nbf': -200},
    'future-window': {'exp': 200, 'nbf': 100},
}


@pytest.mark.parametrize('claims', OFFSETS.values(), ids=OFFSETS.keys())
def test_exp_and_nbf_like_pyjwt(claims):
    now = int(time.time())
    payload = {'user': 'alice'}
    for name, offset in claims.items():
        payload[name] = now + offset
    token = jwt.encode(payload, KEY, algorithm='HS256')
    expected = outcome(lambda t: pyjwt_decode(t, KEY), token)
    assert outcome(lambda t: jwt_decode(t, KEY), token) == expected
    assert outcome(Session(secret_key=KEY).decode, token) == expected


# claims -> the outcome on both runtimes. A time claim must be a finite
# JSON number (RFC 7519 NumericDate); null, true, text, lists, infinity and
# NaN are refused.
ODD_CLAIMS = {
    'exp-float-future': ({'exp': 4102444800.5}, 'accepted'),
    'exp-float-past': ({'exp': 1000000000.5}, 'refused'),
    'nbf-float-past': ({'nbf': 1000000000.5}, 'accepted'),
    'nbf-float-future': ({'nbf': 4102444800.5}, 'refused'),
    'exp-true': ({'exp': True}, 'refused'),
    'exp-null': ({'exp': None}, 'refused'),
    'nbf-null': ({'nbf': None}, 'refused'),
    'exp-text': ({'exp': 'soon'}, 'refused'),
    'exp-list': ({'exp': [4102444800]}, 'refused'),
    'nbf-text': ({'nbf': 'later'}, 'refused'),
    'exp-numeric-text': ({'exp': '4102444800'}, 'refused'),
    'nbf-numeric-text': ({'nbf': '1000000000'}, 'refused'),
    'exp-infinity': ({'exp': float('inf')}, 'refused'),
    'nbf-minus-infinity': ({'nbf': float('-inf')}, 'refused'),
    'exp-nan': ({'exp': float('nan')}, 'refused'),
}


@pytest.mark.parametrize('case', ODD_CLAIMS.values(), ids=ODD_CLAIMS.keys())
def test_odd_exp_and_nbf_values_on_both_paths(case):
    claims, expected = case
    token = jwt_encode(dict(claims, user='alice'), KEY)
    assert outcome(lambda t: jwt_decode(t, KEY), token) == expected
    assert outcome(Session(secret_key=KEY).decode, token) == expected


def test_expired_own_token_is_refused_by_pyjwt():
    token = jwt_encode({'user': 'alice', 'exp': int(time.time()) - 5}, KEY)
    assert_expired_everywhere(token)


def test_exp_in_a_second_expires_like_pyjwt():
    token = jwt_encode({'exp': int(time.time()) + 1}, KEY)
    assert jwt_decode(token, KEY)['exp'] > time.time() - 1
    time.sleep(2.1)
    assert_expired_everywhere(token)


# -- the MicroPython binary ---------------------------------------------------


def run_micropython(tmp_path, command, key, data):
    """Run MPY_SCRIPT under MicroPython; return its stdout line."""
    if not os.path.exists(MICROPYTHON):
        pytest.skip('no micropython binary next to ' + sys.executable)
    script = tmp_path / 'mpy_jwt.py'
    script.write_text(MPY_SCRIPT)
    result = subprocess.run(
        [MICROPYTHON, str(script), SRC_DIR, command, key, data],
        capture_output=True,
        timeout=CHILD_TIMEOUT,
        cwd=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == b''
    out = result.stdout.rstrip(b'\n')
    try:  # only the text is asked to be UTF-8, with a readable failure
        return out.decode('utf-8', errors='strict')
    except UnicodeDecodeError:
        raise AssertionError(
            'MicroPython wrote bytes that are not UTF-8: %r' % out
        )


@pytest.mark.parametrize('payload', PAYLOADS)
def test_micropython_token_is_verified_by_pyjwt(tmp_path, payload):
    data = json.dumps(payload, ensure_ascii=False)
    token = run_micropython(tmp_path, 'encode', KEY, data)
    assert pyjwt_decode(token, KEY) == payload


@pytest.mark.parametrize('payload', NON_BMP_PAYLOADS)
def test_micropython_token_with_non_bmp_text_is_read_by_the_session(
    tmp_path, payload
):
    data = json.dumps(payload, ensure_ascii=False)
    token = run_micropython(tmp_path, 'encode', KEY, data)
    assert pyjwt_decode(token, KEY) == payload
    assert Session(secret_key=KEY).decode(token) == payload


def test_micropython_token_with_non_bmp_text_is_the_session_token(tmp_path):
    payload = {'name': 'smile 😀 é€'}
    data = json.dumps(payload, ensure_ascii=False)
    token = run_micropython(tmp_path, 'encode', KEY, data)
    assert token == Session(secret_key=KEY).encode(payload)


def test_micropython_token_is_the_same_bytes_as_pyjwt(tmp_path):
    payload = {'user': 'alice'}
    token = run_micropython(tmp_path, 'encode', KEY, json.dumps(payload))
    assert token == jwt.encode(payload, KEY, algorithm='HS256')


def test_micropython_token_with_exp_is_verified_by_pyjwt(tmp_path):
    exp = int(time.time()) + 600
    data = json.dumps({'user_id': 1, 'exp': exp})
    token = run_micropython(tmp_path, 'encode', KEY, data)
    assert pyjwt_decode(token, KEY) == {'user_id': 1, 'exp': exp}


def test_micropython_expired_token_is_refused_by_pyjwt(tmp_path):
    data = json.dumps({'user_id': 1, 'exp': int(time.time()) - 5})
    token = run_micropython(tmp_path, 'encode', KEY, data)
    with pytest.raises(jwt.ExpiredSignatureError):
        pyjwt_decode(token, KEY)


@pytest.mark.parametrize('payload', PAYLOADS)
def test_micropython_verifies_a_pyjwt_token(tmp_path, payload):
    token = jwt.encode(payload, KEY, algorithm='HS256')
    out = run_micropython(tmp_path, 'decode', KEY, token)
    assert json.loads(out) == payload


@pytest.mark.parametrize('payload', PAYLOADS + NON_BMP_PAYLOADS)
def test_micropython_reads_a_session_token(tmp_path, payload):
    # The Session writes raw UTF-8, so text beyond the BMP needs no
    # surrogate pairs (which MicroPython's json.loads does not join).
    token = Session(secret_key=KEY).encode(payload)
    out = run_micropython(tmp_path, 'decode', KEY, token)
    assert json.loads(out) == payload


def test_micropython_verifies_a_pyjwt_token_with_exp(tmp_path):
    payload = {'user_id': 1, 'exp': int(time.time()) + 600}
    token = jwt.encode(payload, KEY, algorithm='HS256')
    out = run_micropython(tmp_path, 'decode', KEY, token)
    assert json.loads(out) == payload


def test_micropython_refuses_an_expired_pyjwt_token(tmp_path):
    payload = {'user_id': 1, 'exp': int(time.time()) - 5}
    token = jwt.encode(payload, KEY, algorithm='HS256')
    out = run_micropython(tmp_path, 'decode', KEY, token)
    assert out.startswith('ValueError: '), out


def test_micropython_refuses_a_future_nbf_pyjwt_token(tmp_path):
    payload = {'user_id': 1, 'nbf': int(time.time()) + 600}
    token = jwt.encode(payload, KEY, algorithm='HS256')
    out = run_micropython(tmp_path, 'decode', KEY, token)
    assert out.startswith('ValueError: '), out


def test_micropython_refuses_a_pyjwt_token_of_another_key(tmp_path):
    token = jwt.encode({'user': 'alice'}, 'x' * 40, algorithm='HS256')
    out = run_micropython(tmp_path, 'decode', KEY, token)
    assert out.startswith('ValueError: '), out


def test_micropython_refuses_a_pyjwt_hs512_token(tmp_path):
    token = jwt.encode({'user': 'alice'}, KEY * 2, algorithm='HS512')
    out = run_micropython(tmp_path, 'decode', KEY * 2, token)
    assert out.startswith('ValueError: '), out


@pytest.mark.parametrize('claims', [{'exp': None}, {'nbf': None}])
def test_micropython_refuses_a_null_time_claim(tmp_path, claims):
    token = jwt.encode(dict(claims, user='alice'), KEY, algorithm='HS256')
    out = run_micropython(tmp_path, 'decode', KEY, token)
    assert out.startswith('ValueError: '), out
