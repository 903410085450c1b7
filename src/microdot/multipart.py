"""
microdot.multipart
------------------

Multipart forms (``multipart/form-data``, RFC 7578), including file
uploads. The body is parsed as it streams in from ``request.stream``, one
part at a time, without ever reading past its end.
"""

import io
import os
import sys

from microdot.helpers import wraps
from microdot.microdot import (
    MultiDict,
    NoCaseDict,
    Request,
    abort,
    iscoroutine,
    mimetype,
    urldecode,
)

try:
    import tempfile
except ImportError:  # MPY: no tempfile; spool to a named file instead
    tempfile = None  # type: ignore[assignment]

try:
    from typing import Any, Callable, Dict, List, Optional, Tuple  # noqa: F401
except ImportError:  # MPY: no typing module
    pass

_IS_MICROPYTHON = sys.implementation.name == 'micropython'


def parse_options(value: str) -> 'Tuple[str, Dict[str, str]]':
    """Split a header value such as ``form-data; name="a"; filename="b"``
    into its first item and a dictionary of its parameters (names in lower
    case; the first of a repeated name wins).

    Quoted values may contain ``;``; only ``\\"`` and ``\\\\`` are
    unescaped in them, as browsers send other backslashes as they are.
    """
    first, _, rest = value.partition(';')
    options = {}  # type: Dict[str, str]
    i, n = 0, len(rest)
    while i < n:
        if rest[i] in ' \t;':
            i += 1
            continue
        j = i
        while j < n and rest[j] not in '=;':
            j += 1
        name = rest[i:j].strip().lower()
        text = ''
        if j < n and rest[j] == '=':
            text, j = _parse_option_value(rest, j + 1)
        if name and name not in options:
            options[name] = text
        i = j
    return first.strip(), options


def _parse_option_value(rest: str, j: int) -> 'Tuple[str, int]':
    """Read a parameter value at ``rest[j:]``; return it and where the
    scan goes on."""
    n = len(rest)
    while j < n and rest[j] in ' \t':
        j += 1
    if j >= n or rest[j] != '"':
        end = rest.find(';', j)
        end = n if end < 0 else end
        return rest[j:end].strip(), end
    chars = []
    j += 1
    while j < n and rest[j] != '"':
        if rest[j] == '\\' and rest[j + 1 : j + 2] in ('"', '\\'):
            j += 1
        chars.append(rest[j])
        j += 1
    return ''.join(chars), j + 1


def _upload_filename(options: 'Dict[str, str]') -> 'Optional[str]':
    """The filename of a part, or ``None`` if it is not a file. The RFC
    5987 ``filename*`` wins; browsers send ``"``, CR and LF as ``%22``,
    ``%0D`` and ``%0A`` (HTML's multipart/form-data encoding)."""
    extended = options.get('filename*')
    if extended is not None:
        charset, _, encoded = extended.partition("'")
        encoded = encoded.partition("'")[2]
        if charset.lower() == 'utf-8' and encoded:
            try:
                return urldecode(encoded, plus=False)
            except ValueError:
                pass
    filename = options.get('filename')
    if filename is None:
        return None
    for escape, char in (('%22', '"'), ('%0D', '\r'), ('%0A', '\n')):
        filename = filename.replace(escape, char)
    return filename


def safe_filename(filename: str) -> str:
    """Return the last component of an uploaded filename, without path
    separators or control characters (``''`` for ``.`` and ``..``), so
    that it can be saved inside a folder without escaping it."""
    name = filename.replace('\\', '/').split('/')[-1]
    name = ''.join(char for char in name if char >= ' ' and char != '\x7f')
    return '' if name in ('.', '..') else name


def _check_boundary(boundary: 'Optional[str]') -> bytes:
    """RFC 2046 section 5.1.1: 1 to 70 printable characters, not ending
    in a space. 400 otherwise."""
    if not boundary or len(boundary) > 70 or boundary[-1] == ' ':
        abort(400)
    for char in boundary:  # type: ignore[union-attr]
        if char < ' ' or char > '~':
            abort(400)
    return boundary.encode()  # type: ignore[union-attr]


class FileUpload:
    """A file uploaded in a multipart form.

    While ``FormDataIter`` is on its part, the file streams from the
    request; ``copy()`` sets it aside, in memory up to ``max_memory_size``
    bytes and in a temporary file above that.

    :param filename: the name of the file, as the client sent it but
                     without any folders (see ``safe_filename``).
    :param content_type: the media type of the file.
    :param headers: the headers of the part.
    """

    #: The size above which ``copy()`` (and so ``with_form_data``) moves
    #: an upload from memory to a temporary file.
    max_memory_size = 1024

    #: The folder of the temporary files; ``None`` means the system's
    #: temporary folder on CPython and the current folder on MicroPython.
    temp_dir = None  # type: Optional[str]

    def __init__(
        self,
        filename: str,
        content_type: str,
        headers: 'Any',
        parser: 'Any' = None,
    ):
        #: The name of the file, without folders.
        self.filename = filename
        #: The media type of the file.
        self.content_type = content_type
        #: The headers of the part, as a ``NoCaseDict``.
        self.headers = headers
        self._parser = parser  # the FormDataIter, while on this part
        self._file = None  # type: Any  # the copy, once made
        self._path = None  # type: Optional[str]  # MPY: a file to remove

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes of the file, or all of the rest if ``n``
        is negative; ``b''`` at its end.

        :param n: the number of bytes to read.
        """
        if self._file is not None:
            return self._file.read() if n < 0 else self._file.read(n)
        if self._parser is None or n == 0:
            return b''
        if n > 0:
            return await self._parser._read_content(n)
        parts = []  # type: List[bytes]
        while True:
            data = await self._parser._read_content(FormDataIter.chunk_size)
            if not data:
                return b''.join(parts)
            parts.append(data)

    async def save(self, path_or_file: 'Any') -> None:
        """Save the file.

        :param path_or_file: an open binary file to write to (it is not
                             closed), the path of an existing folder to
                             save the file in under its ``filename``, or
                             any other path to save the file as.
        """
        if hasattr(path_or_file, 'write'):
            await self._write_to(path_or_file)
            return
        path = str(path_or_file)
        if _is_dir(path):
            name = safe_filename(self.filename) or 'upload'
            path = path.rstrip('/') + '/' + name
        with open(path, 'wb') as f:
            await self._write_to(f)

    async def _write_to(self, f: 'Any') -> None:
        while True:
            data = await self.read(FormDataIter.chunk_size)
            if not data:
                return
            f.write(data)

    async def copy(self) -> 'FileUpload':
        """Read the rest of the file from the request and keep it, in
        memory or in a temporary file, so that it can be read after the
        next form fields. Returns the upload itself."""
        if self._file is not None or self._parser is None:
            return self
        copy = io.BytesIO()  # type: Any
        size = 0
        try:
            while True:
                data = await self._parser._read_content(
                    FormDataIter.chunk_size
                )
                if not data:
                    break
                size += len(data)
                if size > self.max_memory_size and isinstance(
                    copy, io.BytesIO
                ):
                    copy = self._spool(copy.getvalue())
                copy.write(data)
        except BaseException:
            self._file = copy
            await self.close()
            raise
        copy.seek(0)
        self._file = copy
        self._parser = None
        return self

    def _spool(self, data: bytes) -> 'Any':
        """Open a temporary file that holds ``data`` so far."""
        if tempfile is not None:
            f = tempfile.TemporaryFile(dir=self.temp_dir)
        else:  # MPY: a named file, removed by close()
            import random

            self._path = '%s/microdot-upload-%08x.tmp' % (
                (self.temp_dir or '.').rstrip('/'),
                random.getrandbits(32),
            )
            f = open(self._path, 'w+b')
        f.write(data)
        return f

    async def close(self) -> None:
        """Free the copy of the file (and remove its temporary file)."""
        f, self._file = self._file, None
        self._parser = None
        if f is not None:
            f.close()
        if self._path is not None:
            try:
                os.remove(self._path)
            except OSError:
                pass
            self._path = None

    def __repr__(self) -> str:
        return '<FileUpload %r %s>' % (self.filename, self.content_type)


def _has_multipart_body(request: 'Any') -> bool:
    """Tell if a request has a body (a length or a transfer coding) and it
    is a multipart form. A GET or HEAD has no form."""
    if mimetype(request.content_type) != 'multipart/form-data':
        return False
    if request.method in ('GET', 'HEAD'):
        return False
    return bool(request.content_length or request.body) or (
        'Transfer-Encoding' in request.headers
    )


def _is_dir(path: str) -> bool:
    try:
        return os.stat(path)[0] & 0o170000 == 0o040000
    except OSError:
        return False


class FormDataIter:
    """Iterate over the fields of a multipart form as the body streams in::

        async for name, value in FormDataIter(request):
            print(name, value)

    A field gives a string, a file a ``FileUpload`` that can be read or
    saved until the iteration moves on. A request without a multipart body
    gives no fields.

    Limits: ``Request.max_form_parts`` fields, ``Request.max_header_size``
    bytes of headers per part and ``Request.max_form_field_length`` bytes
    per field that is not a file (413 above them); a truncated body or a
    bad boundary is a 400.

    :param request: the request whose body is parsed.
    """

    #: How many bytes are read from ``request.stream`` at a time.
    chunk_size = 1024 if _IS_MICROPYTHON else 64 * 1024

    def __init__(self, request: 'Any'):
        self.request = request
        self.boundary = None  # type: Optional[bytes]
        self.done = True
        content_type = request.content_type
        if _has_multipart_body(request):
            options = parse_options(content_type)[1]
            self.boundary = _check_boundary(options.get('boundary'))
            self.done = False
        self.delimiter = b'\r\n--' + (self.boundary or b'')
        # the body starts with a delimiter that has no CRLF before it
        self.buffer = b'\r\n'
        self.eof = False
        self.found = -1  # where the delimiter is in the buffer
        self.safe = 0  # bytes at the start of the buffer that are content
        self.parts = 0
        self.current = None  # type: Optional[FileUpload]
        self.started = False

    def __aiter__(self) -> 'FormDataIter':
        return self

    async def __anext__(self) -> 'Tuple[str, Any]':
        while not self.done:
            if self.current is not None:
                self.current._parser = None  # it ends here
                self.current = None
            await self._skip_content()  # the preamble, or an unread part
            if not await self._next_part():
                self.done = True
                break
            field = await self._read_part()
            if field is not None:
                return field
        raise StopAsyncIteration()

    # -- reading the body ---------------------------------------------------

    async def _fill(self) -> None:
        """Read more of the body; at its end, a 400 (it has no final
        delimiter) if more was needed."""
        if self.eof:
            abort(400)
        data = await self.request.stream.read(self.chunk_size)
        if data:
            self.buffer += data
        else:
            self.eof = True

    def _scan(self) -> None:
        """Find the delimiter in the buffer. Without one, all but its
        length minus one bytes are content: the rest may be its start.

        PERF: each byte is scanned at most about twice (the kept tail is
        shorter than the delimiter, which RFC 2046 caps at 74 bytes), so
        the search is linear in the size of the body.
        """
        index = self.buffer.find(self.delimiter)
        self.found = index
        if index >= 0:
            self.safe = index
        else:
            self.safe = max(0, len(self.buffer) - len(self.delimiter) + 1)

    async def _read_content(self, n: int) -> bytes:
        """Return up to ``n`` bytes of the current part's content, or
        ``b''`` when the next delimiter is reached."""
        while not self.safe:
            if self.found == 0:
                return b''
            await self._fill()
            self._scan()
        size = min(n, self.safe)
        data = self.buffer[:size]
        self.buffer = self.buffer[size:]
        self.safe -= size
        if self.found > 0:
            self.found -= size
        return data

    async def _skip_content(self) -> None:
        while await self._read_content(self.chunk_size):
            pass

    async def _readline(self, limit: int) -> bytes:
        """Return the next CRLF-terminated line without its CRLF; a 413 if
        it is longer than ``limit``."""
        while True:
            end = self.buffer.find(b'\r\n')
            if end >= 0:
                if end > limit:
                    abort(413)
                line = self.buffer[:end]
                self.buffer = self.buffer[end + 2 :]
                return line
            if len(self.buffer) > limit:
                abort(413)
            await self._fill()

    async def _next_part(self) -> bool:
        """Step over the delimiter found in the buffer; return ``False``
        at the final one (``--`` after it). What follows the final
        delimiter, the epilogue, is never read."""
        self.buffer = self.buffer[len(self.delimiter) :]
        self.found = -1
        while len(self.buffer) < 2:
            await self._fill()
        if self.buffer[:2] == b'--':
            return False
        padding = await self._readline(Request.max_header_size)
        if padding.strip(b' \t'):  # only transport padding may follow
            abort(400)
        return True

    async def _read_headers(self) -> 'NoCaseDict':
        headers = NoCaseDict()
        budget = Request.max_header_size
        while True:
            line = await self._readline(budget)
            if not line:
                return headers
            budget -= len(line) + 2
            try:
                name, sep, value = line.decode().partition(':')
            except UnicodeError:
                abort(400)
            if not sep or not name.strip():
                abort(400)
            headers[name.strip()] = value.strip()

    async def _read_part(self) -> 'Optional[Tuple[str, Any]]':
        """Read a part's headers; return ``(name, value)``, or ``None``
        for a part without a name (it is skipped)."""
        self.parts += 1
        if self.parts > Request.max_form_parts:
            abort(413)
        headers = await self._read_headers()
        self._scan()  # the content starts in the buffer
        disposition = parse_options(headers.get('Content-Disposition', ''))
        name = disposition[1].get('name')
        if name is None:
            return None
        filename = _upload_filename(disposition[1])
        if filename is None:
            return name, await self._read_field()
        content_type = headers.get('Content-Type') or (
            'application/octet-stream'
        )
        self.current = FileUpload(
            safe_filename(filename), content_type, headers, self
        )
        return name, self.current

    async def _read_field(self) -> str:
        limit = Request.max_form_field_length
        parts = []
        size = 0
        while True:
            data = await self._read_content(self.chunk_size)
            if not data:
                break
            size += len(data)
            if size > limit:
                abort(413)
            parts.append(data)
        try:
            return b''.join(parts).decode()
        except UnicodeError:
            abort(400)
            raise  # not reached: abort raises


def with_form_data(f: 'Callable') -> 'Callable':
    """Decorator that parses a multipart form before the route runs:
    ``request.form`` gets the fields (strings) and ``request.files`` the
    files (``FileUpload`` objects, copied to memory or temporary files),
    which are closed when the route returns.

    A request without a multipart body gets an empty ``request.files``,
    and an empty ``request.form`` unless it has an urlencoded form.
    """

    @wraps(f)
    async def wrapper(request: 'Any', *args: 'Any', **kwargs: 'Any') -> 'Any':
        files = MultiDict()
        try:
            form = await _read_form(request, files)
            if form is not None:
                request.form = form
            elif request.form is None:
                request.form = MultiDict()
            request.files = files
            ret = f(request, *args, **kwargs)
            if iscoroutine(ret):
                ret = await ret
            return ret
        finally:
            for name in files:
                for upload in files.getlist(name):
                    await upload.close()

    return wrapper


async def _read_form(request: 'Any', files: MultiDict) -> 'Optional[Any]':
    """Read a multipart form; ``None`` if the request does not have one."""
    if not _has_multipart_body(request):
        return None
    form = MultiDict()
    async for name, value in FormDataIter(request):
        if isinstance(value, FileUpload):
            files[name] = await value.copy()
        else:
            form[name] = value
    return form
