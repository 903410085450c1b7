"""Tests of the CSRF extension (microdot.csrf) with the header sets that real
browsers and other clients send (tests/browser_headers.py), through the
test client and through a server on 127.0.0.1.

Portable: they run under pytest and under ``tests/mpy_runner.py`` on
MicroPython.
"""

import support
from browser_headers import (
    API_HOST,
    API_ORIGIN,
    APP_ORIGIN,
    CHROMIUM_CROSS_SITE_FETCH,
    CHROMIUM_CROSS_SITE_FORM,
    CHROMIUM_CROSS_SITE_SIMPLE_FETCH,
    CHROMIUM_PLAIN_HTTP_FETCH,
    CHROMIUM_PREFLIGHT,
    CHROMIUM_SAME_ORIGIN_FETCH,
    CHROMIUM_SAME_SITE_FETCH,
    CHROMIUM_SAME_SITE_FORM,
    CHROMIUM_TYPED_URL,
    CURL_POST,
    HTTPX_POST,
    OLD_SAFARI_FORM,
    PAGE_ORIGIN,
    REQUESTS_POST,
    Calls,
    assert_response,
    assert_served,
    body_headers,
    closing_lines,
    cors_headers,
    cors_lines,
    no_fetch_metadata,
    serve,
    serve_raw,
    with_headers,
)

from microdot import Microdot
from microdot.cors import CORS
from microdot.csrf import CSRF
from microdot.helpers import wraps
from microdot.test_client import TestClient

UNSAFE = ('POST', 'PUT', 'PATCH', 'DELETE')


# -- helpers ------------------------------------------------------------------


def submit_app():
    """An app whose ``POST /submit`` answers ``submitted``."""
    app = Microdot()

    @app.post('/submit')
    async def submit(request):
        return 'submitted'

    return app


def csrf_app(calls=None, cors_origins=None, **csrf_options):
    """An app with ``/submit`` for every method (answers ``submitted``) and
    ``/webhook`` (exempt), protected by ``CSRF(app, cors, ...)`` where
    ``cors`` allows ``cors_origins`` (no CORS object when None)."""
    calls = calls or Calls()
    app = Microdot()
    cors = None
    if cors_origins is not None:
        cors = CORS(app, allowed_origins=cors_origins)
    csrf = CSRF(app, cors, **csrf_options)

    @app.route('/submit', methods=['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])
    async def submit(request):
        calls.names.append('submit')
        return 'submitted'

    @app.post('/webhook')
    @csrf.exempt
    async def webhook(request):
        calls.names.append('webhook')
        return 'hook'

    return app


async def send(app, headers, method='POST', path='/submit', body=b'x=1'):
    if method in ('GET', 'HEAD', 'DELETE', 'OPTIONS'):
        body = None
    return await TestClient(app).request(method, path, headers, body)


async def assert_answers(app, header_sets, methods, path, cors, status, body):
    """A request with each header set and each method gets ``status`` and
    ``body`` (none to HEAD) with the headers of a text response ``body``
    and the CORS headers of the origin ``cors``, if not None."""
    extra = cors_headers(cors) if cors is not None else {}
    for headers in header_sets:
        for method in methods:
            res = await send(app, headers, method, path)
            sent = b'' if method == 'HEAD' else body
            assert_response(
                res, status, sent, body_headers(body), extra, note=method
            )


async def assert_forbidden(
    app, *header_sets, methods=('POST',), path='/submit', cors=None
):
    """The requests get the 403; ``cors`` is the origin whose CORS headers
    they carry, if any."""
    await assert_answers(
        app, header_sets, methods, path, cors, 403, b'Forbidden'
    )


async def assert_allowed(
    app, *header_sets, methods=('POST',), path='/submit', cors=None
):
    """The requests reach the route; ``cors`` as in assert_forbidden."""
    await assert_answers(
        app, header_sets, methods, path, cors, 200, b'submitted'
    )


# -- real browsers' requests --------------------------------------------------


async def test_chromium_same_origin_fetch_passes():
    await assert_allowed(csrf_app(), CHROMIUM_SAME_ORIGIN_FETCH)


async def test_chromium_cross_site_fetch_fails():
    calls = Calls()
    await assert_forbidden(csrf_app(calls), CHROMIUM_CROSS_SITE_FETCH)
    assert calls.names == []


async def test_chromium_cross_site_simple_fetch_fails():
    # CORS cannot stop this one: it is sent without a preflight
    app = csrf_app(cors_origins=['https://partner.example'])
    await assert_forbidden(app, CHROMIUM_CROSS_SITE_SIMPLE_FETCH)


async def test_chromium_cross_site_fetch_from_cors_origin_passes():
    app = csrf_app(cors_origins=[PAGE_ORIGIN])
    await assert_allowed(app, CHROMIUM_CROSS_SITE_FETCH, cors=PAGE_ORIGIN)


async def test_chromium_cross_site_form_post_fails():
    calls = Calls()
    app = csrf_app(calls, cors_origins=['https://partner.example'])
    await assert_forbidden(app, CHROMIUM_CROSS_SITE_FORM)
    assert calls.names == []


async def test_chromium_cross_site_form_from_cors_origin_passes():
    app = csrf_app(cors_origins=[PAGE_ORIGIN])
    await assert_allowed(app, CHROMIUM_CROSS_SITE_FORM, cors=PAGE_ORIGIN)


async def test_chromium_preflight_passes():
    calls = Calls()
    app = csrf_app(calls, cors_origins=[PAGE_ORIGIN])
    res = await send(app, CHROMIUM_PREFLIGHT, 'OPTIONS')
    assert res.status_code == 204
    assert res.headers['Access-Control-Allow-Methods'] == 'POST'
    assert calls.names == []


async def test_chromium_same_site_form_fails_by_default():
    await assert_forbidden(csrf_app(), CHROMIUM_SAME_SITE_FORM)


SAME_SITE = (CHROMIUM_SAME_SITE_FETCH, CHROMIUM_SAME_SITE_FORM)


async def test_chromium_same_site_from_a_cors_origin_passes():
    # allow_subdomains=False: the CORS list alone authorizes the origin
    app = csrf_app(cors_origins=['https://partner.example', APP_ORIGIN])
    await assert_allowed(app, *SAME_SITE, cors=APP_ORIGIN)


async def test_chromium_same_site_from_an_origin_not_in_the_cors_list_fails():
    calls = Calls()
    app = csrf_app(calls, cors_origins=[PAGE_ORIGIN, 'http://app.example.com'])
    await assert_forbidden(app, *SAME_SITE)
    assert calls.names == []


async def test_same_site_without_origin_fails_even_with_a_cors_list():
    app = csrf_app(cors_origins=[APP_ORIGIN])
    headers = with_headers(CHROMIUM_SAME_SITE_FORM, Origin=None)
    await assert_forbidden(app, headers)


async def test_same_site_with_cors_wildcard_fails():
    # '*' lets every origin read responses, it authorizes no request
    await assert_forbidden(csrf_app(cors_origins='*'), *SAME_SITE, cors='*')


async def test_same_site_with_cors_wildcard_and_credentials_fails():
    # the origin is reflected in the CORS headers, but not authorized
    app = submit_app()
    cors = CORS(app, allowed_origins='*', allow_credentials=True)
    CSRF(app, cors)
    assert_response(
        await send(app, CHROMIUM_SAME_SITE_FETCH),
        403,
        b'Forbidden',
        body_headers(b'Forbidden'),
        cors_headers(APP_ORIGIN, credentials=True),
    )


async def test_chromium_same_site_passes_with_allow_subdomains():
    await assert_allowed(csrf_app(allow_subdomains=True), *SAME_SITE)


async def test_allow_subdomains_does_not_allow_cross_site():
    app = csrf_app(allow_subdomains=True)
    await assert_forbidden(
        app, CHROMIUM_CROSS_SITE_FORM, CHROMIUM_CROSS_SITE_FETCH
    )


async def test_chromium_typed_url_navigation_passes():
    await assert_allowed(csrf_app(), CHROMIUM_TYPED_URL, methods=('GET',))


async def test_sec_fetch_site_none_passes_unsafe_methods():
    await assert_allowed(csrf_app(), CHROMIUM_TYPED_URL, methods=UNSAFE)


async def test_chromium_plain_http_same_origin_passes():
    # no Sec-Fetch-Site over plain HTTP: Origin equals scheme://Host
    headers = with_headers(
        CHROMIUM_PLAIN_HTTP_FETCH, Host='app.example.com:8801'
    )
    await assert_allowed(csrf_app(), headers)


async def test_chromium_plain_http_subdomain_fails_by_default():
    await assert_forbidden(csrf_app(), CHROMIUM_PLAIN_HTTP_FETCH)


async def test_chromium_plain_http_subdomain_passes_with_allow_subdomains():
    app = csrf_app(allow_subdomains=True)
    await assert_allowed(app, CHROMIUM_PLAIN_HTTP_FETCH)


async def test_chromium_plain_http_cors_origin_passes():
    app = csrf_app(cors_origins=[APP_ORIGIN])
    await assert_allowed(app, CHROMIUM_PLAIN_HTTP_FETCH, cors=APP_ORIGIN)


async def test_old_browser_same_origin_form_passes():
    headers = with_headers(OLD_SAFARI_FORM, Origin='http://' + API_HOST)
    await assert_allowed(csrf_app(), headers)


async def test_old_browser_cross_site_form_fails():
    await assert_forbidden(csrf_app(), OLD_SAFARI_FORM)


async def test_old_browser_cross_site_form_from_cors_origin_passes():
    await assert_allowed(
        csrf_app(cors_origins=[PAGE_ORIGIN]), OLD_SAFARI_FORM, cors=PAGE_ORIGIN
    )


async def test_non_browser_clients_pass():
    await assert_allowed(
        csrf_app(), CURL_POST, REQUESTS_POST, HTTPX_POST, methods=UNSAFE
    )


# -- methods ------------------------------------------------------------------


async def test_every_unsafe_method_is_checked():
    await assert_forbidden(
        csrf_app(), CHROMIUM_CROSS_SITE_FORM, methods=UNSAFE
    )


async def test_safe_methods_always_pass():
    await assert_allowed(
        csrf_app(),
        CHROMIUM_CROSS_SITE_FORM,
        CHROMIUM_SAME_SITE_FORM,
        with_headers(CHROMIUM_CROSS_SITE_FORM, Sec_Fetch_Site='garbage'),
        no_fetch_metadata(CHROMIUM_CROSS_SITE_FORM),
        methods=('GET', 'HEAD'),
    )


async def test_options_always_passes():
    app = csrf_app()
    res = await send(app, CHROMIUM_CROSS_SITE_FORM, 'OPTIONS')
    assert res.status_code == 200
    assert res.headers['Allow'] == 'GET, POST, PUT, PATCH, DELETE, HEAD, ' + (
        'OPTIONS'
    )


# -- Sec-Fetch-Site values ----------------------------------------------------


async def test_sec_fetch_site_same_origin_passes_every_method():
    await assert_allowed(
        csrf_app(), CHROMIUM_SAME_ORIGIN_FETCH, methods=UNSAFE
    )


async def test_sec_fetch_site_same_origin_wins_over_a_foreign_origin():
    # Sec-Fetch-Site is decided by the browser and cannot be set by pages
    headers = with_headers(
        CHROMIUM_SAME_ORIGIN_FETCH, Origin='https://elsewhere.example'
    )
    await assert_allowed(csrf_app(), headers)


async def test_sec_fetch_site_cross_site_wins_over_a_same_origin():
    headers = with_headers(CHROMIUM_CROSS_SITE_FORM, Origin=API_ORIGIN)
    await assert_forbidden(csrf_app(), headers)


async def test_sec_fetch_site_cross_site_without_origin_fails():
    headers = with_headers(CHROMIUM_CROSS_SITE_FORM, Origin=None)
    await assert_forbidden(csrf_app(cors_origins=[PAGE_ORIGIN]), headers)


async def test_unknown_sec_fetch_site_values_fail():
    app = csrf_app(cors_origins=[PAGE_ORIGIN], allow_subdomains=True)
    header_sets = [
        with_headers(CHROMIUM_SAME_ORIGIN_FETCH, Sec_Fetch_Site=value)
        for value in (
            'garbage',
            'Same-Origin',
            'SAME-ORIGIN',
            'same-origin2',
            'same-origin, cross-site',
            'cross-site, same-origin',
            '\u00e9',
            'x' * 1900,
            'null',
            '*',
        )
    ]
    await assert_forbidden(app, *header_sets, cors=PAGE_ORIGIN)


async def test_empty_sec_fetch_site_fails():
    headers = with_headers(CHROMIUM_SAME_ORIGIN_FETCH, Sec_Fetch_Site='')
    await assert_forbidden(csrf_app(), headers)


async def test_two_sec_fetch_site_lines_fail():
    # the parser joins repeated fields: 'same-origin, same-origin'
    res = await serve_raw(
        csrf_app(),
        b'POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\n'
        b'Sec-Fetch-Site: same-origin\r\nSec-Fetch-Site: same-origin\r\n'
        b'Content-Length: 0\r\nConnection: close\r\n\r\n',
    )
    assert res.status_line == b'HTTP/1.1 403 Forbidden'
    assert res.body == b'Forbidden'


# -- the Origin fallback ------------------------------------------------------


def origin_only(origin, host=API_HOST):
    return with_headers(
        no_fetch_metadata(CHROMIUM_CROSS_SITE_FORM), Origin=origin, Host=host
    )


async def test_origin_fallback_same_origin_passes():
    await assert_allowed(csrf_app(), origin_only(API_ORIGIN))


async def test_origin_fallback_default_port_and_case():
    await assert_allowed(
        csrf_app(),
        origin_only('http://example.com', 'example.com:80'),
        origin_only('http://example.com:80', 'example.com'),
        origin_only('http://Example.COM', 'example.com'),
    )


async def test_origin_fallback_other_scheme_fails():
    # the test client's requests arrive over plain HTTP
    await assert_forbidden(csrf_app(), origin_only('https://' + API_HOST))


async def test_origin_fallback_other_port_fails():
    await assert_forbidden(csrf_app(), origin_only('http://localhost:8803'))


async def test_origin_fallback_null_fails():
    await assert_forbidden(csrf_app(), origin_only('null'))


async def test_origin_fallback_garbage_fails():
    app = csrf_app(allow_subdomains=True, cors_origins=[PAGE_ORIGIN])
    header_sets = [
        origin_only(origin)
        for origin in (
            'garbage',
            '',
            'http://',
            '\u00e9',
            'x' * 1900,
            '*',
            'http://localhost:8802/',
            'http://localhost:8802.',
            'http:/localhost:8802',
        )
    ]
    await assert_forbidden(app, *header_sets)


async def test_origin_fallback_cors_origin_passes():
    app = csrf_app(cors_origins=['https://partner.example', PAGE_ORIGIN])
    await assert_allowed(
        app, origin_only(PAGE_ORIGIN), methods=('PUT',), cors=PAGE_ORIGIN
    )


async def test_cors_origins_given_as_a_tuple_authorize():
    app = csrf_app(cors_origins=(PAGE_ORIGIN,))
    await assert_allowed(app, CHROMIUM_CROSS_SITE_FORM, cors=PAGE_ORIGIN)


async def test_empty_cors_list_does_not_authorize():
    await assert_forbidden(csrf_app(cors_origins=[]), CHROMIUM_CROSS_SITE_FORM)


async def test_origin_fallback_cors_wildcard_does_not_authorize():
    await assert_forbidden(
        csrf_app(cors_origins='*'), origin_only(PAGE_ORIGIN), cors='*'
    )


def from_origins(host, *origins):
    """The ``origin_only`` header sets of ``origins`` to ``host``."""
    return [origin_only(origin, host) for origin in origins]


async def test_origin_fallback_subdomains():
    app = csrf_app(allow_subdomains=True)
    host = 'api.example.com:8000'
    await assert_allowed(
        app,
        *from_origins(
            host,
            'http://app.example.com',
            'https://www.example.com:9000',
            'http://example.com',
            'http://a.b.example.com',
        ),
    )
    await assert_forbidden(
        app,
        *from_origins(
            host,
            'http://evilexample.com',
            'http://example.com.evil.net',
            'http://example.net',
            'http://u@app.example.com',
            'http://app.example.com/x',
        ),
    )


async def test_origin_fallback_subdomains_need_the_option():
    app = csrf_app()
    await assert_forbidden(
        app, origin_only('http://app.example.com', 'api.example.com')
    )


async def test_origin_fallback_subdomains_of_addresses_fail():
    app = csrf_app(allow_subdomains=True)
    await assert_forbidden(
        app,
        origin_only('http://10.0.0.1', '192.168.0.1'),
        origin_only('http://a.localhost:8000', 'localhost:8000'),
        origin_only('http://[::2]:8000', '[::1]:8000'),
    )
    await assert_allowed(app, origin_only('http://192.168.0.1', '192.168.0.1'))


async def test_no_origin_and_no_fetch_metadata_passes():
    headers = with_headers(
        no_fetch_metadata(CHROMIUM_CROSS_SITE_FORM), Origin=None
    )
    await assert_allowed(csrf_app(), headers)


async def test_wildcard_cors_does_not_authorize_cross_site():
    # the 403 has the '*' CORS headers: the page's script may read it
    await assert_forbidden(
        csrf_app(cors_origins='*'), CHROMIUM_CROSS_SITE_FETCH, cors='*'
    )


# -- exempt and protect -------------------------------------------------------


async def test_exempt_route_passes_cross_site():
    calls = Calls()
    app = csrf_app(calls)
    res = await send(app, CHROMIUM_CROSS_SITE_FORM, path='/webhook')
    assert res.status_code == 200
    assert res.body == b'hook'
    assert calls.names == ['webhook']


def other_decorator(f):
    """A decorator that wraps the route the usual way."""

    @wraps(f)
    async def wrapper(request, *args, **kwargs):
        return await f(request, *args, **kwargs)

    return wrapper


async def post_form_to_hook(app, *decorators):
    """Add ``POST /hook``, answering ``hook``, to ``app`` under
    ``decorators`` (the outermost first); return the answer to the
    cross-site form posted to it."""

    async def hook(request):
        return 'hook'

    for decorate in reversed(decorators):
        hook = decorate(hook)
    app.post('/hook')(hook)
    return await send(app, CHROMIUM_CROSS_SITE_FORM, path='/hook')


async def test_exempt_under_another_decorator():
    support.cpython_only()  # MPY: no __wrapped__ to find the function by
    app = Microdot()
    res = await post_form_to_hook(app, other_decorator, CSRF(app).exempt)
    assert res.status_code == 200
    assert res.body == b'hook'


async def test_exempt_above_another_decorator():
    app = Microdot()
    res = await post_form_to_hook(app, CSRF(app).exempt, other_decorator)
    assert res.status_code == 200


async def test_exempt_only_exempts_its_route():
    await assert_forbidden(csrf_app(), CHROMIUM_CROSS_SITE_FORM)


def protected_app(calls, protect_all=False):
    """Routes ``/open`` (unprotected) and ``/inner``, ``/outer``,
    ``/wrapped``, ``/wrapping``, ``/sync/<int:n>`` protected in different
    decorator positions."""
    app = Microdot()
    csrf = CSRF(app, protect_all=protect_all)

    @app.post('/open')
    async def unprotected(request):
        calls.names.append('open')
        return 'open'

    @app.post('/inner')
    @csrf.protect
    async def inner(request):
        calls.names.append('inner')
        return 'inner'

    @csrf.protect
    @app.post('/outer')
    async def outer(request):
        calls.names.append('outer')
        return 'outer'

    @app.post('/wrapped')
    @other_decorator
    @csrf.protect
    async def wrapped(request):
        calls.names.append('wrapped')
        return 'wrapped'

    @app.post('/wrapping')
    @csrf.protect
    @other_decorator
    async def wrapping(request):
        calls.names.append('wrapping')
        return 'wrapping'

    @app.post('/sync/<int:n>')
    @csrf.protect
    def sync(request, n):
        calls.names.append('sync %d' % n)
        return 'sync %d' % n

    return app


PROTECTED_PATHS = ('/inner', '/outer', '/wrapped', '/wrapping', '/sync/7')


async def test_protect_all_false_leaves_other_routes_open():
    calls = Calls()
    res = await send(
        protected_app(calls), CHROMIUM_CROSS_SITE_FORM, path='/open'
    )
    assert res.status_code == 200
    assert res.body == b'open'
    assert calls.names == ['open']


async def assert_paths_forbidden(app, paths):
    for path in paths:
        await assert_forbidden(app, CHROMIUM_CROSS_SITE_FORM, path=path)


async def test_protect_in_every_decorator_position():
    calls = Calls()
    await assert_paths_forbidden(protected_app(calls), PROTECTED_PATHS)
    assert calls.names == []


async def test_protected_routes_run_for_same_origin_requests():
    calls = Calls()
    app = protected_app(calls)
    for path in PROTECTED_PATHS:
        res = await send(app, CHROMIUM_SAME_ORIGIN_FETCH, path=path)
        assert res.status_code == 200, path
    assert calls.names == ['inner', 'outer', 'wrapped', 'wrapping', 'sync 7']


async def test_protect_with_protect_all():
    calls = Calls()
    app = protected_app(calls, protect_all=True)
    await assert_paths_forbidden(app, PROTECTED_PATHS + ('/open',))
    assert calls.names == []


async def test_protect_checks_only_unsafe_methods():
    app = Microdot()
    csrf = CSRF(app, protect_all=False)

    @app.route('/page', methods=['GET', 'POST'])
    @csrf.protect
    async def page(request):
        return request.method

    res = await send(app, CHROMIUM_CROSS_SITE_FORM, 'GET', '/page')
    assert res.status_code == 200
    assert res.body == b'GET'
    res = await send(app, CHROMIUM_CROSS_SITE_FORM, 'POST', '/page')
    assert res.status_code == 403


async def test_protect_without_an_app():
    # the wrapper checks by itself: no before_request hook is needed
    csrf = CSRF(protect_all=False)
    res = await post_form_to_hook(Microdot(), csrf.protect)
    assert res.status_code == 403
    assert res.body == b'Forbidden'


# -- the 403 response ---------------------------------------------------------


async def test_forbidden_response_bytes_through_a_server():
    res = await serve(
        csrf_app(), 'POST', '/submit', CHROMIUM_CROSS_SITE_FORM, b'x=1'
    )
    assert_served(
        res,
        b'HTTP/1.1 403 Forbidden',
        b'Forbidden',
        closing_lines(b'Forbidden'),
    )


async def test_same_origin_request_through_a_server():
    res = await serve(
        csrf_app(), 'POST', '/submit', CHROMIUM_SAME_ORIGIN_FETCH, b'{"a":1}'
    )
    assert_served(
        res, b'HTTP/1.1 200 OK', b'submitted', closing_lines(b'submitted')
    )


async def test_same_site_from_a_cors_origin_through_a_server():
    app = csrf_app(cors_origins=[APP_ORIGIN])
    res = await serve(app, 'POST', '/submit', CHROMIUM_SAME_SITE_FORM, b'x=1')
    assert_served(
        res,
        b'HTTP/1.1 200 OK',
        b'submitted',
        closing_lines(b'submitted'),
        cors_lines(APP_ORIGIN),
    )


async def test_forbidden_goes_through_the_403_error_handler():
    app = csrf_app()

    @app.errorhandler(403)
    async def forbidden(request):
        return {'error': 'cross-site request refused'}, 403

    res = await send(app, CHROMIUM_CROSS_SITE_FORM)
    assert res.status_code == 403
    assert res.body == b'{"error":"cross-site request refused"}'
    assert res.headers['Content-Type'] == 'application/json'


async def test_before_request_handlers_after_csrf_do_not_run():
    app = csrf_app()
    seen = []

    @app.before_request
    async def later(request):
        seen.append(request.method)

    await assert_forbidden(app, CHROMIUM_CROSS_SITE_FORM)
    assert seen == []


# -- initialize() and options -------------------------------------------------


async def test_initialize_later_with_cors():
    app = submit_app()
    cors = CORS(app, allowed_origins=[PAGE_ORIGIN])
    csrf = CSRF()
    # not protected yet
    await assert_allowed(app, CHROMIUM_CROSS_SITE_FORM, cors=PAGE_ORIGIN)
    csrf.initialize(app, cors)
    # the CORS list authorizes it
    await assert_allowed(app, CHROMIUM_CROSS_SITE_FORM, cors=PAGE_ORIGIN)
    res = await send(
        app,
        with_headers(CHROMIUM_CROSS_SITE_FORM, Origin='https://evil.example'),
    )
    assert res.status_code == 403


async def test_initialize_keeps_the_constructor_cors():
    app = submit_app()
    cors = CORS(app, allowed_origins=[PAGE_ORIGIN])
    csrf = CSRF(cors=cors)
    csrf.initialize(app)
    await assert_allowed(app, CHROMIUM_CROSS_SITE_FORM, cors=PAGE_ORIGIN)


def test_options_are_kept_as_attributes():
    cors = CORS()
    csrf = CSRF(cors=cors, protect_all=False, allow_subdomains=True)
    assert csrf.cors is cors
    assert csrf.protect_all is False
    assert csrf.allow_subdomains is True
    csrf = CSRF()
    assert csrf.cors is None
    assert csrf.protect_all is True
    assert csrf.allow_subdomains is False
