"""microdot.test_client: TestClient and TestResponse (portable)."""

from microdot import Microdot, Response, abort
from microdot.test_client import TestClient, TestResponse

# ---------------------------------------------------------------------------
# an application that reports what it received
# ---------------------------------------------------------------------------

app = Microdot()


@app.get('/method')
async def method_get(request):
    return 'get:' + request.method


@app.post('/method')
async def method_post(request):
    return 'post:' + request.method


@app.put('/method')
async def method_put(request):
    return 'put:' + request.method


@app.patch('/method')
async def method_patch(request):
    return 'patch:' + request.method


@app.delete('/method')
async def method_delete(request):
    return 'delete:' + request.method


@app.route('/echo', methods=['POST', 'PUT', 'PATCH'])
async def echo(request):
    """Return the request body as it arrived, with its type and length."""
    return request.body, {
        'X-Got-Type': request.headers.get('Content-Type', '-'),
        'X-Got-Length': request.headers.get('Content-Length', '-'),
        'Content-Type': 'application/octet-stream',
    }


@app.post('/json')
async def json_echo(request):
    return {'got': request.json}


@app.get('/header')
async def header(request):
    return request.headers.get('X-Custom', '-')


@app.get('/host')
def host(request):
    return request.headers.get('Host', '-')


@app.get('/text')
async def text(request):
    return 'Hello, \u00e9!'


@app.get('/binary')
async def binary(request):
    return b'\xff\xfe\x00', {'Content-Type': 'application/octet-stream'}


@app.get('/json-out')
async def json_out(request):
    return {'a': [1, 2]}


@app.get('/json-charset')
async def json_charset(request):
    return b'{"a":1}', {'Content-Type': 'application/json; charset=UTF-8'}


@app.get('/json-looking-text')
async def json_looking_text(request):
    return '{"a":1}'


@app.get('/reason')
async def custom_reason(request):
    return Response('x', 299, reason='Custom')


@app.get('/abort')
async def aborted(request):
    abort(404)


@app.get('/created')
async def created(request):
    return 'made', 201, {'X-Id': '7'}


@app.get('/args')
async def args(request):
    return {
        'a': request.args.getlist('a'),
        'b': request.args.get('b'),
        'c': request.args.get('c'),
    }


@app.get('/path')
async def path(request):
    return request.path


@app.get('/handled')
async def handled(request):
    return Response.already_handled


# ---------------------------------------------------------------------------
# cookie applications
# ---------------------------------------------------------------------------


def cookie_app(set_cookies=None, delete=None):
    """An app whose routes report the Cookie header it gets.

    ``GET /set`` sets the cookies in ``set_cookies`` (a list of
    ``(args, kwargs)`` for ``set_cookie``), ``GET /raw`` returns raw
    Set-Cookie headers given in ``set_cookies`` as strings, and
    ``GET /delete`` deletes a cookie with ``delete`` = (name, kwargs).
    Every other path returns the Cookie header or '-'.
    """
    cookie_app = Microdot()

    @cookie_app.get('/set')
    async def set_cookies_route(request):
        res = Response('set')
        for cookie_args, cookie_kwargs in set_cookies or []:
            res.set_cookie(*cookie_args, **cookie_kwargs)
        return res

    @cookie_app.get('/raw')
    async def raw(request):
        return 'raw', {'Set-Cookie': list(set_cookies or [])}

    @cookie_app.get('/delete')
    async def delete_route(request):
        res = Response('deleted')
        res.delete_cookie(delete[0], **delete[1])
        return res

    @cookie_app.get('/')
    async def root(request):
        return request.headers.get('Cookie', '-')

    @cookie_app.get('/<path:rest>')
    async def anything(request, rest):
        return request.headers.get('Cookie', '-')

    @cookie_app.get('/dict')
    async def as_dict(request):
        return request.cookies

    return cookie_app


async def cookie_seen(client, path):
    res = await client.get(path)
    assert res.status_code == 200
    return res.text


# ---------------------------------------------------------------------------
# methods
# ---------------------------------------------------------------------------


async def test_get_reaches_get_route():
    res = await TestClient(app).get('/method')
    assert res.status_code == 200
    assert res.text == 'get:GET'


async def test_post_reaches_post_route():
    res = await TestClient(app).post('/method')
    assert res.text == 'post:POST'


async def test_put_reaches_put_route():
    res = await TestClient(app).put('/method')
    assert res.text == 'put:PUT'


async def test_patch_reaches_patch_route():
    res = await TestClient(app).patch('/method')
    assert res.text == 'patch:PATCH'


async def test_delete_reaches_delete_route():
    res = await TestClient(app).delete('/method')
    assert res.text == 'delete:DELETE'


async def test_request_with_custom_method():
    res = await TestClient(app).request('POST', '/method')
    assert res.text == 'post:POST'


async def test_unknown_path_is_404():
    res = await TestClient(app).get('/nowhere')
    assert res.status_code == 404
    assert res.body == b'Not Found'


async def test_sync_handler_through_client():
    res = await TestClient(app).get('/host')
    assert res.status_code == 200
    assert res.text == 'example.com:1234'


# ---------------------------------------------------------------------------
# request bodies and headers
# ---------------------------------------------------------------------------


async def test_dict_body_sent_as_json():
    res = await TestClient(app).post('/echo', body={'a': 1})
    assert res.body == b'{"a":1}'
    assert res.headers['X-Got-Type'] == 'application/json'
    assert res.headers['X-Got-Length'] == '7'


async def test_list_body_sent_as_json():
    res = await TestClient(app).put('/echo', body=[1, 'two', None])
    assert res.body == b'[1,"two",null]'
    assert res.headers['X-Got-Type'] == 'application/json'


async def test_dict_body_parsed_by_request_json():
    res = await TestClient(app).post('/json', body={'k': [True, None]})
    assert res.json == {'got': {'k': [True, None]}}


async def test_json_body_keeps_explicit_content_type():
    res = await TestClient(app).patch(
        '/echo', headers={'Content-Type': 'application/ld+json'}, body=[1]
    )
    assert res.body == b'[1]'
    assert res.headers['X-Got-Type'] == 'application/ld+json'


async def test_str_body_sent_as_utf8():
    res = await TestClient(app).post('/echo', body='h\u00e9 \u2603')
    assert res.body == b'h\xc3\xa9 \xe2\x98\x83'
    assert res.headers['X-Got-Length'] == '7'
    assert res.headers['X-Got-Type'] == '-'


async def test_bytes_body_sent_as_is():
    res = await TestClient(app).post('/echo', body=b'\xff\x00\r\n')
    assert res.body == b'\xff\x00\r\n'
    assert res.headers['X-Got-Length'] == '4'
    assert res.headers['X-Got-Type'] == '-'


async def test_no_body_sends_no_content_length():
    res = await TestClient(app).post('/echo')
    assert res.body == b''
    assert res.headers['X-Got-Length'] == '-'


async def test_custom_header_reaches_app():
    res = await TestClient(app).get('/header', headers={'X-Custom': 'v 1'})
    assert res.text == 'v 1'


async def test_custom_header_name_case_insensitive():
    res = await TestClient(app).get('/header', headers={'x-custom': 'low'})
    assert res.text == 'low'


async def test_custom_host_header_replaces_default():
    res = await TestClient(app).get('/host', headers={'Host': 'a.test'})
    assert res.text == 'a.test'


async def test_query_string_reaches_request_args():
    res = await TestClient(app).get('/args?a=1&b=two%20x&a=3&c=d+e')
    assert res.json == {'a': ['1', '3'], 'b': 'two x', 'c': 'd e'}


async def test_query_string_not_in_request_path():
    res = await TestClient(app).get('/path?x=1')
    assert res.text == '/path'


# ---------------------------------------------------------------------------
# TestResponse
# ---------------------------------------------------------------------------


async def test_response_is_test_response():
    res = await TestClient(app).get('/text')
    assert isinstance(res, TestResponse)


async def test_response_status_code():
    res = await TestClient(app).get('/created')
    assert res.status_code == 201


async def test_response_reason_none_by_default():
    res = await TestClient(app).get('/text')
    assert res.reason is None


async def test_response_reason_none_for_errors():
    res = await TestClient(app).get('/abort')
    assert res.status_code == 404
    assert res.reason is None


async def test_response_reason_set_by_app():
    res = await TestClient(app).get('/reason')
    assert res.status_code == 299
    assert res.reason == 'Custom'


async def test_response_headers():
    res = await TestClient(app).get('/created')
    assert res.headers['X-Id'] == '7'
    assert res.headers['Content-Length'] == '4'
    assert res.headers['Content-Type'] == 'text/plain; charset=UTF-8'


async def test_response_headers_case_insensitive():
    res = await TestClient(app).get('/created')
    assert res.headers['content-type'] == 'text/plain; charset=UTF-8'
    assert res.headers['x-id'] == '7'


async def test_response_body_bytes():
    res = await TestClient(app).get('/text')
    assert res.body == b'Hello, \xc3\xa9!'


async def test_response_text():
    res = await TestClient(app).get('/text')
    assert res.text == 'Hello, \u00e9!'


async def test_response_text_none_for_non_utf8():
    res = await TestClient(app).get('/binary')
    assert res.body == b'\xff\xfe\x00'
    assert res.text is None


async def test_response_json_parsed():
    res = await TestClient(app).get('/json-out')
    assert res.json == {'a': [1, 2]}
    assert res.text == '{"a":[1,2]}'


async def test_response_json_parsed_with_charset():
    res = await TestClient(app).get('/json-charset')
    assert res.json == {'a': 1}


async def test_response_json_none_for_text():
    res = await TestClient(app).get('/json-looking-text')
    assert res.text == '{"a":1}'
    assert res.json is None


async def test_response_json_none_for_binary():
    res = await TestClient(app).get('/binary')
    assert res.json is None


async def test_already_handled_returns_none():
    res = await TestClient(app).get('/handled')
    assert res is None


# ---------------------------------------------------------------------------
# HEAD
# ---------------------------------------------------------------------------


async def test_head_has_empty_body():
    res = await TestClient(app).request('HEAD', '/text')
    assert res.status_code == 200
    assert res.body == b''


async def test_head_has_get_headers():
    res = await TestClient(app).request('HEAD', '/text')
    assert res.headers['Content-Length'] == '10'
    assert res.headers['Content-Type'] == 'text/plain; charset=UTF-8'


async def test_head_text_is_empty_and_json_none():
    res = await TestClient(app).request('HEAD', '/json-out')
    assert res.text == ''
    assert res.json is None
    assert res.headers['Content-Type'] == 'application/json'


# ---------------------------------------------------------------------------
# cookies
# ---------------------------------------------------------------------------


async def test_constructor_cookie_sent():
    client = TestClient(cookie_app(), cookies={'a': '1'})
    assert await cookie_seen(client, '/') == 'a=1'


async def test_constructor_cookies_all_sent():
    client = TestClient(cookie_app(), cookies={'a': '1', 'b': 'two'})
    res = await client.get('/dict')
    assert res.json == {'a': '1', 'b': 'two'}


async def test_constructor_cookie_sent_to_every_path():
    client = TestClient(cookie_app(), cookies={'a': '1'})
    assert await cookie_seen(client, '/deep/path') == 'a=1'


async def test_no_cookies_no_header():
    client = TestClient(cookie_app())
    assert await cookie_seen(client, '/') == '-'


async def test_set_cookie_persisted():
    client = TestClient(cookie_app([(('session', 'abc'), {})]))
    await client.get('/set')
    assert await cookie_seen(client, '/') == 'session=abc'


async def test_set_cookie_persisted_across_requests():
    client = TestClient(cookie_app([(('session', 'abc'), {})]))
    await client.get('/set')
    await client.get('/other')
    assert await cookie_seen(client, '/again') == 'session=abc'


async def test_set_cookie_response_header_visible():
    client = TestClient(cookie_app([(('session', 'abc'), {'path': '/'})]))
    res = await client.get('/set')
    assert res.headers['Set-Cookie'] == ['session=abc; Path=/']


async def test_set_cookie_replaces_constructor_cookie():
    client = TestClient(cookie_app([(('a', 'new'), {})]), cookies={'a': '1'})
    await client.get('/set')
    assert await cookie_seen(client, '/') == 'a=new'


async def test_request_cookie_header_merged_with_stored():
    client = TestClient(cookie_app(), cookies={'a': '1'})
    res = await client.get('/dict', headers={'Cookie': 'b=2'})
    assert res.json == {'a': '1', 'b': '2'}


def path_client():
    return TestClient(cookie_app([(('adm', '1'), {'path': '/admin'})]))


async def test_cookie_path_sent_to_exact_path():
    client = path_client()
    await client.get('/set')
    assert await cookie_seen(client, '/admin') == 'adm=1'


async def test_cookie_path_sent_to_sub_path():
    client = path_client()
    await client.get('/set')
    assert await cookie_seen(client, '/admin/x') == 'adm=1'


async def test_cookie_path_sent_with_query_string():
    client = path_client()
    await client.get('/set')
    assert await cookie_seen(client, '/admin?next=/') == 'adm=1'


async def test_cookie_path_not_sent_to_root():
    client = path_client()
    await client.get('/set')
    assert await cookie_seen(client, '/') == '-'


async def test_cookie_path_not_sent_to_prefix_lookalike():
    client = path_client()
    await client.get('/set')
    assert await cookie_seen(client, '/administrator') == '-'


async def test_cookie_path_not_sent_to_other_path():
    client = path_client()
    await client.get('/set')
    assert await cookie_seen(client, '/public/admin') == '-'


async def test_cookie_path_with_trailing_slash():
    client = TestClient(cookie_app([(('a', '1'), {'path': '/docs/'})]))
    await client.get('/set')
    assert await cookie_seen(client, '/docs/page') == 'a=1'
    assert await cookie_seen(client, '/docsx') == '-'


async def test_delete_cookie_removes_it():
    client = TestClient(cookie_app(delete=('a', {})), cookies={'a': '1'})
    await client.get('/delete')
    assert await cookie_seen(client, '/') == '-'


async def test_delete_cookie_keeps_others():
    client = TestClient(
        cookie_app(delete=('a', {})), cookies={'a': '1', 'b': '2'}
    )
    await client.get('/delete')
    assert await cookie_seen(client, '/') == 'b=2'


async def test_delete_cookie_with_path_removes_it():
    client = TestClient(
        cookie_app(
            [(('adm', '1'), {'path': '/admin'})],
            delete=('adm', {'path': '/admin'}),
        )
    )
    await client.get('/set')
    await client.get('/delete')
    assert await cookie_seen(client, '/admin') == '-'


async def test_delete_cookie_response_header():
    client = TestClient(cookie_app(delete=('a', {})), cookies={'a': '1'})
    res = await client.get('/delete')
    assert res.headers['Set-Cookie'] == [
        'a=; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0'
    ]


async def test_expires_in_past_removes_cookie():
    raw = ['a=x; Expires=Wed, 21 Oct 2015 07:28:00 GMT']
    client = TestClient(cookie_app(raw), cookies={'a': '1'})
    await client.get('/raw')
    assert await cookie_seen(client, '/') == '-'


async def test_expires_in_past_not_stored():
    raw = ['a=x; Expires=Wed, 21 Oct 2015 07:28:00 GMT']
    client = TestClient(cookie_app(raw))
    await client.get('/raw')
    assert await cookie_seen(client, '/') == '-'


async def test_expires_in_future_keeps_cookie():
    raw = ['a=x; Expires=Fri, 01 Jan 2100 00:00:00 GMT']
    client = TestClient(cookie_app(raw))
    await client.get('/raw')
    assert await cookie_seen(client, '/') == 'a=x'


async def test_max_age_zero_removes_cookie():
    client = TestClient(
        cookie_app([(('a', 'x'), {'max_age': 0})]), cookies={'a': '1'}
    )
    await client.get('/set')
    assert await cookie_seen(client, '/') == '-'


async def test_negative_max_age_removes_cookie():
    client = TestClient(cookie_app(['a=x; Max-Age=-1']), cookies={'a': '1'})
    await client.get('/raw')
    assert await cookie_seen(client, '/') == '-'


async def test_positive_max_age_keeps_cookie():
    client = TestClient(cookie_app([(('a', 'x'), {'max_age': 60})]))
    await client.get('/set')
    assert await cookie_seen(client, '/') == 'a=x'


def same_name_client():
    return TestClient(
        cookie_app([
            (('a', 'root'), {'path': '/'}),
            (('a', 'admin'), {'path': '/admin'}),
        ])
    )  # fmt: skip


async def test_same_name_two_paths_both_sent_longest_first():
    client = same_name_client()
    await client.get('/set')
    assert await cookie_seen(client, '/admin/x') == 'a=admin; a=root'


async def test_same_name_two_paths_only_root_outside():
    client = same_name_client()
    await client.get('/set')
    assert await cookie_seen(client, '/other') == 'a=root'


async def test_same_name_delete_one_path_keeps_other():
    client = TestClient(
        cookie_app(
            [
                (('a', 'root'), {'path': '/'}),
                (('a', 'admin'), {'path': '/admin'}),
            ],
            delete=('a', {'path': '/admin'}),
        )
    )
    await client.get('/set')
    await client.get('/delete')
    assert await cookie_seen(client, '/admin/x') == 'a=root'


async def test_cookies_are_per_client():
    shared_app = cookie_app([(('a', '1'), {})])
    first = TestClient(shared_app)
    await first.get('/set')
    second = TestClient(shared_app)
    assert await cookie_seen(second, '/') == '-'
