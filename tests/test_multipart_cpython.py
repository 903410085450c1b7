# runtime: cpython
"""microdot.multipart on CPython: a 50 MB upload streamed to disk by a
server in a child process whose resident memory is measured, and uploads
sent by real clients (requests, httpx).

The big-upload tests run ``UPLOAD_APP`` with ``sys.executable``
(PYTHONPATH=src) on a port they picked, send the body over a blocking
socket and read ``/proc/<pid>/status`` (VmRSS, VmHWM) of the child before
and after. The child is always killed and reaped in ``finally``.
"""

import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import time

import httpx
import requests
import serverutil

from microdot import Microdot, Request
from microdot.multipart import FileUpload, FormDataIter, with_form_data

HOST = serverutil.HOST
SRC_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'src')
START_TIMEOUT = 10  # seconds for the child to listen
IO_TIMEOUT = 30  # seconds for one socket operation of the big upload
BOUNDARY = 'big-upload-boundary-7f3a'
CONTENT_TYPE = 'multipart/form-data; boundary=' + BOUNDARY
MIB = 1024 * 1024
UPLOAD_MIB = 50
MAX_GROWTH_KB = 10 * 1024  # resident memory growth allowed for 50 MB

UPLOAD_APP = """
import os
import sys

from microdot import Microdot, Request
from microdot.multipart import FileUpload, FormDataIter, with_form_data

port, folder = int(sys.argv[1]), sys.argv[2]
app = Microdot()
if os.getenv('MICRODOT_TEST_DRIVER') == 'streams':
    app._use_streams = True
FileUpload.temp_dir = folder + '/spool'


@app.post('/iter')
async def iter_upload(req):
    fields = {}
    async for name, value in FormDataIter(req):
        if isinstance(value, FileUpload):
            await value.save(folder + '/saved')  # a folder: saved/<filename>
        else:
            fields[name] = value
    return fields


@app.post('/form')
@with_form_data
async def form_upload(req):
    await req.files['f'].save(folder + '/saved')
    return dict(req.form.items())


saved = Request.max_content_length
Request.max_content_length = 64 * 1024 * 1024
try:
    app.run(host='127.0.0.1', port=port)
finally:
    Request.max_content_length = saved
"""


# ---------------------------------------------------------------------------
# the child process
# ---------------------------------------------------------------------------


def free_port():
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


class UploadServer:
    """``UPLOAD_APP`` running in a child process, saving under
    ``folder``."""

    def __init__(self, folder):
        self.folder = folder
        os.mkdir(os.path.join(folder, 'spool'))
        os.mkdir(os.path.join(folder, 'saved'))
        script = os.path.join(folder, 'upload_app.py')
        with open(script, 'w') as f:
            f.write(UPLOAD_APP)
        env = dict(os.environ, PYTHONPATH=SRC_DIR, PYTHONUNBUFFERED='1')
        env.pop('PYTHONWARNINGS', None)
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, script, str(self.port), folder],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.out = self.err = ''

    def __enter__(self):
        try:
            listening = wait_until(self._listening, START_TIMEOUT)
            assert self.proc.poll() is None, 'the app exited at start'
            assert listening, 'the app did not listen'
        except BaseException:
            self.kill()
            raise
        return self

    def __exit__(self, *exc_info):
        self.kill()

    def _listening(self):
        if self.proc.poll() is not None:
            return True
        try:
            socket.create_connection((HOST, self.port), 0.2).close()
            return True
        except OSError:
            return False

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.out, self.err = self.proc.communicate(timeout=10)

    def memory_kb(self):
        """``(VmRSS, VmHWM)`` of the child, in kB."""
        values = {}
        with open('/proc/%d/status' % self.proc.pid) as f:
            for line in f:
                name, _, value = line.partition(':')
                if name in ('VmRSS', 'VmHWM'):
                    values[name] = int(value.split()[0])
        return values['VmRSS'], values['VmHWM']

    def reset_peak(self):
        """Reset VmHWM to the current VmRSS (Linux 4.0+); return whether
        that worked."""
        try:
            with open('/proc/%d/clear_refs' % self.proc.pid, 'w') as f:
                f.write('5')
        except OSError:
            return False
        rss, hwm = self.memory_kb()
        return hwm <= rss + 256

    def open_files_in(self, folder):
        """The child's open file descriptors that point into ``folder``."""
        found = []
        fd_dir = '/proc/%d/fd' % self.proc.pid
        for fd in os.listdir(fd_dir):
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target.startswith(folder + '/'):
                found.append(target)
        return found


# ---------------------------------------------------------------------------
# the upload
# ---------------------------------------------------------------------------


def block(index):
    """1 MiB of content: the block number, near-boundaries, all bytes."""
    near = b'\r\n--' + BOUNDARY.encode()[:-1] + b'\r\n'
    unit = near + bytes(range(256)) + b'\r\n--\r'
    data = ('%08d' % index).encode() + unit * (MIB // len(unit) + 1)
    return data[:MIB]


def upload(port, path, mib, filename='big.bin'):
    """Send a multipart body with a field and a ``mib`` MiB file to
    ``path``; return ``(response, sha256 of the file content)``."""
    head = (
        '--%s\r\nContent-Disposition: form-data; name="note"\r\n\r\n'
        'big one\r\n--%s\r\nContent-Disposition: form-data; name="f"; '
        'filename="%s"\r\nContent-Type: application/octet-stream\r\n\r\n'
        % (BOUNDARY, BOUNDARY, filename)
    ).encode()
    tail = ('\r\n--%s--\r\n' % BOUNDARY).encode()
    length = len(head) + mib * MIB + len(tail)
    request = serverutil.build_request(
        port, 'POST', path,
        {'Content-Type': CONTENT_TYPE, 'Content-Length': str(length),
         'Connection': 'close'},
    )  # fmt: skip
    digest = hashlib.sha256()
    with socket.create_connection((HOST, port), IO_TIMEOUT) as sock:
        sock.sendall(request + head)
        for index in range(mib):
            data = block(index)
            digest.update(data)
            sock.sendall(data)
        sock.sendall(tail)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return serverutil.HTTPResponse(b''.join(chunks)), digest.hexdigest()


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            data = f.read(MIB)
            if not data:
                return digest.hexdigest()
            digest.update(data)


def big_upload_memory(tmp_path, route):
    """Warm the route up, upload 50 MiB to it and return the figures."""
    folder = str(tmp_path)
    with UploadServer(folder) as server:
        res, _ = upload(server.port, route, 1, 'warmup.bin')
        assert res.status_code == 200, res.raw[:300]
        os.remove(os.path.join(folder, 'saved', 'warmup.bin'))
        exact_peak = server.reset_peak()
        rss_before, hwm_before = server.memory_kb()
        started = time.monotonic()
        res, sent_digest = upload(server.port, route, UPLOAD_MIB)
        seconds = time.monotonic() - started
        rss_after, hwm_after = server.memory_kb()
        open_files = server.open_files_in(folder)
    assert 'Traceback' not in server.err, server.err
    saved = os.path.join(folder, 'saved', 'big.bin')
    figures = {
        'route': route,
        'rss_before_kb': rss_before,
        'rss_after_kb': rss_after,
        'peak_kb': hwm_after,
        'rss_growth_kb': rss_after - rss_before,
        # without a peak reset, VmHWM may come from the start-up
        'peak_growth_kb': hwm_after
        - (
            rss_before if exact_peak else (max(rss_before, hwm_before))
        ),  # fmt: skip
        'exact_peak': exact_peak,
        'seconds': round(seconds, 2),
    }
    print('multipart %d MiB upload memory: %r' % (UPLOAD_MIB, figures))
    return res, sent_digest, saved, figures, open_files, folder


def big_upload_checked(tmp_path, route):
    """Upload 50 MiB to ``route``; check the response, the saved file,
    that no file is left open (a spooled temporary file was closed) and
    the memory growth. Return the folder."""
    res, digest, saved, figures, open_files, folder = big_upload_memory(
        tmp_path, route
    )
    assert res.status_code == 200
    assert json.loads(res.body) == {'note': 'big one'}
    assert os.path.getsize(saved) == UPLOAD_MIB * MIB
    assert file_sha256(saved) == digest
    assert open_files == []
    assert figures['rss_growth_kb'] < MAX_GROWTH_KB, figures
    assert figures['peak_growth_kb'] < MAX_GROWTH_KB, figures
    return folder


def test_50mb_upload_form_data_iter_save_memory_flat(tmp_path):
    big_upload_checked(tmp_path, '/iter')


def test_50mb_upload_with_form_data_memory_flat(tmp_path):
    folder = big_upload_checked(tmp_path, '/form')
    assert os.listdir(os.path.join(folder, 'spool')) == []


# ---------------------------------------------------------------------------
# real clients: requests and httpx, against the in-process server
# ---------------------------------------------------------------------------


async def describe(value):
    if isinstance(value, FileUpload):
        content = await value.read()
        return [value.filename, value.content_type, content.hex()]
    return value


def client_app(seen):
    """``POST /form`` (with_form_data) and ``POST /iter`` (FormDataIter)
    return ``{'form': {name: [values]}, 'files': {name: [[filename,
    content_type, hex content]]}}``."""
    app = Microdot()

    @app.post('/form')
    @with_form_data
    async def form_route(req):
        out = {'form': {}, 'files': {}}
        for name in req.form:
            out['form'][name] = req.form.getlist(name)
        for name in req.files:
            out['files'][name] = [
                await describe(upload) for upload in req.files.getlist(name)
            ]
        seen['headers'] = dict(req.headers)
        return out

    @app.post('/iter')
    async def iter_route(req):
        out = {'form': {}, 'files': {}}
        async for name, value in FormDataIter(req):
            key = 'files' if isinstance(value, FileUpload) else 'form'
            out[key].setdefault(name, []).append(await describe(value))
        seen['headers'] = dict(req.headers)
        return out

    return app


FILES = [
    ('doc', ('résumé €.txt', b'unicode name', 'text/plain')),
    ('doc', ('a"b.txt', b'quote', 'text/plain')),
    ('bin', ('../../etc/passwd', bytes(range(256)), 'application/x-bin')),
    ('bin', ('C:\\dir\\w.txt', b'windows', 'text/plain')),
]
DATA = {'name': 'Zoë', 'city': 'Zürich'}
EXPECTED = {
    'form': {'name': ['Zoë'], 'city': ['Zürich']},
    'files': {
        'doc': [
            ['résumé €.txt', 'text/plain', b'unicode name'.hex()],
            ['a"b.txt', 'text/plain', b'quote'.hex()],
        ],
        'bin': [
            ['passwd', 'application/x-bin', bytes(range(256)).hex()],
            ['w.txt', 'text/plain', b'windows'.hex()],
        ],
    },
}


async def upload_with(client_name, route):
    """Send DATA and FILES to ``route`` of client_app with ``requests`` or
    ``httpx``; return the response."""
    server = await serverutil.start(client_app({}))
    url = 'http://%s:%d%s' % (HOST, server.port, route)
    try:
        if client_name == 'requests':
            return await asyncio.to_thread(
                requests.post, url, data=DATA, files=FILES, timeout=10
            )
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(url, data=DATA, files=FILES)
    finally:
        await server.stop()


async def test_requests_upload_with_form_data():
    res = await upload_with('requests', '/form')
    assert res.status_code == 200
    assert res.json() == EXPECTED


async def test_requests_upload_form_data_iter():
    res = await upload_with('requests', '/iter')
    assert res.status_code == 200
    assert res.json() == EXPECTED


async def test_httpx_upload_with_form_data():
    res = await upload_with('httpx', '/form')
    assert res.status_code == 200
    assert res.json() == EXPECTED


async def test_httpx_upload_form_data_iter():
    res = await upload_with('httpx', '/iter')
    assert res.status_code == 200
    assert res.json() == EXPECTED


def multipart_chunks(mib):
    """A multipart body as a generator (requests sends it chunked)."""
    yield (
        '--%s\r\nContent-Disposition: form-data; name="f"; '
        'filename="stream.bin"\r\n\r\n' % BOUNDARY
    ).encode()
    for index in range(mib):
        yield block(index)
    yield ('\r\n--%s--\r\n' % BOUNDARY).encode()


async def test_requests_chunked_upload_saved_to_disk(tmp_path):
    app = Microdot()
    seen = {}

    @app.post('/save')
    async def save(req):
        seen['transfer-encoding'] = req.headers.get('Transfer-Encoding')
        async for name, value in FormDataIter(req):
            await value.save(str(tmp_path))
        return 'saved'

    saved = Request.max_content_length
    Request.max_content_length = 8 * MIB
    try:
        server = await serverutil.start(app)
        try:
            res = await asyncio.to_thread(
                requests.post,
                'http://%s:%d/save' % (HOST, server.port),
                data=multipart_chunks(5),
                headers={'Content-Type': CONTENT_TYPE}, timeout=20,
            )  # fmt: skip
        finally:
            await server.stop()
    finally:
        Request.max_content_length = saved
    assert res.status_code == 200
    assert res.text == 'saved'
    assert seen['transfer-encoding'] == 'chunked'
    expected = hashlib.sha256(b''.join(block(i) for i in range(5)))
    assert file_sha256(str(tmp_path / 'stream.bin')) == expected.hexdigest()


async def test_with_form_data_spooled_temp_file_closed_real_client(tmp_path):
    """Uploads above max_memory_size go to a temporary file in temp_dir,
    which is closed (and gone) once the handler returned."""
    app = Microdot()
    seen = {}

    def open_in_tmp():
        found = []
        for fd in os.listdir('/proc/self/fd'):
            try:
                target = os.readlink('/proc/self/fd/' + fd)
            except OSError:
                continue
            if target.startswith(str(tmp_path) + '/'):
                found.append(target)
        return found

    @app.post('/form')
    @with_form_data
    async def form_route(req):
        seen['during'] = len(open_in_tmp())
        seen['size'] = len(await req.files['f'].read())
        return 'ok'

    saved = FileUpload.temp_dir
    FileUpload.temp_dir = str(tmp_path)
    try:
        server = await serverutil.start(app)
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                res = await client.post(
                    'http://%s:%d/form' % (HOST, server.port),
                    files={'f': ('big.bin', b'x' * 10000)},
                )
        finally:
            await server.stop()
    finally:
        FileUpload.temp_dir = saved
    assert res.status_code == 200
    assert seen == {'during': 1, 'size': 10000}
    assert open_in_tmp() == []
    assert os.listdir(str(tmp_path)) == []
