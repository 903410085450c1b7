"""
microdot.sse
------------

Server-Sent Events: a streaming ``text/event-stream`` response whose events
an application function sends as they happen.
"""

import asyncio
import json

from microdot.helpers import wraps
from microdot.microdot import Response

try:
    from typing import Any, Callable, List, Optional  # noqa: F401
except ImportError:  # MPY: no typing module
    pass


def _json_dumps(data: 'Any') -> str:
    """Compact JSON with UTF-8 text, as the core writes JSON bodies."""
    try:
        return json.dumps(data, separators=(',', ':'), ensure_ascii=False)
    except TypeError:  # MPY: no ensure_ascii, and it never escapes
        return json.dumps(data, separators=(',', ':'))


def format_event(
    data: 'Any',
    event: 'Optional[str]' = None,
    event_id: 'Optional[str]' = None,
    retry: 'Optional[int]' = None,
) -> bytes:
    """Return the bytes of one event: the fields given, one ``data:`` line
    per line of the data, then a blank line.

    A ``ValueError`` is raised for an event name or id with CR or LF in
    it, which would start other fields.
    """
    if isinstance(data, (dict, list)):
        data = _json_dumps(data)
    elif not isinstance(data, (str, bytes)):
        data = str(data)
    if isinstance(data, str):
        data = data.encode()
    out = b''
    for name, value in ((b'event', event), (b'id', event_id)):
        if value is not None:
            value = str(value)
            if '\r' in value or '\n' in value:
                raise ValueError('CR or LF in an SSE event field')
            out += name + b': ' + value.encode() + b'\n'
    if retry is not None:
        out += b'retry: %d\n' % int(retry)
    lines = data.replace(b'\r\n', b'\n').replace(b'\r', b'\n').split(b'\n')
    for line in lines:
        out += b'data: ' + line + b'\n'
    return out + b'\n'


class SSE:
    """Server-Sent Events object.

    An object of this class is sent to handler functions to manage the SSE
    connection.
    """

    #: Seconds without events after which a comment line is sent, so that
    #: proxies keep the connection and a gone client is noticed; ``None``
    #: sends none.
    keep_alive_interval = 15  # type: Optional[float]

    def __init__(self):
        self.events = []  # type: List[bytes]  # waiting to be written
        self.ready = asyncio.Event()  # an event, or the end
        self.taken = asyncio.Event()  # the events were handed on
        self.closed = False  # the stream has ended: events are dropped

    async def send(
        self,
        data: 'Any',
        event: 'Optional[str]' = None,
        event_id: 'Optional[str]' = None,
        retry: 'Optional[int]' = None,
    ) -> None:
        """Send an event to the client.

        :param data: the data to send. It can be given as a string, bytes,
                     dict or list. Dictionaries and lists are serialized to
                     JSON. Any other types are converted to string before
                     sending.
        :param event: an optional event name, to send along with the data.
                      If given, it must be a string.
        :param event_id: an optional event id, to send along with the data.
                         If given, it must be a string.
        :param retry: an optional reconnection time for the client, in
                      milliseconds.

        It returns once the event has been handed to the connection, or at
        once if the stream has ended (the client left).
        """
        if self.closed:
            return
        self.events.append(format_event(data, event, event_id, retry))
        self.taken.clear()
        self.ready.set()
        await self.taken.wait()


class _EventStream:
    """The body of an SSE response: it runs the event function in a task
    and yields each event as it is sent. Closing it (the client left)
    cancels the task."""

    def __init__(self, request: 'Any', event_function: 'Callable'):
        self.request = request
        self.event_function = event_function
        self.sse = SSE()
        self.task = None  # type: Any
        self.error = None  # type: Optional[BaseException]

    def __aiter__(self) -> '_EventStream':
        return self

    async def _run(self) -> None:
        try:
            await self.event_function(self.request, self.sse)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported, and the stream is cut
            self.error = exc
        finally:
            self.sse.ready.set()

    async def __anext__(self) -> bytes:
        sse = self.sse
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        while not sse.events:
            if self.task.done():
                if self.error is not None:
                    error, self.error = self.error, None
                    raise error  # the server prints it and closes
                raise StopAsyncIteration()
            if not await self._wait(sse.ready):
                return b': keep-alive\n\n'
            sse.ready.clear()
        data = b''.join(sse.events)
        sse.events = []
        sse.taken.set()
        return data

    @staticmethod
    async def _wait(ready: 'Any') -> bool:
        """Wait for an event; ``False`` after ``keep_alive_interval``."""
        interval = SSE.keep_alive_interval
        if interval is None:
            await ready.wait()
            return True
        try:
            await asyncio.wait_for(ready.wait(), interval)
        except asyncio.TimeoutError:
            return False
        return True

    async def aclose(self) -> None:
        """Cancel the event function if it still runs, and wait for it."""
        self.sse.closed = True
        self.sse.taken.set()  # a send() waiting, or one in a cleanup
        task = self.task
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass


def sse_response(
    request: 'Any', event_function: 'Callable', *args: 'Any', **kwargs: 'Any'
) -> Response:
    """Return a response object that initiates an event stream.

    :param request: the request object.
    :param event_function: an asynchronous function that will send events
                           to the client. The function is invoked with
                           ``request`` and an ``sse`` object. The function
                           should use ``sse.send()`` to send events to the
                           client.
    :param args: additional positional arguments to be passed to the
                 response.
    :param kwargs: additional keyword arguments to be passed to the
                   response.

    This is a low-level function that can be used to implement a custom
    SSE endpoint. In general the ``with_sse`` decorator should be used
    instead.
    """
    response = Response(_EventStream(request, event_function), *args,
                        **kwargs)  # fmt: skip
    response.headers['Content-Type'] = 'text/event-stream'
    response.headers['Cache-Control'] = 'no-cache'
    return response


def with_sse(f: 'Callable') -> 'Callable':
    """Decorator to make a route a Server-Sent Events endpoint.

    This decorator is used to define a route that accepts SSE connections.
    The route then receives a sse object as a second argument that it can
    use to send events to the client::

        @app.route('/events')
        @with_sse
        async def events(request, sse):
            # send an unnamed event with string data
            await sse.send('hello')
            # send an unnamed event with JSON data
            await sse.send({'foo': 'bar'})
            # send a named event
            await sse.send('hello', event='greeting')
    """

    @wraps(f)
    async def sse_handler(request: 'Any', *args: 'Any', **kwargs: 'Any'):
        async def events(request: 'Any', sse: SSE) -> None:
            await f(request, sse, *args, **kwargs)

        return sse_response(request, events)

    return sse_handler
