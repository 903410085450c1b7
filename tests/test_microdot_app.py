"""Tests of ``Microdot`` dispatch: routes, handlers, errors and mounting.

Portable: runs under pytest and under ``tests/mpy_runner.py`` on MicroPython.
"""

import sys

import support

from microdot import Microdot, Request, Response, abort, redirect
from microdot.test_client import TestClient

TEXT_PLAIN = 'text/plain; charset=UTF-8'


def headers_of(res):
    """The response headers as a dict with lower-case names (no order)."""
    return {name.lower(): res.headers[name] for name in res.headers}


async def _ok(request):
    return 'ok'


async def _items(request):
    return 'items'


def _app_with_route(handler, rule, via='get', methods=None):
    """An app whose only route is ``handler``, registered at ``rule`` with
    the decorator named ``via`` (``route`` takes ``methods``)."""
    app = Microdot()
    if via == 'route':
        app.route(rule, methods=methods)(handler)
    else:
        getattr(app, via)(rule)(handler)
    return app


async def _get_one(handler, rule='/', url=None):
    """GET ``url`` (default: ``rule``) from an app whose only route is
    ``handler`` at ``rule``."""
    app = _app_with_route(handler, rule)
    return await TestClient(app).get(rule if url is None else url)


# ---------------------------------------------------------------------------
# route() and the method decorators
# ---------------------------------------------------------------------------


async def test_route_default_method_is_get():
    app = Microdot()

    @app.route('/')
    async def index(request):
        return 'hello'

    client = TestClient(app)
    res = await client.get('/')
    assert (res.status_code, res.body) == (200, b'hello')
    assert headers_of(res) == {
        'content-type': TEXT_PLAIN,
        'content-length': '5',
    }


async def test_route_default_method_refuses_post():
    app = Microdot()

    @app.route('/')
    async def index(request):
        return 'hello'

    res = await TestClient(app).post('/')
    assert (res.status_code, res.body) == (405, b'Method Not Allowed')
    assert res.headers['Allow'] == 'GET, HEAD, OPTIONS'


async def _method_echo_client(url, methods):
    """A client of an app whose route at ``url`` for ``methods`` answers
    'method <METHOD>'; checks that GET and POST reach it."""

    async def echo(request):
        return 'method ' + request.method

    client = TestClient(_app_with_route(echo, url, 'route', methods=methods))
    res = await client.get(url)
    assert (res.status_code, res.body) == (200, b'method GET')
    res = await client.post(url)
    assert (res.status_code, res.body) == (200, b'method POST')
    return client


async def test_route_methods_list():
    client = await _method_echo_client('/invoices', ['GET', 'POST'])
    res = await client.put('/invoices')
    assert res.status_code == 405
    assert res.headers['Allow'] == 'GET, POST, HEAD, OPTIONS'


async def test_route_methods_lower_case_accepted():
    client = await _method_echo_client('/lower', ['get', 'post'])
    res = await client.request('OPTIONS', '/lower')
    assert res.headers['Allow'] == 'GET, POST, HEAD, OPTIONS'


async def test_method_decorators():
    app = Microdot()
    names = ('get', 'post', 'put', 'patch', 'delete')

    def answer(name):
        async def handler(request):
            return name

        return handler

    for name in names:
        getattr(app, name)('/thing')(answer(name))

    client = TestClient(app)
    for name in names:
        res = await getattr(client, name)('/thing')
        assert (res.status_code, res.body) == (200, name.encode())


async def test_method_decorator_only_accepts_its_method():
    async def only_put(request):
        return 'put'

    app = _app_with_route(only_put, '/only-put', 'put')
    client = TestClient(app)
    res = await client.get('/only-put')
    assert (res.status_code, res.body) == (405, b'Method Not Allowed')
    assert res.headers['Allow'] == 'PUT, OPTIONS'


async def test_two_functions_same_url_different_methods():
    app = Microdot()
    calls = []

    @app.route('/invoices', methods=['GET'])
    async def get_invoices(request):
        calls.append('get_invoices')
        return 'get invoices'

    @app.route('/invoices', methods=['POST'])
    async def create_invoice(request):
        calls.append('create_invoice')
        return 'create an invoice'

    client = TestClient(app)
    res = await client.get('/invoices')
    assert (res.status_code, res.body) == (200, b'get invoices')
    res = await client.post('/invoices')
    assert (res.status_code, res.body) == (200, b'create an invoice')
    assert calls == ['get_invoices', 'create_invoice']


def test_route_returns_original_function():
    app = Microdot()

    async def handler(request):
        return 'x'

    def sync_handler(request):
        return 'y'

    assert app.route('/a')(handler) is handler
    assert app.route('/b', methods=['POST'])(sync_handler) is sync_handler
    assert app.get('/c')(handler) is handler
    assert app.post('/d')(handler) is handler
    assert app.put('/e')(handler) is handler
    assert app.patch('/f')(handler) is handler
    assert app.delete('/g')(handler) is handler


# ---------------------------------------------------------------------------
# async def and def handlers
# ---------------------------------------------------------------------------


async def test_async_handler():
    async def async_handler(request):
        return 'async'

    res = await _get_one(async_handler, '/async')
    assert (res.status_code, res.body) == (200, b'async')


async def test_sync_handler():
    def sync_handler(request):
        return 'sync'

    res = await _get_one(sync_handler, '/sync')
    assert (res.status_code, res.body) == (200, b'sync')


async def test_sync_handler_with_url_args_and_hooks():
    # def handlers for every hook: inline on MicroPython, threads on CPython
    app = Microdot()
    calls = []

    @app.before_request
    def before(request):
        calls.append('before')

    @app.get('/sync/<int:n>')
    def sync_handler(request, n):
        calls.append('route')
        return 'n=%d' % (n + 1)

    @app.after_request
    def after(request, response):
        calls.append('after')

    res = await TestClient(app).get('/sync/41')
    assert (res.status_code, res.body) == (200, b'n=42')
    assert calls == ['before', 'route', 'after']


async def _handler_thread_is_loop_thread(is_async):
    """GET a route with an async or a def handler; return whether the
    handler ran in the test's (event loop) thread (CPython only)."""
    support.cpython_only()
    import threading

    seen = {}

    def sync_handler(request):
        seen['thread'] = threading.current_thread()
        return 'sync'

    async def async_handler(request):
        return sync_handler(request)

    handler = async_handler if is_async else sync_handler
    res = await _get_one(handler)
    assert res.status_code == 200
    return seen['thread'] is threading.current_thread()


async def test_sync_handler_runs_in_other_thread_on_cpython():
    assert not await _handler_thread_is_loop_thread(False)


async def test_async_handler_runs_in_loop_thread_on_cpython():
    assert await _handler_thread_is_loop_thread(True)


# ---------------------------------------------------------------------------
# URL arguments
# ---------------------------------------------------------------------------


async def test_url_args_passed_as_keywords_with_types():
    app = Microdot()
    seen = {}

    @app.get('/users/<int:id>/<name>/<path:rest>')
    async def user(request, **kwargs):
        seen.update(kwargs)
        return 'ok'

    res = await TestClient(app).get('/users/42/susan/a/b/c')
    assert res.status_code == 200
    assert seen == {'id': 42, 'name': 'susan', 'rest': 'a/b/c'}
    assert type(seen['id']) is int
    assert type(seen['name']) is str
    assert type(seen['rest']) is str


async def test_url_args_bound_by_name():
    app = Microdot()

    # the parameters are declared in the reverse order of the URL
    @app.get('/pair/<int:a>/<string:b>')
    async def pair(request, b, a):
        return '%s-%d' % (b, a * 2)

    res = await TestClient(app).get('/pair/-3/x')
    assert (res.status_code, res.body) == (200, b'x--6')


async def test_url_int_arg_not_matching_gives_404():
    async def user(request, id):
        return 'user'

    res = await _get_one(user, '/users/<int:id>', '/users/abc')
    assert (res.status_code, res.body) == (404, b'Not Found')


# ---------------------------------------------------------------------------
# HEAD, OPTIONS, 405 and 404
# ---------------------------------------------------------------------------


async def test_head_served_by_get_route():
    app = Microdot()
    calls = []

    @app.get('/page')
    async def page(request):
        calls.append(request.method)
        return 'hello world', {'X-Custom': 'yes'}

    res = await TestClient(app).request('HEAD', '/page')
    assert (res.status_code, res.body) == (200, b'')
    assert headers_of(res) == {
        'content-type': TEXT_PLAIN,
        'content-length': '11',
        'x-custom': 'yes',
    }
    assert calls == ['HEAD']


async def test_head_json_body_content_length():
    async def data(request):
        return {'a': 1}

    app = _app_with_route(data, '/data')
    res = await TestClient(app).request('HEAD', '/data')
    assert (res.status_code, res.body) == (200, b'')
    assert headers_of(res) == {
        'content-type': 'application/json',
        'content-length': '7',
    }


async def test_head_without_get_route_is_405():
    async def submit(request):
        return 'posted'

    app = _app_with_route(submit, '/submit', 'post')
    res = await TestClient(app).request('HEAD', '/submit')
    assert (res.status_code, res.body) == (405, b'')
    assert res.headers['Allow'] == 'POST, OPTIONS'


async def test_automatic_options():
    app = _app_with_route(_items, '/items', 'route', methods=['GET', 'POST'])
    res = await TestClient(app).request('OPTIONS', '/items')
    assert (res.status_code, res.body) == (200, b'')
    assert headers_of(res) == {
        'allow': 'GET, POST, HEAD, OPTIONS',
        'content-type': TEXT_PLAIN,
        'content-length': '0',
    }


async def test_automatic_options_two_routes_same_url():
    app = Microdot()

    @app.get('/items/<int:id>')
    async def get_item(request, id):
        return 'item'

    @app.delete('/items/<int:id>')
    async def delete_item(request, id):
        return 'deleted'

    res = await TestClient(app).request('OPTIONS', '/items/3')
    assert (res.status_code, res.body) == (200, b'')
    assert res.headers['Allow'] == 'GET, DELETE, HEAD, OPTIONS'


async def test_automatic_options_without_get_has_no_head():
    async def form(request):
        return 'form'

    app = _app_with_route(form, '/form', 'route', methods=['POST', 'PUT'])
    res = await TestClient(app).request('OPTIONS', '/form')
    assert res.status_code == 200
    assert res.headers['Allow'] == 'POST, PUT, OPTIONS'


async def test_automatic_options_runs_after_request_handlers():
    app = Microdot()
    calls = []

    @app.get('/items')
    async def items(request):
        calls.append('route')
        return 'items'

    @app.after_request
    async def after(request, response):
        calls.append('after')
        response.headers['X-After'] = 'yes'

    res = await TestClient(app).request('OPTIONS', '/items')
    assert res.status_code == 200
    assert res.headers['Allow'] == 'GET, HEAD, OPTIONS'
    assert res.headers['X-After'] == 'yes'
    assert calls == ['after']


async def test_automatic_options_unknown_path_is_404():
    app = _app_with_route(_items, '/items')
    res = await TestClient(app).request('OPTIONS', '/other')
    assert (res.status_code, res.body) == (404, b'Not Found')


async def test_explicit_options_route_called():
    app = Microdot()

    app.get('/items')(_items)

    @app.route('/items', methods=['OPTIONS'])
    async def items_options(request):
        return 'custom options', 200, {'Allow': 'GET'}

    res = await TestClient(app).request('OPTIONS', '/items')
    assert (res.status_code, res.body) == (200, b'custom options')
    assert res.headers['Allow'] == 'GET'


async def test_405_allow_and_body():
    app = Microdot()

    app.get('/items')(_items)

    @app.patch('/items')
    async def patch_items(request):
        return 'patched'

    res = await TestClient(app).post('/items')
    assert (res.status_code, res.body) == (405, b'Method Not Allowed')
    assert headers_of(res) == {
        'allow': 'GET, PATCH, HEAD, OPTIONS',
        'content-type': TEXT_PLAIN,
        'content-length': '18',
    }


async def test_404():
    res = await _get_one(_items, '/items', '/nothing-here')
    assert (res.status_code, res.body) == (404, b'Not Found')
    assert headers_of(res) == {
        'content-type': TEXT_PLAIN,
        'content-length': '9',
    }


async def test_404_trailing_slash_significant():
    res = await _get_one(_items, '/items', '/items/')
    assert (res.status_code, res.body) == (404, b'Not Found')


# ---------------------------------------------------------------------------
# before_request
# ---------------------------------------------------------------------------


async def test_before_request_runs_in_order():
    app = Microdot()
    calls = []

    @app.before_request
    async def first(request):
        calls.append('first')

    @app.before_request
    def second(request):
        calls.append('second')

    @app.get('/')
    async def index(request):
        calls.append('route')
        return 'ok'

    res = await TestClient(app).get('/')
    assert (res.status_code, res.body) == (200, b'ok')
    assert calls == ['first', 'second', 'route']


async def test_before_request_return_short_circuits():
    app = Microdot()
    calls = []

    @app.before_request
    async def stop(request):
        calls.append('stop')
        return 'Unauthorized', 401

    @app.before_request
    async def never(request):
        calls.append('never')

    @app.get('/')
    async def index(request):
        calls.append('route')
        return 'ok'

    @app.after_request
    async def after(request, response):
        calls.append('after %d' % response.status_code)

    res = await TestClient(app).get('/')
    assert (res.status_code, res.body) == (401, b'Unauthorized')
    assert calls == ['stop', 'after 401']


async def test_before_request_sets_g():
    app = Microdot()

    @app.before_request
    async def authenticate(request):
        request.g.user = 'susan'

    @app.get('/')
    async def index(request):
        return 'user ' + request.g.user

    res = await TestClient(app).get('/')
    assert (res.status_code, res.body) == (200, b'user susan')


async def test_before_request_exception_goes_to_error_handler():
    app = Microdot()
    calls = []

    @app.before_request
    async def failing(request):
        raise ValueError('bad')

    @app.get('/')
    async def index(request):
        calls.append('route')
        return 'ok'

    @app.errorhandler(ValueError)
    async def value_error(request, exc):
        calls.append('handler ' + str(exc))
        return 'value error', 400

    res = await TestClient(app).get('/')
    assert (res.status_code, res.body) == (400, b'value error')
    assert calls == ['handler bad']


async def test_before_request_abort_goes_to_status_handler():
    app = Microdot()

    @app.before_request
    async def forbid(request):
        abort(403)

    app.get('/')(_ok)

    @app.errorhandler(403)
    async def forbidden(request):
        return 'custom forbidden', 403

    res = await TestClient(app).get('/')
    assert (res.status_code, res.body) == (403, b'custom forbidden')


# ---------------------------------------------------------------------------
# after_request
# ---------------------------------------------------------------------------


async def test_after_request_receives_request_and_response():
    app = Microdot()
    seen = {}

    @app.get('/page')
    async def page(request):
        return 'body', 201

    @app.after_request
    async def after(request, response):
        seen['request'] = request
        seen['response'] = response

    res = await TestClient(app).get('/page')
    assert res.status_code == 201
    assert isinstance(seen['request'], Request)
    assert seen['request'].path == '/page'
    assert isinstance(seen['response'], Response)
    assert seen['response'].status_code == 201
    assert seen['response'].body == b'body'


async def test_after_request_replaces_response():
    app = Microdot()

    @app.get('/')
    async def index(request):
        return 'original'

    @app.after_request
    async def replace(request, response):
        return Response('replaced', 202, {'X-New': '1'})

    res = await TestClient(app).get('/')
    assert (res.status_code, res.body) == (202, b'replaced')
    assert headers_of(res) == {
        'x-new': '1',
        'content-type': TEXT_PLAIN,
        'content-length': '8',
    }


async def test_after_request_returning_none_keeps_response():
    app = Microdot()

    @app.get('/')
    async def index(request):
        return 'original', 201

    @app.after_request
    async def modify(request, response):
        response.headers['X-Seen'] = 'yes'

    res = await TestClient(app).get('/')
    assert (res.status_code, res.body) == (201, b'original')
    assert res.headers['X-Seen'] == 'yes'


async def test_after_request_runs_in_registration_order():
    app = Microdot()
    calls = []

    app.get('/')(_ok)

    @app.after_request
    async def first(request, response):
        calls.append('first')
        return Response('from first')

    @app.after_request
    def second(request, response):
        calls.append('second saw ' + response.body.decode())

    res = await TestClient(app).get('/')
    assert res.body == b'from first'
    assert calls == ['first', 'second saw from first']


async def test_after_request_not_run_for_404():
    app = Microdot()
    calls = []

    app.get('/')(_ok)

    @app.after_request
    async def after(request, response):
        calls.append('after')

    res = await TestClient(app).get('/missing')
    assert res.status_code == 404
    assert calls == []


async def test_after_request_not_run_for_exception():
    app = Microdot()
    calls = []

    @app.get('/')
    async def index(request):
        request.after_request(request_after)
        raise ValueError('boom')

    async def request_after(request, response):
        calls.append('request after')

    @app.after_request
    async def after(request, response):
        calls.append('after')

    @app.errorhandler(ValueError)
    async def value_error(request, exc):
        return 'handled', 400

    res = await TestClient(app).get('/')
    assert (res.status_code, res.body) == (400, b'handled')
    assert calls == []


async def test_request_after_request_runs_after_app_handlers():
    app = Microdot()
    calls = []

    @app.get('/')
    async def index(request):
        request.after_request(request_after)
        return 'ok'

    async def request_after(request, response):
        calls.append('request')
        response.headers['X-Request'] = 'yes'

    @app.after_request
    async def app_first(request, response):
        calls.append('app first')

    @app.after_request
    async def app_second(request, response):
        calls.append('app second')

    res = await TestClient(app).get('/')
    assert res.status_code == 200
    assert res.headers['X-Request'] == 'yes'
    assert calls == ['app first', 'app second', 'request']


# ---------------------------------------------------------------------------
# after_error_request
# ---------------------------------------------------------------------------


def _error_recording_app(calls):
    app = Microdot()

    app.get('/ok')(_ok)

    @app.get('/boom')
    async def boom(request):
        raise RuntimeError('boom')

    @app.post('/json')
    async def json_route(request):
        return str(request.json)

    @app.after_error_request
    async def after_error(request, response):
        calls.append(response.status_code)
        response.headers['X-Error'] = 'seen'

    return app


async def test_after_error_request_runs_for_default_404():
    calls = []
    res = await TestClient(_error_recording_app(calls)).get('/missing')
    assert (res.status_code, res.body) == (404, b'Not Found')
    assert res.headers['X-Error'] == 'seen'
    assert calls == [404]


async def test_after_error_request_runs_for_default_405():
    calls = []
    res = await TestClient(_error_recording_app(calls)).post('/ok')
    assert (res.status_code, res.body) == (405, b'Method Not Allowed')
    assert res.headers['X-Error'] == 'seen'
    assert res.headers['Allow'] == 'GET, HEAD, OPTIONS'
    assert calls == [405]


async def test_after_error_request_runs_for_default_500():
    calls = []
    app = _error_recording_app(calls)
    res = await _get_capturing_stderr(TestClient(app), '/boom')
    assert (res.status_code, res.body) == (500, b'Internal Server Error')
    assert res.headers['X-Error'] == 'seen'
    assert calls == [500]


async def test_after_error_request_runs_for_default_400_invalid_json():
    calls = []
    res = await TestClient(_error_recording_app(calls)).post(
        '/json', headers={'Content-Type': 'application/json'}, body='{nope'
    )
    assert (res.status_code, res.body) == (400, b'Bad Request')
    assert res.headers['X-Error'] == 'seen'
    assert calls == [400]


async def test_after_error_request_runs_for_400_bad_path_escape():
    calls = []
    res = await TestClient(_error_recording_app(calls)).get('/%zz')
    assert (res.status_code, res.body) == (400, b'Bad Request')
    assert res.headers['X-Error'] == 'seen'
    assert calls == [400]


async def test_after_error_request_runs_for_errorhandler_response():
    app = Microdot()
    seen = []

    @app.errorhandler(404)
    async def not_found(request):
        return 'custom missing', 404

    @app.after_error_request
    async def after_error(request, response):
        seen.append(response.body)

    res = await TestClient(app).get('/missing')
    assert (res.status_code, res.body) == (404, b'custom missing')
    assert seen == [b'custom missing']


async def test_after_error_request_replaces_response():
    app = Microdot()

    @app.after_error_request
    async def after_error(request, response):
        return Response('replaced error', 418)

    res = await TestClient(app).get('/missing')
    assert (res.status_code, res.body) == (418, b'replaced error')


async def test_after_error_request_not_run_for_success():
    calls = []
    res = await TestClient(_error_recording_app(calls)).get('/ok')
    assert (res.status_code, res.body) == (200, b'ok')
    assert 'X-Error' not in res.headers
    assert calls == []


# ---------------------------------------------------------------------------
# errorhandler
# ---------------------------------------------------------------------------


async def _get_and_stderr(client, path):
    """GET ``path``; return the response and what was printed to stderr
    meanwhile (CPython; None on MicroPython, where stderr is left alone)."""
    if support.IS_MICROPYTHON:
        return await client.get(path), None
    import io

    saved = sys.stderr
    sys.stderr = io.StringIO()
    try:
        res = await client.get(path)
        return res, sys.stderr.getvalue()
    finally:
        sys.stderr = saved


async def _get_capturing_stderr(client, path):
    """GET ``path``; on CPython keep the printed traceback off the output."""
    return (await _get_and_stderr(client, path))[0]


async def _get_missing_with_404_handler(handler, quiet=False):
    """GET an unknown URL from an app whose only handler is ``handler``
    registered with ``errorhandler(404)``."""
    app = Microdot()
    app.errorhandler(404)(handler)
    if quiet:
        return await _get_capturing_stderr(TestClient(app), '/missing')
    return await TestClient(app).get('/missing')


async def test_errorhandler_404():
    async def not_found(request):
        return {'error': 'resource not found'}, 404

    res = await _get_missing_with_404_handler(not_found)
    assert (res.status_code, res.body) == (
        404,
        b'{"error":"resource not found"}',
    )
    assert res.headers['Content-Type'] == 'application/json'


async def test_errorhandler_405_keeps_allow():
    app = Microdot()

    app.get('/only-get')(_ok)

    @app.errorhandler(405)
    async def not_allowed(request):
        return 'custom not allowed', 405

    res = await TestClient(app).delete('/only-get')
    assert (res.status_code, res.body) == (405, b'custom not allowed')
    assert res.headers['Allow'] == 'GET, HEAD, OPTIONS'


async def test_errorhandler_500_for_unhandled_exception():
    app = Microdot()

    @app.get('/boom')
    async def boom(request):
        raise RuntimeError('boom')

    @app.errorhandler(500)
    async def internal(request):
        return 'custom 500', 500

    res = await _get_capturing_stderr(TestClient(app), '/boom')
    assert (res.status_code, res.body) == (500, b'custom 500')


async def _post_11_bytes_over_limit_10(app):
    """POST 11 bytes to /upload with Request.max_content_length at 10."""
    saved = Request.max_content_length
    Request.max_content_length = 10
    try:
        return await TestClient(app).post('/upload', body=b'x' * 11)
    finally:
        Request.max_content_length = saved


async def test_errorhandler_413_content_length_over_limit():
    app = Microdot()
    calls = []

    @app.post('/upload')
    async def upload(request):
        calls.append('route')
        return 'uploaded'

    @app.errorhandler(413)
    async def too_large(request):
        return 'custom too large', 413

    res = await _post_11_bytes_over_limit_10(app)
    assert (res.status_code, res.body) == (413, b'custom too large')
    assert calls == []


async def test_default_413_content_length_over_limit():
    app = Microdot()

    @app.post('/upload')
    async def upload(request):
        return 'uploaded'

    res = await _post_11_bytes_over_limit_10(app)
    assert (res.status_code, res.body) == (413, b'Content Too Large')


async def test_errorhandler_400_invalid_json():
    app = Microdot()

    @app.post('/json')
    async def json_route(request):
        return str(request.json)

    @app.errorhandler(400)
    async def bad_request(request):
        return 'custom bad request', 400

    res = await TestClient(app).post(
        '/json', headers={'Content-Type': 'application/json'}, body='{nope'
    )
    assert (res.status_code, res.body) == (400, b'custom bad request')


def _exception_class_app():
    app = Microdot()

    @app.get('/key')
    async def key(request):
        raise KeyError('k')

    @app.get('/index')
    async def index(request):
        raise IndexError('i')

    @app.get('/runtime')
    async def runtime(request):
        raise RuntimeError('r')

    # registered from the most generic to the most specific
    @app.errorhandler(Exception)
    async def exception(request, exc):
        return 'Exception', 500

    @app.errorhandler(LookupError)
    async def lookup_error(request, exc):
        return 'LookupError', 500

    @app.errorhandler(KeyError)
    async def key_error(request, exc):
        return 'KeyError', 500

    return app


async def test_errorhandler_exact_class_wins():
    res = await TestClient(_exception_class_app()).get('/key')
    assert (res.status_code, res.body) == (500, b'KeyError')


async def test_errorhandler_nearest_parent_class_wins():
    res = await TestClient(_exception_class_app()).get('/index')
    assert (res.status_code, res.body) == (500, b'LookupError')


async def test_errorhandler_base_class_catches_the_rest():
    res = await TestClient(_exception_class_app()).get('/runtime')
    assert (res.status_code, res.body) == (500, b'Exception')


async def test_errorhandler_receives_exception_object():
    app = Microdot()
    seen = []

    @app.get('/')
    async def index(request):
        raise ZeroDivisionError('division by zero here')

    @app.errorhandler(ZeroDivisionError)
    async def division_by_zero(request, exc):
        seen.append(exc)
        return {'error': str(exc)}, 500

    res = await TestClient(app).get('/')
    assert (res.status_code, res.body) == (
        500,
        b'{"error":"division by zero here"}',
    )
    assert len(seen) == 1
    assert isinstance(seen[0], ZeroDivisionError)


async def test_unhandled_exception_default_500():
    async def boom(request):
        raise RuntimeError('kaboom-marker')

    app = _app_with_route(boom, '/boom')
    res, output = await _get_and_stderr(TestClient(app), '/boom')
    assert (res.status_code, res.body) == (500, b'Internal Server Error')
    assert headers_of(res) == {
        'content-type': TEXT_PLAIN,
        'content-length': '21',
    }
    if output is not None:
        assert 'Traceback (most recent call last)' in output
        assert 'RuntimeError: kaboom-marker' in output


async def test_unhandled_exception_in_sync_handler_default_500():
    app = Microdot()

    @app.get('/boom')
    def boom(request):
        raise RuntimeError('sync boom')

    res = await _get_capturing_stderr(TestClient(app), '/boom')
    assert (res.status_code, res.body) == (500, b'Internal Server Error')


async def test_errorhandler_for_status_that_raises_gives_500():
    async def broken(request):
        raise RuntimeError('handler failed')

    res = await _get_missing_with_404_handler(broken, quiet=True)
    assert (res.status_code, res.body) == (500, b'Internal Server Error')


async def test_errorhandler_for_exception_that_raises_gives_500():
    app = Microdot()

    @app.get('/')
    async def index(request):
        raise ValueError('first')

    @app.errorhandler(ValueError)
    async def broken(request, exc):
        raise RuntimeError('second')

    res = await _get_capturing_stderr(TestClient(app), '/')
    assert (res.status_code, res.body) == (500, b'Internal Server Error')


async def test_errorhandler_tuple_body_status():
    async def not_found(request):
        return 'gone away', 410

    res = await _get_missing_with_404_handler(not_found)
    assert (res.status_code, res.body) == (410, b'gone away')


async def test_errorhandler_tuple_body_status_headers():
    async def not_found(request):
        return 'missing', 404, {'X-Why': 'nothing here'}

    res = await _get_missing_with_404_handler(not_found)
    assert (res.status_code, res.body) == (404, b'missing')
    assert headers_of(res) == {
        'x-why': 'nothing here',
        'content-type': TEXT_PLAIN,
        'content-length': '7',
    }


async def test_errorhandler_tuple_status_only():
    async def not_found(request):
        return (418,)

    res = await _get_missing_with_404_handler(not_found)
    assert (res.status_code, res.body) == (418, b'')


async def test_errorhandler_tuple_status_headers():
    async def not_found(request):
        return 503, {'Retry-After': '10'}

    res = await _get_missing_with_404_handler(not_found)
    assert (res.status_code, res.body) == (503, b'')
    assert res.headers['Retry-After'] == '10'


async def test_errorhandler_sync_function():
    def not_found(request):
        return 'sync handler', 404

    res = await _get_missing_with_404_handler(not_found)
    assert (res.status_code, res.body) == (404, b'sync handler')


async def test_abort_module_function():
    async def index(request):
        abort(404)
        return 'not reached'

    res = await _get_one(index)
    assert (res.status_code, res.body) == (404, b'Not Found')


async def test_abort_module_function_with_reason():
    async def index(request):
        abort(401, 'log in first')

    res = await _get_one(index)
    assert (res.status_code, res.body) == (401, b'log in first')


async def test_abort_microdot_static_method():
    async def index(request):
        Microdot.abort(403)

    res = await _get_one(index)
    assert (res.status_code, res.body) == (403, b'Forbidden')


async def test_abort_microdot_static_method_with_reason():
    def index(request):
        request.app.abort(409, 'already exists')

    res = await _get_one(index)
    assert (res.status_code, res.body) == (409, b'already exists')


async def test_abort_passes_through_errorhandler():
    app = Microdot()

    @app.get('/')
    async def index(request):
        abort(406, 'ignored reason')

    @app.errorhandler(406)
    async def not_acceptable(request):
        return 'custom 406', 406

    res = await TestClient(app).get('/')
    assert (res.status_code, res.body) == (406, b'custom 406')


# ---------------------------------------------------------------------------
# mount()
# ---------------------------------------------------------------------------


def _customers_app():
    customers = Microdot()

    @customers.get('/')
    async def get_customers(request):
        return 'all customers'

    @customers.post('/')
    async def new_customer(request):
        return 'new customer', 201

    @customers.get('/<int:id>')
    async def get_customer(request, id):
        return 'customer %d' % id

    return customers


async def test_mount_url_prefix_routes():
    app = Microdot()
    app.mount(_customers_app(), url_prefix='/customers')
    client = TestClient(app)
    res = await client.get('/customers/')
    assert (res.status_code, res.body) == (200, b'all customers')
    res = await client.post('/customers/')
    assert (res.status_code, res.body) == (201, b'new customer')
    res = await client.get('/customers/7')
    assert (res.status_code, res.body) == (200, b'customer 7')


async def test_mount_url_prefix_without_slash_is_404():
    app = Microdot()
    app.mount(_customers_app(), url_prefix='/customers')
    res = await TestClient(app).get('/customers')
    assert (res.status_code, res.body) == (404, b'Not Found')


async def test_mount_without_prefix():
    app = Microdot()
    app.mount(_customers_app())
    res = await TestClient(app).get('/7')
    assert (res.status_code, res.body) == (200, b'customer 7')


async def test_mount_sub_sub_app_routes():
    inner = Microdot()

    @inner.get('/x')
    async def inner_x(request):
        return 'inner x'

    sub = Microdot()
    sub.mount(inner, url_prefix='/inner')
    app = Microdot()
    app.mount(sub, url_prefix='/sub')
    res = await TestClient(app).get('/sub/inner/x')
    assert (res.status_code, res.body) == (200, b'inner x')


async def test_request_url_prefix_subapp_and_route():
    inner = Microdot()
    sub = Microdot()
    app = Microdot()
    seen = {}

    @inner.get('/x')
    async def inner_x(request):
        seen['inner'] = (request.url_prefix, request.subapp, request.route)
        return 'inner'

    @sub.get('/y')
    async def sub_y(request):
        seen['sub'] = (request.url_prefix, request.subapp, request.route)
        return 'sub'

    @app.get('/z')
    async def root_z(request):
        seen['root'] = (request.url_prefix, request.subapp, request.route)
        return 'root'

    sub.mount(inner, url_prefix='/inner')
    app.mount(sub, url_prefix='/sub')
    client = TestClient(app)
    assert (await client.get('/sub/inner/x')).status_code == 200
    assert (await client.get('/sub/y')).status_code == 200
    assert (await client.get('/z')).status_code == 200
    assert seen['inner'][0] == '/sub/inner'
    assert seen['inner'][1] is inner
    assert seen['inner'][2] is inner_x
    assert seen['sub'][0] == '/sub'
    assert seen['sub'][1] is sub
    assert seen['sub'][2] is sub_y
    assert seen['root'][0] == ''
    assert seen['root'][1] is None
    assert seen['root'][2] is root_z


async def test_request_url_prefix_empty_when_mounted_without_prefix():
    sub = Microdot()
    seen = {}

    @sub.get('/y')
    async def sub_y(request):
        seen['values'] = (request.url_prefix, request.subapp)
        return 'sub'

    app = Microdot()
    app.mount(sub)
    res = await TestClient(app).get('/y')
    assert res.status_code == 200
    assert seen['values'][0] == ''
    assert seen['values'][1] is sub


async def test_mount_redirect_relative_to_url_prefix():
    sub = Microdot()

    @sub.get('/old')
    async def old(request):
        return redirect(request.url_prefix + '/new')

    app = Microdot()
    app.mount(sub, url_prefix='/shop')
    res = await TestClient(app).get('/shop/old')
    assert (res.status_code, res.body) == (302, b'')
    assert res.headers['Location'] == '/shop/new'


def _sub_with_hooks(calls):
    """A sub-app whose every hook records its call in ``calls``."""
    sub = Microdot()

    @sub.get('/x')
    async def sub_x(request):
        calls.append('sub route')
        return 'sub x'

    @sub.get('/fail')
    async def sub_fail(request):
        raise ValueError('sub fail')

    @sub.get('/fail-key')
    async def sub_fail_key(request):
        raise KeyError('sub key')

    @sub.get('/abort')
    async def sub_abort(request):
        abort(404)

    @sub.before_request
    async def sub_before(request):
        calls.append('sub before')

    @sub.after_request
    async def sub_after(request, response):
        calls.append('sub after')

    @sub.after_error_request
    async def sub_after_error(request, response):
        calls.append('sub after error')

    @sub.errorhandler(404)
    async def sub_not_found(request):
        return 'sub not found', 404

    @sub.errorhandler(ValueError)
    async def sub_value_error(request, exc):
        return 'sub value error', 400

    return sub


def _parent_with_hooks(calls):
    """A parent app whose every hook records its call in ``calls``."""
    app = Microdot()

    @app.get('/root')
    async def root(request):
        calls.append('root route')
        return 'root'

    @app.get('/root-fail')
    async def root_fail(request):
        raise ValueError('root fail')

    @app.before_request
    async def parent_before(request):
        calls.append('parent before')

    @app.after_request
    async def parent_after(request, response):
        calls.append('parent after')

    @app.after_error_request
    async def parent_after_error(request, response):
        calls.append('parent after error')

    @app.errorhandler(KeyError)
    async def parent_key_error(request, exc):
        return 'parent key error', 400

    return app


async def _mounted_get(path, local=False, quiet=False):
    """GET ``path`` from ``_parent_with_hooks`` with ``_sub_with_hooks`` at
    /sub; return the response and the recorded calls."""
    calls = []
    app = _parent_with_hooks(calls)
    app.mount(_sub_with_hooks(calls), url_prefix='/sub', local=local)
    if quiet:
        return await _get_capturing_stderr(TestClient(app), path), calls
    return await TestClient(app).get(path), calls


async def test_mount_not_local_copies_request_handlers_to_parent():
    res, calls = await _mounted_get('/root')
    assert (res.status_code, res.body) == (200, b'root')
    assert calls == [
        'parent before',
        'sub before',
        'root route',
        'parent after',
        'sub after',
    ]


async def test_mount_not_local_copies_status_handlers_to_parent():
    res, calls = await _mounted_get('/missing')
    assert (res.status_code, res.body) == (404, b'sub not found')
    assert calls == ['parent after error', 'sub after error']


async def test_mount_not_local_copies_exception_handlers_to_parent():
    res, calls = await _mounted_get('/root-fail')
    assert (res.status_code, res.body) == (400, b'sub value error')


async def test_mount_not_local_sub_route_runs_all_handlers():
    res, calls = await _mounted_get('/sub/x')
    assert (res.status_code, res.body) == (200, b'sub x')
    assert calls == [
        'parent before',
        'sub before',
        'sub route',
        'parent after',
        'sub after',
    ]


async def test_mount_local_parent_route_skips_sub_handlers():
    res, calls = await _mounted_get('/root', local=True)
    assert (res.status_code, res.body) == (200, b'root')
    assert calls == ['parent before', 'root route', 'parent after']


async def test_mount_local_sub_route_order():
    res, calls = await _mounted_get('/sub/x', local=True)
    assert (res.status_code, res.body) == (200, b'sub x')
    assert calls == [
        'parent before',
        'sub before',
        'sub route',
        'sub after',
        'parent after',
    ]


async def test_mount_local_nested_order():
    calls = []
    inner = Microdot()
    sub = Microdot()
    app = Microdot()

    def add_hooks(name, target):
        async def before(request):
            calls.append(name + ' before')

        async def after(request, response):
            calls.append(name + ' after')

        target.before_request(before)
        target.after_request(after)

    add_hooks('app', app)
    add_hooks('sub', sub)
    add_hooks('inner', inner)

    @inner.get('/x')
    async def inner_x(request):
        calls.append('route')
        return 'x'

    sub.mount(inner, url_prefix='/inner', local=True)
    app.mount(sub, url_prefix='/sub', local=True)
    res = await TestClient(app).get('/sub/inner/x')
    assert (res.status_code, res.body) == (200, b'x')
    assert calls == [
        'app before',
        'sub before',
        'inner before',
        'route',
        'inner after',
        'sub after',
        'app after',
    ]


async def test_mount_local_request_after_request_runs_last():
    calls = []
    sub = _sub_with_hooks(calls)

    @sub.get('/with-request-hook')
    async def with_request_hook(request):
        request.after_request(request_after)
        return 'ok'

    async def request_after(request, response):
        calls.append('request after')

    app = _parent_with_hooks(calls)
    app.mount(sub, url_prefix='/sub', local=True)
    res = await TestClient(app).get('/sub/with-request-hook')
    assert res.status_code == 200
    assert calls == [
        'parent before',
        'sub before',
        'sub after',
        'parent after',
        'request after',
    ]


async def test_mount_local_sub_error_handler_for_sub_route():
    res, calls = await _mounted_get('/sub/fail', local=True)
    assert (res.status_code, res.body) == (400, b'sub value error')
    assert calls == [
        'parent before',
        'sub before',
        'sub after error',
        'parent after error',
    ]


async def test_mount_local_sub_status_handler_for_sub_route_abort():
    res, calls = await _mounted_get('/sub/abort', local=True)
    assert (res.status_code, res.body) == (404, b'sub not found')


async def test_mount_local_parent_error_handler_for_sub_route():
    res, calls = await _mounted_get('/sub/fail-key', local=True)
    assert (res.status_code, res.body) == (400, b'parent key error')


async def test_mount_local_sub_error_handler_not_for_parent_route():
    calls = []
    app = _parent_with_hooks(calls)

    @app.errorhandler(ValueError)
    async def parent_value_error(request, exc):
        return 'parent value error', 400

    app.mount(_sub_with_hooks(calls), url_prefix='/sub', local=True)
    res = await TestClient(app).get('/root-fail')
    assert (res.status_code, res.body) == (400, b'parent value error')
    assert calls == ['parent before', 'parent after error']


async def test_mount_local_sub_error_handler_not_for_unknown_url():
    res, calls = await _mounted_get('/missing', local=True)
    assert (res.status_code, res.body) == (404, b'Not Found')
    assert calls == ['parent after error']


async def test_mount_local_unhandled_in_parent_route_default_500():
    res, calls = await _mounted_get('/root-fail', local=True, quiet=True)
    assert (res.status_code, res.body) == (500, b'Internal Server Error')


# ---------------------------------------------------------------------------
# shutdown() and find_route()
# ---------------------------------------------------------------------------


def test_shutdown_without_server_does_not_raise():
    app = Microdot()
    app.shutdown()
    assert app.server is None


def test_find_route_unknown_path():
    app = Microdot()

    @app.get('/known')
    async def known(request):
        return 'known'

    @app.get('/users/<int:id>')
    async def user(request, id):
        return 'user'

    assert app.find_route('GET', '/unknown') == (None, None, [])
    assert app.find_route('GET', '/users/abc') == (None, None, [])
    assert Microdot().find_route('GET', '/') == (None, None, [])


async def test_explicit_head_route_is_used_for_head():
    async def head_only(request):
        return '', 200, {'X-Head': 'yes'}

    app = _app_with_route(head_only, '/h', 'route', methods=['HEAD'])
    res = await TestClient(app).request('HEAD', '/h')
    assert res.status_code == 200
    assert res.headers['X-Head'] == 'yes'
    assert res.body == b''


async def test_explicit_head_route_is_listed_in_allow():
    async def head_only(request):
        return ''

    app = _app_with_route(head_only, '/h', 'route', methods=['HEAD'])
    res = await TestClient(app).get('/h')
    assert res.status_code == 405
    assert res.headers['Allow'] == 'HEAD, OPTIONS'
