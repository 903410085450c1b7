"""
microdot
--------

The impossibly small web framework for Python and MicroPython.

This one file is the whole core: it has no dependencies and runs unchanged on
CPython 3.9+ and on MicroPython (copy it alone onto a board). It reads top to
bottom in dependency order: compatibility shims, helpers and data
structures, HTTP errors, request parsing, ``Request``, response formatting,
``Response``, ``URLPattern`` and finally ``Microdot`` (dispatch, handlers and
the built-in server).

HTTP parsing and response formatting are plain functions over bytes with no
I/O inside (as in h11), so every server driver shares them.
"""

import asyncio
import io
import json
import os
import re
import sys
import time

try:
    from typing import Any, Callable, Dict, List, Optional, Tuple, Union
except ImportError:  # MPY: no typing module; annotations are discarded
    pass

# ============================================================================
# Compatibility shims
# ============================================================================

IS_MICROPYTHON = sys.implementation.name == 'micropython'

try:  # PERF: orjson serialises JSON several times faster than json on CPython
    import orjson as _orjson  # type: ignore
except ImportError:
    _orjson = None  # type: ignore[assignment]

try:  # CPython only: sync handlers run in the default thread pool executor
    from functools import partial as _partial
    from inspect import iscoroutine as _iscoroutine
    from inspect import iscoroutinefunction as _iscoroutinefunction
except ImportError:  # MPY: no functools or inspect
    _partial = None  # type: ignore
    _iscoroutine = None  # type: ignore
    _iscoroutinefunction = None  # type: ignore


_GENERATOR_TYPE = type((lambda: (yield))())
_PLAIN_FUNCTION_TYPE = type(lambda: None)

# MPY: the definitions of the branch that does not run are freed after the
# import, so each runtime only keeps its own (measured: 512 bytes of heap).
if IS_MICROPYTHON:

    def _print_exception(exc):
        """Print an exception with its traceback to standard error."""
        sys.print_exception(exc)  # type: ignore[attr-defined]

    def _json_dumps(obj) -> bytes:
        """Serialise ``obj`` to compact JSON bytes (UTF-8, as on CPython:
        MicroPython has no ``ensure_ascii``)."""
        return json.dumps(obj, separators=(',', ':')).encode()

    _json_loads = json.loads

else:

    def _print_exception(exc):
        """Print an exception with its traceback to standard error."""
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__)

    def _json_dumps(obj) -> bytes:
        """Serialise ``obj`` to compact JSON bytes."""
        if _orjson is not None:
            try:
                return _orjson.dumps(obj)
            except TypeError:  # orjson refuses non-str keys and huge ints
                pass
        # UTF-8 rather than \u escapes: the bytes of orjson and MicroPython
        return json.dumps(
            obj, separators=(',', ':'), ensure_ascii=False
        ).encode()

    def _json_loads(data):  # type: ignore[misc]
        """Parse JSON from bytes or str."""
        if _orjson is not None:  # its JSONDecodeError is a ValueError too
            return _orjson.loads(data)
        return json.loads(data)


# ============================================================================
# Helpers and data structures
# ============================================================================

_URL_SAFE = (
    b'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~'
)
_HEX_DIGITS = b'0123456789abcdefABCDEF'


def urlencode(s: 'Union[str, bytes]') -> str:
    """Percent-encode a string for use in a query string.

    Unreserved characters (RFC 3986 section 2.3) are kept, spaces become
    ``+`` and every other byte of the UTF-8 encoding becomes ``%XX``.

    :param s: the text (or bytes) to encode.
    """
    if isinstance(s, str):
        s = s.encode()
    out = []
    for byte in s:
        if byte in _URL_SAFE:
            out.append(chr(byte))
        elif byte == 32:
            out.append('+')
        else:
            out.append('%%%02X' % byte)
    return ''.join(out)


def urldecode(s: 'Union[str, bytes]', plus: bool = True) -> str:
    """Decode a percent-encoded string and return it as text.

    :param s: the text (or bytes) to decode.
    :param plus: when ``True`` (query strings and forms), ``+`` is decoded
                 as a space.

    Raises ``ValueError`` when a ``%`` is not followed by two hex digits or
    the decoded bytes are not valid UTF-8.
    """
    if isinstance(s, str):
        s = s.encode()
    if plus and b'+' in s:
        s = s.replace(b'+', b' ')
    if b'%' not in s:
        return s.decode()
    parts = s.split(b'%')
    out = bytearray(parts[0])
    for part in parts[1:]:
        if (
            len(part) < 2
            or part[0] not in _HEX_DIGITS
            or part[1] not in _HEX_DIGITS
        ):
            raise ValueError('invalid percent-encoding')
        out.append(int(part[:2], 16))
        out.extend(part[2:])
    return bytes(out).decode()


#: Decode a percent-encoded query string given as text or as bytes.
urldecode_str = urldecode_bytes = urldecode


_MISSING = object()


class NoCaseDict(dict):
    """A dictionary with case-insensitive string keys.

    The spelling of a key used the first time it is set is the one that is
    kept for iteration, so ``Content-Type`` stays ``Content-Type``.

    :param initial_dict: an optional dictionary with initial contents.
    """

    def __init__(self, initial_dict: 'Optional[dict]' = None):
        super().__init__()
        # lower-case key -> its spelling, for keys that are not lower-case
        self.keymap = {}  # type: Dict[str, str]
        if initial_dict:
            self.update(initial_dict)

    # PERF: lookups try the key as it is first, which is how the core
    # spells it (request headers are stored lower-case), and lower-case it
    # only on a miss; lower-case keys need no keymap entry.

    def _key(self, key):
        if isinstance(key, str):
            lower = key.lower()
            return self.keymap.get(lower, lower)
        return key

    def __setitem__(self, key, value):
        if isinstance(key, str) and super().get(key, _MISSING) is _MISSING:
            lower = key.lower()
            spelling = self.keymap.get(lower, lower)
            if super().get(spelling, _MISSING) is not _MISSING:
                key = spelling  # set before with another spelling
            elif key != lower:
                self.keymap[lower] = key
        super().__setitem__(key, value)

    def __getitem__(self, key):
        value = super().get(key, _MISSING)
        if value is _MISSING:
            return super().__getitem__(self._key(key))
        return value

    def __delitem__(self, key):
        if super().get(key, _MISSING) is _MISSING:
            key = self._key(key)
        super().__delitem__(key)
        if isinstance(key, str):
            self.keymap.pop(key.lower(), None)

    def __contains__(self, key):
        # MPY: dict has no __contains__ to call through super()
        return self.get(key, _MISSING) is not _MISSING

    def get(self, key, default=None):
        value = super().get(key, _MISSING)
        if value is not _MISSING:
            return value
        if isinstance(key, str):  # PERF: _key() inlined
            lower = key.lower()
            key = self.keymap.get(lower, lower)
        return super().get(key, default)

    def _update_lower(self, fields: dict) -> None:
        """Add fields whose names are all lower-case (PERF: in one call)."""
        super().update(fields)

    def pop(self, key, *default):
        if key in self:
            value = self[key]
            del self[key]
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, other_dict=(), **kwargs):  # type: ignore[override]
        items = other_dict.items() if hasattr(other_dict, 'items') else []
        for key, value in items:
            self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def copy(self):
        return NoCaseDict(self)

    def clear(self):
        super().clear()
        self.keymap.clear()


class MultiDict(dict):
    """A dictionary that can hold several values for each key.

    Setting a key adds a value to it; reading it returns the first value.
    This is how query strings and form submissions are represented.

    :param initial_dict: an optional dictionary with initial contents.
    """

    def __init__(self, initial_dict: 'Optional[dict]' = None):
        super().__init__()
        if initial_dict:
            for key, value in initial_dict.items():
                self[key] = value

    def __setitem__(self, key, value):
        if key in self:
            super().__getitem__(key).append(value)
        else:
            super().__setitem__(key, [value])

    def __getitem__(self, key):
        return super().__getitem__(key)[0]

    def get(self, key, default=None, type=None):
        """Return the first value of a key, or ``default`` if missing.

        :param key: the key to look up.
        :param default: the value returned when the key is missing (or the
                        ``type`` conversion fails).
        :param type: an optional callable that converts the value.
        """
        if key not in self:
            return default
        value = self[key]
        if type is not None:
            try:
                value = type(value)
            except ValueError:
                return default
        return value

    def getlist(self, key, type=None) -> list:
        """Return all the values of a key as a list (empty if missing).

        :param key: the key to look up.
        :param type: an optional callable that converts each value; values
                     that fail the conversion are left out.
        """
        if key not in self:
            return []
        values = super().__getitem__(key)
        if type is None:
            return list(values)
        out = []
        for value in values:
            try:
                out.append(type(value))
            except ValueError:
                pass
        return out

    def values(self):
        return [self[key] for key in self]

    def items(self):
        return [(key, self[key]) for key in self]

    def __repr__(self):
        return 'MultiDict(%r)' % dict((key, self.getlist(key)) for key in self)


class AsyncBytesIO:
    """An asynchronous stream over a bytes buffer.

    It offers the reading methods of an asyncio stream reader (``read``,
    ``readline``, ``readexactly``) and the writing methods of a writer
    (``write``, ``drain``, ``awrite``, ``close``).

    :param data: the initial contents of the buffer.
    """

    def __init__(self, data: bytes = b''):
        self.stream = io.BytesIO(data)

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes (all the remaining bytes if ``n`` < 0)."""
        return self.stream.read(n)

    async def readline(self) -> bytes:
        """Read one line, including its line terminator."""
        return self.stream.readline()

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes, raising ``EOFError`` if fewer remain."""
        data = self.stream.read(n)
        if len(data) < n:
            raise EOFError()
        return data

    def write(self, data: bytes) -> None:
        """Append bytes to the buffer."""
        self.stream.write(data)

    async def drain(self) -> None:
        """Nothing to flush: present for stream writer compatibility."""

    async def awrite(self, data: bytes) -> None:
        """Append bytes to the buffer (MicroPython stream writer style)."""
        self.write(data)

    def getvalue(self) -> bytes:
        """Return the whole contents of the buffer."""
        return self.stream.getvalue()

    def close(self) -> None:
        """Close the stream."""

    async def wait_closed(self) -> None:
        """Nothing to wait for: present for stream compatibility."""

    async def aclose(self) -> None:
        """Close the stream."""


if IS_MICROPYTHON:

    def iscoroutine(obj) -> bool:
        """Return ``True`` if ``obj`` is a coroutine object.

        MPY: coroutines and generators are the same type on MicroPython, so
        a generator object also returns ``True`` there.
        """
        return type(obj) is _GENERATOR_TYPE

    async def invoke_handler(f, *args, **kwargs):
        """Call a handler, sync or async, and return its result.

        MPY: it runs inline. ``async def`` functions and generator
        functions share one type, and closures or bound methods hide their
        kind: only plain ``def`` functions are known to be synchronous.
        """
        result = f(*args, **kwargs)
        if type(f) is not _PLAIN_FUNCTION_TYPE and iscoroutine(result):
            result = await result
        return result

else:

    def iscoroutine(obj) -> bool:
        """Return ``True`` if ``obj`` is a coroutine object."""
        return _iscoroutine(obj)

    async def invoke_handler(f, *args, **kwargs):
        """Call a handler, sync or async, and return its result.

        A ``def`` handler runs in the default thread executor so that it
        cannot block the loop.
        """
        if _iscoroutinefunction(f):
            result = f(*args, **kwargs)
            if iscoroutine(result):
                result = await result
            return result
        loop = asyncio.get_running_loop()
        call = _partial(f, *args, **kwargs)
        result = await loop.run_in_executor(None, call)
        if iscoroutine(result):  # a sync wrapper around an async function
            result = await result
        return result


_WEEKDAYS = 'MonTueWedThuFriSatSun'  # MPY: one string, not 7 objects
_MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec'


def http_date(when=None) -> str:
    """Format a time as an HTTP date (RFC 9110 section 5.6.7).

    :param when: seconds since the epoch, a ``datetime`` (naive ones are
                 taken as UTC) or ``None`` for now.
    """
    if when is None:
        when = time.time()
    if hasattr(when, 'utctimetuple'):
        t = when.utctimetuple()
    else:
        t = time.gmtime(int(when))
    return '%s, %02d %s %04d %02d:%02d:%02d GMT' % (
        _WEEKDAYS[t[6] * 3 : t[6] * 3 + 3],
        t[2],
        _MONTHS[t[1] * 3 - 3 : t[1] * 3],
        t[0],
        t[3],
        t[4],
        t[5],
    )


# ============================================================================
# HTTP errors
# ============================================================================

# MPY: one string costs 2.5 KB less heap than a dict of 49 strings.
_REASONS = (
    '\n'
    '100Continue\n101Switching Protocols\n200OK\n201Created\n'
    '202Accepted\n203Non-Authoritative Information\n204No Content\n'
    '205Reset Content\n206Partial Content\n300Multiple Choices\n'
    '301Moved Permanently\n302Found\n303See Other\n304Not Modified\n'
    '307Temporary Redirect\n308Permanent Redirect\n400Bad Request\n'
    '401Unauthorized\n402Payment Required\n403Forbidden\n404Not Found\n'
    '405Method Not Allowed\n406Not Acceptable\n408Request Timeout\n'
    '409Conflict\n410Gone\n411Length Required\n412Precondition Failed\n'
    '413Content Too Large\n414URI Too Long\n415Unsupported Media Type\n'
    "416Range Not Satisfiable\n417Expectation Failed\n418I'm a teapot\n"
    '421Misdirected Request\n422Unprocessable Content\n423Locked\n'
    '425Too Early\n426Upgrade Required\n428Precondition Required\n'
    '429Too Many Requests\n431Request Header Fields Too Large\n'
    '451Unavailable For Legal Reasons\n500Internal Server Error\n'
    '501Not Implemented\n502Bad Gateway\n503Service Unavailable\n'
    '504Gateway Timeout\n505HTTP Version Not Supported\n'
)


def reason_phrase(status_code: int) -> str:
    """Return the standard reason phrase of a status code (RFC 9110
    section 15), or ``'N/A'`` for a code it does not define."""
    start = _REASONS.find('\n%d' % status_code) + 4
    if start < 4 or not 100 <= status_code <= 999:
        return 'N/A'
    return _REASONS[start : _REASONS.find('\n', start)]


class HTTPException(Exception):
    """An exception that ends the request with an HTTP error response.

    :param status_code: the numeric status code of the response.
    :param reason: the text of the response body; the standard reason
                   phrase of the status code by default.
    """

    def __init__(self, status_code: int, reason: 'Optional[str]' = None):
        self.status_code = status_code
        self.reason = reason or reason_phrase(status_code)
        self.headers = None  # type: Optional[dict]
        #: The request being read when the server raised it, if any.
        self.request = None  # type: Any
        super().__init__(status_code, self.reason)

    def __repr__(self):
        return 'HTTPException: %d' % self.status_code


def abort(status_code: int, reason: 'Optional[str]' = None):
    """Abort the current request and return an error response with the
    given status code.

    :param status_code: The numeric status code of the response.
    :param reason: The reason for the response, which is included in the
                   response body.
    """
    raise HTTPException(status_code, reason)


# ============================================================================
# Request parsing (bytes in, values out: no I/O)
# ============================================================================

_TOKEN_SEPARATORS = b'"(),/:;<=>?@[\\]{} \t'

if hasattr(b'', 'translate'):
    # PERF: one C call checks a whole field instead of a Python loop over
    # its bytes; the request head is checked for every request.
    _TOKEN_BYTES = bytes(
        [b for b in range(33, 127) if b not in _TOKEN_SEPARATORS]
    )
    _VALUE_BYTES = bytes([9] + list(range(32, 127)) + list(range(128, 256)))

    def _is_token(name: bytes) -> bool:
        """Tell if ``name`` is an RFC 9110 token (section 5.6.2)."""
        return bool(name) and not name.translate(None, _TOKEN_BYTES)

    def _is_field_value(value: bytes) -> bool:
        """Tell if ``value`` has no control characters but HT (RFC 9110
        section 5.5): a bare CR or a NUL could split or cut a field."""
        return not value.translate(None, _VALUE_BYTES)

else:  # MPY: no bytes.translate

    def _is_token(name: bytes) -> bool:
        """Tell if ``name`` is an RFC 9110 token (section 5.6.2)."""
        if not name:
            return False
        for byte in name:
            if byte <= 32 or byte >= 127 or byte in _TOKEN_SEPARATORS:
                return False
        return True

    def _is_field_value(value: bytes) -> bool:
        """Tell if ``value`` has no control characters but HT (RFC 9110
        section 5.5): a bare CR or a NUL could split or cut a field."""
        for byte in value:
            if (byte < 32 and byte != 9) or byte == 127:
                return False
        return True


def _strip_cr(line: bytes) -> bytes:
    """Remove the CR of a line split at its LF."""
    return line[:-1] if line[-1:] == b'\r' else line


def _strip_eol(line: bytes) -> bytes:
    """Remove the CRLF (or bare LF, RFC 9112 section 2.2) ending a line."""
    if line.endswith(b'\r\n'):
        return line[:-2]
    if line.endswith(b'\n'):
        return line[:-1]
    return line


def parse_request_line(line: bytes) -> 'Tuple[str, str, str]':
    """Parse a request line into ``(method, target, http_version)``.

    The line may still carry its CRLF. Raises ``HTTPException(400)`` when
    it is malformed (RFC 9112 section 3) and ``HTTPException(505)`` for a
    major version other than 1.
    """
    line = _strip_eol(line)
    parts = line.split(b' ')
    if len(parts) != 3 or not _is_token(parts[0]) or not parts[1]:
        raise HTTPException(400)
    method, target, version = parts
    # RFC 9112 section 2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT
    if (
        len(version) != 8
        or not version.startswith(b'HTTP/')
        or not version[5:6].isdigit()
        or version[6:7] != b'.'
        or not version[7:8].isdigit()
    ):
        raise HTTPException(400)
    if version[5:6] != b'1':
        raise HTTPException(505)
    for byte in target:  # RFC 9112 section 3.2: no controls, no spaces
        if byte <= 32 or byte == 127:
            raise HTTPException(400)
    try:
        return method.decode(), target.decode(), version[5:].decode()
    except UnicodeError:
        raise HTTPException(400)


def parse_header_line(line: bytes) -> 'Tuple[str, str]':
    """Parse one header field line into ``(lower-case name, value)``.

    Raises ``HTTPException(400)`` for obsolete line folding, whitespace
    before the colon, a missing colon or control characters in the value
    (RFC 9112 section 5).
    """
    line = _strip_eol(line)
    colon = line.find(b':')
    if colon <= 0 or not _is_token(line[:colon]):
        raise HTTPException(400)
    value = line[colon + 1 :].strip(b' \t')
    if not _is_field_value(value):
        raise HTTPException(400)
    try:
        return line[:colon].lower().decode(), value.decode()
    except UnicodeError:
        raise HTTPException(400)


def parse_content_length(value: str) -> int:
    """Parse a ``Content-Length`` value made of ASCII digits only.

    ``int()`` alone would accept ``" 3"``, ``"+3"``, ``"3_0"`` and non-ASCII
    digits, and a list such as ``"3, 3"`` means duplicate headers; all of
    them raise ``HTTPException(400)`` (RFC 9112 section 6.3).
    """
    if not value or len(value) > 18:
        raise HTTPException(400)
    for char in value:
        if char < '0' or char > '9':
            raise HTTPException(400)
    return int(value)


def find_head_end(data: bytes) -> int:
    """Return the length of the request head at the start of ``data``, up
    to and including the empty line that ends it, or -1 if the head is not
    complete yet. Lines may end in CRLF or a bare LF (RFC 9112 section 2.2).
    """
    crlf = data.find(b'\n\r\n')
    lf = data.find(b'\n\n')
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf + 2
    return crlf + 3 if crlf >= 0 else -1


def check_partial_head(data: bytes) -> None:
    """Refuse an incomplete request head that is already over the limits
    that ``parse_head`` enforces (``HTTPException(414)`` for the request
    line, 431 for the header lines) or whose request line is invalid."""
    limit = Request.max_readline
    end = data.find(b'\n')
    if end + 1 > limit or (end < 0 and len(data) >= limit):
        raise HTTPException(414)
    if end >= 0:  # refuse a bad request line without waiting for the rest
        parse_request_line(_strip_cr(data[:end]))
    if len(data) < limit:  # PERF: a short head cannot be over the rest
        return
    lines = data.split(b'\n')
    if len(lines) > Request.max_header_count + 2:
        raise HTTPException(431)
    if len(data) - end > Request.max_header_size + 2:
        raise HTTPException(431)
    for line in lines[1:]:
        if len(line) + 1 > limit:
            raise HTTPException(431)


def parse_head(head: bytes) -> 'Tuple[str, str, str, Dict[str, str]]':
    """Parse a complete request head into ``(method, target, http_version,
    fields)``. ``fields`` is a dictionary with lower-case names; repeated
    fields are joined with ``", "`` (``"; "`` for ``Cookie``).

    The limits of ``Request`` apply: a request line over ``max_readline``
    raises ``HTTPException(414)``; a header line over it, headers over
    ``max_header_size`` bytes or more than ``max_header_count`` fields
    raise 431. Malformed lines raise 400 (see ``parse_request_line`` and
    ``parse_header_line``).
    """
    lines = head.split(b'\n')
    request_line = _strip_cr(lines[0])
    if len(request_line) + 2 > Request.max_readline:  # with its CRLF
        raise HTTPException(414)
    method, target, version = parse_request_line(request_line)
    fields = lines[1:-2]  # the last two are the empty line and b''
    if len(fields) > Request.max_header_count:
        raise HTTPException(431)
    if len(head) - len(request_line) - 3 > Request.max_header_size:
        raise HTTPException(431)
    values = {}  # type: Dict[str, str]
    for line in fields:
        line = _strip_cr(line)
        if len(line) + 2 > Request.max_readline:
            raise HTTPException(431)
        if line[:1] in (b' ', b'\t'):  # obsolete line folding
            raise HTTPException(400)
        name, value = parse_header_line(line)
        if name in values:
            joiner = '; ' if name == 'cookie' else ', '
            value = values[name] + joiner + value
        values[name] = value
    return method, target, version, values


def request_framing(http_version: str, fields: dict) -> int:
    """Return how the body of a request is framed (RFC 9112 section 6):
    its ``Content-Length``, 0 when it has none, or -1 for chunked.
    ``fields`` has lower-case names, as ``parse_head`` returns them.

    ``Content-Length`` with ``Transfer-Encoding``, a ``Transfer-Encoding``
    on HTTP/1.0, an empty or repeated coding raise ``HTTPException(400)``;
    a coding other than ``chunked`` raises 501.
    """
    codings = fields.get('transfer-encoding')
    length = fields.get('content-length')
    if codings is None:
        return 0 if length is None else parse_content_length(length)
    if length is not None or http_version == '1.0':
        raise HTTPException(400)  # a smuggling attempt or faulty framing
    codings = [coding.strip().lower() for coding in codings.split(',')]
    if codings == ['chunked']:
        return -1
    for coding in codings:
        if coding != 'chunked' and _is_token(coding.encode()):
            raise HTTPException(501)
    raise HTTPException(400)


def check_host(http_version: str, fields: dict) -> None:
    """Refuse an HTTP/1.1 request without a ``Host`` field, and any with
    several (``HTTPException(400)``, RFC 9112 section 3.2)."""
    host = fields.get('host')
    if host is None:
        if http_version != '1.0':
            raise HTTPException(400)
    elif ',' in host:  # two fields, joined by the parser
        raise HTTPException(400)


def wants_keep_alive(http_version: str, fields: dict) -> bool:
    """Tell if the client asked to keep the connection open: the default
    for HTTP/1.1, unless ``Connection: close``; for HTTP/1.0 only with
    ``Connection: keep-alive`` (RFC 9112 section 9.3)."""
    value = fields.get('connection')
    if value is None:
        return http_version == '1.1'
    options = [option.strip() for option in value.lower().split(',')]
    if 'close' in options:
        return False
    return http_version == '1.1' or 'keep-alive' in options


_HEX_DIGITS = b'0123456789abcdefABCDEF'


def parse_chunk_size(line: bytes) -> int:
    """Parse the size line of a chunk (RFC 9112 section 7.1): hex digits,
    then optional extensions, which are ignored. Anything else, or more
    than 16 digits, raises ``HTTPException(400)``."""
    size = _strip_eol(line).split(b';', 1)[0].rstrip(b' \t')
    if not size or len(size) > 16:
        raise HTTPException(400)
    for byte in size:
        if byte not in _HEX_DIGITS:
            raise HTTPException(400)
    return int(size, 16)


def parse_cookies(header: str) -> dict:
    """Parse a ``Cookie`` header into a dictionary.

    Pairs without ``=`` are skipped and empty values are kept as ``''``.
    """
    cookies = {}
    for pair in header.split(';'):
        name, sep, value = pair.partition('=')
        name = name.strip()
        if sep and name:
            value = value.strip()
            if len(value) > 1 and value[0] == '"' and value[-1] == '"':
                value = value[1:-1]
            cookies[name] = value
    return cookies


def mimetype(content_type: 'Optional[str]') -> str:
    """Return the media type of a ``Content-Type`` value, lower-cased and
    without parameters (``''`` when there is none)."""
    if not content_type:
        return ''
    return content_type.split(';')[0].strip().lower()


def is_json_content_type(content_type: 'Optional[str]') -> bool:
    """Tell if a ``Content-Type`` is JSON (``application/json`` or a
    ``+json`` structured syntax suffix, RFC 6839)."""
    media_type = mimetype(content_type)
    return media_type == 'application/json' or media_type.endswith('+json')


def parse_query(query: 'Union[str, bytes]') -> MultiDict:
    """Parse a query string or urlencoded form body into a ``MultiDict``.

    Raises ``HTTPException(400)`` for invalid percent-encoding.
    """
    args = MultiDict()
    try:
        if isinstance(query, bytes):
            query = query.decode()
        for pair in query.split('&'):
            if pair:
                name, _, value = pair.partition('=')
                args[urldecode(name)] = urldecode(value)
    except ValueError:  # UnicodeError is a ValueError on both runtimes
        raise HTTPException(400)
    return args


def parse_form(body: bytes) -> MultiDict:
    """Parse an urlencoded form body into a ``MultiDict``, within the
    ``Request.max_form_parts`` and ``Request.max_form_field_length``
    limits (413 above them; 400 for invalid percent-encoding)."""
    if body.count(b'&') >= Request.max_form_parts:  # fields may be empty
        if len([pair for pair in body.split(b'&') if pair]) > (
            Request.max_form_parts
        ):
            raise HTTPException(413)
    form = parse_query(body)
    for key in form:
        for value in form.getlist(key):
            if len(value) > Request.max_form_field_length:
                raise HTTPException(413)
    return form


async def read_exactly(stream: 'Any', n: int) -> bytes:
    """Read exactly ``n`` bytes from ``stream``, whose ``read(n)`` may
    return fewer; ``EOFError`` if the stream ends first."""
    parts = []
    while n > 0:
        data = await stream.read(n)
        if not data:
            raise EOFError()
        parts.append(data)
        n -= len(data)
    return b''.join(parts)


class _BodyReader:
    """``request.stream`` for a body that arrives on a connection: reads
    return the body's bytes only, de-chunked when ``length`` is -1.

    A body that ends early raises ``HTTPException(400)``; a chunked body
    that grows over ``Request.max_content_length`` raises 413.
    """

    def __init__(self, conn: 'Any', length: int):
        self.conn = conn
        self.chunked = length < 0
        self.remaining = 0 if self.chunked else length  # in this chunk
        self.done = length == 0
        self.size = 0  # bytes of the body read so far
        self.pending = b''  # read ahead, returned first

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes of the body (all of it if ``n < 0``)."""
        if self.pending:
            data = self.pending if n < 0 else self.pending[:n]
            self.pending = self.pending[len(data) :]
            if n < 0:
                return data + await self.read()
            return data
        if n < 0:
            parts = []
            while not self.done:
                parts.append(await self._read_some(16384))
            return b''.join(parts)
        data = b''
        while n and not data and not self.done:
            data = await self._read_some(n)
        return data

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes; ``EOFError`` if the body is shorter."""
        return await read_exactly(self, n)

    async def readline(self) -> bytes:
        """Read up to and including the next LF, or to the end."""
        line = b''
        while not line.endswith(b'\n'):
            data = await self.read(1)
            if not data:
                break
            line += data
        return line

    async def _read_some(self, n: int) -> bytes:
        if self.chunked and not self.remaining:
            await self._next_chunk()
            if self.done:
                return b''
        try:
            data = await self.conn.read_body(min(n, self.remaining))
        except EOFError:
            raise HTTPException(400)  # the body was cut short
        self.remaining -= len(data)
        self.size += len(data)
        if not self.remaining:
            if self.chunked:  # RFC 9112 section 7.1: CRLF after the data
                if await self.conn.read_body_line() not in (b'\r\n', b'\n'):
                    raise HTTPException(400)
            else:
                self.done = True
        return data

    async def _next_chunk(self) -> None:
        size = parse_chunk_size(await self.conn.read_body_line())
        if self.size + size > Request.max_content_length:
            raise HTTPException(413)
        if size:
            self.remaining = size
            return
        for _ in range(Request.max_header_count + 1):  # trailer fields
            if await self.conn.read_body_line() in (b'\r\n', b'\n'):
                self.done = True
                return
        raise HTTPException(431)

    async def discard(self, limit: int) -> bool:
        """Read and drop what is left of the body, at most ``limit`` bytes;
        return ``True`` if the whole body could be dropped."""
        self.pending = b''
        while not self.done:
            if limit <= 0:
                return False
            data = await self._read_some(min(limit, 4096))
            limit -= len(data)
        return True


# ============================================================================
# Request
# ============================================================================


class Request:
    """An HTTP request."""

    #: Specify the maximum payload size that is accepted. Requests with
    #: larger payloads will be rejected with a 413 status code.
    max_content_length = 16 * 1024

    #: Specify the maximum payload size that can be stored in ``body``.
    #: Larger payloads, up to ``max_content_length``, can only be read from
    #: ``stream``. Set to 0 to always access the body as a stream.
    max_body_length = 16 * 1024

    #: Specify the maximum length allowed for a line in the request. A
    #: longer request line gets a 414 response, a longer header line 431.
    max_readline = 2 * 1024

    #: The maximum number of header fields in a request (431 above it).
    max_header_count = 100

    #: The maximum size in bytes of the header fields of a request, all
    #: lines together (431 above it); 8 KB, as nginx and Apache allow.
    max_header_size = 8 * 1024

    #: The maximum number of fields in a form, urlencoded or multipart
    #: (413 above it).
    max_form_parts = 100

    #: The maximum length of a form field's value, urlencoded or a
    #: multipart field that is not a file (413 above it).
    max_form_field_length = 16 * 1024

    class G:
        """A general purpose container for request-scoped data."""

    def __init__(
        self,
        app: 'Any',
        client_addr: 'Any',
        method: str,
        url: str,
        http_version: str,
        headers: 'Union[NoCaseDict, dict]',
        body: 'Optional[bytes]' = None,
        stream: 'Any' = None,
        sock: 'Any' = None,
        url_prefix: str = '',
        subapp: 'Any' = None,
    ):
        #: The application instance to which this request belongs.
        self.app = app
        #: The address of the client, as a tuple (host, port).
        self.client_addr = client_addr
        #: The HTTP method of the request.
        self.method = method
        #: The request URL, including the path and query string.
        self.url = url
        #: The HTTP version of the request, such as ``'1.1'``.
        self.http_version = http_version
        if not isinstance(headers, NoCaseDict):
            headers = NoCaseDict(headers)
        #: A dictionary with the headers included in the request.
        self.headers = headers
        #: The URL prefix, if the endpoint comes from a mounted
        #: sub-application, or else ''.
        self.url_prefix = url_prefix
        #: The sub-application instance, or None if this isn't a mounted
        #: endpoint.
        self.subapp = subapp
        #: The underlying connection, as a ``(reader, writer)`` tuple.
        self.sock = sock
        #: ``'https'`` when the request arrived over TLS, else ``'http'``.
        self.scheme = 'http'
        #: The route handler function that matched the request.
        self.route = None  # type: Any
        self._route_entry = None  # type: Any  # the matched _Route
        #: A general purpose container for applications to store data
        #: during the life of the request.
        self.g = Request.G()
        #: The file uploads, set by the multipart extension.
        self.files = None  # type: Any
        self.path, self.query_string = self._split_url(url)
        self.content_length = 0
        value = headers.get('content-length')
        if value is not None:
            self.content_length = parse_content_length(value)
        self.content_type = headers.get('content-type')
        self._body = body if body is not None else b''
        self._stream = stream
        self._args = None  # type: Optional[MultiDict]
        self._cookies = None  # type: Optional[dict]
        self._json = None
        self._json_loaded = False
        self._form = None  # type: Optional[MultiDict]
        self._form_loaded = False
        self.after_request_handlers = []  # type: List[Callable]

    @staticmethod
    def _split_url(url: str) -> 'Tuple[str, str]':
        path, _, query_string = url.partition('?')
        scheme = path[:8].lower()  # RFC 3986 section 3.1: case-insensitive
        if scheme.startswith('http://') or scheme == 'https://':
            slash = path.find('/', path.find('//') + 2)  # absolute-form
            path = path[slash:] if slash >= 0 else '/'
        if '%' in path:
            try:
                path = urldecode(path, plus=False)
            except ValueError:
                raise HTTPException(400)
        return path, query_string

    @staticmethod
    async def create(
        app: 'Any',
        client_reader: 'Any',
        client_writer: 'Any',
        client_addr: 'Any',
        scheme: str = 'http',
    ) -> 'Optional[Request]':
        """Create a request object.

        :param app: The Microdot application instance.
        :param client_reader: An input stream from where the request data
                              can be read.
        :param client_writer: An output stream where the response data can
                              be written.
        :param client_addr: The address of the client, as a tuple.
        :param scheme: ``'https'`` for a TLS connection.

        This method is a coroutine. It returns a newly created ``Request``
        object, or ``None`` if the client closed the connection before
        sending a request. A malformed request raises ``HTTPException``.
        """
        conn = _StreamConnection(app, client_reader, client_writer)
        conn.peer = client_addr
        conn.scheme = scheme
        conn.serving = False  # a parser only: no Host or Expect checks
        return await conn.read_request()

    @property
    def args(self) -> MultiDict:
        """The parsed query string, as a ``MultiDict`` object."""
        if self._args is None:
            self._args = parse_query(self.query_string)
        return self._args

    @property
    def cookies(self) -> dict:
        """A dictionary with the cookies included in the request."""
        if self._cookies is None:
            header = self.headers.get('cookie')
            self._cookies = parse_cookies(header) if header else {}
        return self._cookies

    @property
    def body(self) -> bytes:
        """The body of the request, as bytes."""
        return self._body

    @property
    def stream(self) -> 'Any':
        """The body of the request, as a bytes stream."""
        if self._stream is None:
            self._stream = AsyncBytesIO(self._body)
        return self._stream

    @property
    def json(self) -> 'Any':
        """The parsed JSON body, or ``None`` if the request does not have a
        JSON body. An invalid JSON body aborts the request with a 400."""
        if not self._json_loaded:
            if is_json_content_type(self.content_type):
                try:
                    self._json = _json_loads(self.body)
                except ValueError:
                    raise HTTPException(400)
            self._json_loaded = True
        return self._json

    @property
    def form(self) -> 'Optional[MultiDict]':
        """The parsed form submission body, as a ``MultiDict`` object, or
        ``None`` if the request does not have a form submission."""
        if not self._form_loaded:
            if mimetype(self.content_type) == (
                'application/x-www-form-urlencoded'
            ):
                self._form = parse_form(self.body)
            self._form_loaded = True
        return self._form

    @form.setter
    def form(self, value: 'Optional[MultiDict]') -> None:
        self._form = value
        self._form_loaded = True

    def after_request(self, f: 'Callable') -> 'Callable':
        """Register a request-specific function to run after the request is
        handled. Request-specific after request handlers run at the very
        end, after the application's own after request handlers. The
        function must take two arguments, the request and response objects.
        The return value of the function must be the updated response
        object.

        Note that the function is not called if the request handler raises
        an exception and an error response is returned instead.
        """
        self.after_request_handlers.append(f)
        return f


# ============================================================================
# Response formatting (values in, bytes out: no I/O)
# ============================================================================


def _status_line(http_version: str, status_code: int, reason: str) -> bytes:
    return ('HTTP/%s %d %s\r\n' % (http_version, status_code, reason)).encode()


# PERF: each status line is built once and then served from this table.
# MPY: it fills on first use instead of at import, which would hold about
# 12 KB of heap for lines most applications never send.
_STATUS_LINES = {}  # type: Dict[Tuple[str, int], bytes]


def status_line(http_version: str, status_code: int) -> bytes:
    """Return the status line of a response with the standard reason
    phrase (``N/A`` for an unknown code), CRLF included, from the table."""
    key = (http_version, status_code)
    line = _STATUS_LINES.get(key)
    if line is None:
        reason = reason_phrase(status_code)
        line = _STATUS_LINES[key] = _status_line(*key, reason)
    return line


def _check_header_value(value: str) -> str:
    """Refuse CR and LF in a header value: they would start a new header."""
    if '\r' in value or '\n' in value:
        raise ValueError('CR or LF in header value')
    return value


# PERF: most responses of an application repeat the same few heads (same
# status, type and length), so whole heads are kept once built: a hit saves
# the formatting and checks of every header. The table is emptied when
# full. MPY: off, as every byte of heap counts there.
_HEAD_CACHE = {}  # type: Dict[Any, bytes]
_HEAD_CACHE_SIZE = 0 if IS_MICROPYTHON else 512


def format_response_head(
    http_version: str,
    status_code: int,
    reason: 'Optional[str]',
    headers: dict,
) -> bytes:
    """Build the status line and header block of a response, as bytes.

    Header values may be lists (one header line each, as ``Set-Cookie``
    needs). A value with CR or LF raises ``ValueError``.
    """
    key = None  # type: Any
    if _HEAD_CACHE_SIZE and reason is None:
        key = (http_version, status_code, tuple(headers.items()))
        try:
            head = _HEAD_CACHE.get(key)
        except TypeError:  # a list value: not cached
            key = head = None
        if head is not None:
            return head
    head = _format_head(http_version, status_code, reason, headers)
    if key is not None:
        if len(_HEAD_CACHE) >= _HEAD_CACHE_SIZE:
            _HEAD_CACHE.clear()
        _HEAD_CACHE[key] = head
    return head


def _format_head(http_version, status_code, reason, headers) -> bytes:
    if reason is None:
        head = status_line(http_version, status_code)
    else:
        head = _status_line(
            http_version, status_code, _check_header_value(reason)
        )
    lines = []
    for name, value in headers.items():
        _check_header_value(name)
        for item in value if isinstance(value, list) else (value,):
            item = _check_header_value(str(item))
            lines.append('%s: %s\r\n' % (name, item))
    lines.append('\r\n')
    return head + ''.join(lines).encode()


_COOKIE_FORBIDDEN = ';\r\n\x00'


def _check_cookie_part(what: str, text: str) -> str:
    """Refuse characters that would end a cookie attribute or header."""
    for char in text:
        if char in _COOKIE_FORBIDDEN or char < ' ' or char == '\x7f':
            raise ValueError('invalid character in cookie %s' % what)
    return text


def format_cookie(
    cookie: str,
    value: str,
    path: 'Optional[str]' = None,
    domain: 'Optional[str]' = None,
    expires: 'Any' = None,
    max_age: 'Optional[int]' = None,
    secure: bool = False,
    http_only: bool = False,
    partitioned: bool = False,
) -> str:
    """Build the value of a ``Set-Cookie`` header (RFC 6265 section 4.1).

    A name that is not a token, or a value or attribute with ``;``, CR, LF
    or another control character, raises ``ValueError``, so no attribute
    or header can be injected through them.
    """
    if not _is_token(cookie.encode()):
        raise ValueError('invalid cookie name')
    parts = [cookie + '=' + _check_cookie_part('value', str(value))]
    if path:
        parts.append('Path=' + _check_cookie_part('path', path))
    if domain:
        parts.append('Domain=' + _check_cookie_part('domain', domain))
    if expires is not None and expires != '':  # the epoch (0) is valid
        if not isinstance(expires, str):
            expires = http_date(expires)
        parts.append('Expires=' + _check_cookie_part('expires', expires))
    if max_age is not None:
        parts.append('Max-Age=%d' % int(max_age))
    if secure:
        parts.append('Secure')
    if http_only:
        parts.append('HttpOnly')
    if partitioned:
        parts.append('Partitioned')
    return '; '.join(parts)


_LAST_CHUNK = b'0\r\n\r\n'


def format_chunk(data: bytes) -> bytes:
    """Frame ``data`` as one chunk of a chunked body (RFC 9112 section
    7.1): its size in hex, CRLF, the data and CRLF."""
    return b'%x\r\n' % len(data) + data + b'\r\n'


_HEAD_ERROR_RESPONSE = (
    b'HTTP/1.1 500 Internal Server Error\r\n'
    b'Content-Length: 0\r\nConnection: close\r\n\r\n'
)


class _BodyIterator:
    """Asynchronous iterator over the chunks of a response body.

    Bodies can be bytes, file-like objects (sync or async ``read``), sync
    generators or iterables, and async generators or class-based async
    iterators. Text chunks are encoded as UTF-8. ``aclose()`` releases the
    body (closes the file or generator) and runs at the end of iteration.
    """

    def __init__(self, body, buffer_size: int):
        self.body = body
        self.buffer_size = buffer_size
        self.iterator = None  # type: Any
        self.done = self.closed = False
        if hasattr(body, '__anext__'):
            self.kind = 'async'
        elif hasattr(body, 'read'):
            self.kind = 'file'
        elif isinstance(body, (bytes, bytearray, memoryview)):
            self.kind = 'bytes'
        else:
            self.kind = 'sync'
            self.iterator = iter(body)

    def __aiter__(self):
        return self

    async def __anext__(self) -> bytes:
        while not self.done:
            chunk = await self._next_chunk()
            if chunk is None:
                await self.aclose()
                break
            if isinstance(chunk, str):
                chunk = chunk.encode()
            if chunk:
                return chunk
        raise StopAsyncIteration

    async def _next_chunk(self):
        if self.kind == 'bytes':
            self.done = True
            return bytes(self.body)
        if self.kind == 'file':
            chunk = self.body.read(self.buffer_size)
            if iscoroutine(chunk):
                chunk = await chunk
            return chunk or None
        if self.kind == 'async':
            try:
                return await self.body.__anext__()
            except StopAsyncIteration:
                return None
        try:
            return next(self.iterator)
        except StopIteration:
            return None

    async def aclose(self) -> None:
        """Release the body: close its file or generator (once)."""
        if self.closed:
            return
        self.done = self.closed = True
        body = self.body
        if self.kind == 'async' and hasattr(body, 'aclose'):
            await body.aclose()
        elif hasattr(body, 'close'):
            result = body.close()
            if iscoroutine(result):
                await result


# ============================================================================
# Response
# ============================================================================


class Response:
    """An HTTP response class.

    :param body: The body of the response. If a dictionary or list is given,
                 a JSON formatter is used to generate the body. If a
                 file-like object or an async generator is given, a
                 streaming response is used. If a string is given, it is
                 encoded from UTF-8. Else, the body should be a byte
                 sequence.
    :param status_code: The numeric HTTP status code of the response. The
                        default is 200.
    :param headers: A dictionary of headers to include in the response.
    :param reason: A custom reason phrase to add after the status code. The
                   default is the standard phrase of the status code
                   ("OK" for 200), or "N/A" for an unknown code.
    """

    #: File extensions mapped to the content types ``send_file`` uses.
    types_map = {
        'css': 'text/css',
        'csv': 'text/csv',
        'gif': 'image/gif',
        'htm': 'text/html',
        'html': 'text/html',
        'ico': 'image/x-icon',
        'jpeg': 'image/jpeg',
        'jpg': 'image/jpeg',
        'js': 'application/javascript',
        'json': 'application/json',
        'mjs': 'application/javascript',
        'mp3': 'audio/mpeg',
        'mp4': 'video/mp4',
        'pdf': 'application/pdf',
        'png': 'image/png',
        'svg': 'image/svg+xml',
        'txt': 'text/plain',
        'wasm': 'application/wasm',
        'webp': 'image/webp',
        'woff': 'font/woff',
        'woff2': 'font/woff2',
        'xml': 'application/xml',
    }

    #: The size of the chunks in which file bodies are sent.
    send_file_buffer_size = 1024

    #: The content type to use for responses that do not explicitly define
    #: a ``Content-Type`` header.
    default_content_type = 'text/plain'

    #: The default cache control max age used by ``send_file()``. A value
    #: of ``None`` means that no ``Cache-Control`` header is added.
    default_send_file_max_age = None  # type: Optional[int]

    #: Special response used to signal that a response does not need to be
    #: written to the client. Used to exit WebSocket connections cleanly.
    already_handled = None  # type: Any  # set below the class

    def __init__(
        self,
        body: 'Any' = '',
        status_code: int = 200,
        headers: 'Optional[dict]' = None,
        reason: 'Optional[str]' = None,
    ):
        if body is None:
            body = b''
        self.status_code = status_code
        self.headers = NoCaseDict(headers)
        self.reason = reason
        self.is_head = False
        if isinstance(body, (dict, list)):
            self.body = _json_dumps(body)  # type: Any
            if 'Content-Type' not in self.headers:
                self.headers['Content-Type'] = 'application/json'
        elif isinstance(body, str):
            self.body = body.encode()
        else:
            self.body = body

    def set_cookie(
        self,
        cookie: str,
        value: str,
        path: 'Optional[str]' = None,
        domain: 'Optional[str]' = None,
        expires: 'Any' = None,
        max_age: 'Optional[int]' = None,
        secure: bool = False,
        http_only: bool = False,
        partitioned: bool = False,
    ) -> None:
        """Add a cookie to the response.

        :param cookie: The cookie's name.
        :param value: The cookie's value.
        :param path: The cookie's path.
        :param domain: The cookie's domain.
        :param expires: The cookie expiration time, as a ``datetime``
                        object, seconds since the epoch or a correctly
                        formatted string.
        :param max_age: The cookie's ``Max-Age`` value.
        :param secure: The cookie's ``secure`` flag.
        :param http_only: The cookie's ``HttpOnly`` flag.
        :param partitioned: Whether the cookie is partitioned.

        A value with ``;``, CR, LF or another control character raises
        ``ValueError``.
        """
        header = format_cookie(
            cookie, value, path=path, domain=domain, expires=expires,
            max_age=max_age, secure=secure, http_only=http_only,
            partitioned=partitioned,
        )  # fmt: skip
        cookies = self.headers.get('Set-Cookie')
        if cookies is None:
            self.headers['Set-Cookie'] = [header]
        elif isinstance(cookies, list):
            cookies.append(header)
        else:
            self.headers['Set-Cookie'] = [cookies, header]

    def delete_cookie(self, cookie: str, **kwargs) -> None:
        """Delete a cookie.

        :param cookie: The cookie's name.
        :param kwargs: Any cookie opens and flags supported by
                       ``set_cookie()`` except ``expires`` and ``max_age``
                       (they are ignored if given).
        """
        kwargs.pop('expires', None)
        kwargs.pop('max_age', None)
        self.set_cookie(
            cookie, '', expires='Thu, 01 Jan 1970 00:00:01 GMT', max_age=0,
            **kwargs,
        )  # fmt: skip

    def complete(self) -> None:
        """Add the headers that depend on the body: ``Content-Length`` for
        bodies of known size and the default ``Content-Type``."""
        no_body = self.status_code in (204, 304) or self.status_code < 200
        if isinstance(self.body, (bytes, bytearray)) and not no_body:
            if 'Content-Length' not in self.headers:
                self.headers['Content-Length'] = str(len(self.body))
        if 'Content-Type' not in self.headers and not (
            no_body and not self.body
        ):  # a 204 or 304 has no content to describe
            content_type = self.default_content_type
            if content_type.startswith('text/') and 'charset' not in (
                content_type
            ):
                content_type += '; charset=UTF-8'
            self.headers['Content-Type'] = content_type

    def head_bytes(self, http_version: str = '1.1') -> bytes:
        """Return the status line and headers of the response as bytes."""
        return format_response_head(
            http_version, self.status_code, self.reason, self.headers
        )

    def body_iter(self) -> '_BodyIterator':
        """Return an asynchronous iterator over the chunks of the body."""
        return _BodyIterator(self.body, self.send_file_buffer_size)

    def frame(
        self, http_version: str = '1.1', keep_alive: bool = False
    ) -> 'Tuple[bytes, Optional[bytes], bool, bool]':
        """Finish the headers for sending on a connection (RFC 9112
        section 6) and return ``(head, body, chunked, keep_alive)``.

        ``body`` is the bytes to send after the head (empty for ``HEAD``,
        204 and 304 responses), or ``None`` when the body is streamed:
        then ``chunked`` tells if it must be sent in chunks (HTTP/1.1)
        rather than delimited by closing the connection (HTTP/1.0).
        ``keep_alive`` is ``False`` when the connection must close after
        the response, which then says ``Connection: close``. A header with
        CR or LF raises ``ValueError``.
        """
        self.complete()
        headers = self.headers
        body = self.body
        streaming = not isinstance(body, (bytes, bytearray))
        chunked = False
        status = self.status_code
        if status in (204, 304) or status < 200:  # never a body
            headers.pop('Transfer-Encoding', None)
            body, streaming = b'', False
        elif streaming and 'Content-Length' not in headers:
            if http_version == '1.1':
                chunked = True
                headers['Transfer-Encoding'] = 'chunked'
            else:  # HTTP/1.0 has no chunks: the end of the body is a close
                keep_alive = False
        if keep_alive and headers.get('Connection', '').lower() == 'close':
            keep_alive = False  # the application asked for it
        if not keep_alive:
            headers['Connection'] = 'close'
        elif http_version == '1.0':
            headers['Connection'] = 'keep-alive'
        head = self.head_bytes(http_version)
        if self.is_head:
            body, streaming = b'', False
        return head, None if streaming else bytes(body), chunked, keep_alive

    async def write(
        self,
        stream: 'Any',
        http_version: str = '1.1',
        keep_alive: bool = False,
    ) -> bool:
        """Write the whole response to an asyncio-style stream writer,
        framed as ``frame()`` says, and return whether the connection can
        carry another request.

        The head and a bytes body go out in one write; other bodies are
        streamed chunk by chunk. A ``HEAD`` response (``is_head``) sends
        the headers only.
        """
        try:
            head, body, chunked, keep_alive = self.frame(
                http_version, keep_alive
            )
        except ValueError as exc:  # a header with CR or LF: never send it
            _print_exception(exc)
            stream.write(_HEAD_ERROR_RESPONSE)
            await stream.drain()
            await self.body_iter().aclose()
            return False
        if body is None:
            if not await self._write_stream(stream, head, chunked):
                return False
        else:
            stream.write(head + body if body else head)  # PERF: one write
            if not isinstance(self.body, (bytes, bytearray)):
                await self.body_iter().aclose()  # a stream left unsent
        await stream.drain()
        return keep_alive

    async def _write_stream(self, stream, head: bytes, chunked: bool) -> bool:
        """Send the head and then the body chunk by chunk. An error from
        the body is printed and cuts the response short (``False``)."""
        body_iter = self.body_iter()
        stream.write(head)
        try:
            async for chunk in body_iter:
                stream.write(format_chunk(chunk) if chunked else chunk)
                await stream.drain()
            if chunked:
                stream.write(_LAST_CHUNK)
        except Exception as exc:
            if _is_connection_error(exc):
                raise
            _print_exception(exc)  # the head is out: all we can do is close
            return False
        finally:  # the client may be gone: release the body anyway
            await body_iter.aclose()
        return True

    @classmethod
    def redirect(cls, location: str, status_code: int = 302) -> 'Response':
        """Return a redirect response.

        :param location: The URL to redirect to.
        :param status_code: The 3xx status code to use for the redirect.
                            The default is 302.
        """
        _check_header_value(location)
        return cls(status_code=status_code, headers={'Location': location})

    @classmethod
    def send_file(
        cls,
        filename: str,
        status_code: int = 200,
        content_type: 'Optional[str]' = None,
        stream: 'Any' = None,
        max_age: 'Optional[int]' = None,
        compressed: 'Union[bool, str]' = False,
        file_extension: str = '',
    ) -> 'Response':
        """Send file contents in a response.

        :param filename: The filename of the file.
        :param status_code: The status code of the response. The default is
                            200.
        :param content_type: The ``Content-Type`` header to use in the
                             response. If omitted, it is generated
                             automatically from the file extension of the
                             ``filename`` parameter.
        :param stream: A file-like object to read the file contents from.
                       If a stream is given, the ``filename`` parameter is
                       only used when generating the ``Content-Type``
                       header.
        :param max_age: The ``Cache-Control`` header's ``max-age`` value in
                        seconds. If omitted, the value of the
                        ``Response.default_send_file_max_age`` attribute is
                        used.
        :param compressed: Whether the file is compressed. If ``True``, the
                           ``Content-Encoding`` header is set to ``gzip``. A
                           string with the header value can also be passed.
                           Note that when using this option the file must
                           have been compressed beforehand. This option only
                           sets the header.
        :param file_extension: A file extension to append to the
                               ``filename`` parameter when opening the file,
                               including the dot. The extension given here
                               is not considered when generating the
                               ``Content-Type`` header.

        A missing file aborts the request with a 404. Security note: the
        filename is assumed to be trusted. Never pass filenames provided by
        the user without validating and sanitizing them first.
        """
        if content_type is None:
            extension = filename.rsplit('.', 1)[-1] if '.' in filename else ''
            content_type = cls.types_map.get(
                extension.lower(), 'application/octet-stream'
            )
        headers = {'Content-Type': content_type}
        if max_age is None:
            max_age = cls.default_send_file_max_age
        if max_age is not None:
            headers['Cache-Control'] = 'max-age=%d' % max_age
        if compressed:
            headers['Content-Encoding'] = (
                compressed if isinstance(compressed, str) else 'gzip'
            )
        if stream is None:
            stream = cls._open_file(filename + file_extension, headers)
        return cls(body=stream, status_code=status_code, headers=headers)

    @staticmethod
    def _open_file(path: str, headers: dict) -> 'Any':
        try:
            st = os.stat(path)
        except OSError:
            raise HTTPException(404)
        if st[0] & 0o170000 == 0o040000:  # MPY: open() accepts directories
            raise HTTPException(404)
        headers['Content-Length'] = str(st[6])
        return open(path, 'rb')


Response.already_handled = Response()


def redirect(location: str, status_code: int = 302) -> Response:
    """Return a redirect response (see ``Response.redirect``)."""
    return Response.redirect(location, status_code=status_code)


def send_file(filename: str, *args, **kwargs) -> Response:
    """Send file contents in a response (see ``Response.send_file``)."""
    return Response.send_file(filename, *args, **kwargs)


def make_response(value: 'Any') -> Response:
    """Build a ``Response`` from a handler's return value.

    Accepted values: a ``Response``; a body; a status code; or a tuple of
    ``(body, status)``, ``(body, headers)``, ``(body, status, headers)``,
    ``(status,)`` or ``(status, headers)``.
    """
    if isinstance(value, Response):
        return value
    if value is None:
        raise TypeError('the handler did not return a response')
    if not isinstance(value, tuple):
        value = (value,)
    if not value or len(value) > 3:
        raise TypeError('a response tuple has one to three parts')
    if _is_status(value[0]):
        value = ('',) + value
    body, status_code, headers = value[0], 200, None
    for part in value[1:]:
        if _is_status(part):
            status_code = part
        elif isinstance(part, dict):
            headers = part
        else:
            raise TypeError('invalid part in response tuple: %r' % (part,))
    return Response(body, status_code, headers)


def _is_status(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ============================================================================
# URLPattern
# ============================================================================

_REGEX_SPECIALS = '\\.^$*+?{}[]|()'


def _regex_escape(text: str) -> str:
    """Escape literal route text for a regex (MPY has no ``re.escape``)."""
    return ''.join('\\' + c if c in _REGEX_SPECIALS else c for c in text)


def _count_groups(pattern: str) -> int:
    """Count the capturing groups of a user-supplied regex."""
    count = 0
    escaped = in_class = False
    class_start = -1
    for i, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == '\\':
            escaped = True
        elif in_class:
            # a ']' right after '[' or '[^' is a literal, not the end
            if char == ']' and i > class_start:
                in_class = False
        elif char == '[':
            in_class = True
            class_start = i + 1
            if pattern[i + 1 : i + 2] == '^':
                class_start += 1
        elif char == '(' and pattern[i + 1 : i + 2] != '?':
            count += 1
    return count


def _is_identifier(name: str) -> bool:
    """Tell if ``name`` can be a keyword argument (MPY: no isidentifier)."""
    if not name or name[0].isdigit():
        return False
    for char in name:
        if not (char == '_' or char.isalpha() or char.isdigit()):
            return False
    return True


def _is_ascii_int(text: str) -> bool:
    digits = text[1:] if text.startswith('-') else text
    if not digits:
        return False
    for char in digits:
        if char < '0' or char > '9':
            return False
    return True


def _parse_int(text: str) -> 'Optional[int]':
    return int(text) if _is_ascii_int(text) else None


class URLPattern:
    """A compiled URL pattern, such as ``/users/<int:id>``.

    Patterns are compiled once, when a route is registered. Static patterns
    need no matching at all (the router looks them up in a dictionary);
    patterns whose dynamic parts each fill a whole path segment match with
    ``split('/')``; only the others use a regular expression.

    :param url_pattern: the URL pattern to compile.
    """

    #: The regular expression of each segment type.
    segment_patterns = {
        'string': '[^/]+',
        'int': '-?[0-9]+',
        'path': '.+',
    }  # type: Dict[str, str]

    #: The parser of each segment type, which converts the matched text
    #: (``None`` means no match).
    segment_parsers = {'int': _parse_int}  # type: Dict[str, Callable]

    def __init__(self, url_pattern: str):
        self.url_pattern = url_pattern
        self.segments = []  # type: List[Any]
        self.regex = None  # type: Any
        self.args = []  # type: List[Tuple[str, Optional[Callable], int]]
        self.is_static = '<' not in url_pattern
        if not self.is_static:
            self._compile()

    @classmethod
    def register_type(
        cls,
        type_name: str,
        pattern: str = '[^/]+',
        parser: 'Optional[Callable]' = None,
    ) -> None:
        """Register a custom URL segment type.

        :param type_name: the name used in patterns, as in ``<hex:id>``.
        :param pattern: the regular expression that a segment of this type
                        must match.
        :param parser: a function that converts the matched text; returning
                       ``None`` means that the URL does not match.
        """
        cls.segment_patterns[type_name] = pattern
        if parser is not None:
            cls.segment_parsers[type_name] = parser
        else:
            cls.segment_parsers.pop(type_name, None)

    @staticmethod
    def _split_component(component: str) -> 'Tuple[str, str, str]':
        """Split ``type:name`` (or ``re:regex:name``) into its parts."""
        if component.startswith('re:'):
            regex, _, name = component[3:].rpartition(':')
            if not regex or not _is_identifier(name):
                raise ValueError('invalid re component: ' + component)
            return 're', name, regex
        type_name, _, name = component.rpartition(':')
        type_name = type_name or 'string'
        if not _is_identifier(name):
            raise ValueError('invalid argument name: ' + component)
        if type_name not in URLPattern.segment_patterns:
            raise ValueError('unknown URL segment type: ' + type_name)
        return type_name, name, URLPattern.segment_patterns[type_name]

    def _compile(self) -> None:
        if not self._compile_segments():
            self._compile_regex(self._tokenize(self.url_pattern))

    def _compile_segments(self) -> bool:
        """Set up matching by path segments; return False if a regex is
        needed (a dynamic part that does not fill a whole segment, a
        custom pattern, ``re:`` or ``path`` before the last segment)."""
        url_pattern = self.url_pattern
        if not url_pattern.startswith('/') or '<re:' in url_pattern:
            return False
        pieces = url_pattern[1:].split('/')
        segments = []  # type: List[Any]
        for i, piece in enumerate(pieces):
            if '<' not in piece:
                segments.append(piece)
                continue
            if piece[0] != '<' or piece[-1] != '>' or '<' in piece[1:]:
                return False
            type_name, name, regex = self._split_component(piece[1:-1])
            if type_name == 'path' and i == len(pieces) - 1:
                segments.append((type_name, name, None))
            elif type_name == 'int' or regex == '[^/]+':
                segments.append((type_name, name, self._parser(type_name)))
            else:
                return False
        self.segments = segments
        return True

    @staticmethod
    def _tokenize(url_pattern: str) -> 'List[Any]':
        """Split a pattern into literal text and ``(type, name, regex)``."""
        parts = []  # type: List[Any]
        rest = url_pattern
        while rest:
            start = rest.find('<')
            if start < 0:
                parts.append(rest)
                break
            end = rest.find('>', start)
            if end < 0:
                raise ValueError('unclosed < in URL pattern: ' + url_pattern)
            if start:
                parts.append(rest[:start])
            parts.append(URLPattern._split_component(rest[start + 1 : end]))
            rest = rest[end + 1 :]
        return parts

    @staticmethod
    def _parser(type_name: str) -> 'Optional[Callable]':
        return URLPattern.segment_parsers.get(type_name)

    def _compile_regex(self, parts: 'List[Any]') -> None:
        regex = ''
        group = 1
        for part in parts:
            if isinstance(part, str):
                regex += _regex_escape(part)
                continue
            type_name, name, pattern = part
            parser = None if type_name == 're' else self._parser(type_name)
            regex += '(' + pattern + ')'
            self.args.append((name, parser, group))
            group += 1 + _count_groups(pattern)
        self.regex = re.compile('^' + regex + '$')

    def match(self, path: str) -> 'Optional[Dict[str, Any]]':
        """Match a path against this pattern.

        Returns a dictionary with the values of the dynamic components
        (empty for a static pattern), or ``None`` if the path does not
        match.
        """
        if self.is_static:
            return {} if path == self.url_pattern else None
        if self.regex is not None:
            return self._match_regex(path)
        return self._match_segments(path)

    def _match_regex(self, path: str) -> 'Optional[Dict[str, Any]]':
        found = self.regex.match(path)
        if found is None:
            return None
        args = {}
        for name, parser, group in self.args:
            value = found.group(group)
            if parser is not None:
                value = parser(value)
                if value is None:
                    return None
            args[name] = value
        return args

    def _match_segments(self, path: str) -> 'Optional[Dict[str, Any]]':
        if not path.startswith('/'):
            return None
        pieces = path[1:].split('/')
        segments = self.segments
        if len(pieces) < len(segments):
            return None
        args = {}
        for i, segment in enumerate(segments):
            piece = pieces[i]
            if isinstance(segment, str):
                if piece != segment:
                    return None
                continue
            type_name, name, parser = segment
            if type_name == 'path':
                value = '/'.join(pieces[i:])
                if not value:
                    return None
                args[name] = value
                return args
            if not piece:
                return None
            if parser is not None:
                piece = parser(piece)
                if piece is None:
                    return None
            args[name] = piece
        return args if len(pieces) == len(segments) else None

    @property
    def head(self) -> 'Optional[str]':
        """The first path segment when it is literal text, else ``None``.

        The router groups dynamic routes by it, so a request is only
        compared with the patterns that can match its first segment.
        """
        if self.is_static or not self.url_pattern.startswith('/'):
            return None
        first = self.url_pattern[1:].split('/', 1)
        if '<' in first[0] or len(first) == 1:
            return None
        return first[0]


# ============================================================================
# Microdot
# ============================================================================


class _Route:
    """A registered route: what the router needs to match and dispatch."""

    def __init__(self, methods, pattern, handler, url_prefix='',
                 subapp=None, scopes=()):  # fmt: skip
        self.methods = methods
        self.pattern = pattern
        self.handler = handler
        self.url_prefix = url_prefix
        self.subapp = subapp
        # the locally mounted apps whose handlers apply, outermost first
        self.scopes = scopes


class Microdot:
    """An HTTP application class.

    This class implements an HTTP application instance and is heavily
    influenced by the ``Flask`` class of the Flask framework. It is
    typically declared near the start of the main application script.
    """

    def __init__(self):
        self.url_map = []  # type: List[_Route]
        self._static_routes = {}  # type: Dict[str, List[_Route]]
        self._dynamic_by_head = {}  # type: Dict[str, List[_Route]]
        self._dynamic_any = []  # type: List[_Route]
        self.before_request_handlers = []  # type: List[Callable]
        self.after_request_handlers = []  # type: List[Callable]
        self.after_error_request_handlers = []  # type: List[Callable]
        self.error_handlers = {}  # type: Dict[Any, Callable]
        self.debug = False
        self.server = None  # type: Any
        self._stopping = None  # type: Any
        self._scheme = 'http'
        self._serve_task = None  # type: Any
        self._connections = set()  # type: Any

    # -- routing ------------------------------------------------------------

    def route(
        self, url_pattern: str, methods: 'Optional[List[str]]' = None
    ) -> 'Callable':
        """Decorator that is used to register a function as a request
        handler for a given URL.

        :param url_pattern: The URL pattern that will be compared against
                            incoming requests.
        :param methods: The list of HTTP methods to be handled by the
                        decorated function. If omitted, only ``GET``
                        requests are handled.
        """

        def decorated(f):
            upper = [m.upper() for m in (methods or ['GET'])]
            self._add_route(_Route(upper, URLPattern(url_pattern), f))
            return f

        return decorated

    def _add_route(self, route: _Route) -> None:
        self.url_map.append(route)
        pattern = route.pattern
        if pattern.is_static:
            self._static_routes.setdefault(pattern.url_pattern, []).append(
                route
            )
            return
        head = pattern.head
        if head is None:
            self._dynamic_any.append(route)
            for routes in self._dynamic_by_head.values():
                routes.append(route)
        else:
            if head not in self._dynamic_by_head:
                self._dynamic_by_head[head] = list(self._dynamic_any)
            self._dynamic_by_head[head].append(route)

    def get(self, url_pattern: str) -> 'Callable':
        """Decorator that is used to register a function as a ``GET``
        request handler for a given URL.

        :param url_pattern: The URL pattern that will be compared against
                            incoming requests.
        """
        return self.route(url_pattern, methods=['GET'])

    def post(self, url_pattern: str) -> 'Callable':
        """Decorator that is used to register a function as a ``POST``
        request handler for a given URL.

        :param url_pattern: The URL pattern that will be compared against
                            incoming requests.
        """
        return self.route(url_pattern, methods=['POST'])

    def put(self, url_pattern: str) -> 'Callable':
        """Decorator that is used to register a function as a ``PUT``
        request handler for a given URL.

        :param url_pattern: The URL pattern that will be compared against
                            incoming requests.
        """
        return self.route(url_pattern, methods=['PUT'])

    def patch(self, url_pattern: str) -> 'Callable':
        """Decorator that is used to register a function as a ``PATCH``
        request handler for a given URL.

        :param url_pattern: The URL pattern that will be compared against
                            incoming requests.
        """
        return self.route(url_pattern, methods=['PATCH'])

    def delete(self, url_pattern: str) -> 'Callable':
        """Decorator that is used to register a function as a ``DELETE``
        request handler for a given URL.

        :param url_pattern: The URL pattern that will be compared against
                            incoming requests.
        """
        return self.route(url_pattern, methods=['DELETE'])

    def before_request(self, f: 'Callable') -> 'Callable':
        """Decorator to register a function to run before each request is
        handled. The decorated function must take a single argument, the
        request object. If it returns a value, that value is the response
        and the route function is not called."""
        self.before_request_handlers.append(f)
        return f

    def after_request(self, f: 'Callable') -> 'Callable':
        """Decorator to register a function to run after each request is
        handled. The decorated function must take two arguments, the
        request and response objects. The return value of the function
        must be an updated response object."""
        self.after_request_handlers.append(f)
        return f

    def after_error_request(self, f: 'Callable') -> 'Callable':
        """Decorator to register a function to run after an error response
        is generated. The decorated function must take two arguments, the
        request and response objects. The return value of the function
        must be an updated response object. The handler is invoked for
        error responses generated by Microdot, as well as those returned by
        application-defined error handlers."""
        self.after_error_request_handlers.append(f)
        return f

    def errorhandler(
        self, status_code_or_exception_class: 'Any'
    ) -> 'Callable':
        """Decorator to register a function as an error handler. Error
        handler functions for numeric HTTP status codes must accept a single
        argument, the request object. Error handler functions for Python
        exceptions must accept two arguments, the request object and the
        exception object.

        :param status_code_or_exception_class: The numeric HTTP status code
                                               or Python exception class to
                                               handle.
        """

        def decorated(f):
            self.error_handlers[status_code_or_exception_class] = f
            return f

        return decorated

    def mount(
        self, subapp: 'Microdot', url_prefix: str = '', local: bool = False
    ) -> None:
        """Mount a sub-application, optionally under the given URL prefix.

        :param subapp: The sub-application to mount.
        :param url_prefix: The URL prefix to mount the application under.
        :param local: When set to ``True``, the before, after and error
                      request handlers only apply to endpoints defined in
                      the sub-application. When ``False``, they apply to the
                      entire application. The default is ``False``.

        Routes and handlers are copied at mount time: register them on the
        sub-application before mounting it.
        """
        url_prefix = url_prefix.rstrip('/')
        for route in subapp.url_map:
            pattern = URLPattern(url_prefix + route.pattern.url_pattern)
            scopes = route.scopes
            if local:
                scopes = (subapp,) + scopes
            self._add_route(_Route(
                route.methods, pattern, route.handler,
                url_prefix + route.url_prefix, route.subapp or subapp, scopes,
            ))  # fmt: skip
        if not local:
            self.before_request_handlers += subapp.before_request_handlers
            self.after_request_handlers += subapp.after_request_handlers
            self.after_error_request_handlers += (
                subapp.after_error_request_handlers
            )
            for key, handler in subapp.error_handlers.items():
                self.error_handlers.setdefault(key, handler)

    @staticmethod
    def abort(status_code: int, reason: 'Optional[str]' = None):
        """Abort the current request and return an error response with the
        given status code.

        :param status_code: The numeric status code of the response.
        :param reason: The reason for the response, which is included in the
                       response body.
        """
        raise HTTPException(status_code, reason)

    def find_route(
        self, method: str, path: str
    ) -> 'Tuple[Any, Any, List[str]]':
        """Find the route for a method and path.

        Returns ``(route, args, allowed)``: the matching route and its URL
        arguments, or ``(None, None, methods)`` where ``methods`` lists what
        the path accepts (empty when no route matches the path at all).
        Static routes are found with one dictionary lookup; dynamic routes
        are tried in registration order among those that can match the
        first path segment.
        """
        # HEAD is served by an explicit HEAD route or else by a GET route
        fallback = 'GET' if method == 'HEAD' else method
        allowed = []  # type: List[str]
        for route in self._static_routes.get(path, ()):
            if method in route.methods or fallback in route.methods:
                return route, {}, allowed
            allowed += route.methods
        head = path[1:].split('/', 1)[0]
        for route in self._dynamic_by_head.get(head, self._dynamic_any):
            args = route.pattern.match(path)
            if args is None:
                continue
            if method in route.methods or fallback in route.methods:
                return route, args, allowed
            allowed += route.methods
        return None, None, allowed

    # -- dispatch -----------------------------------------------------------

    async def dispatch_request(self, req: Request) -> Response:
        """Route a request and return its response, errors included.

        Before-request handlers run first (one that returns a value ends
        the request with that response), then the route handler, then the
        after-request handlers and the request's own. Exceptions become
        error responses through the error handlers, and those go through
        the after-error-request handlers.
        """
        try:
            res = await self._dispatch(req)
        except Exception as exc:
            res = await self._error_response(req, exc)
        if req.method == 'HEAD' and res is not Response.already_handled:
            res.is_head = True
        return res

    async def _dispatch(self, req: Request) -> Response:
        if req.content_length > req.max_content_length:
            raise HTTPException(413)
        route, args, allowed = self.find_route(req.method, req.path)
        if route is None:
            options = self._no_route(req, allowed)  # an automatic OPTIONS
            return await self._after_request(req, options, None)
        req.route = route.handler
        req._route_entry = route
        req.url_prefix = route.url_prefix
        req.subapp = route.subapp
        res = None
        for handler in self._handlers(route, 'before_request_handlers'):
            res = await invoke_handler(handler, req)
            if res is not None:
                break
        if res is None:
            res = await invoke_handler(route.handler, req, **args)
            if res is None and _taken(req):  # such as a WebSocket route
                return Response.already_handled
        res = make_response(res)
        if res is Response.already_handled:
            return res
        return await self._after_request(req, res, route)

    def _no_route(self, req: Request, allowed: 'List[str]') -> Response:
        if not allowed:
            raise HTTPException(404)
        methods = []  # type: List[str]
        implied = ['HEAD', 'OPTIONS'] if 'GET' in allowed else ['OPTIONS']
        for method in allowed + implied:
            if method not in methods:
                methods.append(method)
        if req.method == 'OPTIONS':
            return Response(headers={'Allow': ', '.join(methods)})
        exc = HTTPException(405)
        exc.headers = {'Allow': ', '.join(methods)}
        raise exc

    async def _after_request(
        self, req: Request, res: Response, route: 'Optional[_Route]'
    ) -> Response:
        for handler in self._handlers(route, 'after_request_handlers', True):
            res = make_response(await invoke_handler(handler, req, res) or res)
        for handler in req.after_request_handlers:
            res = make_response(await invoke_handler(handler, req, res) or res)
        return res

    def _handlers(self, route, attribute, inner_first=False) -> 'List':
        """The handlers of the app plus those of locally mounted apps.

        Before-request handlers run outermost first; after-request handlers
        unwind like an onion, innermost first (``inner_first``).
        """
        handlers = getattr(self, attribute)
        if route is None or not route.scopes:
            return handlers
        groups = [handlers] + [getattr(app, attribute) for app in route.scopes]
        if inner_first:
            groups.reverse()
        return [handler for group in groups for handler in group]

    def _find_error_handler(self, req: Request, key: 'Any') -> 'Any':
        """Look up an error handler, innermost local scope first.

        For an exception, the handler of the most specific class that the
        exception is an instance of wins.
        """
        route = self._route_of(req)
        apps = list(reversed(route.scopes)) if route else []
        for app in apps + [self]:
            handlers = app.error_handlers
            if not isinstance(key, BaseException):
                if key in handlers:
                    return handlers[key]
                continue
            best = None
            for cls in handlers:
                if isinstance(cls, type) and isinstance(key, cls):
                    if best is None or issubclass(cls, best):
                        best = cls
            if best is not None:
                return handlers[best]
        return None

    @staticmethod
    def _route_of(req: Request) -> 'Optional[_Route]':
        return req._route_entry

    async def _error_response(self, req: Request, exc: Exception) -> Response:
        """Turn an exception into a response, through the error handlers.

        An exception without a handler is printed and becomes a 500; a
        failing error handler also gives the default 500 response.
        """
        args = (req,)  # type: tuple
        if isinstance(exc, HTTPException):
            error = exc
            handler = self._find_error_handler(req, error.status_code)
        else:
            error = HTTPException(500)
            handler = self._find_error_handler(req, exc)
            if handler is not None:
                args = (req, exc)
            else:
                _print_exception(exc)
                handler = self._find_error_handler(req, 500)
        res = None
        if handler is not None:
            try:
                res = make_response(await invoke_handler(handler, *args))
            except Exception as handler_exc:  # None is a TypeError too
                _print_exception(handler_exc)
                error = HTTPException(500)
        if res is None:
            res = Response(error.reason, error.status_code)
        for name, value in (error.headers or {}).items():
            if name not in res.headers:  # such as Allow on a 405
                res.headers[name] = value
        return await self._after_error(req, res)

    async def _after_error(self, req: Request, res: Response) -> Response:
        route = self._route_of(req)
        for handler in self._handlers(route, 'after_error_request_handlers',
                                      True):  # fmt: skip
            try:
                res = make_response(
                    await invoke_handler(handler, req, res) or res
                )
            except Exception as exc:
                _print_exception(exc)
        return res

    # -- server ---------------------------------------------------------------

    #: Seconds allowed to receive a whole request head, counted from the
    #: connection for the first request and from the first byte for the
    #: next ones. Each byte does not restart it, so a client that trickles
    #: bytes (slowloris) cannot hold a connection. ``None`` disables it.
    head_timeout = 10.0  # type: Optional[float]

    #: Longest wait, in seconds, for each read of a request body.
    body_timeout = 10.0  # type: Optional[float]

    #: Seconds a persistent connection may stay idle between requests.
    keep_alive_timeout = 5.0  # type: Optional[float]

    #: Seconds that in-flight requests get to finish after ``shutdown()``.
    shutdown_timeout = 5.0

    #: Bytes of an unread request body that the server reads and drops to
    #: keep the connection open; also the most it drains before a close.
    max_discard_length = 64 * 1024

    _use_streams = IS_MICROPYTHON  # MPY: no asyncio.Protocol

    async def process_request(
        self,
        reader: 'Any',
        writer: 'Any',
        client_addr: 'Any',
        scheme: str = 'http',
    ) -> 'Tuple[Optional[Request], Optional[Response]]':
        """Read one request from a stream and dispatch it.

        Returns ``(request, response)``, or ``(None, None)`` if the client
        closed the connection before sending a request. A malformed request
        gets its error response through the error handlers, with a request
        object that carries whatever could be parsed.
        """
        try:
            req = await Request.create(
                self, reader, writer, client_addr, scheme=scheme
            )
        except HTTPException as exc:
            return await self._bad_request(client_addr, (reader, writer), exc)
        if req is None:
            return None, None
        conn = req.sock[1]
        res = await conn.dispatch(req)
        if conn.taken:  # the handler is done with the connection
            conn.finished = True
        return req, res

    async def _bad_request(
        self, client_addr: 'Any', sock: 'Any', exc: HTTPException
    ) -> 'Tuple[Request, Response]':
        req = exc.request
        if req is None:  # the head could not be parsed
            req = Request(self, client_addr, '', '/', '1.1', NoCaseDict(),
                          sock=sock)  # fmt: skip
        res = await self._error_response(req, exc)
        if req.method == 'HEAD':
            res.is_head = True
        return req, res

    async def handle_request(self, reader: 'Any', writer: 'Any') -> None:
        """Serve one client connection given as asyncio streams: requests
        are read and answered until the connection closes."""
        await _StreamConnection(self, reader, writer).serve()

    async def start_server(
        self,
        host: str = '0.0.0.0',
        port: int = 5000,
        debug: bool = False,
        ssl: 'Any' = None,
        start_serving: bool = True,
    ) -> None:
        """Start the Microdot web server as a coroutine. This coroutine does
        not normally return, as the server enters an endless listening loop.
        The ``shutdown()`` function provides a method for terminating the
        server gracefully.

        :param host: The hostname or IP address of the network interface
                     that will be listening for requests. A value of
                     ``'0.0.0.0'`` (the default) indicates that the server
                     should listen for requests on all the available
                     interfaces, and a value of ``127.0.0.1`` indicates that
                     the server should listen for requests only on the
                     internal networking interface of the host.
        :param port: The port number to listen for requests. The default is
                     port 5000.
        :param debug: If ``True``, the server logs debugging information.
                      The default is ``False``.
        :param ssl: An ``SSLContext`` instance or ``None`` if the server
                    should not use TLS. The default is ``None``.
        :param start_serving: If ``False``, the coroutine returns as soon as
                              the socket is listening, leaving the server
                              running in the background (``self.server``);
                              ``shutdown()`` still stops it.

        This method is a coroutine.
        """
        self.debug = debug
        self._scheme = 'https' if ssl else 'http'
        self._stopping = asyncio.Event()
        self._connections = set()
        if self._use_streams:
            self.server = await asyncio.start_server(
                self.handle_request, host, port, ssl=ssl
            )
        else:  # PERF: a Protocol skips the streams' extra layer per read
            loop = asyncio.get_running_loop()
            self.server = await loop.create_server(
                lambda: _ProtocolConnection(self), host, port, ssl=ssl
            )
        if debug:
            print('Starting server on %s:%d...' % (host, port))
        if start_serving:
            await self._serve_until_shutdown()
        else:  # keep a reference: the loop only holds tasks weakly
            self._serve_task = asyncio.create_task(
                self._serve_until_shutdown()
            )

    async def _serve_until_shutdown(self) -> None:
        sweeper = asyncio.create_task(self._sweep())
        try:
            await self._stopping.wait()
            self.server.close()
            await self._close_connections()
            await asyncio.wait_for(self.server.wait_closed(), 1)
        except asyncio.TimeoutError:  # Python 3.12.0 may wait for nothing
            pass
        finally:
            sweeper.cancel()
            self.server = None

    async def _sweep(self) -> None:
        """Drop the connections whose deadline has passed.

        PERF: one task checks every connection a few times per timeout,
        which costs less than a timer armed and cancelled for each read.
        """
        timeouts = [t for t in (self.head_timeout, self.body_timeout,
                                self.keep_alive_timeout) if t]  # fmt: skip
        interval = min(timeouts) / 4 if timeouts else 1
        interval = min(max(interval, 0.05), 1)
        while True:
            await asyncio.sleep(interval)
            for conn in list(self._connections):
                if conn.deadline is not None and _expired(conn.deadline):
                    conn.abort()

    async def _close_connections(self) -> None:
        """Close idle connections now, give in-flight requests up to
        ``shutdown_timeout`` to finish (their responses say ``Connection:
        close``), then drop whatever is left."""
        for conn in list(self._connections):
            conn.closing = True
            if not conn.busy:
                conn.abort()
        deadline = _deadline(self.shutdown_timeout)
        while self._connections and not _expired(deadline):
            await asyncio.sleep(0.01)
        for conn in list(self._connections):
            conn.abort()
        for _ in range(100):  # let the aborted tasks unwind, at most 1 s
            if not self._connections:
                break
            await asyncio.sleep(0.01)

    def run(
        self,
        host: str = '0.0.0.0',
        port: int = 5000,
        debug: bool = False,
        ssl: 'Any' = None,
    ) -> None:
        """Start the web server. This function does not normally return, as
        the server enters an endless listening loop. The ``shutdown()``
        function provides a method for terminating the server gracefully.

        :param host: The hostname or IP address of the network interface
                     that will be listening for requests.
        :param port: The port number to listen for requests. The default is
                     port 5000.
        :param debug: If ``True``, the server logs debugging information.
                      The default is ``False``.
        :param ssl: An ``SSLContext`` instance or ``None`` if the server
                    should not use TLS. The default is ``None``.

        On CPython, SIGINT and SIGTERM shut the server down gracefully.
        """
        try:
            asyncio.run(self._run(host, port, debug, ssl))
        except KeyboardInterrupt:  # MPY: no signal handlers
            pass

    async def _run(self, host, port, debug, ssl) -> None:
        if not IS_MICROPYTHON:
            import signal

            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(signum, self.shutdown)
                except (NotImplementedError, RuntimeError):  # Windows
                    pass
        await self.start_server(host=host, port=port, debug=debug, ssl=ssl)

    def shutdown(self) -> None:
        """Request a server shutdown. The server will then exit its request
        listening loop and the ``run()`` function will return. This function
        can be safely called from a route handler, as it only schedules the
        server to terminate as soon as the request completes."""
        if self._stopping is not None:
            self._stopping.set()


# ============================================================================
# Server connections
# ============================================================================

if IS_MICROPYTHON:  # MPY: ticks wrap around; compare them with ticks_diff

    def _deadline(seconds: float) -> 'Any':
        now = time.ticks_ms()  # type: ignore[attr-defined]
        return time.ticks_add(now, int(seconds * 1000))  # type: ignore

    def _expired(deadline: 'Any') -> bool:
        return time.ticks_diff(time.ticks_ms(), deadline) >= 0  # type: ignore

else:

    def _deadline(seconds: float) -> 'Any':
        return time.monotonic() + seconds

    def _expired(deadline: 'Any') -> bool:
        return time.monotonic() >= deadline


_CONTINUE = b'HTTP/1.1 100 Continue\r\n\r\n'


class _Connection:
    """A client connection of the built-in server: the protocol loop that
    both drivers share. It reads requests from its input buffer, dispatches
    them and writes their responses, until one side closes.

    A driver supplies ``fill()`` (wait for more input in ``buf``, or raise
    ``EOFError``), ``write()``, ``drain()``, ``_close()`` and ``abort()``.
    The connection is also the ``(reader, writer)`` pair of
    ``request.sock``: its reads take buffered input first.
    """

    def __init__(self, app: 'Any'):
        self.app = app
        self.buf = b''
        self.eof = False
        self.deadline = None  # type: Any  # when the sweep drops us
        self.busy = False  # between a request head and its response
        self.closing = False  # close after the current response
        self.aborted = False
        self.linger = False  # the client may still be sending
        self.peer = None  # type: Any
        self.scheme = getattr(app, '_scheme', 'http')
        self.serving = True  # a server connection: Host, Expect
        self.keep_alive = False  # the client asked to keep the connection
        self.task = None  # type: Any
        self.in_handler = False  # a request handler is running
        self.taken = False  # the handler wrote to the socket itself
        self.finished = False  # the server is closing the connection
        self.watcher = None  # type: Any  # reads ahead while streaming

    # -- input --------------------------------------------------------------

    async def fill(self) -> None:  # pragma: no cover - drivers override
        raise EOFError()

    def _set_deadline(self, seconds: 'Optional[float]') -> None:
        self.deadline = None if seconds is None else _deadline(seconds)

    async def _fill_body(self) -> None:
        """Wait for more of a body, at most ``body_timeout``."""
        self._set_deadline(self.app.body_timeout)
        try:
            await self.fill()
        finally:
            self.deadline = None

    async def read_head(self, first: bool) -> 'Any':
        """Read a request head and return it parsed (see ``parse_head``),
        or ``None`` if the client closed the connection first."""
        app = self.app
        self._set_deadline(app.head_timeout if first else (
            app.keep_alive_timeout))  # fmt: skip
        started = first  # the head deadline already runs
        while True:
            buf = self.buf
            if buf[:1] in (b'\r', b'\n'):  # RFC 9112 section 2.2
                buf = self.buf = buf.lstrip(b'\r\n')
            if buf:
                if not started:
                    started = True
                    self._set_deadline(app.head_timeout)
                end = find_head_end(buf)
                if end >= 0:
                    self.buf = buf[end:]
                    self.deadline = None
                    return parse_head(buf[:end])
                check_partial_head(buf)
            try:
                await self.fill()
            except EOFError:
                if buf:  # the client gave up in the middle of a head
                    raise HTTPException(400)
                return None

    async def read_request(self, first: bool = True) -> 'Optional[Request]':
        """Read a request head and, unless it is too large for memory, its
        body; return the ``Request`` or ``None`` if the client closed the
        connection first. Bad input raises ``HTTPException``."""
        head = await self.read_head(first)
        if head is None:
            return None
        self.busy = True
        method, url, version, fields = head
        length = request_framing(version, fields)
        headers = NoCaseDict()
        headers._update_lower(fields)
        req = Request(self.app, self.peer, method, url, version, headers,
                      sock=(self, self))  # fmt: skip
        req.scheme = self.scheme
        self.keep_alive = wants_keep_alive(version, fields)
        try:
            if self.serving:
                check_host(version, fields)
            continues = self.serving and self._expects_continue(
                version, fields
            )
            if length > Request.max_content_length:  # refused before a 100
                raise HTTPException(413)
            if continues and length:
                self.write(_CONTINUE)
            if length:
                await self._read_body(req, length)
        except HTTPException as exc:
            # the error handlers (and extensions such as CORS) see the
            # method, URL and headers of the request they answer
            exc.request = req
            raise
        return req

    @staticmethod
    def _expects_continue(version: str, fields: dict) -> bool:
        """Tell if the client waits for a 100 before sending its body
        (RFC 9110 section 10.1.1); any other expectation is a 417."""
        expect = fields.get('expect')
        if expect is None or version == '1.0':  # 1.0 clients don't wait
            return False
        if expect.lower() != '100-continue':
            raise HTTPException(417)
        return True

    async def _read_body(self, req: Request, length: int) -> None:
        """Read a body of up to ``max_body_length`` bytes into
        ``req.body``; a larger one is left for ``req.stream``."""
        reader = _BodyReader(self, length)
        limit = Request.max_body_length
        if 0 < length <= limit:
            req._body = await reader.read()
            return
        req._stream = reader  # request.stream reads what is not in body
        if length > 0:
            return
        parts = []  # chunked: read up to the limit and see if it ends
        size = 0
        while size <= limit:
            data = await reader.read(limit + 1 - size)
            if not data:
                break
            parts.append(data)
            size += len(data)
        if reader.done:
            req._body = b''.join(parts)
            req._stream = None
            req.content_length = size
        else:
            reader.pending = b''.join(parts)

    async def read_body(self, n: int) -> bytes:
        """Return up to ``n`` bytes of a body (at least one); ``EOFError``
        at the end of the input."""
        if not self.buf:
            await self._fill_body()
        buf = self.buf
        if n >= len(buf):
            self.buf = b''
            return buf
        self.buf = buf[n:]
        return buf[:n]

    async def read_body_line(self) -> bytes:
        """Return a line of chunked framing, LF included; over
        ``max_readline`` bytes or cut short, ``HTTPException(400)``."""
        while True:
            end = self.buf.find(b'\n')
            if end >= 0:
                line = self.buf[: end + 1]
                self.buf = self.buf[end + 1 :]
                return line
            if len(self.buf) > Request.max_readline:
                raise HTTPException(400)
            try:
                await self._fill_body()
            except EOFError:
                raise HTTPException(400)

    # -- the stream interface of request.sock -----------------------------

    async def read(self, n: int = -1) -> bytes:
        """Read up to ``n`` bytes (until the end if ``n < 0``)."""
        while not self.eof and (n < 0 or not self.buf):
            try:
                await self.fill()
            except EOFError:
                break
        if not self.buf:
            return b''
        return await self.read_body(n if n >= 0 else len(self.buf))

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes; ``EOFError`` at the end of input."""
        while len(self.buf) < n:
            await self.fill()
        return await self.read_body(n)

    async def readline(self) -> bytes:
        """Read up to and including the next LF, or to the end."""
        while b'\n' not in self.buf:
            try:
                await self.fill()
            except EOFError:
                return await self.read(len(self.buf))
        return await self.read_body(self.buf.find(b'\n') + 1)

    def write(self, data: bytes) -> None:  # pragma: no cover
        raise NotImplementedError()

    async def drain(self) -> None:  # pragma: no cover
        raise NotImplementedError()

    async def awrite(self, data: bytes) -> None:
        """Write ``data`` and wait until it can be sent."""
        self.write(data)
        await self.drain()

    def close(self) -> None:
        """Close the connection."""
        self.closing = True
        self._close()

    def _close(self) -> None:  # pragma: no cover
        raise NotImplementedError()

    async def wait_closed(self) -> None:
        """Present for stream compatibility."""

    def is_closing(self) -> bool:
        """Tell if the server has started to close the connection."""
        return self.finished

    def get_extra_info(self, name: str, default: 'Any' = None) -> 'Any':
        """Return ``'peername'`` as a ``(host, port)`` tuple."""
        return self.peer if name == 'peername' else default

    def abort(self) -> None:  # pragma: no cover
        raise NotImplementedError()

    # -- the request loop ---------------------------------------------------

    async def serve(self) -> None:
        """Answer requests until either side closes the connection."""
        app = self.app
        app._connections.add(self)
        try:
            first = True
            while await self._serve_one(first) and not self.closing:
                first = False
        except asyncio.CancelledError:
            if not (self.aborted or self.taken):
                raise
        except Exception as exc:  # a vanished client must not stop others
            if app.debug or not _is_connection_error(exc):
                _print_exception(exc)
        finally:
            await self._finish()
            app._connections.discard(self)

    async def _serve_one(self, first: bool) -> bool:
        """Serve one request; return ``True`` to wait for another one."""
        self.busy = False
        try:
            req = await self.read_request(first)
        except HTTPException as exc:  # bad input: answer, then close
            self.linger = True
            req, res = await self.app._bad_request(self.peer, (self, self),
                                                   exc)  # fmt: skip
            await res.write(self, '1.1')
            return False
        if req is None:
            return False
        res = await self.dispatch(req)
        stopping = self.app._stopping
        if stopping is not None and stopping.is_set():
            self.closing = True  # shutdown() was called by this request
        if res is Response.already_handled:
            return False  # the handler took the socket: it is done with it
        reader = req._stream
        unread = isinstance(reader, _BodyReader) and not reader.done
        keep_alive = self.keep_alive and not self.closing
        if unread and reader.remaining > self.app.max_discard_length:
            keep_alive = False
        version = '1.0' if req.http_version == '1.0' else '1.1'
        if unread or isinstance(res.body, (bytes, bytearray)):
            keep_alive = await res.write(self, version, keep_alive)
        else:
            keep_alive = await self._write_streamed(res, version, keep_alive)
        if self.app.debug:
            print('%s %s %s %d' % (
                self.peer[0] if self.peer else '-', req.method, req.url,
                res.status_code,
            ))  # fmt: skip
        if unread:
            self.linger = True
            if keep_alive:
                keep_alive = await self._discard(reader)
        return keep_alive

    async def dispatch(self, req: Request) -> Response:
        """Dispatch a request read from this connection. A handler that
        writes to the connection itself (``taken``) owns it: its response
        is ``Response.already_handled``, whatever it returned."""
        self.in_handler = True
        try:
            res = await self.app.dispatch_request(req)
        finally:
            self.in_handler = False
        return Response.already_handled if self.taken else res

    async def _write_streamed(self, res: Response, version: str,
                              keep_alive: bool) -> bool:  # fmt: skip
        """Write a response whose body is streamed, watching the input:
        if the client goes away meanwhile, the response is cut short and
        its body closed, which cancels whatever produces it (SSE)."""
        if not self.eof:  # EOF before the response is a half-close
            self._watch_input()
        try:
            return await res.write(self, version, keep_alive)
        finally:
            await self._unwatch_input()

    def _watch_input(self) -> None:
        """Start a task that reads ahead into ``buf`` and aborts the
        connection at the end of the input."""
        self.watcher = asyncio.create_task(self._watch())

    async def _unwatch_input(self) -> None:
        """Stop the watcher, and wait until it no longer reads."""
        task, self.watcher = self.watcher, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _watch(self) -> None:
        try:
            while len(self.buf) < 65536:  # then stop reading: back-pressure
                await self.fill()
        except (EOFError, OSError):  # the end of the input, or a reset
            self.abort()

    async def _discard(self, reader: _BodyReader) -> bool:
        """Drop the unread body; ``False`` if it is too long or broken."""
        try:
            done = await reader.discard(self.app.max_discard_length)
        except (HTTPException, EOFError):
            return False
        self.linger = not done
        return done

    async def _finish(self) -> None:
        """Close the connection. If the client may still be sending, stop
        writing first and read what it sends for a while, so that it gets
        the response rather than a reset (RFC 9112 section 9.6)."""
        self.finished = True
        if self.linger and not self.eof and not self.aborted:
            # MPY: no half-close, so the client cannot see our end of
            # input: drain only briefly there.
            seconds = 1 if self._half_close() else 0.2
            deadline = _deadline(seconds)
            limit = self.app.max_discard_length
            try:
                while limit > 0 and not _expired(deadline):
                    limit -= len(self.buf)
                    self.buf = b''
                    await asyncio.wait_for(self.fill(), seconds)
            except (Exception, asyncio.CancelledError):
                pass  # EOF, a reset or the time limit: all fine here
        self.deadline = None
        try:
            self._close()
        except Exception:  # the peer may already be gone
            pass

    def _half_close(self) -> bool:
        """Stop writing but keep reading (a TCP half-close), if the
        transport can; return ``True`` if it did."""
        return False


class _StreamConnection(_Connection):
    """The streams driver: a connection over an asyncio reader and writer.
    It runs on MicroPython and on CPython, and reads ``Request.create()``.
    """

    def __init__(self, app: 'Any', reader: 'Any', writer: 'Any'):
        super().__init__(app)
        self.reader = reader
        self.writer = writer
        if hasattr(writer, 'get_extra_info'):
            self.peer = _address(writer.get_extra_info('peername'))
        self.task = asyncio.current_task()

    async def fill(self) -> None:
        if self.eof:
            raise EOFError()
        data = await self.reader.read(4096)
        if not data:
            self.eof = True
            raise EOFError()
        self.buf = self.buf + data if self.buf else data

    def write(self, data: bytes) -> None:
        if self.in_handler:
            self.taken = True
        self.writer.write(data)

    async def drain(self) -> None:
        await self.writer.drain()

    def _half_close(self) -> bool:
        writer = self.writer
        try:
            if hasattr(writer, 'can_write_eof') and writer.can_write_eof():
                writer.write_eof()
                return True
        except OSError:
            pass
        return False

    def _close(self) -> None:
        self.writer.close()

    async def _finish(self) -> None:
        await super()._finish()
        try:
            await self.writer.wait_closed()
        except (Exception, asyncio.CancelledError):
            pass

    def abort(self) -> None:
        self.aborted = True
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()


if hasattr(asyncio, 'Protocol'):  # MPY: the streams driver only

    class _ProtocolConnection(_Connection, asyncio.Protocol):
        """The CPython driver: an asyncio Protocol feeds the input buffer
        and a task per connection runs the request loop.

        PERF: this skips the StreamReader layer, which copies every read
        through a bytearray and wakes its reader through more futures.
        """

        def __init__(self, app: 'Any'):
            super().__init__(app)
            self.transport = None  # type: Any
            self.loop = None  # type: Any
            self.waiter = None  # type: Any
            self.drain_waiters = []  # type: List[Any]
            self.paused = False
            self.lost = False
            self.reading_paused = False

        def connection_made(self, transport: 'Any') -> None:
            self.transport = transport
            self.peer = transport.get_extra_info('peername')
            self.loop = asyncio.get_running_loop()
            self.task = self.loop.create_task(self.serve())

        def data_received(self, data: bytes) -> None:
            self.buf = self.buf + data if self.buf else data
            if len(self.buf) > 65536 and not self.reading_paused:
                self.reading_paused = True  # back-pressure on the client
                self.transport.pause_reading()
            self._wake(self.waiter)

        def eof_received(self) -> bool:
            self.eof = True
            self._wake(self.waiter)
            if self.watcher:  # the client left during a streamed response
                self.abort()
            return self.transport.get_extra_info('sslcontext') is None

        def connection_lost(self, exc: 'Optional[Exception]') -> None:
            self.lost = self.eof = True
            self._wake(self.waiter)
            for waiter in self.drain_waiters:
                self._wake(waiter)
            if self.watcher:
                self.abort()

        def pause_writing(self) -> None:
            self.paused = True

        def resume_writing(self) -> None:
            self.paused = False
            for waiter in self.drain_waiters:
                self._wake(waiter)

        @staticmethod
        def _wake(waiter: 'Any') -> None:
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

        async def fill(self) -> None:
            if self.reading_paused:
                self.reading_paused = False
                self.transport.resume_reading()
            size = len(self.buf)
            while len(self.buf) == size:
                if self.eof:
                    raise EOFError()
                self.waiter = self.loop.create_future()
                try:
                    await self.waiter
                finally:
                    self.waiter = None

        def write(self, data: bytes) -> None:
            if self.in_handler:
                self.taken = True
            if not self.lost:
                self.transport.write(data)

        async def drain(self) -> None:
            """Wait until the transport takes more data; several tasks may
            wait at once (a WebSocket sends from more than one)."""
            if self.lost:
                raise ConnectionResetError()
            while self.paused:
                waiter = self.loop.create_future()
                self.drain_waiters.append(waiter)
                try:
                    await waiter
                finally:
                    self.drain_waiters.remove(waiter)
                if self.lost:
                    raise ConnectionResetError()

        # PERF: the protocol callbacks see the end of the input, so no
        # task is needed; ``watcher`` is only a flag here.
        def _watch_input(self) -> None:
            self.watcher = True

        async def _unwatch_input(self) -> None:
            self.watcher = None

        def _half_close(self) -> bool:
            if self.lost or not self.transport.can_write_eof():
                return False
            self.transport.write_eof()
            return True

        def _close(self) -> None:
            self.transport.close()

        def abort(self) -> None:
            self.aborted = True
            self.transport.abort()
            if self.task is not None and self.task is not (
                asyncio.current_task()
            ):
                self.task.cancel()


def _address(peer: 'Any') -> 'Any':
    """Return a client address as a ``(host, port)`` tuple.

    MPY: the unix port gives a raw ``sockaddr`` buffer; an IPv4 one is
    decoded, anything else is returned as it is.
    """
    if isinstance(peer, (bytes, bytearray)) and len(peer) >= 8:
        if peer[0] == 2:  # AF_INET: port, then the four address bytes
            host = '.'.join(str(byte) for byte in peer[4:8])
            return host, (peer[2] << 8) | peer[3]
    return peer


def _taken(req: Request) -> bool:
    """Tell if a request's handler wrote to its connection itself."""
    return req.sock is not None and getattr(req.sock[1], 'taken', False)


def _is_connection_error(exc: BaseException) -> bool:
    """Tell if an exception means that the client went away: resets,
    broken pipes and TLS errors are ``OSError`` subclasses, and a stream
    that ends early raises an ``EOFError`` subclass."""
    return isinstance(exc, (OSError, EOFError))
