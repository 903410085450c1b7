"""Tests of the CORS extension (microdot.cors) with the header sets that real
clients send (tests/browser_headers.py): through the test client and
through a server on 127.0.0.1.

Portable: they run under pytest and under ``tests/mpy_runner.py`` on
MicroPython.
"""

from browser_headers import (
    APP_ORIGIN,
    CHROMIUM_CROSS_SITE_FETCH,
    CHROMIUM_CROSS_SITE_SIMPLE_FETCH,
    CHROMIUM_PLAIN_HTTP_FETCH,
    CHROMIUM_PLAIN_HTTP_PREFLIGHT,
    CHROMIUM_PREFLIGHT,
    CHROMIUM_SAME_ORIGIN_FETCH,
    CHROMIUM_TYPED_URL,
    CURL_POST,
    HTTPX_POST,
    PAGE_ORIGIN,
    REQUESTS_POST,
    Calls,
    assert_response,
    assert_served,
    body_headers,
    closing_lines,
    cors_headers,
    cors_lines,
    headers_of,
    merged,
    request_bytes,
    serve,
    serve_raw,
    with_headers,
)

from microdot import Microdot, Response, abort
from microdot.cors import CORS
from microdot.test_client import TestClient

JSON_BODY = b'{"ok":true}'
JSON_HEADERS = body_headers(JSON_BODY, 'application/json')
NOT_FOUND_HEADERS = body_headers(b'Not Found')
# the answer to CHROMIUM_PREFLIGHT without lists of allowed methods and
# headers: what it asks for is echoed
ECHOED = {
    'access-control-allow-methods': 'POST',
    'access-control-allow-headers': 'content-type,x-token',
}
PAGE_CORS = cors_headers(PAGE_ORIGIN)
ALLOW = {'allow': 'GET, POST, HEAD, OPTIONS'}  # of /api


# -- helpers ------------------------------------------------------------------


def api_app(calls=None, options_route=False, **cors_options):
    """An app with ``CORS(app, **cors_options)``: ``/api`` (GET, POST)
    answers ``{"ok": true}``; ``/fail`` raises; ``/abort`` aborts with 401;
    ``/vary`` sets its own Vary; with ``options_route`` ``/api`` also has an
    explicit OPTIONS route. Route calls are recorded in ``calls``."""
    calls = calls or Calls()
    app = Microdot()

    @app.route('/api', methods=['GET', 'POST'])
    async def api(request):
        calls.names.append('api')
        return {'ok': True}

    if options_route:

        @app.route('/api', methods=['OPTIONS'])
        async def api_options(request):
            calls.names.append('options')
            return 'options route', 200, {'X-Options': 'yes'}

    @app.route('/fail')
    async def fail(request):
        calls.names.append('fail')
        raise RuntimeError('the route fails')

    @app.route('/abort')
    async def aborted(request):
        calls.names.append('abort')
        abort(401, 'Log in first')

    @app.route('/vary')
    async def vary(request):
        vary = request.args.get('v', 'Accept-Encoding')
        return 'varies', {'Vary': vary}

    CORS(app, **cors_options)
    return app


async def send(app, method, path, headers, body=None):
    return await TestClient(app).request(method, path, headers, body)


async def fetch(app, headers=CHROMIUM_CROSS_SITE_FETCH, path='/api'):
    """POST ``{"a":1}`` to ``path`` with ``headers``."""
    return await send(app, 'POST', path, headers, b'{"a":1}')


async def preflight(app, headers=CHROMIUM_PREFLIGHT, path='/api'):
    return await send(app, 'OPTIONS', path, headers)


async def from_the_page(method, path, headers=CHROMIUM_CROSS_SITE_FETCH):
    """``method path`` with ``headers`` (the page's) on an ``api_app``
    allowing the page's origin."""
    return await send(api_app(**allowed()), method, path, headers)


def allowed(**options):
    """CORS options allowing the page's origin."""
    options.setdefault('allowed_origins', [PAGE_ORIGIN])
    return options


def assert_json_answer(res, *extra):
    """``res`` is the 200 ``{"ok":true}`` of ``/api`` with the headers of
    the dicts ``extra`` besides Content-Type and Content-Length."""
    assert_response(res, 200, JSON_BODY, JSON_HEADERS, *extra)


def assert_not_found(res, *extra):
    """``res`` is a 404 with the headers of the dicts ``extra`` besides
    Content-Type and Content-Length."""
    assert_response(res, 404, b'Not Found', NOT_FOUND_HEADERS, *extra)


def assert_preflight_answer(res, *extra):
    """``res`` is the extension's 204 to a preflight, without a body or a
    Content-Type, with the headers of the dicts ``extra``."""
    assert_response(res, 204, b'', *extra)


def assert_text_answer(res, status, body, *extra):
    """``res`` is a ``status`` with the text ``body`` and the headers of
    the dicts ``extra`` besides Content-Type and Content-Length."""
    assert_response(res, status, body, body_headers(body), *extra)


# -- actual requests ----------------------------------------------------------


async def test_allowed_origin_is_reflected_with_vary():
    res = await fetch(api_app(**allowed()))
    assert_json_answer(
        res, {'access-control-allow-origin': PAGE_ORIGIN, 'vary': 'Origin'}
    )


async def test_allow_credentials_adds_true():
    res = await fetch(api_app(**allowed(allow_credentials=True)))
    assert_json_answer(
        res, PAGE_CORS, {'access-control-allow-credentials': 'true'}
    )


async def test_simple_cross_site_fetch_gets_headers():
    app = api_app(**allowed())
    res = await fetch(app, CHROMIUM_CROSS_SITE_SIMPLE_FETCH)
    assert res.status_code == 200
    assert res.headers['Access-Control-Allow-Origin'] == PAGE_ORIGIN
    assert res.headers['Vary'] == 'Origin'


async def test_same_origin_fetch_gets_headers_of_listed_origin():
    # a same-origin fetch carries Origin too: a listed origin gets headers
    app = api_app(allowed_origins=[PAGE_ORIGIN])
    res = await fetch(app, CHROMIUM_SAME_ORIGIN_FETCH)
    assert res.status_code == 200
    assert res.headers['Access-Control-Allow-Origin'] == PAGE_ORIGIN


async def test_same_origin_fetch_of_unlisted_origin_still_served():
    app = api_app(allowed_origins=['https://other.example'])
    assert_json_answer(await fetch(app, CHROMIUM_SAME_ORIGIN_FETCH))


async def test_vary_is_merged_with_the_response_vary():
    res = await from_the_page('GET', '/vary')
    assert_text_answer(
        res,
        200,
        b'varies',
        {
            'access-control-allow-origin': PAGE_ORIGIN,
            'vary': 'Accept-Encoding, Origin',  # merged, not replaced
        },
    )


async def test_vary_listing_origin_is_kept():
    res = await from_the_page('GET', '/vary?v=Accept-Encoding,%20origin')
    assert res.headers['Vary'] == 'Accept-Encoding, origin'


async def test_vary_star_is_kept():
    res = await from_the_page('GET', '/vary?v=*')
    assert res.headers['Vary'] == '*'
    assert res.headers['Access-Control-Allow-Origin'] == PAGE_ORIGIN


async def test_wildcard_without_credentials_is_star_without_vary():
    res = await fetch(api_app(allowed_origins='*'))
    assert_json_answer(res, {'access-control-allow-origin': '*'})


async def test_wildcard_with_credentials_reflects_the_origin():
    res = await fetch(api_app(allowed_origins='*', allow_credentials=True))
    assert_json_answer(res, cors_headers(PAGE_ORIGIN, credentials=True))


async def test_wildcard_with_credentials_does_not_reflect_null():
    # a sandboxed iframe or a file: page sends "null": never credentials
    app = api_app(allowed_origins='*', allow_credentials=True)
    res = await fetch(
        app, with_headers(CHROMIUM_CROSS_SITE_FETCH, Origin='null')
    )
    assert_json_answer(res)


async def test_wildcard_without_origin_gives_no_headers():
    assert_json_answer(await fetch(api_app(allowed_origins='*'), CURL_POST))


async def test_disallowed_origin_gets_no_headers():
    app = api_app(
        allowed_origins=['https://partner.example'],
        allow_credentials=True,
        expose_headers=['X-Id'],
    )
    assert_json_answer(await fetch(app))


async def test_no_allowed_origins_allows_none():
    assert_json_answer(await fetch(api_app(allow_credentials=True)))


async def test_requests_without_origin_get_no_headers():
    app = api_app(**allowed(allow_credentials=True, max_age=60))
    for headers in (CURL_POST, REQUESTS_POST, HTTPX_POST):
        assert_json_answer(await fetch(app, headers))


async def test_typed_url_navigation_gets_no_headers():
    assert_json_answer(await from_the_page('GET', '/api', CHROMIUM_TYPED_URL))


async def test_origins_are_compared_exactly():
    app = api_app(**allowed())
    for origin in (
        'http://127.0.0.1:880',
        'http://127.0.0.1:88011',
        'http://127.0.0.1:8801/',
        'HTTP://127.0.0.1:8801',
        'https://127.0.0.1:8801',
        'http://127.0.0.1',
        ' http://127.0.0.1:8801x',
    ):
        headers = with_headers(CHROMIUM_CROSS_SITE_FETCH, Origin=origin)
        res = await fetch(app, headers)
        assert res.status_code == 200
        assert 'Access-Control-Allow-Origin' not in res.headers, origin


async def test_one_origin_string_is_not_matched_by_its_substrings():
    app = api_app(allowed_origins=PAGE_ORIGIN)
    part = with_headers(CHROMIUM_CROSS_SITE_FETCH, Origin='http://127.0.0.1')
    res = await fetch(app, part)
    assert 'Access-Control-Allow-Origin' not in res.headers
    res = await fetch(app)
    assert res.headers['Access-Control-Allow-Origin'] == PAGE_ORIGIN


async def test_plain_http_chromium_fetch_gets_headers():
    app = api_app(allowed_origins=[APP_ORIGIN], allow_credentials=True)
    res = await fetch(app, CHROMIUM_PLAIN_HTTP_FETCH)
    assert_json_answer(res, cors_headers(APP_ORIGIN, credentials=True))


async def test_expose_headers_on_actual_responses():
    app = api_app(**allowed(expose_headers=['X-Request-Id', 'X-Total']))
    assert_json_answer(
        await fetch(app),
        PAGE_CORS,
        {'access-control-expose-headers': 'X-Request-Id, X-Total'},
    )


async def test_max_age_and_methods_are_not_on_actual_responses():
    app = api_app(
        **allowed(
            max_age=600, allowed_methods=['POST'], allowed_headers=['X-Token']
        )
    )
    assert_json_answer(await fetch(app), PAGE_CORS)


async def test_cookies_of_the_route_are_kept():
    app = Microdot()

    @app.post('/login')
    async def login(request):
        res = Response('in')
        res.set_cookie('session', 'abc', http_only=True)
        return res

    CORS(app, allowed_origins=[PAGE_ORIGIN], allow_credentials=True)
    res = await fetch(app, path='/login')
    assert res.status_code == 200
    assert headers_of(res) == merged(
        body_headers(b'in'),
        {'set-cookie': ['session=abc; HttpOnly']},
        cors_headers(PAGE_ORIGIN, credentials=True),
    )


# -- preflight requests -------------------------------------------------------


async def test_chromium_preflight_is_answered_with_204():
    calls = Calls()
    res = await preflight(api_app(calls, **allowed(allow_credentials=True)))
    # no Content-Type: a 204 has no content
    assert_preflight_answer(
        res, cors_headers(PAGE_ORIGIN, credentials=True), ECHOED
    )
    assert calls.names == []


async def test_preflight_does_not_run_an_explicit_options_route():
    calls = Calls()
    app = api_app(calls, options_route=True, **allowed())
    assert_preflight_answer(await preflight(app), PAGE_CORS, ECHOED)
    assert calls.names == []


NO_REQUEST_METHOD = with_headers(
    CHROMIUM_PREFLIGHT, Access_Control_Request_Method=None
)


async def test_options_without_request_method_runs_the_options_route():
    calls = Calls()
    app = api_app(calls, options_route=True, **allowed())
    res = await preflight(app, NO_REQUEST_METHOD)
    assert_text_answer(
        res, 200, b'options route', {'x-options': 'yes'}, PAGE_CORS
    )
    assert calls.names == ['options']


async def test_options_without_request_method_gets_automatic_answer():
    res = await preflight(api_app(**allowed()), NO_REQUEST_METHOD)
    assert_text_answer(res, 200, b'', ALLOW, PAGE_CORS)


async def test_options_without_origin_is_not_a_preflight():
    headers = with_headers(CHROMIUM_PREFLIGHT, Origin=None)
    res = await preflight(api_app(**allowed()), headers)
    assert res.status_code == 200
    assert headers_of(res) == merged(body_headers(b''), ALLOW)


async def test_preflight_lists_the_allowed_methods():
    app = api_app(**allowed(allowed_methods=['GET', 'POST', 'DELETE']))
    res = await preflight(app)
    assert res.status_code == 204
    assert res.headers['Access-Control-Allow-Methods'] == 'GET, POST, DELETE'


async def test_preflight_lists_the_allowed_headers():
    app = api_app(**allowed(allowed_headers=['Content-Type', 'X-Token']))
    res = await preflight(app)
    assert res.headers['Access-Control-Allow-Headers'] == (
        'Content-Type, X-Token'
    )


async def test_preflight_without_request_headers_omits_allow_headers():
    # fetch(url, {method: 'PUT'}): only the method needs a preflight
    headers = with_headers(
        CHROMIUM_PREFLIGHT,
        Access_Control_Request_Method='PUT',
        Access_Control_Request_Headers=None,
    )
    for options in (allowed(), allowed(allowed_headers=['X-Token'])):
        res = await preflight(api_app(**options), headers)
        assert_preflight_answer(
            res, PAGE_CORS, {'access-control-allow-methods': 'PUT'}
        )


async def test_preflight_max_age():
    for max_age, header in ((600, '600'), (0, '0')):
        res = await preflight(api_app(**allowed(max_age=max_age)))
        assert res.headers['Access-Control-Max-Age'] == header


async def test_preflight_with_every_option():
    app = api_app(
        **allowed(
            allow_credentials=True,
            allowed_methods=['GET', 'POST'],
            expose_headers=['X-Request-Id'],
            allowed_headers=['Content-Type'],
            max_age=3600,
        )
    )
    assert_preflight_answer(
        await preflight(app),
        {
            'access-control-allow-origin': PAGE_ORIGIN,
            'access-control-allow-credentials': 'true',
            'access-control-allow-methods': 'GET, POST',
            'access-control-allow-headers': 'Content-Type',
            'access-control-max-age': '3600',
            'vary': 'Origin',
        },
    )


async def test_preflight_of_disallowed_origin_gets_no_cors_headers():
    calls = Calls()
    app = api_app(
        calls, options_route=True, allowed_origins=['https://partner.example']
    )
    assert_preflight_answer(await preflight(app))
    assert calls.names == []


async def test_wildcard_preflight():
    res = await preflight(api_app(allowed_origins='*'))
    assert_preflight_answer(res, {'access-control-allow-origin': '*'}, ECHOED)


async def test_plain_http_chromium_preflight():
    app = api_app(allowed_origins=[APP_ORIGIN])
    res = await preflight(app, CHROMIUM_PLAIN_HTTP_PREFLIGHT)
    assert_preflight_answer(res, cors_headers(APP_ORIGIN), ECHOED)


async def test_preflight_short_circuits_later_before_request_handlers():
    app = api_app(**allowed())
    seen = []

    @app.before_request
    async def refuse(request):
        seen.append(request.method)
        return 'refused', 401

    res = await preflight(app)
    assert res.status_code == 204
    assert seen == []


async def test_preflight_answer_replaces_an_earlier_before_request_answer():
    app = Microdot()

    @app.before_request
    async def login_required(request):  # a preflight never has credentials
        if 'Authorization' not in request.headers:
            return 'log in', 401

    @app.post('/api')
    async def api(request):
        return {'ok': True}

    CORS(app, allowed_origins=[PAGE_ORIGIN])
    res = await preflight(app)
    assert res.status_code == 204
    assert res.body == b''
    assert res.headers['Access-Control-Allow-Methods'] == 'POST'


# -- error responses ----------------------------------------------------------


async def test_preflight_to_unknown_url_gets_404_with_cors_headers():
    res = await preflight(api_app(**allowed()), path='/nowhere')
    assert_not_found(res, PAGE_CORS, ECHOED)


async def test_404_has_cors_headers():
    app = api_app(**allowed(expose_headers=['X-Id'], allow_credentials=True))
    assert_not_found(
        await fetch(app, path='/nowhere'),
        cors_headers(PAGE_ORIGIN, credentials=True),
        {'access-control-expose-headers': 'X-Id'},
    )


async def test_405_500_and_abort_have_cors_headers():
    for method, path, status, body, extra in (
        ('DELETE', '/api', 405, b'Method Not Allowed', ALLOW),
        ('GET', '/fail', 500, b'Internal Server Error', {}),
        ('GET', '/abort', 401, b'Log in first', {}),
    ):
        res = await from_the_page(method, path)
        assert_text_answer(res, status, body, extra, PAGE_CORS)


async def test_error_handler_response_has_cors_headers():
    app = api_app(**allowed())

    @app.errorhandler(404)
    async def not_found(request):
        return {'error': 'not found'}, 404, {'Vary': 'Accept'}

    res = await fetch(app, path='/nowhere')
    body = b'{"error":"not found"}'
    assert_response(
        res,
        404,
        body,
        body_headers(body, 'application/json'),
        {'access-control-allow-origin': PAGE_ORIGIN, 'vary': 'Accept, Origin'},
    )


TOO_LARGE = with_headers(CHROMIUM_CROSS_SITE_FETCH, Content_Length='999999999')


async def test_413_has_cors_headers():
    # refused while the request is read: the hooks see its headers
    res = await from_the_page('POST', '/api', TOO_LARGE)
    assert_text_answer(res, 413, b'Content Too Large', PAGE_CORS)


async def test_413_error_handler_sees_the_request():
    app = api_app(**allowed())

    @app.errorhandler(413)
    async def too_large(request):
        return {'method': request.method, 'path': request.path}, 413

    res = await send(app, 'POST', '/api?x=1', TOO_LARGE)
    body = b'{"method":"POST","path":"/api"}'
    assert_response(
        res, 413, body, body_headers(body, 'application/json'), PAGE_CORS
    )


async def test_disallowed_origin_error_has_no_cors_headers():
    app = api_app(allowed_origins=['https://partner.example'])
    assert_not_found(await fetch(app, path='/nowhere'))


# -- handle_cors=False and initialize() ---------------------------------------


def manual_app(cors):
    """An app whose ``/api`` adds ``cors.get_cors_headers()`` itself."""
    app = Microdot()

    @app.route('/api', methods=['POST', 'OPTIONS'])
    async def api(request):
        headers = cors.get_cors_headers(request)
        headers['X-Manual'] = 'yes'
        return 'manual', headers

    return app


def assert_manual_answer(res, *extra):
    """``res`` is the answer of ``manual_app``'s route with the headers of
    the dicts ``extra`` (the CORS ones) besides its own."""
    assert_text_answer(res, 200, b'manual', {'x-manual': 'yes'}, *extra)


async def test_handle_cors_false_registers_no_hooks():
    app = Microdot()
    CORS(app, allowed_origins=[PAGE_ORIGIN], handle_cors=False)
    assert app.before_request_handlers == []
    assert app.after_request_handlers == []
    assert app.after_error_request_handlers == []


async def test_handle_cors_false_with_manual_headers():
    cors = CORS(
        allowed_origins=[PAGE_ORIGIN],
        allow_credentials=True,
        expose_headers=['X-Manual'],
        handle_cors=False,
    )
    app = manual_app(cors)
    cors.initialize(app, handle_cors=False)
    assert_manual_answer(
        await fetch(app),
        cors_headers(PAGE_ORIGIN, credentials=True),
        {'access-control-expose-headers': 'X-Manual'},
    )


async def test_handle_cors_false_leaves_preflights_to_the_route():
    cors = CORS(allowed_origins=[PAGE_ORIGIN], max_age=5)
    app = manual_app(cors)
    cors.initialize(app, handle_cors=False)
    assert_manual_answer(
        await preflight(app),
        PAGE_CORS,
        ECHOED,
        {'access-control-max-age': '5'},
    )


async def test_handle_cors_false_in_the_constructor_with_app():
    cors = CORS(allowed_origins=[PAGE_ORIGIN], handle_cors=False)
    app = manual_app(cors)
    CORS(app, allowed_origins=[PAGE_ORIGIN], handle_cors=False)
    assert_not_found(await fetch(app, path='/nowhere'))


async def test_initialize_later():
    app = Microdot()

    @app.post('/api')
    async def api(request):
        return {'ok': True}

    cors = CORS(allowed_origins=[PAGE_ORIGIN])
    res = await fetch(app)
    assert 'Access-Control-Allow-Origin' not in res.headers
    cors.initialize(app)
    res = await fetch(app)
    assert res.headers['Access-Control-Allow-Origin'] == PAGE_ORIGIN


class FakeRequest:
    def __init__(self, method, headers):
        self.method = method
        self.headers = headers


def test_get_cors_headers_of_an_actual_request():
    cors = CORS(
        allowed_origins=[PAGE_ORIGIN],
        allow_credentials=True,
        expose_headers=['X-Id'],
        max_age=10,
    )
    request = FakeRequest('POST', {'Origin': PAGE_ORIGIN})
    assert cors.get_cors_headers(request) == {
        'Access-Control-Allow-Origin': PAGE_ORIGIN,
        'Access-Control-Allow-Credentials': 'true',
        'Access-Control-Expose-Headers': 'X-Id',
        'Vary': 'Origin',
    }


def test_get_cors_headers_of_a_preflight():
    cors = CORS(allowed_origins='*', max_age=10)
    request = FakeRequest(
        'OPTIONS',
        {
            'Origin': PAGE_ORIGIN,
            'Access-Control-Request-Method': 'PATCH',
            'Access-Control-Request-Headers': 'x-token',
        },
    )
    assert cors.get_cors_headers(request) == {
        'Access-Control-Allow-Origin': '*',
        'Access-Control-Allow-Methods': 'PATCH',
        'Access-Control-Allow-Headers': 'x-token',
        'Access-Control-Max-Age': '10',
    }


def test_get_cors_headers_of_a_disallowed_origin_is_empty():
    cors = CORS(allowed_origins=[PAGE_ORIGIN])
    request = FakeRequest('POST', {'Origin': 'https://evil.example'})
    assert cors.get_cors_headers(request) == {}
    assert cors.get_cors_headers(FakeRequest('GET', {})) == {}


def test_options_are_kept_as_attributes():
    cors = CORS(
        allowed_origins=[PAGE_ORIGIN],
        allow_credentials=True,
        allowed_methods=['GET'],
        expose_headers=['X-A'],
        allowed_headers=['X-B'],
        max_age=7,
    )
    assert cors.allowed_origins == [PAGE_ORIGIN]
    assert cors.allow_credentials is True
    assert cors.allowed_methods == ['GET']
    assert cors.expose_headers == ['X-A']
    assert cors.allowed_headers == ['X-B']
    assert cors.max_age == 7
    assert CORS().allowed_origins is None
    assert CORS(allowed_origins='*').allowed_origins == '*'


# -- malformed values ---------------------------------------------------------

LONG = 'x' * 1900  # a header line stays under Request.max_readline (2048)


async def test_malformed_origins_never_fail():
    for options in (
        allowed(),
        allowed(allow_credentials=True),
        {'allowed_origins': '*', 'allow_credentials': True},
    ):
        app = api_app(**options)
        for origin in (
            'null',
            'garbage',
            '',
            'http://',
            'http://ex\u00e4mple',
            '\u00e9\u00e9',
            'http://a b',
            'x' + LONG,
            '*',
            'http://u@127.0.0.1:8801',
        ):
            headers = with_headers(CHROMIUM_CROSS_SITE_FETCH, Origin=origin)
            res = await fetch(app, headers)
            assert res.status_code == 200, origin
            assert res.body == JSON_BODY
            assert 'Access-Control-Allow-Origin' not in res.headers, origin


async def test_long_origin_with_wildcard_and_credentials_is_reflected():
    app = api_app(allowed_origins='*', allow_credentials=True)
    origin = 'http://' + LONG
    res = await fetch(
        app, with_headers(CHROMIUM_CROSS_SITE_FETCH, Origin=origin)
    )
    assert res.status_code == 200
    assert res.headers['Access-Control-Allow-Origin'] == origin


async def test_malformed_origin_with_wildcard_gets_star():
    app = api_app(allowed_origins='*')
    headers = with_headers(CHROMIUM_CROSS_SITE_FETCH, Origin='null')
    res = await fetch(app, headers)
    assert res.headers['Access-Control-Allow-Origin'] == '*'


def asking(**changes):
    """CHROMIUM_PREFLIGHT with some headers changed (as in
    ``with_headers``)."""
    return with_headers(CHROMIUM_PREFLIGHT, **changes)


async def test_malformed_preflight_origins_never_fail():
    app = api_app(**allowed(allow_credentials=True))
    for origin in ('null', 'garbage', 'http://ex\u00e4mple', 'x' + LONG):
        res = await preflight(app, asking(Origin=origin))
        assert res.status_code == 204, origin
        assert headers_of(res) == {}, origin


async def test_malformed_request_method_is_not_echoed():
    app = api_app(**allowed())
    for method in ('', 'PO ST', 'POST,GET', 'P\u00d6ST', '(POST)', LONG + '@'):
        headers = asking(Access_Control_Request_Method=method)
        res = await preflight(app, headers)
        assert res.status_code == 204, method[:20]
        assert headers_of(res) == merged(
            PAGE_CORS, {'access-control-allow-headers': 'content-type,x-token'}
        ), method[:20]


async def test_long_request_method_token_is_echoed():
    app = api_app(**allowed())
    res = await preflight(app, asking(Access_Control_Request_Method=LONG))
    assert res.status_code == 204
    assert res.headers['Access-Control-Allow-Methods'] == LONG


async def test_malformed_request_headers_are_not_echoed():
    app = api_app(**allowed())
    for value in (
        'content-type,,x-token',
        'x token',
        'x-\u00e4',
        'content-type;x-token',
        ',',
        '(x)',
    ):
        headers = asking(Access_Control_Request_Headers=value)
        res = await preflight(app, headers)
        assert res.status_code == 204, value
        assert headers_of(res) == merged(
            PAGE_CORS, {'access-control-allow-methods': 'POST'}
        ), value


async def test_request_headers_with_spaces_are_echoed():
    # other browsers and proxies may add spaces after the commas
    app = api_app(**allowed())
    res = await preflight(
        app, asking(Access_Control_Request_Headers='x-a, x-b')
    )
    assert res.headers['Access-Control-Allow-Headers'] == 'x-a, x-b'


async def test_malformed_values_with_configured_lists_never_fail():
    app = api_app(
        **allowed(allowed_methods=['POST'], allowed_headers=['X-Token'])
    )
    headers = asking(
        Access_Control_Request_Method='\u00e9',
        Access_Control_Request_Headers='a b',
    )
    res = await preflight(app, headers)
    assert res.status_code == 204
    assert res.headers['Access-Control-Allow-Methods'] == 'POST'
    assert res.headers['Access-Control-Allow-Headers'] == 'X-Token'


# -- through a real server ----------------------------------------------------


def assert_error_served(res, status_line, reason, body=None):
    """``res`` is the server's default error response ``reason`` (its body,
    unless ``body`` is given) to a request from the page, with its CORS
    headers."""
    if body is None:
        body = reason
    assert_served(
        res, status_line, body, closing_lines(reason), cors_lines(PAGE_ORIGIN)
    )


async def test_server_preflight_bytes():
    app = api_app(**allowed(allow_credentials=True, max_age=600))
    res = await serve(app, 'OPTIONS', '/api', CHROMIUM_PREFLIGHT)
    assert_served(
        res,
        b'HTTP/1.1 204 No Content',
        b'',
        [
            ('access-control-allow-credentials', 'true'),
            ('access-control-allow-headers', 'content-type,x-token'),
            ('access-control-allow-methods', 'POST'),
            ('access-control-allow-origin', PAGE_ORIGIN),
            ('access-control-max-age', '600'),
            ('connection', 'close'),
            ('vary', 'Origin'),
        ],
    )


async def test_server_actual_request_bytes():
    app = api_app(
        **allowed(allow_credentials=True, expose_headers=['X-Request-Id'])
    )
    res = await serve(
        app, 'POST', '/api', CHROMIUM_CROSS_SITE_FETCH, b'{"a":1}'
    )
    assert_served(
        res,
        b'HTTP/1.1 200 OK',
        JSON_BODY,
        closing_lines(JSON_BODY, 'application/json'),
        cors_lines(PAGE_ORIGIN, credentials=True),
        [('access-control-expose-headers', 'X-Request-Id')],
    )


async def test_server_preflight_to_unknown_url():
    res = await serve(
        api_app(**allowed()), 'OPTIONS', '/nowhere', CHROMIUM_PREFLIGHT
    )
    assert_served(
        res,
        b'HTTP/1.1 404 Not Found',
        b'Not Found',
        closing_lines(b'Not Found'),
        cors_lines(PAGE_ORIGIN),
        list(ECHOED.items()),
    )


async def test_server_413_has_cors_headers():
    # refused before the body is read (the client sends none)
    res = await serve(api_app(**allowed()), 'POST', '/api', TOO_LARGE)
    assert_error_served(
        res, b'HTTP/1.1 413 Content Too Large', b'Content Too Large'
    )


UNMET_EXPECT = with_headers(CHROMIUM_CROSS_SITE_FETCH, Expect='something-else')


async def test_server_417_has_cors_headers():
    res = await serve(
        api_app(**allowed()), 'POST', '/api', UNMET_EXPECT, b'{}'
    )
    assert_error_served(
        res, b'HTTP/1.1 417 Expectation Failed', b'Expectation Failed'
    )


async def test_server_417_to_a_head_request_has_no_body():
    # a response to HEAD never has content, an error one included
    res = await serve(api_app(**allowed()), 'HEAD', '/api', UNMET_EXPECT)
    assert_error_served(
        res, b'HTTP/1.1 417 Expectation Failed', b'Expectation Failed', b''
    )


async def test_server_bad_requests_400_have_cors_headers():
    for headers, body in (
        # no Host
        (with_headers(CHROMIUM_CROSS_SITE_FETCH, Host=None), b''),
        # a bad chunked body
        (
            with_headers(
                CHROMIUM_CROSS_SITE_FETCH, Transfer_Encoding='chunked'
            ),
            b'zz\r\n{}\r\n0\r\n\r\n',
        ),
    ):
        data = request_bytes('POST', '/api', headers, body)
        res = await serve_raw(api_app(**allowed()), data)
        assert_error_served(res, b'HTTP/1.1 400 Bad Request', b'Bad Request')


async def test_server_malformed_request_from_a_browser_is_400():
    # the head cannot be parsed: no request headers reach the extension
    res = await serve_raw(
        api_app(**allowed()),
        b'OPTIONS /api HTTP/1.1\r\nHost: localhost:8802\r\n'
        b'Origin: ' + PAGE_ORIGIN.encode() + b'\r\n'
        b'Access-Control-Request-Method : POST\r\n\r\n',
    )
    assert_served(
        res,
        b'HTTP/1.1 400 Bad Request',
        b'Bad Request',
        closing_lines(b'Bad Request'),
    )


async def test_server_non_ascii_origin_never_fails():
    app = api_app(allowed_origins='*', allow_credentials=True)
    headers = with_headers(
        CHROMIUM_CROSS_SITE_FETCH, Origin='http://\u00e9xample.com'
    )
    res = await serve(app, 'POST', '/api', headers, b'{"a":1}')
    assert_served(
        res,
        b'HTTP/1.1 200 OK',
        JSON_BODY,
        closing_lines(JSON_BODY, 'application/json'),
    )
