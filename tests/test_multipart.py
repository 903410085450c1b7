"""microdot.multipart: with_form_data, FormDataIter and FileUpload
(portable: pytest on CPython and tests/mpy_runner.py on MicroPython).

Requests go through the test client and through the built-in server on
127.0.0.1 (tests/serverutil.py). Each handler records what it received in
a ``seen`` dict that the test then compares with exact values. Files are
written under a folder with a unique name in the tests directory, removed
in ``finally``; every class attribute a test changes is restored there.
"""

import asyncio
import io
import os
import time

import serverutil
import support

from microdot import Microdot, NoCaseDict, Request
from microdot.multipart import FileUpload, FormDataIter, with_form_data
from microdot.test_client import TestClient

IS_MICROPYTHON = support.IS_MICROPYTHON
BOUNDARY = 'b0undary-XYZ'
CONTENT_TYPE = 'multipart/form-data; boundary=' + BOUNDARY

# ---------------------------------------------------------------------------
# helpers: bodies
# ---------------------------------------------------------------------------


def part(headers, content):
    """One part: ``headers`` (a list of header lines, str or bytes) and
    ``content`` (str or bytes)."""
    lines = []
    for line in headers:
        lines.append(line if isinstance(line, bytes) else line.encode())
    if isinstance(content, str):
        content = content.encode()
    return b'\r\n'.join(lines) + b'\r\n\r\n', content


def field(name, value):
    return part(['Content-Disposition: form-data; name="%s"' % name], value)


def file_part(name, filename, content, content_type='text/plain'):
    headers = [
        'Content-Disposition: form-data; name="%s"; filename="%s"'
        % (name, filename)
    ]
    if content_type is not None:
        headers.append('Content-Type: ' + content_type)
    return part(headers, content)


def multipart(parts, boundary=BOUNDARY, preamble=b'', epilogue=b'',
              final=True):  # fmt: skip
    """Return a multipart body. ``final=False`` leaves out the closing
    delimiter (a truncated body)."""
    delimiter = b'--' + boundary.encode()
    out = [preamble]
    for head, content in parts:
        out += [delimiter, b'\r\n', head, content, b'\r\n']
    if final:
        out += [delimiter, b'--\r\n', epilogue]
    return b''.join(out)


def chunked_request(port, body, size):
    """A ``Connection: close`` multipart POST / with ``body`` in chunked
    transfer coding, chunks of ``size`` bytes."""
    request = serverutil.build_request(
        port, 'POST', '/',
        {'Content-Type': CONTENT_TYPE, 'Transfer-Encoding': 'chunked',
         'Connection': 'close'},
    )  # fmt: skip
    return request + chunked(body, size)


async def post_chunked(app, body, size):
    """Send ``chunked_request`` to ``app`` on a real server."""
    server = await serverutil.start(app)
    try:
        data = await server.exchange(chunked_request(server.port, body, size))
        return serverutil.HTTPResponse(data)
    finally:
        await server.stop()


def chunked(body, size):
    """``body`` in chunked transfer coding, chunks of ``size`` bytes."""
    out = []
    for start in range(0, len(body), size):
        chunk = body[start : start + size]
        out.append(('%x\r\n' % len(chunk)).encode() + chunk + b'\r\n')
    out.append(b'0\r\n\r\n')
    return b''.join(out)


# A file content full of near-boundaries: a delimiter without its last
# character right before the real one, a CR before the final CRLF, dashes.
TRICKY = (
    b'--\r\n-\r\n--' + BOUNDARY.encode()[:-1] + b'z\r\r\n\r\n--'
    + bytes(range(256)) + b'\r\n--' + BOUNDARY.encode()[:-1]
)  # fmt: skip

# ---------------------------------------------------------------------------
# helpers: temporary folder, class attributes
# ---------------------------------------------------------------------------


def _tests_dir():
    path = __file__.replace('\\', '/')
    if not path.startswith('/'):
        path = os.getcwd() + '/' + path
    return path.rsplit('/', 1)[0]


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0o170000 == 0o040000
    except OSError:
        return False


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _remove_tree(path):
    if _is_dir(path):
        for name in os.listdir(path):
            _remove_tree(path + '/' + name)
        os.rmdir(path)
    elif _exists(path):
        os.remove(path)


class TempDir:
    """A folder with a unique name in the tests directory."""

    def __init__(self):
        self.path = '%s/tmp_multipart_%d_%s' % (
            _tests_dir(),
            int(time.time()),
            os.urandom(8).hex(),
        )
        os.mkdir(self.path)

    def join(self, name):
        return self.path + '/' + name

    def list(self):
        return sorted(os.listdir(self.path))

    def read(self, name):
        with open(self.join(name), 'rb') as f:
            return f.read()

    def temp_files(self):
        """The files in the folder, plus (CPython on Linux) the files open
        in this process that were created in it without a name or already
        unlinked (tempfile.TemporaryFile), as sorted full paths."""
        found = set()
        for name in os.listdir(self.path):
            found.add(self.join(name))
        if IS_MICROPYTHON or not _is_dir('/proc/self/fd'):
            return sorted(found)
        for fd in os.listdir('/proc/self/fd'):
            try:
                target = os.readlink('/proc/self/fd/' + fd)
            except OSError:  # closed meanwhile (the listing's own fd)
                continue
            if target.startswith(self.path + '/'):
                found.add(target.split(' (deleted)')[0])
        return sorted(found)

    def remove(self):
        _remove_tree(self.path)


class Attributes:
    """Set class attributes; ``restore()`` puts the old values back."""

    def __init__(self):
        self.saved = []

    def set(self, cls, name, value):
        self.saved.append((cls, name, getattr(cls, name)))
        setattr(cls, name, value)

    def restore(self):
        while self.saved:
            cls, name, value = self.saved.pop()
            setattr(cls, name, value)


# ---------------------------------------------------------------------------
# helpers: apps and requests
# ---------------------------------------------------------------------------


async def describe(value):
    """A comparable view of a form value: str as is, a FileUpload as
    ``(filename, content_type, content)``."""
    if isinstance(value, FileUpload):
        return (value.filename, value.content_type, await value.read())
    return value


async def describe_multidict(multidict):
    """``{name: [described values]}`` of a MultiDict."""
    out = {}
    for name in multidict:
        values = []
        for value in multidict.getlist(name):  # MPY: no await in listcomp
            values.append(await describe(value))
        out[name] = values
    return out


def form_app(seen):
    """An app whose ``POST|GET /`` uses with_form_data and records form and
    files in ``seen``."""
    app = Microdot()

    @app.route('/', methods=['GET', 'POST', 'PUT'])
    @with_form_data
    async def index(req):
        seen['form_type'] = type(req.form).__name__
        seen['files_type'] = type(req.files).__name__
        seen['form'] = await describe_multidict(req.form)
        seen['files'] = await describe_multidict(req.files)
        return 'ok'

    @app.get('/next')
    async def next_request(req):
        return 'next'

    return app


def iter_app(seen):
    """An app whose ``POST /`` iterates FormDataIter and records the
    ``(name, value)`` pairs in ``seen['items']``."""
    app = Microdot()

    @app.post('/')
    async def index(req):
        items = []
        async for name, value in FormDataIter(req):
            items.append((name, await describe(value)))
        seen['items'] = items
        return 'ok'

    @app.get('/next')
    async def next_request(req):
        return 'next'

    return app


async def post(app, body, content_type=CONTENT_TYPE, path='/',
               method='POST'):  # fmt: skip
    headers = {}
    if content_type is not None:
        headers['Content-Type'] = content_type
    client = TestClient(app)
    return await client.request(method, path, headers=headers, body=body)


async def post_server(app, body, content_type=CONTENT_TYPE, path='/'):
    server = await serverutil.start(app)
    try:
        return await server.request(
            'POST', path, {'Content-Type': content_type}, body
        )
    finally:
        await server.stop()


SIMPLE_BODY = multipart([
    field('name', 'Susan'),
    field('city', 'Zürich'),
    field('name', 'Bob'),
    file_part('doc', 'a.txt', b'hello\r\nworld'),
    file_part('doc', 'b.bin', bytes(range(256)), 'application/x-b'),
])  # fmt: skip

SIMPLE_FORM = {'name': ['Susan', 'Bob'], 'city': ['Zürich']}
SIMPLE_FILES = {
    'doc': [
        ('a.txt', 'text/plain', b'hello\r\nworld'),
        ('b.bin', 'application/x-b', bytes(range(256))),
    ]
}
SIMPLE_ITEMS = [
    ('name', 'Susan'),
    ('city', 'Zürich'),
    ('name', 'Bob'),
    ('doc', ('a.txt', 'text/plain', b'hello\r\nworld')),
    ('doc', ('b.bin', 'application/x-b', bytes(range(256)))),
]


# ---------------------------------------------------------------------------
# with_form_data
# ---------------------------------------------------------------------------


def assert_empty_form_and_files(res, seen):
    assert res.status_code == 200
    assert seen['form'] == {}
    assert seen['files'] == {}


async def test_with_form_data_fills_form_and_files_test_client():
    seen = {}
    res = await post(form_app(seen), SIMPLE_BODY)
    assert res.status_code == 200
    assert res.body == b'ok'
    assert seen['form_type'] == 'MultiDict'
    assert seen['files_type'] == 'MultiDict'
    assert seen['form'] == SIMPLE_FORM
    assert seen['files'] == SIMPLE_FILES


async def test_with_form_data_fills_form_and_files_real_server():
    seen = {}
    res = await post_server(form_app(seen), SIMPLE_BODY)
    assert res.status_code == 200
    assert res.body == b'ok'
    assert seen['form'] == SIMPLE_FORM
    assert seen['files'] == SIMPLE_FILES


async def test_with_form_data_passes_route_arguments():
    app = Microdot()
    seen = {}

    @app.post('/users/<int:uid>/<name>')
    @with_form_data
    async def upload(req, uid, name):
        seen['args'] = (uid, name, req.form['a'])
        return 'ok'

    res = await post(app, multipart([field('a', '1')]), path='/users/7/x')
    assert res.status_code == 200
    assert seen['args'] == (7, 'x', '1')


async def test_with_form_data_sync_handler():
    app = Microdot()
    seen = {}

    @app.post('/')
    @with_form_data
    def upload(req):
        seen['form'] = req.form['a']
        seen['files'] = list(req.files)
        return 'sync'

    res = await post(app, multipart([field('a', 'x')]))
    assert res.status_code == 200
    assert res.body == b'sync'
    assert seen == {'form': 'x', 'files': []}


async def test_with_form_data_get_has_empty_form_and_files():
    seen = {}
    res = await TestClient(form_app(seen)).get('/')
    assert_empty_form_and_files(res, seen)
    assert seen['form_type'] == 'MultiDict'
    assert seen['files_type'] == 'MultiDict'


async def test_with_form_data_get_with_multipart_content_type():
    # "For a GET ... request.form is an empty MultiDict": a GET that
    # carries a multipart Content-Type but no body runs the handler
    seen = {}
    client = TestClient(form_app(seen))
    res = await client.get('/', headers={'Content-Type': CONTENT_TYPE})
    assert_empty_form_and_files(res, seen)


async def test_with_form_data_get_real_server():
    seen = {}
    server = await serverutil.start(form_app(seen))
    try:
        res = await server.request('GET', '/')
    finally:
        await server.stop()
    assert_empty_form_and_files(res, seen)
    assert res.body == b'ok'


async def test_with_form_data_text_body_has_empty_form_and_files():
    seen = {}
    res = await post(form_app(seen), b'just text', 'text/plain')
    assert_empty_form_and_files(res, seen)
    assert seen['form_type'] == 'MultiDict'
    assert seen['files_type'] == 'MultiDict'


async def test_with_form_data_body_without_content_type():
    seen = {}
    res = await post(form_app(seen), b'a=1&b=2', None)
    assert_empty_form_and_files(res, seen)


async def test_with_form_data_post_without_body():
    seen = {}
    res = await post(form_app(seen), b'', None)
    assert_empty_form_and_files(res, seen)


async def test_with_form_data_json_body_still_readable():
    app = Microdot()
    seen = {}

    @app.post('/')
    @with_form_data
    async def index(req):
        seen['form'] = await describe_multidict(req.form)
        seen['files'] = await describe_multidict(req.files)
        seen['json'] = req.json
        return 'ok'

    res = await TestClient(app).post('/', body={'a': [1, 2]})
    assert res.status_code == 200
    assert seen == {'form': {}, 'files': {}, 'json': {'a': [1, 2]}}


async def test_with_form_data_urlencoded_body_parsed_by_core():
    seen = {}
    res = await post(
        form_app(seen),
        b'a=1&b=x+y&a=%C3%A9',
        'application/x-www-form-urlencoded',
    )
    assert res.status_code == 200
    assert seen['form'] == {'a': ['1', 'é'], 'b': ['x y']}
    assert seen['files'] == {}


async def test_with_form_data_multiple_files_same_name():
    seen = {}
    body = multipart([
        file_part('f', 'one.txt', b'1'),
        file_part('f', 'two.txt', b'22'),
        file_part('g', 'three.txt', b'333'),
    ])  # fmt: skip
    res = await post(form_app(seen), body)
    assert res.status_code == 200
    assert seen['form'] == {}
    assert seen['files'] == {
        'f': [
            ('one.txt', 'text/plain', b'1'),
            ('two.txt', 'text/plain', b'22'),
        ],
        'g': [('three.txt', 'text/plain', b'333')],
    }


async def test_with_form_data_field_values():
    seen = {}
    body = multipart([
        field('empty', ''),
        field('lines', 'one\r\ntwo\nthree\r\n'),
        field('utf8', 'é€😀'),
        field('nämé', 'v'),
    ])  # fmt: skip
    res = await post(form_app(seen), body)
    assert res.status_code == 200
    assert seen['form'] == {
        'empty': [''],
        'lines': ['one\r\ntwo\nthree\r\n'],
        'utf8': ['é€😀'],
        'nämé': ['v'],
    }


async def test_with_form_data_empty_file():
    seen = {}
    res = await post(form_app(seen), multipart([file_part('f', 'e', b'')]))
    assert res.status_code == 200
    assert seen['files'] == {'f': [('e', 'text/plain', b'')]}


async def spooled(read, body, send=post, limits=()):
    """POST ``body`` (with ``send``) with FileUpload.temp_dir set to a new
    TempDir and the ``(class, name, value)`` attributes of ``limits`` set,
    to a with_form_data handler that records the number of temporary
    files in ``seen['during']``, then awaits ``read(req, seen)``. Return
    ``(res, seen, temporary files left)``."""
    tmp = TempDir()
    attributes = Attributes()
    attributes.set(FileUpload, 'temp_dir', tmp.path)
    for cls, name, value in limits:
        attributes.set(cls, name, value)
    seen = {}
    app = Microdot()

    @app.post('/')
    @with_form_data
    async def index(req):
        seen['during'] = len(tmp.temp_files())
        await read(req, seen)
        return 'ok'

    try:
        res = await send(app, body)
        return res, seen, tmp.temp_files()
    finally:
        attributes.restore()
        tmp.remove()


async def read_file_f(req, seen):
    seen['content'] = await req.files['f'].read()


async def test_with_form_data_files_memory_up_to_max_memory_size():
    content = bytes(range(256)) * 4  # 1024 bytes == max_memory_size
    assert FileUpload.max_memory_size == 1024
    body = multipart([file_part('f', 'x', content)])
    res, seen, left = await spooled(read_file_f, body)
    assert res.status_code == 200
    assert seen['during'] == 0
    assert seen['content'] == content
    assert left == []


async def test_with_form_data_spools_above_max_memory_size():
    content = bytes(range(256)) * 4 + b'!'  # 1025 bytes
    body = multipart([file_part('f', 'x', content)])
    res, seen, left = await spooled(read_file_f, body)
    assert res.status_code == 200
    assert seen == {'during': 1, 'content': content}  # a temporary file
    assert left == []  # removed once the handler returned


async def test_with_form_data_spool_threshold_follows_max_memory_size():
    async def read(req, seen):
        seen['small'] = await req.files['small'].read()
        seen['big'] = await req.files['big'].read()

    body = multipart([
        file_part('small', 's', b'0123456789'),
        file_part('big', 'b', b'0123456789A'),
    ])  # fmt: skip
    limits = [(FileUpload, 'max_memory_size', 10)]
    res, seen, left = await spooled(read, body, limits=limits)
    assert res.status_code == 200
    assert seen == {'during': 1, 'small': b'0123456789',
                    'big': b'0123456789A'}  # fmt: skip
    assert left == []


async def test_with_form_data_spooled_files_removed_after_real_server():
    async def read(req, seen):
        seen['a'] = len(await req.files['a'].read())
        seen['b'] = len(await req.files['b'].read())

    body = multipart([
        file_part('a', 'a', b'a' * 3000),
        file_part('b', 'b', b'b' * 5000),
    ])  # fmt: skip
    res, seen, left = await spooled(read, body, post_server)
    assert res.status_code == 200
    assert seen == {'during': 2, 'a': 3000, 'b': 5000}
    assert left == []


async def test_with_form_data_closes_files_when_handler_raises():
    async def read(req, seen):
        raise ValueError('handler failure')

    body = multipart([file_part('f', 'x', b'y' * 2000)])
    res, seen, left = await spooled(read, body)
    assert res.status_code == 500
    assert seen['during'] == 1
    assert left == []


# ---------------------------------------------------------------------------
# FormDataIter
# ---------------------------------------------------------------------------


async def test_form_data_iter_yields_parts_in_order():
    seen = {}
    res = await post(iter_app(seen), SIMPLE_BODY)
    assert res.status_code == 200
    assert seen['items'] == SIMPLE_ITEMS


async def test_form_data_iter_real_server():
    seen = {}
    res = await post_server(iter_app(seen), SIMPLE_BODY)
    assert res.status_code == 200
    assert res.body == b'ok'
    assert seen['items'] == SIMPLE_ITEMS


async def test_form_data_iter_empty_filename_is_a_file():
    seen = {}
    body = multipart([
        part(['Content-Disposition: form-data; name="f"; filename=""'],
             b'data'),
    ])  # fmt: skip
    res = await post(iter_app(seen), body)
    assert res.status_code == 200
    assert seen['items'] == [('f', ('', 'application/octet-stream', b'data'))]


async def test_form_data_iter_skips_unread_file():
    app = Microdot()
    seen = {}

    @app.post('/')
    async def index(req):
        names = []
        async for name, value in FormDataIter(req):
            if isinstance(value, FileUpload):
                names.append((name, value.filename))
            else:
                names.append((name, value))
        seen['names'] = names
        return 'ok'

    body = multipart([
        file_part('f1', 'one', TRICKY * 10),
        field('a', '1'),
        file_part('f2', 'two', b'x' * 3000),
        field('b', '2'),
    ])  # fmt: skip
    res = await post(app, body)
    assert res.status_code == 200
    assert seen['names'] == [('f1', 'one'), ('a', '1'), ('f2', 'two'),
                             ('b', '2')]  # fmt: skip


async def test_form_data_iter_skips_rest_of_partly_read_file():
    app = Microdot()
    seen = {'heads': []}

    @app.post('/')
    async def index(req):
        async for name, value in FormDataIter(req):
            if isinstance(value, FileUpload):
                seen['heads'].append(await value.read(3))
            else:
                seen[name] = value
        return 'ok'

    body = multipart([
        file_part('f1', 'one', b'abcdefgh' * 500),
        field('a', '1'),
        file_part('f2', 'two', b'xy'),
        field('b', '2'),
    ])  # fmt: skip
    res = await post(app, body)
    assert res.status_code == 200
    assert seen == {'heads': [b'abc', b'xy'], 'a': '1', 'b': '2'}


async def test_form_data_iter_read_in_chunks():
    app = Microdot()
    seen = {}
    content = bytes(range(256)) * 3 + TRICKY

    @app.post('/')
    async def index(req):
        async for name, value in FormDataIter(req):
            chunks = []
            for _ in range(10000):
                chunk = await value.read(7)
                if not chunk:
                    break
                chunks.append(chunk)
            seen['sizes_ok'] = max(len(c) for c in chunks) <= 7
            seen['content'] = b''.join(chunks)
            seen['after_end'] = await value.read(7)
            seen['after_end_all'] = await value.read()
        return 'ok'

    res = await post(app, multipart([file_part('f', 'x', content)]))
    assert res.status_code == 200
    assert seen == {'sizes_ok': True, 'content': content, 'after_end': b'',
                    'after_end_all': b''}  # fmt: skip


async def test_form_data_iter_skips_parts_without_name():
    seen = {}
    body = multipart([
        part(['Content-Disposition: form-data'], b'no name'),
        part(['Content-Type: text/plain'], b'no disposition'),
        part(['Content-Disposition: form-data; filename="x.txt"'], b'f'),
        field('a', '1'),
    ])  # fmt: skip
    res = await post(iter_app(seen), body)
    assert res.status_code == 200
    assert seen['items'] == [('a', '1')]


async def test_form_data_iter_case_insensitive_part_headers():
    seen = {}
    body = multipart([
        part(['content-disposition: form-data; name="a"'], b'1'),
        part(['CONTENT-DISPOSITION: form-data; NAME="b"; FILENAME="c.txt"',
              'CONTENT-TYPE: text/csv'], b'x,y'),
        part(['Content-Disposition: form-data;name=plain;filename=p.txt'],
             b'p'),
    ])  # fmt: skip
    res = await post(iter_app(seen), body)
    assert res.status_code == 200
    assert seen['items'] == [
        ('a', '1'),
        ('b', ('c.txt', 'text/csv', b'x,y')),
        ('plain', ('p.txt', 'application/octet-stream', b'p')),
    ]


async def test_form_data_iter_empty_form():
    seen = {}
    body = b'--' + BOUNDARY.encode() + b'--\r\n'
    res = await post(iter_app(seen), body)
    assert res.status_code == 200
    assert seen['items'] == []


async def test_form_data_iter_streams_before_body_arrives():
    """The handler gets the first field while the client still holds the
    rest of the body (the body is read as it arrives)."""
    app = Microdot()
    seen = {'items': []}

    @app.post('/')
    async def index(req):
        async for name, value in FormDataIter(req):
            seen['items'].append((name, await describe(value)))
        return 'ok'

    body = multipart([field('a', '1'), file_part('f', 'x.bin', b'z' * 100)])
    split = body.find(b'z' * 100) + 50  # mid-file
    attributes = Attributes()
    attributes.set(Request, 'max_body_length', 0)  # always a stream

    async def script(server, client):
        head = serverutil.build_request(
            server.port, 'POST', '/', {'Content-Type': CONTENT_TYPE}, body
        )
        head_length = len(head) - len(body)
        await client.send(head[: head_length + split])
        got_first = await serverutil.poll(
            lambda: len(seen['items']) >= 1, serverutil.IO_TIMEOUT
        )
        early = list(seen['items'])
        await client.send(body[split:])
        return got_first, early, await client.read_response()

    try:
        got_first, early, res = await serverutil.with_client(app, script)
    finally:
        attributes.restore()
    assert got_first
    assert early == [('a', '1')]
    assert res.status_code == 200
    assert seen['items'] == [
        ('a', '1'),
        ('f', ('x.bin', 'text/plain', b'z' * 100)),
    ]


# ---------------------------------------------------------------------------
# FileUpload
# ---------------------------------------------------------------------------


def upload_app(action):
    """An app that calls ``await action(upload)`` for each file part (via
    FormDataIter) and returns 'ok'."""
    app = Microdot()

    @app.post('/')
    async def index(req):
        async for name, value in FormDataIter(req):
            if isinstance(value, FileUpload):
                await action(value)
        return 'ok'

    return app


async def test_file_upload_attributes():
    seen = {}

    async def action(upload):
        seen['filename'] = upload.filename
        seen['content_type'] = upload.content_type
        seen['is_nocasedict'] = isinstance(upload.headers, NoCaseDict)
        seen['disposition'] = upload.headers['content-disposition']
        seen['type'] = upload.headers['Content-Type']
        seen['custom'] = upload.headers['x-custom']
        seen['custom_upper'] = upload.headers['X-CUSTOM']

    body = multipart([
        part([
            'Content-Disposition: form-data; name="f"; filename="r.csv"',
            'Content-Type: text/csv; charset=utf-8',
            'X-Custom:  value  ',
        ], b'a,b'),
    ])  # fmt: skip
    res = await post(upload_app(action), body)
    assert res.status_code == 200
    assert seen == {
        'filename': 'r.csv',
        'content_type': 'text/csv; charset=utf-8',
        'is_nocasedict': True,
        'disposition': 'form-data; name="f"; filename="r.csv"',
        'type': 'text/csv; charset=utf-8',
        'custom': 'value',
        'custom_upper': 'value',
    }


async def test_file_upload_default_content_type():
    seen = {}

    async def action(upload):
        seen['content_type'] = upload.content_type
        seen['has_header'] = 'Content-Type' in upload.headers

    res = await post(upload_app(action),
                     multipart([file_part('f', 'x', b'1', None)]))  # fmt: skip
    assert res.status_code == 200
    assert seen == {
        'content_type': 'application/octet-stream',
        'has_header': False,
    }


async def save_one_file(target, filename, content):
    """POST one file part to an app that saves it to ``target(tmp)`` (tmp:
    a new TempDir); return ``(res, {name: content} of the files in tmp)``."""
    tmp = TempDir()

    async def action(upload):
        await upload.save(target(tmp))

    try:
        res = await post(
            upload_app(action), multipart([file_part('f', filename, content)])
        )
        return res, dict((name, tmp.read(name)) for name in tmp.list())
    finally:
        tmp.remove()


async def test_file_upload_save_to_directory():
    content = TRICKY * 20
    res, files = await save_one_file(lambda tmp: tmp.path, 'doc.bin', content)
    assert res.status_code == 200
    assert files == {'doc.bin': content}


async def test_file_upload_save_to_directory_empty_filename():
    res, files = await save_one_file(lambda tmp: tmp.path, '', b'nameless')
    assert res.status_code == 200
    assert files == {'upload': b'nameless'}


async def test_file_upload_save_to_path():
    res, files = await save_one_file(
        lambda tmp: tmp.join('chosen.name'), 'other.txt', b'abc'
    )
    assert res.status_code == 200
    assert files == {'chosen.name': b'abc'}


async def test_file_upload_save_to_file_object_does_not_close_it():
    target = io.BytesIO()
    seen = {}

    async def action(upload):
        target.write(b'<')
        await upload.save(target)
        target.write(b'>')  # still open
        seen['ok'] = True

    content = bytes(range(256)) * 10
    res = await post(
        upload_app(action), multipart([file_part('f', 'x', content)])
    )
    assert res.status_code == 200
    assert seen == {'ok': True}
    assert target.getvalue() == b'<' + content + b'>'


async def test_file_upload_save_after_partial_read():
    target = io.BytesIO()
    seen = {}

    async def action(upload):
        seen['head'] = await upload.read(4)
        await upload.save(target)

    res = await post(
        upload_app(action), multipart([file_part('f', 'x', b'0123456789')])
    )
    assert res.status_code == 200
    assert seen['head'] == b'0123'
    assert target.getvalue() == b'456789'


async def test_file_upload_copy_in_memory_read_later():
    app = Microdot()
    seen = {}

    @app.post('/')
    async def index(req):
        kept = []
        async for name, value in FormDataIter(req):
            if isinstance(value, FileUpload):
                copied = await value.copy()
                seen['same'] = copied is value
                kept.append(copied)
            else:
                seen[name] = value
        seen['content'] = await kept[0].read()
        await kept[0].close()
        return 'ok'

    body = multipart([file_part('f', 'x', b'small'), field('after', 'yes')])
    res = await post(app, body)
    assert res.status_code == 200
    assert seen == {'same': True, 'after': 'yes', 'content': b'small'}


async def test_file_upload_copy_spools_and_close_removes_temp_file():
    tmp = TempDir()
    attributes = Attributes()
    attributes.set(FileUpload, 'temp_dir', tmp.path)
    app = Microdot()
    seen = {}
    content = TRICKY * 8  # over 1024 bytes

    @app.post('/')
    async def index(req):
        kept = []
        async for name, value in FormDataIter(req):
            if isinstance(value, FileUpload):
                kept.append(await value.copy())
            else:
                seen[name] = value
        seen['during'] = len(tmp.temp_files())
        seen['head'] = await kept[0].read(5)
        seen['rest'] = await kept[0].read()
        await kept[0].close()
        seen['after_close'] = tmp.temp_files()
        return 'ok'

    body = multipart([file_part('f', 'x', content), field('after', 'yes')])
    try:
        assert len(content) > FileUpload.max_memory_size
        res = await post(app, body)
        assert res.status_code == 200
        assert seen == {
            'after': 'yes',
            'during': 1,
            'head': content[:5],
            'rest': content[5:],
            'after_close': [],
        }
    finally:
        attributes.restore()
        tmp.remove()


async def test_file_upload_copy_after_partial_read_keeps_the_rest():
    app = Microdot()
    seen = {}

    @app.post('/')
    async def index(req):
        async for name, value in FormDataIter(req):
            seen['head'] = await value.read(2)
            kept = await value.copy()
        seen['rest'] = await kept.read()
        await kept.close()
        return 'ok'

    res = await post(app, multipart([file_part('f', 'x', b'abcdef')]))
    assert res.status_code == 200
    assert seen == {'head': b'ab', 'rest': b'cdef'}


async def test_file_upload_close_without_reading_spooled_copy():
    tmp = TempDir()
    attributes = Attributes()
    attributes.set(FileUpload, 'temp_dir', tmp.path)
    seen = {}

    async def action(upload):
        await upload.copy()
        seen['during'] = len(tmp.temp_files())
        await upload.close()
        seen['after'] = tmp.temp_files()

    try:
        res = await post(
            upload_app(action), multipart([file_part('f', 'x', b'q' * 5000)])
        )
        assert res.status_code == 200
        assert seen == {'during': 1, 'after': []}
    finally:
        attributes.restore()
        tmp.remove()


# ---------------------------------------------------------------------------
# boundaries split at every read size
# ---------------------------------------------------------------------------

SPLIT_BODY = multipart(
    [
        field('a', 'x' * 70),
        file_part('f', 'split.bin', TRICKY),
        field('b', 'Zürich\r\n--'),
        file_part('g', 'empty', b''),
        field('c', ''),
    ],
    preamble=b'preamble\r\n--' + BOUNDARY.encode()[:5] + b'\r\n',
    epilogue=b'\r\nepilogue --' + BOUNDARY.encode() + b'--\r\n',
)
SPLIT_ITEMS = [
    ('a', 'x' * 70),
    ('f', ('split.bin', 'text/plain', TRICKY)),
    ('b', 'Zürich\r\n--'),
    ('g', ('empty', 'text/plain', b'')),
    ('c', ''),
]


async def chunk_size_failures(app, seen, expected):
    """POST SPLIT_BODY to ``app`` with FormDataIter.chunk_size 1..64; return
    the sizes where the status is not 200 or ``seen`` differs from
    ``expected`` (a dict of the keys to compare)."""
    attributes = Attributes()
    failures = []
    try:
        for n in range(1, 65):
            attributes.set(FormDataIter, 'chunk_size', n)
            seen.clear()
            res = await post(app, SPLIT_BODY)
            got = dict((key, seen.get(key)) for key in expected)
            if res.status_code != 200 or got != expected:
                failures.append((n, res.status_code, got))
            attributes.restore()
    finally:
        attributes.restore()
    return failures


async def test_boundary_split_at_every_chunk_size():
    seen = {}
    expected = {'items': SPLIT_ITEMS}
    assert await chunk_size_failures(iter_app(seen), seen, expected) == []


async def test_boundary_split_at_every_chunk_size_with_form_data():
    seen = {}
    expected = {
        'form': {'a': ['x' * 70], 'b': ['Zürich\r\n--'], 'c': ['']},
        'files': {
            'f': [('split.bin', 'text/plain', TRICKY)],
            'g': [('empty', 'text/plain', b'')],
        },
    }
    assert await chunk_size_failures(form_app(seen), seen, expected) == []


async def _send_in_pieces(client, data, size):
    for start in range(0, len(data), size):
        await client.send(data[start : start + size])
        await asyncio.sleep(0.001)  # let each piece arrive on its own


async def test_boundary_split_by_socket_pieces_1_to_64():
    """The body arrives over a real socket in pieces of 1..64 bytes;
    ``max_body_length = 0`` makes the handler read it as it arrives."""
    seen = {}
    app = iter_app(seen)
    attributes = Attributes()
    attributes.set(Request, 'max_body_length', 0)
    failures = []
    server = await serverutil.start(app)
    try:
        for n in range(1, 65):
            seen.clear()
            client = await serverutil.Client.open(server.port)
            try:
                request = serverutil.build_request(
                    server.port, 'POST', '/', {'Content-Type': CONTENT_TYPE},
                    SPLIT_BODY,
                )  # fmt: skip
                head_length = len(request) - len(SPLIT_BODY)
                await client.send(request[:head_length])
                await _send_in_pieces(client, SPLIT_BODY, n)
                res = await client.read_response()
            finally:
                await client.close()
            if res.status_code != 200 or seen.get('items') != SPLIT_ITEMS:
                failures.append((n, res.status_code, seen.get('items')))
    finally:
        try:
            await server.stop()
        finally:
            attributes.restore()
    assert failures == []


async def test_near_boundaries_parse_in_linear_time():
    """A file made only of almost-delimiters (300 KB; MicroPython: 64 KB,
    its heap is small), read 64 bytes at a time and with the default read
    size, parses well within a few seconds."""
    near = b'\r\n--' + BOUNDARY.encode()[:-1] + b'\r'
    size = (64 if IS_MICROPYTHON else 300) * 1024
    content = near * (size // len(near))
    body = multipart([file_part('f', 'x', content), field('a', '1')])
    app = Microdot()
    seen = {}

    @app.post('/')
    async def index(req):
        async for name, value in FormDataIter(req):
            if isinstance(value, FileUpload):
                size = 0
                for _ in range(100000):
                    data = await value.read(4096)
                    if not data:
                        break
                    size += len(data)
                seen[name] = size
            else:
                seen[name] = value
        return 'ok'

    attributes = Attributes()
    attributes.set(Request, 'max_content_length', 1024 * 1024)
    try:
        for chunk_size in (64, FormDataIter.chunk_size):
            attributes.set(FormDataIter, 'chunk_size', chunk_size)
            seen.clear()
            deadline = serverutil.Deadline(10)
            res = await post(app, body)
            elapsed = deadline.elapsed()
            assert res.status_code == 200
            assert seen == {'f': len(content), 'a': '1'}
            assert elapsed < 10, (chunk_size, elapsed)
    finally:
        attributes.restore()


# ---------------------------------------------------------------------------
# filenames
# ---------------------------------------------------------------------------


def disposition_part(disposition, content=b'x'):
    """A part whose Content-Disposition is ``disposition`` (bytes)."""
    return part([b'Content-Disposition: ' + disposition], content)


async def filenames_of(dispositions):
    """Post one file part per disposition and return their filenames."""
    app = Microdot()
    seen = {'names': []}

    @app.post('/')
    async def index(req):
        async for name, value in FormDataIter(req):
            seen['names'].append(value.filename)
        return 'ok'

    body = multipart([disposition_part(d) for d in dispositions])
    res = await post(app, body)
    assert res.status_code == 200, res.body
    return seen['names']


async def test_filename_escaped_quotes():
    names = await filenames_of([
        b'form-data; name="f"; filename="a\\"b.txt"',
        b'form-data; name="f"; filename="back\\\\slash\\"q\\""',
    ])  # fmt: skip
    assert names == ['a"b.txt', 'slash"q"']


async def test_filename_browser_percent_escapes():
    names = await filenames_of([
        b'form-data; name="f"; filename="a%22b.txt"',
        b'form-data; name="f"; filename="100%.txt"',
        b'form-data; name="f"; filename="%41%2F.txt"',
    ])  # fmt: skip
    assert names == ['a"b.txt', '100%.txt', '%41%2F.txt']


async def test_filename_browser_percent_escaped_cr_lf_removed():
    # %0D and %0A decode to CR and LF, which the safe name then drops
    names = await filenames_of([
        b'form-data; name="f"; filename="c%0Dd%0Ae.txt"',
    ])  # fmt: skip
    assert names == ['cde.txt']


async def test_filename_semicolon_inside_quotes():
    names = await filenames_of([
        b'form-data; name="f"; filename="a; name=b.txt"',
    ])  # fmt: skip
    assert names == ['a; name=b.txt']


async def test_filename_non_ascii_utf8():
    names = await filenames_of([
        'form-data; name="f"; filename="é€😀 ü.txt"'.encode(),
    ])  # fmt: skip
    assert names == ['é€😀 ü.txt']


async def test_filename_unquoted_token():
    names = await filenames_of([b'form-data; name=f; filename=plain.txt'])
    assert names == ['plain.txt']


async def test_filename_star_rfc5987():
    names = await filenames_of([
        b"form-data; name=\"f\"; filename*=UTF-8''%e2%82%ac.txt",
        b"form-data; name=\"f\"; filename*=utf-8'en'%C3%A9t%C3%A9.txt",
    ])  # fmt: skip
    assert names == ['€.txt', 'été.txt']


async def test_filename_star_preferred_over_filename():
    names = await filenames_of([
        b'form-data; name="f"; filename="EUR.txt"; '
        b"filename*=UTF-8''%e2%82%ac.txt",
        b"form-data; name=\"f\"; filename*=UTF-8''%e2%82%ac.txt; "
        b'filename="EUR.txt"',
    ])  # fmt: skip
    assert names == ['€.txt', '€.txt']


async def test_filename_path_separators_removed():
    names = await filenames_of([
        b'form-data; name="f"; filename="../../etc/passwd"',
        b'form-data; name="f"; filename="a\\\\b.txt"',  # a\b.txt quoted
        b'form-data; name="f"; filename="C:\\\\x\\\\y.txt"',
        b'form-data; name="f"; filename="/abs/z.txt"',
        b'form-data; name="f"; filename="dir/"',
        b'form-data; name="f"; filename=".."',
        b'form-data; name="f"; filename="."',
        b'form-data; name="f"; filename="x/.."',
        b"form-data; name=\"f\"; filename*=UTF-8''..%2F..%2Fstar.txt",
    ])  # fmt: skip
    assert names == ['passwd', 'b.txt', 'y.txt', 'z.txt', '', '', '', '',
                     'star.txt']  # fmt: skip


async def test_save_to_directory_never_escapes_it():
    tmp = TempDir()
    inner = tmp.join('inner')
    os.mkdir(inner)

    async def action(upload):
        await upload.save(inner)

    body = multipart([
        disposition_part(b'form-data; name="a"; filename="../escape1"', b'1'),
        disposition_part(b'form-data; name="b"; filename="..\\\\escape2"',
                         b'2'),
        disposition_part(b'form-data; name="c"; filename=".."', b'3'),
        disposition_part(
            b"form-data; name=\"d\"; filename*=UTF-8''..%2Fescape4", b'4'
        ),
    ])  # fmt: skip
    try:
        res = await post(upload_app(action), body)
        assert res.status_code == 200
        assert tmp.list() == ['inner']
        assert sorted(os.listdir(inner)) == [
            'escape1',
            'escape2',
            'escape4',
            'upload',
        ]
        assert tmp.read('inner/escape1') == b'1'
        assert tmp.read('inner/escape2') == b'2'
        assert tmp.read('inner/upload') == b'3'
        assert tmp.read('inner/escape4') == b'4'
    finally:
        tmp.remove()


# ---------------------------------------------------------------------------
# errors and limits
# ---------------------------------------------------------------------------


async def status_of(body, content_type=CONTENT_TYPE, use_iter=False):
    seen = {}
    app = iter_app(seen) if use_iter else form_app(seen)
    res = await post(app, body, content_type)
    return res.status_code, res.body


async def test_missing_boundary_is_400():
    body = multipart([field('a', '1')])
    ct = 'multipart/form-data'
    assert await status_of(body, ct) == (400, b'Bad Request')
    assert await status_of(body, ct, True) == (400, b'Bad Request')


async def test_empty_boundary_is_400():
    body = multipart([field('a', '1')], boundary='')
    ct = 'multipart/form-data; boundary='
    assert await status_of(body, ct) == (400, b'Bad Request')
    assert await status_of(body, ct + '""') == (400, b'Bad Request')


async def test_boundary_over_70_chars_is_400():
    boundary = 'b' * 71
    body = multipart([field('a', '1')], boundary=boundary)
    ct = 'multipart/form-data; boundary=' + boundary
    assert await status_of(body, ct) == (400, b'Bad Request')
    assert await status_of(body, ct, True) == (400, b'Bad Request')


async def test_boundary_of_70_chars_works():
    seen = {}
    boundary = 'b' * 70
    body = multipart([field('a', '1')], boundary=boundary)
    res = await post(
        form_app(seen), body, 'multipart/form-data; boundary=' + boundary
    )
    assert res.status_code == 200
    assert seen['form'] == {'a': ['1']}


async def test_quoted_boundary_with_special_characters():
    seen = {}
    boundary = "a'()+_,-./:=? b"
    body = multipart([field('a', '1')], boundary=boundary)
    res = await post(
        form_app(seen), body, 'multipart/form-data; boundary="%s"' % boundary
    )
    assert res.status_code == 200
    assert seen['form'] == {'a': ['1']}


async def test_content_type_parameters_case_and_order():
    seen = {}
    body = multipart([field('a', '1')])
    res = await post(
        form_app(seen),
        body,
        'Multipart/Form-Data; charset=utf-8; BOUNDARY=' + BOUNDARY,
    )
    assert res.status_code == 200
    assert seen['form'] == {'a': ['1']}


async def test_transport_padding_after_delimiter_accepted():
    # RFC 2046 section 5.1.1: whitespace may follow a delimiter
    seen = {}
    body = multipart([field('a', '1'), field('b', '2')])
    delimiter = b'--' + BOUNDARY.encode() + b'\r\n'
    body = body.replace(delimiter, b'--' + BOUNDARY.encode() + b' \t \r\n')
    res = await post(form_app(seen), body)
    assert res.status_code == 200
    assert seen['form'] == {'a': ['1'], 'b': ['2']}


async def test_with_form_data_other_multipart_type_has_empty_form():
    seen = {}
    body = multipart([field('a', '1')])
    res = await post(
        form_app(seen), body, 'multipart/mixed; boundary=' + BOUNDARY
    )
    assert res.status_code == 200
    assert seen['form'] == {}
    assert seen['files'] == {}


async def test_missing_final_boundary_is_400():
    body = multipart([field('a', '1'), field('b', '2')], final=False)
    assert await status_of(body) == (400, b'Bad Request')
    assert await status_of(body, use_iter=True) == (400, b'Bad Request')


async def test_body_cut_inside_part_content_is_400():
    body = multipart([field('a', '1'), file_part('f', 'x', b'abc' * 50)])
    cut = body[: body.find(b'abc') + 20]
    assert await status_of(cut) == (400, b'Bad Request')
    assert await status_of(cut, use_iter=True) == (400, b'Bad Request')


async def test_body_cut_inside_part_headers_is_400():
    body = multipart([field('a', '1'), file_part('f', 'x', b'abc')])
    cut = body[: body.find(b'filename=') + 5]
    assert await status_of(cut) == (400, b'Bad Request')


async def test_body_without_any_boundary_is_400():
    body = b'no boundary here'
    assert await status_of(body) == (400, b'Bad Request')
    assert await status_of(body, use_iter=True) == (400, b'Bad Request')


async def test_unread_file_in_truncated_body_is_400():
    app = Microdot()

    @app.post('/')
    async def index(req):
        async for name, value in FormDataIter(req):
            pass  # never reads the file
        return 'ok'

    body = multipart([file_part('f', 'x', b'abc' * 50)], final=False)
    res = await post(app, body)
    assert res.status_code == 400


async def test_truncated_body_real_server_is_400():
    seen = {}
    body = multipart([field('a', '1')], final=False)
    res = await post_server(form_app(seen), body)
    assert res.status_code == 400
    assert res.body == b'Bad Request'
    assert 'form' not in seen


async def test_part_headers_over_max_header_size_is_413():
    lines = ['Content-Disposition: form-data; name="a"']
    lines += ['X-Filler-%d: %s' % (i, 'v' * 1000) for i in range(9)]
    body = multipart([part(lines, b'1')])
    assert Request.max_header_size == 8 * 1024
    assert len(body) < Request.max_content_length
    assert await status_of(body) == (413, b'Content Too Large')
    assert await status_of(body, use_iter=True) == (413, b'Content Too Large')


async def test_part_headers_under_max_header_size_work():
    seen = {}
    lines = ['Content-Disposition: form-data; name="a"']
    lines += ['X-Filler-%d: %s' % (i, 'v' * 1000) for i in range(7)]
    res = await post(form_app(seen), multipart([part(lines, b'1')]))
    assert res.status_code == 200
    assert seen['form'] == {'a': ['1']}


async def test_part_headers_without_end_over_limit_is_413():
    # a part whose header block never ends: must stop at the limit
    head = b'Content-Disposition: form-data; name="a"\r\n' + b'h' * 10000
    body = b'--' + BOUNDARY.encode() + b'\r\n' + head
    assert await status_of(body) == (413, b'Content Too Large')


async def test_default_max_form_parts_is_100():
    assert Request.max_form_parts == 100
    seen = {}
    app = form_app(seen)
    body = multipart([field('f%d' % i, 'v') for i in range(100)])
    res = await post(app, body)
    assert res.status_code == 200
    assert len(seen['form']) == 100
    body = multipart([field('f%d' % i, 'v') for i in range(101)])
    res = await post(app, body)
    assert res.status_code == 413
    assert res.body == b'Content Too Large'


async def test_max_form_parts_counts_files_and_nameless_parts():
    attributes = Attributes()
    attributes.set(Request, 'max_form_parts', 3)
    try:
        ok = multipart([
            field('a', '1'), file_part('f', 'x', b'1'),
            part(['Content-Disposition: form-data'], b'nameless'),
        ])  # fmt: skip
        assert (await status_of(ok))[0] == 200
        assert (await status_of(ok, use_iter=True))[0] == 200
        over = multipart([
            field('a', '1'), file_part('f', 'x', b'1'),
            part(['Content-Disposition: form-data'], b'nameless'),
            file_part('g', 'y', b'2'),
        ])  # fmt: skip
        assert await status_of(over) == (413, b'Content Too Large')
        assert await status_of(over, use_iter=True) == (
            413,
            b'Content Too Large',
        )
    finally:
        attributes.restore()


async def test_max_form_parts_real_server():
    attributes = Attributes()
    attributes.set(Request, 'max_form_parts', 2)
    try:
        seen = {}
        body = multipart([field('a', '1'), field('b', '2'), field('c', '3')])
        res = await post_server(form_app(seen), body)
        assert res.status_code == 413
        assert res.body == b'Content Too Large'
        assert 'form' not in seen
    finally:
        attributes.restore()


async def test_field_over_max_form_field_length_is_413():
    attributes = Attributes()
    attributes.set(Request, 'max_form_field_length', 10)
    try:
        seen = {}
        res = await post(form_app(seen), multipart([field('a', 'x' * 10)]))
        assert res.status_code == 200
        assert seen['form'] == {'a': ['x' * 10]}
        body = multipart([field('a', 'x' * 11)])
        assert await status_of(body) == (413, b'Content Too Large')
        assert await status_of(body, use_iter=True) == (
            413,
            b'Content Too Large',
        )
    finally:
        attributes.restore()


async def test_field_length_limit_counts_bytes():
    attributes = Attributes()
    attributes.set(Request, 'max_form_field_length', 10)
    try:
        body = multipart([field('a', 'é' * 6)])  # 6 chars, 12 bytes
        assert await status_of(body) == (413, b'Content Too Large')
    finally:
        attributes.restore()


async def test_default_max_form_field_length():
    assert Request.max_form_field_length == 16 * 1024
    attributes = Attributes()
    attributes.set(Request, 'max_content_length', 64 * 1024)
    try:
        seen = {}
        body = multipart([field('a', 'x' * (16 * 1024))])
        res = await post(form_app(seen), body)
        assert res.status_code == 200
        assert seen['form'] == {'a': ['x' * (16 * 1024)]}
        body = multipart([field('a', 'x' * (16 * 1024 + 1))])
        assert await status_of(body) == (413, b'Content Too Large')
    finally:
        attributes.restore()


async def test_file_is_not_limited_by_max_form_field_length():
    attributes = Attributes()
    attributes.set(Request, 'max_form_field_length', 10)
    try:
        seen = {}
        body = multipart([file_part('f', 'x', b'y' * 500)])
        res = await post(form_app(seen), body)
        assert res.status_code == 200
        assert seen['files'] == {'f': [('x', 'text/plain', b'y' * 500)]}
    finally:
        attributes.restore()


async def test_error_after_spooled_file_removes_temp_file():
    tmp = TempDir()
    attributes = Attributes()
    attributes.set(FileUpload, 'temp_dir', tmp.path)
    attributes.set(Request, 'max_form_parts', 2)
    seen = {}
    body = multipart([
        file_part('f', 'x', b'y' * 3000),
        field('a', '1'),
        field('b', '2'),
    ])  # fmt: skip
    try:
        res = await post(form_app(seen), body)
        assert res.status_code == 413
        assert 'form' not in seen
        assert tmp.temp_files() == []
    finally:
        attributes.restore()
        tmp.remove()


async def test_field_not_utf8_is_400():
    body = multipart([field('a', b'\xff\xfeok')])
    assert await status_of(body) == (400, b'Bad Request')
    assert await status_of(body, use_iter=True) == (400, b'Bad Request')


async def test_body_over_max_content_length_is_413():
    body = multipart([file_part('f', 'x', b'y' * (16 * 1024))])
    assert len(body) > Request.max_content_length
    assert await status_of(body) == (413, b'Content Too Large')


async def test_chunked_body_over_max_content_length_is_413_real_server():
    seen = {}
    body = multipart([file_part('f', 'x', b'y' * (20 * 1024))])
    res = await post_chunked(form_app(seen), body, 4096)
    assert res.status_code == 413
    assert res.body == b'Content Too Large'
    assert 'files' not in seen


# -- urlencoded forms through the core ------------------------------------


def urlencoded_app(seen):
    app = Microdot()

    @app.post('/')
    async def index(req):
        seen['form'] = await describe_multidict(req.form)
        return 'ok'

    return app


async def test_urlencoded_max_form_parts():
    attributes = Attributes()
    attributes.set(Request, 'max_form_parts', 3)
    ct = 'application/x-www-form-urlencoded'
    try:
        seen = {}
        res = await post(urlencoded_app(seen), b'a=1&b=2&c=3', ct)
        assert res.status_code == 200
        assert seen['form'] == {'a': ['1'], 'b': ['2'], 'c': ['3']}
        seen = {}
        res = await post(urlencoded_app(seen), b'a=1&b=2&c=3&d=4', ct)
        assert res.status_code == 413
        assert res.body == b'Content Too Large'
        res = await post(form_app({}), b'a=1&b=2&c=3&d=4', ct)
        assert res.status_code == 413
    finally:
        attributes.restore()


async def test_urlencoded_default_max_form_parts():
    ct = 'application/x-www-form-urlencoded'
    seen = {}
    body = '&'.join('f%d=v' % i for i in range(100))
    res = await post(urlencoded_app(seen), body, ct)
    assert res.status_code == 200
    assert len(seen['form']) == 100
    res = await post(urlencoded_app({}), body + '&last=1', ct)
    assert res.status_code == 413


async def test_urlencoded_max_form_field_length():
    attributes = Attributes()
    attributes.set(Request, 'max_form_field_length', 5)
    ct = 'application/x-www-form-urlencoded'
    try:
        seen = {}
        res = await post(urlencoded_app(seen), b'a=12345&b=%C3%A9', ct)
        assert res.status_code == 200
        assert seen['form'] == {'a': ['12345'], 'b': ['é']}
        res = await post(urlencoded_app({}), b'a=123456', ct)
        assert res.status_code == 413
        assert res.body == b'Content Too Large'
        res = await post(form_app({}), b'a=123456', ct)
        assert res.status_code == 413
    finally:
        attributes.restore()


async def test_urlencoded_limits_real_server():
    attributes = Attributes()
    attributes.set(Request, 'max_form_parts', 2)
    ct = 'application/x-www-form-urlencoded'
    try:
        res = await post_server(urlencoded_app({}), b'a=1&b=2&c=3', ct)
        assert res.status_code == 413
        assert res.body == b'Content Too Large'
    finally:
        attributes.restore()


# ---------------------------------------------------------------------------
# preamble, epilogue, framing
# ---------------------------------------------------------------------------


async def test_preamble_and_epilogue_ignored():
    seen = {}
    body = multipart(
        [field('a', '1'), file_part('f', 'x', b'data')],
        preamble=b'This is the preamble.\r\n--not-the-boundary\r\n',
        epilogue=b'This is the epilogue.\r\n--' + BOUNDARY.encode() + b'\r\n'
        b'Content-Disposition: form-data; name="late"\r\n\r\nz\r\n',
    )
    res = await post(form_app(seen), body)
    assert res.status_code == 200
    assert seen['form'] == {'a': ['1']}
    assert seen['files'] == {'f': [('x', 'text/plain', b'data')]}


async def test_final_boundary_without_trailing_crlf():
    seen = {}
    body = multipart([field('a', '1')])
    assert body.endswith(b'--\r\n')
    res = await post(form_app(seen), body[:-2])
    assert res.status_code == 200
    assert seen['form'] == {'a': ['1']}


async def _pipelined(app, body, extra_headers=None):
    """Send a multipart POST and a GET /next in one write on one
    connection; return both responses."""

    async def script(server, client):
        headers = {'Content-Type': CONTENT_TYPE}
        headers.update(extra_headers or {})
        first = serverutil.build_request(server.port, 'POST', '/', headers,
                                         body)  # fmt: skip
        second = serverutil.build_request(server.port, 'GET', '/next')
        await client.send(first + second)
        return await client.read_response(), await client.read_response()

    return await serverutil.with_client(app, script)


async def _pipelined_streamed(app, body):
    """``_pipelined`` with ``Request.max_body_length = 0``: the handler
    reads the body from the connection itself."""
    attributes = Attributes()
    attributes.set(Request, 'max_body_length', 0)
    try:
        return await _pipelined(app, body)
    finally:
        attributes.restore()


def assert_next_answered(second):
    """The pipelined GET /next after the POST got its own answer."""
    assert second.status_code == 200
    assert second.body == b'next'


async def test_pipelined_request_after_multipart_is_answered():
    seen = {}
    body = multipart([field('a', '1')], epilogue=b'epilogue')
    first, second = await _pipelined(form_app(seen), body)
    assert first.status_code == 200
    assert first.body == b'ok'
    assert seen['form'] == {'a': ['1']}
    assert_next_answered(second)


async def test_pipelined_request_after_streamed_multipart():
    """Bodies over max_body_length are read from the connection itself."""
    seen = {}
    body = multipart([field('a', '1'), file_part('f', 'x', b'q' * 900)])
    first, second = await _pipelined_streamed(iter_app(seen), body)
    assert first.status_code == 200
    assert seen['items'] == [('a', '1'), ('f', ('x', 'text/plain',
                                                b'q' * 900))]  # fmt: skip
    assert_next_answered(second)


async def test_pipelined_request_after_final_boundary_without_crlf():
    seen = {}
    body = multipart([field('a', '1')])[:-2]  # ends with --boundary--
    first, second = await _pipelined_streamed(iter_app(seen), body)
    assert first.status_code == 200
    assert seen['items'] == [('a', '1')]
    assert_next_answered(second)


async def test_pipelined_request_after_handler_stopped_early():
    app = Microdot()

    @app.post('/')
    async def index(req):
        async for name, value in FormDataIter(req):
            return 'first:' + name  # leaves the rest of the body unread
        return 'none'

    @app.get('/next')
    async def next_request(req):
        return 'next'

    body = multipart([field('a', '1'), file_part('f', 'x', b'q' * 900)])
    first, second = await _pipelined_streamed(app, body)
    assert first.status_code == 200
    assert first.body == b'first:a'
    assert_next_answered(second)


async def test_chunked_request_body_small():
    seen = {}
    res = await post_chunked(form_app(seen), SIMPLE_BODY, 7)
    assert res.status_code == 200
    assert seen['form'] == SIMPLE_FORM
    assert seen['files'] == SIMPLE_FILES


async def test_chunked_request_body_streamed_then_pipelined():
    """A chunked body over max_body_length, read by FormDataIter from the
    connection, then a second request on the same connection."""
    seen = {}
    content = TRICKY * 100  # about 30 KB
    body = multipart([field('a', '1'), file_part('f', 'big.bin', content)])
    attributes = Attributes()
    attributes.set(Request, 'max_content_length', 256 * 1024)

    async def script(server, client):
        first = serverutil.build_request(
            server.port, 'POST', '/',
            {'Content-Type': CONTENT_TYPE, 'Transfer-Encoding': 'chunked'},
        ) + chunked(body, 1000)  # fmt: skip
        second = serverutil.build_request(server.port, 'GET', '/next')
        await client.send(first + second)
        return await client.read_response(), await client.read_response()

    try:
        assert len(body) > Request.max_body_length
        first, second = await serverutil.with_client(iter_app(seen), script)
    finally:
        attributes.restore()
    assert first.status_code == 200
    assert seen['items'] == [('a', '1'), ('f', ('big.bin', 'text/plain',
                                                content))]  # fmt: skip
    assert_next_answered(second)


async def test_chunked_body_split_in_small_chunks():
    seen = {}
    failures = []
    app = iter_app(seen)
    server = await serverutil.start(app)
    try:
        for size in (1, 2, 3, 5, 13, 64):
            seen.clear()
            request = chunked_request(server.port, SPLIT_BODY, size)
            res = serverutil.HTTPResponse(await server.exchange(request))
            if res.status_code != 200 or seen.get('items') != SPLIT_ITEMS:
                failures.append((size, res.status_code, seen.get('items')))
    finally:
        await server.stop()
    assert failures == []


async def test_large_upload_streamed_by_content_length_real_server():
    tmp = TempDir()
    attributes = Attributes()
    attributes.set(Request, 'max_content_length', 512 * 1024)
    # over max_body_length, so it streams; MPY: 64 KB, as a contiguous
    # 256 KB block may not be found in a fragmented test heap
    content = bytes(range(256)) * (250 if support.IS_MICROPYTHON else 1000)
    content += TRICKY
    body = multipart([field('a', '1'), file_part('f', 'big.bin', content)])
    app = Microdot()
    seen = {}

    @app.post('/')
    async def index(req):
        async for name, value in FormDataIter(req):
            if isinstance(value, FileUpload):
                await value.save(tmp.path)
            else:
                seen[name] = value
        return 'saved'

    try:
        res = await post_server(app, body)
        assert res.status_code == 200
        assert res.body == b'saved'
        assert seen == {'a': '1'}
        assert tmp.list() == ['big.bin']
        assert tmp.read('big.bin') == content
    finally:
        attributes.restore()
        tmp.remove()
