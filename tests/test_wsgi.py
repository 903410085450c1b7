"""microdot.wsgi: the WSGI adapter called directly with environ dicts and
a recording ``start_response`` (exact status lines, header lists and body
bytes), over a socket pair standing in for Gunicorn's socket, under the
real ``wsgiref`` server, and a few checks against a real Gunicorn (sync
and gthread workers) for what ``tests/test_deploy.py`` does not cover:
the gthread worker, the bytes on the wire around a WebSocket, and a
WebSocket cut by a sync worker's timeout.
"""

# runtime: cpython

import asyncio
import gc
import io
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import wsgiref.simple_server
import wsgiref.validate
from wsgiref.util import setup_testing_defaults

import pytest
from adapterutil import Limits, add_json_form_routes
from websockets.sync.client import connect

from microdot import Response
from microdot.sse import with_sse
from microdot.websocket import WebSocket, encode_frame, with_websocket
from microdot.wsgi import Microdot

TIMEOUT = 5  # seconds for one exchange or one thread
TEXT_TYPE = ('Content-Type', 'text/plain; charset=UTF-8')
WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ=='
WS_ACCEPT = b's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
UPGRADE_HEAD = (
    b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
    b'Connection: Upgrade\r\nSec-WebSocket-Accept: ' + WS_ACCEPT + b'\r\n\r\n'
)
WEBSOCKET_501 = (
    b'WebSocket needs Gunicorn (sync or gthread worker, without TLS) or '
    b'the ASGI adapter (microdot.asgi)'
)


# -- helpers ------------------------------------------------------------------


class StartResponse:
    """A ``start_response`` that records its one call."""

    def __init__(self):
        self.calls = []

    def __call__(self, status, headers, exc_info=None):
        self.calls.append((status, headers))
        return self.write

    def write(self, data):  # pragma: no cover - the adapter never writes
        raise AssertionError('write() called')

    @property
    def status(self):
        assert len(self.calls) == 1, self.calls
        return self.calls[0][0]

    @property
    def headers(self):
        assert len(self.calls) == 1, self.calls
        return self.calls[0][1]


class RecordingInput:
    """A ``wsgi.input`` that records the size of every read."""

    def __init__(self, data):
        self.stream = io.BytesIO(data)
        self.reads = []

    def read(self, size=-1):
        self.reads.append(size)
        return self.stream.read(size)

    def readline(self, size=-1):
        self.reads.append(('line', size))
        return self.stream.readline(size)


def environ(path='/', method='GET', query='', headers=None, body=None,
            **extra):  # fmt: skip
    """An HTTP/1.1 environ; ``path`` is PATH_INFO (latin-1 string)."""
    env = {
        'REQUEST_METHOD': method,
        'SCRIPT_NAME': '',
        'PATH_INFO': path,
        'QUERY_STRING': query,
        'SERVER_PROTOCOL': 'HTTP/1.1',
        'REMOTE_ADDR': '10.1.2.3',
        'REMOTE_PORT': '54321',
    }
    for name, value in (headers or {}).items():
        env['HTTP_' + name.upper().replace('-', '_')] = value
    if body is not None:
        env['wsgi.input'] = body if hasattr(body, 'read') else (
            io.BytesIO(body))  # fmt: skip
        if not hasattr(body, 'read'):
            env['CONTENT_LENGTH'] = str(len(body))
    env.update(extra)
    setup_testing_defaults(env)
    return env


def call(app, env):
    """Run one request through the app like a server: return ``(status,
    headers, body)`` and close the iterable."""
    start_response = StartResponse()
    result = app(env, start_response)
    try:
        body = b''.join(result)
    finally:
        if hasattr(result, 'close'):
            result.close()
    return start_response.status, start_response.headers, body


def get(app, path='/', **kwargs):
    return call(app, environ(path, **kwargs))


def text_headers(body):
    return [('Content-Length', str(len(body))), TEXT_TYPE]


def json_app():
    """An app whose ``/info/<path:rest>`` route describes the request."""
    app = Microdot()

    @app.route('/info/<path:rest>', methods=['GET', 'POST'])
    async def info(request, rest):
        return {
            'path': request.path,
            'rest': rest,
            'url': request.url,
            'query_string': request.query_string,
            'args': {k: request.args.getlist(k) for k in request.args},
        }

    return app


# -- routing, paths and query strings ----------------------------------------


def test_text_response():
    app = Microdot()

    @app.route('/')
    async def index(request):
        return 'Hello, World!'

    assert get(app) == ('200 OK', text_headers(b'Hello, World!'),
                        b'Hello, World!')  # fmt: skip


def test_not_found():
    assert get(Microdot(), '/missing') == (
        '404 Not Found',
        text_headers(b'Not Found'),
        b'Not Found',
    )


def test_method_not_allowed_has_allow_header():
    app = Microdot()

    @app.route('/')
    async def index(request):
        return 'x'

    status, headers, body = get(app, method='POST')
    assert status == '405 Method Not Allowed'
    assert headers == [('Allow', 'GET, HEAD, OPTIONS')] + text_headers(
        b'Method Not Allowed'
    )
    assert body == b'Method Not Allowed'


def test_route_arguments():
    app = Microdot()

    @app.route('/users/<int:id>')
    async def user(request, id):
        return {'id': id}

    assert get(app, '/users/42') == (
        '200 OK',
        [('Content-Type', 'application/json'), ('Content-Length', '9')],
        b'{"id":42}',
    )


def test_query_string_args():
    status, _, body = get(json_app(), '/info/x',
                          query='a=1&a=2&b=x+y&c=%C3%A9%26')  # fmt: skip
    assert status == '200 OK'
    assert body == (
        b'{"path":"/info/x","rest":"x","url":"/info/x?a=1&a=2&b=x+y&c=%C3%A9'
        b'%26","query_string":"a=1&a=2&b=x+y&c=%C3%A9%26","args":{"a":["1",'
        b'"2"],"b":["x y"],"c":["\xc3\xa9&"]}}'
    )


def test_non_ascii_path_from_latin1_path_info():
    # the client sent /info/caf%C3%A9: PATH_INFO holds the UTF-8 bytes as
    # latin-1 characters (PEP 3333)
    _, _, body = get(json_app(), '/info/caf\xc3\xa9')
    assert body == (
        b'{"path":"/info/caf\xc3\xa9","rest":"caf\xc3\xa9","url":"/info/caf'
        b'%C3%A9","query_string":"","args":{}}'
    )


def test_decoded_percent_and_question_mark_stay_in_the_path():
    # the client sent /info/50%25%3Fa%2Fb%20c: PATH_INFO is decoded
    _, _, body = get(json_app(), '/info/50%?a/b c')
    assert body == (
        b'{"path":"/info/50%?a/b c","rest":"50%?a/b c","url":"/info/50%25%3Fa'
        b'/b%20c","query_string":"","args":{}}'
    )


def test_raw_non_ascii_query_bytes_are_utf8():
    _, _, body = get(json_app(), '/info/q', query='x=caf\xc3\xa9')
    assert body.endswith(b'"args":{"x":["caf\xc3\xa9"]}}')


def test_invalid_utf8_path_is_400():
    app = json_app()
    assert get(app, '/info/\xff') == (
        '400 Bad Request',
        text_headers(b'Bad Request'),
        b'Bad Request',
    )


def test_empty_path_info_is_root():
    app = Microdot()

    @app.route('/')
    async def index(request):
        return request.path

    assert get(app, '') == ('200 OK', text_headers(b'/'), b'/')


# -- request headers, environ, bodies -----------------------------------------


def header_app():
    app = Microdot()

    @app.route('/headers')
    async def headers(request):
        return {
            'x-custom': request.headers.get('X-Custom'),
            'content-type': request.content_type,
            'cookies': request.cookies,
        }

    return app


def test_headers_are_read_from_the_environ():
    _, _, body = get(header_app(), '/headers', headers={'X-Custom': 'abc'},
                     CONTENT_TYPE='text/x-thing')  # fmt: skip
    assert body == (
        b'{"x-custom":"abc","content-type":"text/x-thing","cookies":{}}'
    )


def test_non_ascii_header_value_is_decoded_as_utf8():
    _, _, body = get(header_app(), '/headers',
                     headers={'X-Custom': 'caf\xc3\xa9'})  # fmt: skip
    assert body.startswith(b'{"x-custom":"caf\xc3\xa9",')


def test_header_value_that_is_not_utf8_is_400():
    status, _, body = get(header_app(), '/headers',
                          headers={'X-Custom': 'caf\xe9'})  # fmt: skip
    assert (status, body) == ('400 Bad Request', b'Bad Request')


def test_repeated_cookie_fields_joined_by_the_server():
    # servers join repeated fields with ',' (gunicorn, wsgiref)
    _, _, body = get(header_app(), '/headers',
                     headers={'Cookie': 'a=1; b=2,c=3, d=4'})  # fmt: skip
    assert body.endswith(b'"cookies":{"a":"1","b":"2","c":"3","d":"4"}}')


def test_comma_inside_a_cookie_value_is_kept():
    _, _, body = get(header_app(), '/headers',
                     headers={'Cookie': 'a=x,y; b=2'})  # fmt: skip
    assert body.endswith(b'"cookies":{"a":"x,y","b":"2"}}')


def test_request_environ_and_connection_details():
    app = Microdot()
    seen = {}

    @app.route('/')
    async def index(request):
        seen['environ'] = request.environ
        seen['details'] = (request.client_addr, request.scheme,
                           request.http_version, request.method)  # fmt: skip
        return 'ok'

    env = environ(**{'wsgi.url_scheme': 'https'})
    call(app, env)
    assert seen['environ'] is env
    assert seen['details'] == (('10.1.2.3', 54321), 'https', '1.1', 'GET')


def test_http_1_0_request():
    app = Microdot()

    @app.route('/')
    async def index(request):
        return request.http_version

    assert get(app, SERVER_PROTOCOL='HTTP/1.0')[2] == b'1.0'


def body_app():
    app = Microdot()
    add_json_form_routes(app)

    @app.post('/body')
    async def body(request):
        return request.body, {'Content-Type': 'application/octet-stream'}

    return app


def test_json_body():
    _, headers, body = get(body_app(), '/json', method='POST',
                           body=b'{"a":[1,"\xc3\xa9"]}',
                           CONTENT_TYPE='application/json')  # fmt: skip
    assert headers == [('Content-Type', 'application/json'),
                       ('Content-Length', '23')]  # fmt: skip
    assert body == b'{"echo":{"a":[1,"\xc3\xa9"]}}'


def test_form_body():
    _, _, body = get(
        body_app(),
        '/form',
        method='POST',
        body=b'name=a+b%26c&x=1&x=2',
        CONTENT_TYPE='application/x-www-form-urlencoded',
    )
    assert body == b'{"name":["a b&c"],"x":["1","2"]}'


def test_body_shorter_than_content_length_is_400():
    env = environ('/body', method='POST', body=io.BytesIO(b'12345'),
                  CONTENT_LENGTH='10')  # fmt: skip
    assert call(body_app(), env) == (
        '400 Bad Request',
        text_headers(b'Bad Request'),
        b'Bad Request',
    )


def test_invalid_content_length_is_400():
    env = environ('/body', method='POST', body=io.BytesIO(b'12345'),
                  CONTENT_LENGTH='5x')  # fmt: skip
    assert call(body_app(), env)[0] == '400 Bad Request'


def test_body_over_max_content_length_is_413_without_reading_it():
    wsgi_input = RecordingInput(b'x' * 100)
    env = environ('/body', method='POST', body=wsgi_input,
                  CONTENT_LENGTH='100')  # fmt: skip
    with Limits(max_content_length=99):
        result = call(body_app(), env)
    assert result == ('413 Content Too Large',
                      text_headers(b'Content Too Large'),
                      b'Content Too Large')  # fmt: skip
    assert wsgi_input.reads == []


def stream_app(chunk_size):
    app = Microdot()

    @app.post('/upload')
    async def upload(request):
        if chunk_size is None:
            data = await request.stream.read()
        else:
            data = b''
            for _ in range(10000):
                chunk = await request.stream.read(chunk_size)
                if not chunk:
                    break
                data += chunk
        return {'body': len(request.body), 'stream': len(data),
                'same': data == BIG}  # fmt: skip

    return app


BIG = bytes(range(256)) * 1200  # 307200 bytes


def test_large_body_is_read_from_wsgi_input_as_the_handler_reads():
    wsgi_input = RecordingInput(BIG)
    env = environ('/upload', method='POST', body=wsgi_input,
                  CONTENT_LENGTH=str(len(BIG)))  # fmt: skip
    with Limits(max_body_length=1024, max_content_length=1 << 20):
        _, _, body = call(stream_app(4096), env)
    assert body == b'{"body":0,"stream":307200,"same":true}'
    assert wsgi_input.reads == [4096] * 75  # 75 * 4096 = 307200


def test_whole_large_body_from_request_stream_is_read_in_pieces():
    wsgi_input = RecordingInput(BIG)
    env = environ('/upload', method='POST', body=wsgi_input,
                  CONTENT_LENGTH=str(len(BIG)))  # fmt: skip
    with Limits(max_body_length=1024, max_content_length=1 << 20):
        _, _, body = call(stream_app(None), env)
    assert body == b'{"body":0,"stream":307200,"same":true}'
    assert wsgi_input.reads == [65536] * 4 + [45056]


def test_large_body_cut_short_is_400_when_read():
    env = environ('/upload', method='POST', body=io.BytesIO(b'x' * 5000),
                  CONTENT_LENGTH='8000')  # fmt: skip
    with Limits(max_body_length=1024):
        result = call(stream_app(4096), env)
    assert result == (
        '400 Bad Request',
        text_headers(b'Bad Request'),
        b'Bad Request',
    )


def test_stream_readline_and_readexactly():
    app = Microdot()

    @app.post('/lines')
    async def lines(request):
        first = await request.stream.readline()
        exact = await request.stream.readexactly(3)
        rest = await request.stream.read()
        return {'first': first.decode(), 'exact': exact.decode(),
                'rest': len(rest)}  # fmt: skip

    data = b'line one\nabc' + b'z' * 2000
    env = environ('/lines', method='POST', body=data)
    with Limits(max_body_length=100):
        _, _, body = call(app, env)
    assert body == b'{"first":"line one\\n","exact":"abc","rest":2000}'


def test_small_body_is_read_whole_into_request_body():
    wsgi_input = RecordingInput(b'abc' * 10)
    env = environ('/body', method='POST', body=wsgi_input,
                  CONTENT_LENGTH='30')  # fmt: skip
    assert call(body_app(), env)[2] == b'abc' * 10
    assert wsgi_input.reads == [30]


def chunked_environ(data, terminated=True):
    env = environ('/upload', method='POST', body=RecordingInput(data),
                  headers={'Transfer-Encoding': 'chunked'})  # fmt: skip
    if terminated:
        env['wsgi.input_terminated'] = True
    return env


def test_small_chunked_body_from_a_terminated_input():
    env = chunked_environ(b'abc' * 10)
    app = Microdot()

    @app.post('/upload')
    async def upload(request):
        return {
            'body': request.body.decode(),
            'length': request.content_length,
        }

    assert call(app, env)[2] == (
        b'{"body":"abcabcabcabcabcabcabcabcabcabc","length":30}'
    )


def test_large_chunked_body_from_a_terminated_input_is_streamed():
    env = chunked_environ(BIG)
    with Limits(max_body_length=1024, max_content_length=1 << 20):
        _, _, body = call(stream_app(8192), env)
    assert body == b'{"body":0,"stream":307200,"same":true}'
    reads = env['wsgi.input'].reads
    assert max(reads) <= 8192 and len(reads) > 30


def test_chunked_body_over_max_content_length_is_413():
    env = chunked_environ(b'x' * 3000)
    with Limits(max_body_length=1000, max_content_length=2000):
        status, _, body = call(stream_app(500), env)
    assert (status, body) == ('413 Content Too Large', b'Content Too Large')


def test_chunked_body_without_input_terminated_is_411():
    env = chunked_environ(b'abc', terminated=False)
    status, _, body = call(stream_app(100), env)
    assert (status, body) == ('411 Length Required', b'Length Required')
    assert env['wsgi.input'].reads == []


# -- responses ----------------------------------------------------------------


def test_set_cookie_list_gives_one_header_each():
    app = Microdot()

    @app.route('/')
    async def index(request):
        res = Response('ok')
        res.set_cookie('a', '1')
        res.set_cookie('b', 'two', path='/', http_only=True)
        return res

    assert get(app) == ('200 OK', [
        ('Set-Cookie', 'a=1'),
        ('Set-Cookie', 'b=two; Path=/; HttpOnly'),
        ('Content-Length', '2'),
        TEXT_TYPE,
    ], b'ok')  # fmt: skip


def test_custom_reason_and_unknown_status():
    app = Microdot()

    @app.route('/reason')
    async def reason(request):
        return Response('x', 299, reason='Fine Indeed')

    @app.route('/unknown')
    async def unknown(request):
        return 'y', 599

    assert get(app, '/reason')[0] == '299 Fine Indeed'
    assert get(app, '/unknown')[0] == '599 N/A'


def test_no_content_response_has_no_body_headers():
    app = Microdot()

    @app.route('/')
    async def index(request):
        return '', 204

    assert get(app) == ('204 No Content', [], b'')


def test_hop_by_hop_headers_are_left_to_the_server():
    app = Microdot()

    @app.route('/')
    async def index(request):
        return 'ok', {'Connection': 'close', 'Keep-Alive': 'timeout=5',
                      'X-Kept': '1'}  # fmt: skip

    assert get(app)[1] == [('X-Kept', '1')] + text_headers(b'ok')


def test_non_ascii_header_value_is_sent_as_utf8_bytes():
    app = Microdot()

    @app.route('/')
    async def index(request):
        return 'ok', {'X-Name': 'café ✓'}

    headers = get(app)[1]
    assert headers[0] == ('X-Name', 'café ✓'.encode().decode('latin-1'))


def test_header_with_newline_is_a_bare_500(capsys):
    app = Microdot()

    @app.route('/')
    async def index(request):
        return 'ok', {'X-Bad': 'a\r\nSet-Cookie: evil=1'}

    assert get(app) == ('500 Internal Server Error',
                        [('Content-Length', '0')], b'')  # fmt: skip
    assert 'ValueError' in capsys.readouterr().err


def test_head_has_get_headers_and_no_body():
    app = Microdot()

    @app.route('/')
    async def index(request):
        return 'Hello, World!'

    start_response = StartResponse()
    result = app(environ(method='HEAD'), start_response)
    assert result == []
    assert start_response.status == '200 OK'
    assert start_response.headers == text_headers(b'Hello, World!')


def test_handler_exception_is_500(capsys):
    app = Microdot()

    @app.route('/')
    async def index(request):
        raise RuntimeError('boom')

    assert get(app) == ('500 Internal Server Error',
                        text_headers(b'Internal Server Error'),
                        b'Internal Server Error')  # fmt: skip
    assert 'RuntimeError: boom' in capsys.readouterr().err


def test_error_handler_sees_request_environ_for_bad_input():
    app = Microdot()

    @app.errorhandler(400)
    async def bad(request):
        return 'bad ' + request.environ['PATH_INFO'].encode(
            'latin-1').hex(), 400  # fmt: skip

    assert get(app, '/\xff')[2] == b'bad 2fff'


# -- streamed responses -------------------------------------------------------


def test_streamed_chunks_are_produced_as_the_server_iterates():
    app = Microdot()
    events = []

    @app.route('/')
    async def index(request):
        def chunks():
            for i in range(3):
                events.append('produce %d' % i)
                yield 'chunk %d\n' % i

        return chunks()

    start_response = StartResponse()
    result = app(environ(), start_response)
    assert start_response.status == '200 OK'
    assert start_response.headers == [TEXT_TYPE]
    assert events == []
    iterator = iter(result)
    assert next(iterator) == b'chunk 0\n'
    assert events == ['produce 0']
    assert next(iterator) == b'chunk 1\n'
    assert events == ['produce 0', 'produce 1']
    assert list(iterator) == [b'chunk 2\n']
    result.close()


def test_async_generator_body_runs_on_the_loop_between_chunks():
    app = Microdot()
    events = []

    @app.route('/')
    async def index(request):
        async def chunks():
            for i in range(3):
                await asyncio.sleep(0.01)
                events.append(i)
                yield b'%d' % i

        return chunks()

    start_response = StartResponse()
    result = app(environ(), start_response)
    iterator = iter(result)
    assert next(iterator) == b'0'
    assert events == [0]
    assert list(iterator) == [b'1', b'2']
    result.close()


def test_close_closes_a_body_left_unfinished():
    app = Microdot()
    state = []

    @app.route('/')
    async def index(request):
        async def chunks():
            try:
                for i in range(1000):
                    yield b'%d' % i
            finally:
                state.append('closed')

        return chunks()

    result = app(environ(), StartResponse())
    assert next(iter(result)) == b'0'
    assert state == []
    result.close()
    assert state == ['closed']
    result.close()  # once only
    assert state == ['closed']


def test_close_cancels_an_sse_task():
    app = Microdot()
    state = []

    @app.route('/events')
    @with_sse
    async def events(request, sse):
        try:
            for i in range(1000):
                await sse.send(i)
        except asyncio.CancelledError:
            state.append('cancelled')
            raise

    start_response = StartResponse()
    result = app(environ('/events'), start_response)
    assert start_response.headers == [
        ('Content-Type', 'text/event-stream'),
        ('Cache-Control', 'no-cache'),
    ]
    iterator = iter(result)
    assert next(iterator) == b'data: 0\n\n'
    assert next(iterator) == b'data: 1\n\n'
    result.close()
    assert state == ['cancelled']


def test_head_of_a_streamed_response_closes_the_body_unread():
    app = Microdot()
    generators = []

    @app.route('/')
    async def index(request):
        def chunks():
            yield b'never'

        generators.append(chunks())
        return generators[0]

    start_response = StartResponse()
    assert app(environ(method='HEAD'), start_response) == []
    assert start_response.headers == [TEXT_TYPE]
    assert generators[0].gi_frame is None  # closed


def test_error_in_a_streamed_body_propagates_to_the_server():
    app = Microdot()
    state = []

    @app.route('/')
    async def index(request):
        def chunks():
            try:
                yield b'first'
                raise RuntimeError('broken body')
            finally:
                state.append('finished')

        return chunks()

    result = app(environ(), StartResponse())
    iterator = iter(result)
    assert next(iterator) == b'first'
    with pytest.raises(RuntimeError, match='broken body'):
        next(iterator)
    result.close()
    assert state == ['finished']


def test_file_body_is_streamed():
    app = Microdot()

    @app.route('/')
    async def index(request):
        res = Response(io.BytesIO(b'x' * 2500))
        res.send_file_buffer_size = 1000
        return res

    start_response = StartResponse()
    result = app(environ(), start_response)
    assert list(result) == [b'x' * 1000, b'x' * 1000, b'x' * 500]
    result.close()


@pytest.mark.parametrize('path', ['/bytes', '/stream', '/head'])
def test_wsgiref_validator_accepts_the_app(path):
    app = Microdot()

    @app.route('/bytes')
    async def as_bytes(request):
        return 'ok'

    @app.route('/stream')
    async def stream(request):
        return iter([b'a', b'b'])

    @app.route('/head')
    async def head(request):
        return 'head'

    method = 'HEAD' if path == '/head' else 'GET'
    call(wsgiref.validate.validator(app), environ(path, method=method))


# -- sync and async handlers, loops and threads -------------------------------


def thread_app(record):
    app = Microdot()

    @app.route('/async')
    async def async_handler(request):
        record.append((threading.get_ident(), asyncio.get_running_loop()))
        await asyncio.sleep(0)
        return 'async'

    @app.route('/sync')
    def sync_handler(request):
        record.append((threading.get_ident(), None))
        return 'sync'

    return app


def test_async_handler_runs_on_the_calling_threads_loop():
    record = []
    assert get(thread_app(record), '/async')[2] == b'async'
    assert record[0][0] == threading.get_ident()
    assert not record[0][1].is_running()


def test_sync_handler_runs_in_the_executor():
    record = []
    assert get(thread_app(record), '/sync')[2] == b'sync'
    assert record[0][0] != threading.get_ident()


def test_many_requests_reuse_the_threads_loop():
    record = []
    app = thread_app(record)
    fds = len(os.listdir('/proc/self/fd'))
    for _ in range(300):
        assert get(app, '/async')[0] == '200 OK'
        assert get(app, '/sync')[0] == '200 OK'
    loops = set(loop for _, loop in record if loop is not None)
    assert len(loops) == 1
    loop = loops.pop()
    assert not loop.is_closed()
    assert asyncio.all_tasks(loop) == set()
    assert len(os.listdir('/proc/self/fd')) <= fds + 2  # the executor


def run_threads(target, count):
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    assert not any(thread.is_alive() for thread in threads)


def test_concurrent_requests_from_threads_each_use_their_own_loop():
    threads = 4
    barrier = threading.Barrier(threads)
    app = Microdot()
    record = []
    errors = []

    @app.route('/')
    async def index(request):
        # all the threads are in a handler at once, each blocking its own
        # loop: with a shared loop this would time out
        barrier.wait(TIMEOUT)
        record.append((threading.get_ident(), asyncio.get_running_loop()))
        return 'ok'

    def client():
        try:
            for _ in range(5):
                assert get(app) == ('200 OK', text_headers(b'ok'), b'ok')
        except Exception as exc:  # reported by the test thread
            errors.append(exc)
            barrier.abort()

    run_threads(client, threads)
    assert errors == []
    assert len(record) == threads * 5
    loops = {}
    for ident, loop in record:
        loops.setdefault(ident, set()).add(loop)
    assert len(loops) == threads
    assert all(len(thread_loops) == 1 for thread_loops in loops.values())
    assert len(set().union(*loops.values())) == threads


def test_a_threads_loop_is_closed_when_the_thread_ends():
    record = []
    app = thread_app(record)
    run_threads(lambda: get(app, '/async'), 1)
    loop = record[0][1]
    deadline = time.monotonic() + TIMEOUT
    while not loop.is_closed() and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.01)
    assert loop.is_closed()


# -- WebSocket ----------------------------------------------------------------


def websocket_app(loops=None):
    """WebSocket routes; ``loops`` gets the loop that ran each one."""
    app = Microdot()

    @app.route('/echo')
    @with_websocket
    async def echo(request, ws):
        if loops is not None:
            loops.append(asyncio.get_running_loop())
        for _ in range(100):
            message = await ws.receive()
            if message == 'exit':
                raise SystemExit(3)  # a worker timeout (gunicorn aborts)
            await ws.send(message)

    @app.route('/bye')
    @with_websocket
    async def bye(request, ws):
        await ws.send('bye')

    return app


def websocket_environ(path='/echo', **extra):
    return environ(path, headers={
        'Upgrade': 'websocket', 'Connection': 'Upgrade',
        'Sec-WebSocket-Key': WS_KEY, 'Sec-WebSocket-Version': '13',
    }, **extra)  # fmt: skip


def masked(opcode, payload):
    return encode_frame(opcode, payload, b'\x01\x02\x03\x04')


def read_exactly(sock, n):
    data = b''
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(data)
        data += chunk
    return data


def read_frame(sock):
    """Read an unmasked server frame with a short payload."""
    head = read_exactly(sock, 2)
    assert head[1] < 126
    return head[0], read_exactly(sock, head[1])


def read_to_eof(sock):
    data = b''
    for _ in range(1000):
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    raise AssertionError('no end of input')  # pragma: no cover


def test_websocket_without_gunicorn_is_501():
    assert call(websocket_app(), websocket_environ()) == (
        '501 Not Implemented',
        text_headers(WEBSOCKET_501),
        WEBSOCKET_501,
    )


def test_websocket_on_a_socket_that_is_not_plain_tcp_is_501():
    class GreenSocket(socket.socket):  # as ssl.SSLSocket or gevent's
        pass

    with GreenSocket() as sock:
        env = websocket_environ(**{'gunicorn.socket': sock})
        assert call(websocket_app(), env)[0] == '501 Not Implemented'


def test_invalid_websocket_handshake_is_400_not_501():
    env = websocket_environ(HTTP_SEC_WEBSOCKET_VERSION='8')
    status, headers, _ = call(websocket_app(), env)
    assert status == '426 Upgrade Required'
    assert ('Sec-WebSocket-Version', '13') in headers
    env = websocket_environ(HTTP_UPGRADE='h2c')
    assert call(websocket_app(), env)[0] == '400 Bad Request'


class SocketPairServer:
    """Run the app in a thread with one end of a socket pair as
    ``gunicorn.socket``; the test talks to the other end."""

    def __init__(self, app, path='/echo', loops=()):
        self.loops = loops  # the app's record of the loops that ran it
        self.leftover = None  # the tasks of that loop once the app is done
        self.server_sock, self.client = socket.socketpair()
        self.client.settimeout(TIMEOUT)
        self.env = websocket_environ(path, **{
            'gunicorn.socket': self.server_sock})  # fmt: skip
        self.outcome = []
        self.thread = threading.Thread(target=self._run, args=(app,))

    def _run(self, app):
        try:
            self.outcome.append(('returned', app(self.env, StartResponse())))
        except BaseException as exc:
            self.outcome.append(('raised', exc))
        if self.loops:
            self.leftover = asyncio.all_tasks(self.loops[0])

    def __enter__(self):
        self.thread.start()
        return self

    def join(self):
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()
        return self.outcome[0]

    def __exit__(self, *exc_info):
        self.client.close()
        self.thread.join(TIMEOUT)
        self.server_sock.close()


def test_websocket_over_the_gunicorn_socket():
    with SocketPairServer(websocket_app()) as server:
        assert read_exactly(server.client, len(UPGRADE_HEAD)) == UPGRADE_HEAD
        server.client.sendall(masked(1, b'hello'))
        assert read_frame(server.client) == (0x81, b'hello')
        server.client.sendall(masked(2, b'\x00\xff'))
        assert read_frame(server.client) == (0x82, b'\x00\xff')
        server.client.sendall(masked(8, struct.pack('!H', 1000)))
        assert read_frame(server.client) == (0x88, struct.pack('!H', 1000))
        kind, exc = server.join()
        # gunicorn closes the connection quietly on StopIteration
        assert kind == 'raised' and type(exc) is StopIteration
        # and its socket is as it was: open, blocking
        assert server.server_sock.fileno() >= 0
        assert server.server_sock.gettimeout() is None
        server.server_sock.close()
        assert read_to_eof(server.client) == b''  # nothing after the close


def test_websocket_leaves_no_task_and_no_descriptor():
    loops = []
    fds = len(os.listdir('/proc/self/fd'))
    with SocketPairServer(websocket_app(loops), loops=loops) as server:
        assert read_exactly(server.client, len(UPGRADE_HEAD)) == UPGRADE_HEAD
        server.client.sendall(masked(8, struct.pack('!H', 1000)))
        assert read_frame(server.client) == (0x88, struct.pack('!H', 1000))
        server.join()
        # the reader task of the WebSocket was cancelled and has unwound
        assert server.leftover == set()
        # the thread's loop is closed with the thread: only the pair is left
        deadline = time.monotonic() + TIMEOUT
        while not loops[0].is_closed() and time.monotonic() < deadline:
            gc.collect()
            time.sleep(0.01)
        assert len(os.listdir('/proc/self/fd')) == fds + 2


def test_websocket_client_that_never_answers_the_close():
    # the client never answers the close frame: after close_timeout the
    # handler returns with the reader task cancelled but not unwound yet
    loops = []
    app = Microdot()

    @app.route('/echo')
    @with_websocket
    async def bye(request, ws):
        loops.append(asyncio.get_running_loop())
        await ws.send('bye')

    saved = WebSocket.close_timeout
    WebSocket.close_timeout = 0.1
    try:
        with SocketPairServer(app, loops=loops) as server:
            assert read_exactly(server.client, len(UPGRADE_HEAD)) == (
                UPGRADE_HEAD
            )
            assert read_frame(server.client) == (0x81, b'bye')
            assert read_frame(server.client) == (0x88, b'\x03\xe8')
            kind, exc = server.join()
    finally:
        WebSocket.close_timeout = saved
    assert kind == 'raised' and type(exc) is StopIteration
    assert server.leftover == set()


def test_websocket_closed_by_the_handler():
    with SocketPairServer(websocket_app(), '/bye') as server:
        assert read_exactly(server.client, len(UPGRADE_HEAD)) == UPGRADE_HEAD
        assert read_frame(server.client) == (0x81, b'bye')
        assert read_frame(server.client) == (0x88, struct.pack('!H', 1000))
        server.client.sendall(masked(8, struct.pack('!H', 1000)))
        kind, exc = server.join()
        assert kind == 'raised' and type(exc) is StopIteration


def test_websocket_client_that_leaves_cancels_the_handler():
    app = Microdot()
    state = []

    @app.route('/echo')
    @with_websocket
    async def echo(request, ws):
        try:
            await ws.receive()
        except asyncio.CancelledError:
            state.append('cancelled')
            raise

    with SocketPairServer(app) as server:
        assert read_exactly(server.client, len(UPGRADE_HEAD)) == UPGRADE_HEAD
        server.client.shutdown(socket.SHUT_WR)
        kind, exc = server.join()
        assert kind == 'raised' and type(exc) is StopIteration
        assert state == ['cancelled']


def test_exit_while_the_handler_owns_the_socket_shuts_it_down():
    # a gunicorn worker timeout raises SystemExit in the handler: the
    # server must not be able to write its 500 into the WebSocket stream
    with SocketPairServer(websocket_app()) as server:
        assert read_exactly(server.client, len(UPGRADE_HEAD)) == UPGRADE_HEAD
        server.client.sendall(masked(1, b'exit'))
        kind, exc = server.join()
        assert kind == 'raised' and type(exc) is SystemExit
        with pytest.raises(OSError):
            server.server_sock.sendall(b'HTTP/1.1 500 Internal Server Error')
        assert read_to_eof(server.client) == b''


def test_http_request_on_the_gunicorn_socket_is_left_alone():
    app = Microdot()

    @app.route('/')
    async def index(request):
        return 'plain'

    server_sock, client = socket.socketpair()
    with server_sock, client:
        env = environ(**{'gunicorn.socket': server_sock})
        assert call(app, env) == ('200 OK', text_headers(b'plain'), b'plain')
        assert server_sock.gettimeout() is None
        client.setblocking(False)
        with pytest.raises(BlockingIOError):
            client.recv(1)  # nothing was written to the socket


def test_websocket_under_wsgiref_is_501():
    server = wsgiref.simple_server.make_server(
        '127.0.0.1', 0, websocket_app(),
        handler_class=QuietHandler,
    )  # fmt: skip
    thread = threading.Thread(target=server.serve_forever, args=(0.05,))
    thread.start()
    try:
        with raw_websocket(server.server_port, '/echo') as sock:
            response = read_to_eof(sock)
    finally:
        server.shutdown()
        thread.join(TIMEOUT)
        server.server_close()
    head, body = response.split(b'\r\n\r\n', 1)
    assert head.startswith(b'HTTP/1.0 501 Not Implemented\r\n')
    assert body == WEBSOCKET_501


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


# -- a real Gunicorn ----------------------------------------------------------


def _gunicorn_app():
    """The app that the Gunicorn tests serve (``test_wsgi:gunicorn_app``)."""
    app = Microdot()

    @app.route('/pid')
    async def pid(request):
        return str(os.getpid())

    @app.route('/ws')
    @with_websocket
    async def ws(request, ws):
        await ws.send(str(os.getpid()))
        for _ in range(1000):
            await ws.send(await ws.receive())

    @app.route('/ws-wait')
    @with_websocket
    async def ws_wait(request, ws):
        await ws.receive()

    return app


gunicorn_app = _gunicorn_app()

HOST = '127.0.0.1'
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
SRC_DIR = os.path.join(os.path.dirname(TESTS_DIR), 'src')
GUNICORN_START_TIMEOUT = 20
GUNICORN_STOP_TIMEOUT = 10


def free_port():
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def is_ready(port):
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b'GET /pid HTTP/1.1\r\nHost: x\r\n'
                         b'Connection: close\r\n\r\n')  # fmt: skip
            return read_to_eof(sock).startswith(b'HTTP/1.1 200 OK\r\n')
    except OSError:
        return False


class Gunicorn:
    """``gunicorn_app`` under a real Gunicorn; output in ``workdir``."""

    def __init__(self, workdir, *options):
        self.port = free_port()
        self.log = os.path.join(str(workdir), 'gunicorn.log')
        argv = [sys.executable, '-m', 'gunicorn', '--bind',
                '%s:%d' % (HOST, self.port), '--no-control-socket',
                '--chdir', TESTS_DIR] + list(options) + [
                'test_wsgi:gunicorn_app']  # fmt: skip
        env = dict(os.environ, PYTHONPATH=SRC_DIR)
        with open(self.log, 'w') as out:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=out, stdin=subprocess.DEVNULL, env=env
            )
        deadline = time.monotonic() + GUNICORN_START_TIMEOUT
        while not is_ready(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(
                    'gunicorn did not start:\n' + self.output()
                )
            time.sleep(0.05)

    def output(self):
        with open(self.log) as f:
            return f.read()

    def stop(self):
        """SIGTERM, then wait; killing it is a failure."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(GUNICORN_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(GUNICORN_STOP_TIMEOUT)
            raise AssertionError('gunicorn ignored SIGTERM:\n' + self.output())


WORKERS = {
    'sync': ['--workers', '2', '--worker-class', 'sync'],
    'gthread': ['--workers', '2', '--worker-class', 'gthread',
                '--threads', '4'],
}  # fmt: skip


@pytest.fixture(scope='module', params=sorted(WORKERS))
def gunicorn(request, tmp_path_factory):
    worker = request.param
    server = Gunicorn(tmp_path_factory.mktemp(worker), *WORKERS[worker])
    try:
        yield server
    finally:
        code = server.stop()
    assert code == 0, server.output()
    assert 'Traceback' not in server.output(), server.output()


def raw_websocket(port, path):
    sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
    sock.sendall(('GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'
                  'Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n'
                  'Sec-WebSocket-Version: 13\r\n\r\n'
                  % (path, WS_KEY)).encode())  # fmt: skip
    return sock


def test_gunicorn_websocket_echo(gunicorn):
    url = 'ws://%s:%d/ws' % (HOST, gunicorn.port)
    with connect(url, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
        pid = ws.recv(TIMEOUT)
        messages = []
        for message in ['hello', 'héllo ✓', b'\x00\xff' * 1000]:
            ws.send(message)
            messages.append(ws.recv(TIMEOUT))
    assert pid.isdigit()
    assert messages == ['hello', 'héllo ✓', b'\x00\xff' * 1000]
    assert ws.close_code == 1000


def test_gunicorn_writes_nothing_after_the_websocket(gunicorn):
    with raw_websocket(gunicorn.port, '/ws') as sock:
        assert read_exactly(sock, len(UPGRADE_HEAD)) == UPGRADE_HEAD
        opcode, pid = read_frame(sock)
        sock.sendall(masked(8, struct.pack('!H', 1000)))
        assert read_frame(sock) == (0x88, struct.pack('!H', 1000))
        assert read_to_eof(sock) == b''
    assert opcode == 0x81 and pid.isdigit()


def test_gunicorn_worker_serves_http_after_a_websocket(gunicorn):
    url = 'ws://%s:%d/ws' % (HOST, gunicorn.port)
    with connect(url, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
        pid = ws.recv(TIMEOUT)
    pids = []
    for _ in range(50):  # until the same worker answers (2 workers)
        with socket.create_connection((HOST, gunicorn.port), TIMEOUT) as s:
            s.sendall(b'GET /pid HTTP/1.1\r\nHost: x\r\n'
                      b'Connection: close\r\n\r\n')  # fmt: skip
            response = read_to_eof(s)
        assert response.startswith(b'HTTP/1.1 200 OK\r\n')
        pids.append(response.rsplit(b'\r\n\r\n', 1)[1].decode())
        if pids[-1] == pid:
            break
    assert pid in pids


def test_gunicorn_sync_worker_timeout_cuts_the_websocket_cleanly(tmp_path):
    # A sync worker cannot notify the arbiter while a WebSocket holds it:
    # past --timeout it is aborted. The client sees the connection end,
    # not an HTTP error response written into the WebSocket stream.
    server = Gunicorn(tmp_path, '--workers', '1', '--worker-class', 'sync',
                      '--timeout', '1')  # fmt: skip
    try:
        with raw_websocket(server.port, '/ws-wait') as sock:
            sock.settimeout(15)
            assert read_exactly(sock, len(UPGRADE_HEAD)) == UPGRADE_HEAD
            after = read_to_eof(sock)
    finally:
        code = server.stop()
    assert after == b''
    assert code == 0
    assert 'WORKER TIMEOUT' in server.output()
