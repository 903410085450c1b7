"""
microdot.test_client
--------------------

A client that sends requests into an application without a web server, so
that applications can be tested. Requests are written out as HTTP/1.1 bytes
and read back by the same parser the server uses.
"""

import asyncio
import time

from microdot.microdot import (
    _MONTHS,
    AsyncBytesIO,
    NoCaseDict,
    Response,
    _json_dumps,
    _json_loads,
    is_json_content_type,
)

try:
    from typing import Any, Dict, List, Optional, Tuple  # noqa: F401
except ImportError:  # MPY: no typing module
    pass


class TestResponse:
    """A response object issued by the Microdot test client."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self):
        #: The numeric status code returned by the server.
        self.status_code = None  # type: Any
        #: The text reason associated with the status response, such as
        #: ``'OK'`` or ``'NOT FOUND'``. Set to ``None`` unless the
        #: application explicitly sets it on the response object.
        self.reason = None  # type: Optional[str]
        #: A dictionary with the response headers.
        self.headers = NoCaseDict()
        #: The body of the response, as a bytes object.
        self.body = b''
        #: The body of the response, decoded to a UTF-8 string. Set to
        #: ``None`` if the response cannot be represented as UTF-8 text.
        self.text = None  # type: Optional[str]
        #: The body of the JSON response, decoded to a dictionary or list.
        #: Set to ``None`` if the response does not have a JSON payload.
        self.json = None  # type: Any

    @classmethod
    async def create(cls, res: Response) -> 'TestResponse':
        """Build a test response from an application's ``Response``,
        reading its whole body (only the headers for a ``HEAD``)."""
        test_res = cls()
        res.complete()
        test_res.status_code = res.status_code
        test_res.reason = res.reason
        test_res.headers = res.headers
        body_iter = res.body_iter()
        if res.is_head:
            await body_iter.aclose()
        else:
            chunks = []
            async for chunk in body_iter:  # MPY: no async comprehensions
                chunks.append(chunk)
            test_res.body = b''.join(chunks)
        test_res._decode_body()
        return test_res

    def _decode_body(self) -> None:
        try:
            self.text = self.body.decode()
        except UnicodeError:
            self.text = None
        if is_json_content_type(self.headers.get('Content-Type')):
            try:
                self.json = _json_loads(self.body)
            except ValueError:
                self.json = None


class TestClient:
    """A test client for Microdot.

    :param app: The Microdot application instance.
    :param cookies: A dictionary of cookies to use when sending requests to
                    the application.

    Cookies that responses set are remembered, with their paths, and sent
    with later requests whose path they cover; expired or deleted cookies
    are dropped.
    """

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, app: 'Any', cookies: 'Optional[dict]' = None):
        self.app = app
        # (name, path) -> value
        self.cookies = {}  # type: Dict[Tuple[str, str], str]
        for name, value in (cookies or {}).items():
            self.cookies[(name, '/')] = value

    def _cookie_header(self, path: str) -> str:
        """The ``Cookie`` header for a path: longest cookie paths first, as
        RFC 6265 section 5.4 orders them."""
        found = []
        for (name, cookie_path), value in self.cookies.items():
            if _path_matches(path, cookie_path):
                found.append((len(cookie_path), name, value))
        found.sort(key=lambda item: -item[0])
        return '; '.join('%s=%s' % (name, value) for _, name, value in found)

    def _update_cookies(self, res: TestResponse) -> None:
        cookies = res.headers.get('Set-Cookie') or []
        if isinstance(cookies, str):
            cookies = [cookies]
        for header in cookies:
            name, value, path, expired = _parse_set_cookie(header)
            if expired:
                self.cookies.pop((name, path), None)
            else:
                self.cookies[(name, path)] = value

    def _build_request(self, method, path, headers, body) -> bytes:
        headers = NoCaseDict(headers or {})
        if isinstance(body, (dict, list)):
            body = _json_dumps(body)
            if 'Content-Type' not in headers:
                headers['Content-Type'] = 'application/json'
        elif isinstance(body, str):
            body = body.encode()
        elif body is None:
            body = b''
        if body and 'Content-Length' not in headers:
            headers['Content-Length'] = str(len(body))
        if 'Host' not in headers:
            headers['Host'] = 'example.com:1234'
        cookie = self._cookie_header(path.split('?', 1)[0])
        if cookie:
            if 'Cookie' in headers:
                cookie = headers['Cookie'] + '; ' + cookie
            headers['Cookie'] = cookie
        lines = ['%s %s HTTP/1.1\r\n' % (method, path)]
        for name, value in headers.items():
            lines.append('%s: %s\r\n' % (name, value))
        lines.append('\r\n')
        return ''.join(lines).encode() + bytes(body)

    async def request(
        self,
        method: str,
        path: str,
        headers: 'Optional[dict]' = None,
        body: 'Any' = None,
        sock: 'Any' = None,
    ) -> 'Optional[TestResponse]':
        """Send a request to the application and return the response.

        :param method: The HTTP method.
        :param path: The request URL (path and query string).
        :param headers: A dictionary of headers to send with the request.
        :param body: The request body: a dictionary or list is sent as
                     JSON, a string as UTF-8, bytes as they are.
        :param sock: An optional ``(reader, writer)`` pair to serve as the
                     connection; the request bytes are read first, then
                     whatever ``reader`` gives (the WebSocket support uses
                     it).

        Returns ``None`` if the application answered with
        ``Response.already_handled``.
        """
        raw = self._build_request(method, path, headers, body)
        reader = writer = None  # type: Any
        if sock is None:
            reader, writer = AsyncBytesIO(raw), AsyncBytesIO()
        else:
            reader, writer = _PrefixedReader(raw, sock[0]), sock[1]
        _, res = await self.app.process_request(
            reader, writer, ('127.0.0.1', 1234)
        )
        if res is None or res is Response.already_handled:
            return None
        test_res = await TestResponse.create(res)
        self._update_cookies(test_res)
        return test_res

    async def websocket(
        self, path: str, client: 'Any', headers: 'Optional[dict]' = None
    ) -> 'Optional[TestResponse]':
        """Send a websocket connection request to the application.

        :param path: The request URL.
        :param client: A generator function that yields client messages.
        :param headers: A dictionary of headers to send with the request.

        Each message that ``client`` yields (a string or bytes) is sent to
        the application, and the ``yield`` expression gives back the next
        message that the application sends, or ``None`` if it ended
        first. When the generator returns, the connection is closed.

        Returns ``None`` once the application ends the WebSocket session,
        or a ``TestResponse`` if it answered the handshake with a normal
        response. An exception raised in ``client`` is raised here.
        """
        headers = NoCaseDict(headers or {})
        for name, value in (
            ('Upgrade', 'websocket'),
            ('Connection', 'Upgrade'),
            ('Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='),
            ('Sec-WebSocket-Version', '13'),
        ):
            if name not in headers:
                headers[name] = value
        pipe = _WebSocketPipe(client())
        try:
            res = await self.request('GET', path, headers=headers,
                                     sock=(pipe, pipe))  # fmt: skip
        finally:
            pipe.finish()
        if pipe.error is not None:
            raise pipe.error
        return res

    async def get(
        self, path: str, headers: 'Optional[dict]' = None
    ) -> 'Optional[TestResponse]':
        """Send a GET request to the application.

        :param path: The request URL.
        :param headers: A dictionary of headers to send with the request.

        This method returns a ``TestResponse`` object.
        """
        return await self.request('GET', path, headers=headers)

    async def post(
        self, path: str, headers: 'Optional[dict]' = None, body: 'Any' = None
    ) -> 'Optional[TestResponse]':
        """Send a POST request to the application.

        :param path: The request URL.
        :param headers: A dictionary of headers to send with the request.
        :param body: The request body. If a dictionary or list is provided,
                     a JSON-encoded body will be sent. A string body is
                     encoded to bytes as UTF-8. A bytes body is sent as-is.

        This method returns a ``TestResponse`` object.
        """
        return await self.request('POST', path, headers=headers, body=body)

    async def put(
        self, path: str, headers: 'Optional[dict]' = None, body: 'Any' = None
    ) -> 'Optional[TestResponse]':
        """Send a PUT request to the application.

        :param path: The request URL.
        :param headers: A dictionary of headers to send with the request.
        :param body: The request body. If a dictionary or list is provided,
                     a JSON-encoded body will be sent. A string body is
                     encoded to bytes as UTF-8. A bytes body is sent as-is.

        This method returns a ``TestResponse`` object.
        """
        return await self.request('PUT', path, headers=headers, body=body)

    async def patch(
        self, path: str, headers: 'Optional[dict]' = None, body: 'Any' = None
    ) -> 'Optional[TestResponse]':
        """Send a PATCH request to the application.

        :param path: The request URL.
        :param headers: A dictionary of headers to send with the request.
        :param body: The request body. If a dictionary or list is provided,
                     a JSON-encoded body will be sent. A string body is
                     encoded to bytes as UTF-8. A bytes body is sent as-is.

        This method returns a ``TestResponse`` object.
        """
        return await self.request('PATCH', path, headers=headers, body=body)

    async def delete(
        self, path: str, headers: 'Optional[dict]' = None
    ) -> 'Optional[TestResponse]':
        """Send a DELETE request to the application.

        :param path: The request URL.
        :param headers: A dictionary of headers to send with the request.

        This method returns a ``TestResponse`` object.
        """
        return await self.request('DELETE', path, headers=headers)


def _path_matches(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 section 5.1.4 path matching."""
    if request_path == cookie_path:
        return True
    if not request_path.startswith(cookie_path):
        return False
    return cookie_path.endswith('/') or request_path[len(cookie_path)] == '/'


def _parse_set_cookie(header: str) -> 'Tuple[str, str, str, bool]':
    """Return ``(name, value, path, expired)`` from a ``Set-Cookie`` value.

    A cookie is expired when its ``Max-Age`` is zero or negative or its
    ``Expires`` date is the epoch (what ``delete_cookie`` sends).
    """
    parts = header.split(';')
    name, _, value = parts[0].partition('=')
    path = '/'
    expired = False
    for attribute in parts[1:]:
        key, _, arg = attribute.strip().partition('=')
        key = key.lower()
        if key == 'path' and arg.startswith('/'):
            path = arg
        elif key == 'max-age':
            try:
                expired = expired or int(arg) <= 0
            except ValueError:
                pass
        elif key == 'expires':
            when = _parse_http_date(arg)
            expired = expired or (when is not None and when <= time.time())
    return name.strip(), value.strip(), path, expired


def _parse_http_date(text: str) -> 'Optional[int]':
    """Parse an IMF-fixdate (``Thu, 01 Jan 1970 00:00:01 GMT``) into
    seconds since the epoch, or ``None`` if it is not one."""
    try:
        _, day, month, year, clock, _ = text.split()
        hours, minutes, seconds = [int(part) for part in clock.split(':')]
        index = _MONTHS.index(month) if len(month) == 3 else 1
        if index % 3:  # such as 'anF', across two month names
            raise ValueError(month)
        month_number = index // 3 + 1
        days = _days_from_civil(int(year), month_number, int(day))
    except ValueError:
        return None
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date."""
    if month <= 2:
        year -= 1
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5
    day_of_year += day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4
    day_of_era += day_of_year - year_of_era // 100
    return era * 146097 + day_of_era - 719468


class _PrefixedReader:
    """A stream reader that returns ``prefix`` before reading ``reader``."""

    def __init__(self, prefix: bytes, reader: 'Any'):
        self.buffer = AsyncBytesIO(prefix)
        self.remaining = len(prefix)
        self.reader = reader

    async def read(self, n: int = -1) -> bytes:
        if self.remaining:
            data = await self.buffer.read(n)
            self.remaining -= len(data)
            return data
        return await self.reader.read(n)

    async def readline(self) -> bytes:
        if self.remaining:
            data = await self.buffer.readline()
            self.remaining -= len(data)
            return data
        return await self.reader.readline()

    async def readexactly(self, n: int) -> bytes:
        data = b''
        if self.remaining:
            data = await self.read(min(n, self.remaining))
        if len(data) < n:
            data += await self.reader.readexactly(n - len(data))
        return data


class _WebSocketPipe:
    """Both ends of a test WebSocket connection: the application reads the
    client generator's messages as masked frames and writes frames that
    are decoded and given back to the generator."""

    def __init__(self, generator: 'Any'):
        self.generator = generator
        self.started = False
        self.inbound = b''  # frames for the application to read
        self.input_done = False
        self.outbound = b''  # what the application wrote
        self.upgraded = False  # the 101 head was written
        self.replies = []  # type: List[Any]
        self.ended = False  # the application closed or stopped
        self.event = asyncio.Event()
        self.error = None  # type: Optional[BaseException]

    # -- the application reads ---------------------------------------------

    async def read(self, n: int = -1) -> bytes:
        while not self.inbound and not self.input_done:
            await self._next_message()
        data = self.inbound if n < 0 else self.inbound[:n]
        self.inbound = self.inbound[len(data) :]
        return data

    async def _next_message(self) -> None:
        from microdot.websocket import BINARY, CLOSE, TEXT, encode_frame

        try:
            if not self.started:
                self.started = True
                message = next(self.generator)
            else:
                reply = await self._reply()
                if self.input_done:  # finish() ran meanwhile
                    return
                message = self.generator.send(reply)
        except StopIteration:
            self.inbound = encode_frame(CLOSE, b'\x03\xe8', _MASK)
            self.input_done = True
            return
        except Exception as exc:  # given to the caller of websocket()
            self.error = exc
            self.input_done = True
            return
        if isinstance(message, str):
            self.inbound = encode_frame(TEXT, message.encode(), _MASK)
        else:
            self.inbound = encode_frame(BINARY, bytes(message), _MASK)

    async def _reply(self) -> 'Any':
        while not self.replies and not self.ended:
            await self.event.wait()
            self.event.clear()
        return self.replies.pop(0) if self.replies else None

    # -- the application writes --------------------------------------------

    def write(self, data: bytes) -> None:
        self.outbound += data
        if not self.upgraded:
            end = self.outbound.find(b'\r\n\r\n')
            if end < 0:
                return
            self.upgraded = True
            self.outbound = self.outbound[end + 4 :]
        while self._decode_frame():
            pass
        self.event.set()

    def _decode_frame(self) -> bool:
        """Take one whole frame off ``outbound``; ``False`` if there is
        none yet."""
        from microdot.websocket import decode_frame

        frame = decode_frame(self.outbound)
        if frame is None:
            return False
        _, opcode, payload, size = frame
        self.outbound = self.outbound[size:]
        if opcode == 1:
            self.replies.append(payload.decode())
        elif opcode == 2:
            self.replies.append(payload)
        elif opcode == 8:
            self.ended = True
        return True

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        self.finish()

    async def wait_closed(self) -> None:
        pass

    def finish(self) -> None:
        """The session is over: give the generator the replies it has not
        seen yet, then ``None``, and close it."""
        self.ended = True
        self.event.set()
        if self.started and not self.input_done:
            self.input_done = True
            try:
                while self.replies:
                    self.generator.send(self.replies.pop(0))
                self.generator.send(None)  # the application has ended
            except StopIteration:
                pass
            except Exception as exc:  # given to the caller of websocket()
                self.error = exc
        self.generator.close()


_MASK = b'\x37\xfa\x21\x3d'  # RFC 6455 section 5.7's sample masking key
