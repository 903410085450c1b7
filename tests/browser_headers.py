"""The header sets that real clients send, shared by test_cors.py and
test_csrf.py, with tiny helpers to vary them and to look at responses.

Not a test module (no tests here): plain data, portable to MicroPython
(tests/ is on the path under pytest's conftest.py and tests/mpy_runner.py).

The Chromium sets were recorded from Chromium 156 (headless,
``--headless=new``) by tests/test_cors_chromium.py's servers: a page on
``http://127.0.0.1:8801`` calling an API on ``http://localhost:8802`` (a
cross-site origin), and a page on ``app.example.com`` calling
``api.example.com`` (same-site; Chromium only sends ``Sec-Fetch-*`` and
``sec-ch-ua`` to potentially trustworthy origins, so the same-site set was
recorded with ``--unsafely-treat-insecure-origin-as-secure``, and the
"plain HTTP" sets without it). They are built here from the groups of
headers that Chromium sends together, so the order of the recording is not
kept (header order never matters to the server). The non-browser sets are
those of curl 7.88.1, requests 2.34.2 and httpx 0.28.1.
"""

import serverutil

CHROMIUM_UA = (
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) '
    'HeadlessChrome/156.0.0.0 Safari/537.36'
)
CHROMIUM_CH_UA = '"Not:A-Brand";v="8", "Chromium";v="156"'
CHROMIUM_ACCEPT_DOCUMENT = (
    'text/html,application/xhtml+xml,application/xml;q=0.9,image/jxl,'
    'image/avif,image/webp,image/apng,*/*;q=0.8,'
    'application/signed-exchange;v=b3;q=0.7'
)
SECURE_ENCODINGS = 'gzip, deflate, br, zstd'  # to trustworthy origins
PLAIN_ENCODINGS = 'gzip, deflate'  # to plain HTTP origins
LANGUAGE = 'en-US,en;q=0.9'

PAGE_HOST = '127.0.0.1:8801'
PAGE_ORIGIN = 'http://127.0.0.1:8801'  # the page's origin
API_HOST = 'localhost:8802'  # a cross-site API
API_ORIGIN = 'http://localhost:8802'
APP_ORIGIN = 'http://app.example.com:8801'  # same-site pair
SUBDOMAIN_API_HOST = 'api.example.com:8802'

#: The core's default Content-Type of a response.
TEXT_PLAIN = 'text/plain; charset=UTF-8'


# -- the groups of headers Chromium sends together ----------------------------


def merged(*dicts):
    """One dict with the items of ``dicts`` (later ones win)."""
    result = {}
    for d in dicts:
        result.update(d)
    return result


def chromium(host, encodings, *groups):
    """A Chromium request to ``host``: the headers it always sends, then
    the header dicts ``groups``."""
    always = {
        'Host': host,
        'Connection': 'keep-alive',
        'User-Agent': CHROMIUM_UA,
        'Accept-Encoding': encodings,
        'Accept-Language': LANGUAGE,
    }
    return merged(always, *groups)


def sent_from(origin, path='/'):
    """``Origin`` and ``Referer`` of a request from the page ``path`` of
    ``origin``."""
    return {'Origin': origin, 'Referer': origin + path}


def fetch_metadata(site, mode='cors', dest='empty'):
    """The Fetch Metadata of a ``fetch()`` (or, with the mode and dest of a
    navigation, of a form submission) to a trustworthy origin."""
    return {
        'Sec-Fetch-Site': site,
        'Sec-Fetch-Mode': mode,
        'Sec-Fetch-Dest': dest,
    }


def navigation(site):
    return fetch_metadata(site, 'navigate', 'document')


# to trustworthy origins, except on preflights
CLIENT_HINTS = {
    'sec-ch-ua': CHROMIUM_CH_UA,
    'sec-ch-ua-mobile': '?0',
    'sec-ch-ua-platform': '"Linux"',
}

# fetch(url, {method: 'POST', headers: {'Content-Type':
# 'application/json', 'X-Token': 'abc'}, body: '{"a":1}'})
JSON_FETCH = {
    'Accept': '*/*',
    'Content-Type': 'application/json',
    'X-Token': 'abc',
}

# ... and the preflight Chromium sends before it to another origin
JSON_FETCH_PREFLIGHT = {
    'Accept': '*/*',
    'Access-Control-Request-Method': 'POST',
    'Access-Control-Request-Headers': 'content-type,x-token',
}

# <form method="post"> submitted by a script of the page
FORM_SUBMISSION = {
    'Cache-Control': 'max-age=0',
    'Upgrade-Insecure-Requests': '1',
    'Content-Type': 'application/x-www-form-urlencoded',
    'Accept': CHROMIUM_ACCEPT_DOCUMENT,
}


# -- Chromium's requests ------------------------------------------------------

# the JSON fetch to the page's own origin (from its page /page)
CHROMIUM_SAME_ORIGIN_FETCH = chromium(
    PAGE_HOST,
    SECURE_ENCODINGS,
    CLIENT_HINTS,
    JSON_FETCH,
    sent_from(PAGE_ORIGIN, '/page'),
    fetch_metadata('same-origin'),
)

# the same fetch to the API with credentials: 'include': first this
# preflight (no sec-ch-ua, no cookies) ...
CHROMIUM_PREFLIGHT = chromium(
    API_HOST,
    SECURE_ENCODINGS,
    JSON_FETCH_PREFLIGHT,
    sent_from(PAGE_ORIGIN),
    fetch_metadata('cross-site'),
)

# ... then the actual request
CHROMIUM_CROSS_SITE_FETCH = chromium(
    API_HOST,
    SECURE_ENCODINGS,
    CLIENT_HINTS,
    JSON_FETCH,
    sent_from(PAGE_ORIGIN),
    fetch_metadata('cross-site'),
    {'Sec-Fetch-Storage-Access': 'none'},
)

# fetch(API + '/api', {method: 'POST', body: 'x'}): a simple request, sent
# without a preflight
CHROMIUM_CROSS_SITE_SIMPLE_FETCH = chromium(
    API_HOST,
    SECURE_ENCODINGS,
    CLIENT_HINTS,
    {'Accept': '*/*', 'Content-Type': 'text/plain;charset=UTF-8'},
    sent_from(PAGE_ORIGIN),
    fetch_metadata('cross-site'),
)

# a form of the page posted to http://localhost:8802/...: a top-level
# navigation
CHROMIUM_CROSS_SITE_FORM = chromium(
    API_HOST,
    SECURE_ENCODINGS,
    CLIENT_HINTS,
    FORM_SUBMISSION,
    sent_from(PAGE_ORIGIN),
    navigation('cross-site'),
)

# a page on app.example.com POSTing with fetch() to api.example.com
CHROMIUM_SAME_SITE_FETCH = chromium(
    SUBDOMAIN_API_HOST,
    PLAIN_ENCODINGS,
    CLIENT_HINTS,
    JSON_FETCH,
    sent_from(APP_ORIGIN),
    fetch_metadata('same-site'),
)

# ... and submitting a form to it
CHROMIUM_SAME_SITE_FORM = chromium(
    SUBDOMAIN_API_HOST,
    PLAIN_ENCODINGS,
    CLIENT_HINTS,
    FORM_SUBMISSION,
    sent_from(APP_ORIGIN),
    navigation('same-site'),
)

# a URL typed in the address bar (or given on the command line)
CHROMIUM_TYPED_URL = chromium(
    PAGE_HOST,
    SECURE_ENCODINGS,
    CLIENT_HINTS,
    {'Upgrade-Insecure-Requests': '1', 'Accept': CHROMIUM_ACCEPT_DOCUMENT},
    navigation('none'),
    {'Sec-Fetch-User': '?1'},
)

# Chromium to a plain HTTP origin that is not localhost (an address on the
# LAN, as microcontrollers have): Origin, but no Sec-Fetch-* at all ...
CHROMIUM_PLAIN_HTTP_FETCH = chromium(
    SUBDOMAIN_API_HOST, PLAIN_ENCODINGS, JSON_FETCH, sent_from(APP_ORIGIN)
)

# ... except Sec-Fetch-Mode on its preflights
CHROMIUM_PLAIN_HTTP_PREFLIGHT = chromium(
    SUBDOMAIN_API_HOST,
    PLAIN_ENCODINGS,
    JSON_FETCH_PREFLIGHT,
    sent_from(APP_ORIGIN),
    {'Sec-Fetch-Mode': 'cors'},
)


# -- other clients ------------------------------------------------------------

# Safari 15 (2022), before Fetch Metadata: a form POST with Origin only
# (this set is written from Safari's documented headers, not recorded)
OLD_SAFARI_FORM = {
    'Host': API_HOST,
    'Origin': PAGE_ORIGIN,
    'Content-Type': 'application/x-www-form-urlencoded',
    'Accept': 'text/html,application/xhtml+xml,application/xml;q=0.9,'
    '*/*;q=0.8',
    'User-Agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) '
    'AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.6 '
    'Safari/605.1.15',
    'Referer': PAGE_ORIGIN + '/',
    'Accept-Language': 'en-US,en;q=0.9',
    'Accept-Encoding': PLAIN_ENCODINGS,
    'Connection': 'keep-alive',
}

# curl -d a=1 http://localhost:8802/...
CURL_POST = {
    'Host': API_HOST,
    'User-Agent': 'curl/7.88.1',
    'Accept': '*/*',
    'Content-Type': 'application/x-www-form-urlencoded',
}

# requests.post(url, data={'a': '1'})
REQUESTS_POST = {
    'Host': API_HOST,
    'User-Agent': 'python-requests/2.34.2',
    'Accept-Encoding': 'gzip, deflate',
    'Accept': '*/*',
    'Connection': 'keep-alive',
    'Content-Type': 'application/x-www-form-urlencoded',
}

# httpx.post(url, json={'a': 1})
HTTPX_POST = {
    'Host': API_HOST,
    'Accept': '*/*',
    'Accept-Encoding': 'gzip, deflate',
    'Connection': 'keep-alive',
    'User-Agent': 'python-httpx/0.28.1',
    'Content-Type': 'application/json',
}


# -- helpers ------------------------------------------------------------------


def with_headers(base, **changes):
    """A copy of the header set ``base`` with some headers changed; a
    value of None removes the header (names use '_' for '-')."""
    headers = dict(base)
    for key, value in changes.items():
        name = key.replace('_', '-')
        for existing in list(headers):
            if existing.lower() == name.lower():
                del headers[existing]
        if value is not None:
            headers[name] = value
    return headers


def no_fetch_metadata(headers):
    """The header set as an old browser sends it: no Sec-Fetch-*."""
    return with_headers(
        headers,
        Sec_Fetch_Site=None,
        Sec_Fetch_Mode=None,
        Sec_Fetch_Dest=None,
        Sec_Fetch_User=None,
        Sec_Fetch_Storage_Access=None,
    )


class Calls:
    """Records the names of the routes that ran."""

    def __init__(self):
        self.names = []


def headers_of(res):
    """The response headers as a dict with lower-case names (no order)."""
    return {name.lower(): res.headers[name] for name in res.headers}


def body_headers(body, content_type=TEXT_PLAIN):
    """The Content-Type and Content-Length (lower-case names) of a response
    with ``body``."""
    return {'content-type': content_type, 'content-length': str(len(body))}


def assert_response(res, status, body, *headers, note=None):
    """``res``, a test client response, has ``status``, ``body`` and
    exactly the headers of the dicts ``headers`` (lower-case names);
    ``note`` goes into the failure messages."""
    assert res.status_code == status, (res.status_code, res.body, note)
    assert res.body == body, (res.body, note)
    assert headers_of(res) == merged(*headers), (headers_of(res), note)


def cors_headers(origin, credentials=False):
    """The headers (lower-case names) that the CORS extension adds to an
    actual response for an allowed ``origin`` (``'*'`` without Vary)."""
    if origin == '*':
        headers = {'access-control-allow-origin': '*'}
    else:
        headers = {'access-control-allow-origin': origin, 'vary': 'Origin'}
    if credentials:
        headers['access-control-allow-credentials'] = 'true'
    return headers


# -- through a real server on 127.0.0.1 ---------------------------------------


async def serve(app, method, path, headers, body=b''):
    """Send one request with the header set ``headers`` (its Host and
    Connection replaced by the server's own and ``close``) to ``app`` on a
    real server; return the parsed ``serverutil.HTTPResponse``."""
    server = await serverutil.start(app)
    try:
        headers = with_headers(headers, Host=None, Connection=None)
        return await server.request(method, path, headers, body)
    finally:
        await server.stop()


def request_bytes(method, path, headers, body=b''):
    """The bytes of an HTTP/1.1 request with exactly the header set
    ``headers`` (for requests that ``serve()`` would fix)."""
    lines = ['%s %s HTTP/1.1\r\n' % (method, path)]
    for name, value in headers.items():
        lines.append('%s: %s\r\n' % (name, value))
    return (''.join(lines) + '\r\n').encode() + body


async def serve_raw(app, data):
    """Send the raw bytes ``data`` to ``app`` on a real server and return
    the parsed response."""
    server = await serverutil.start(app)
    try:
        raw = await server.exchange(data)
    finally:
        await server.stop()
    return serverutil.HTTPResponse(raw)


def header_lines(res):
    """The header lines of a raw response, sorted, with repeated names
    kept."""
    return sorted(res.header_lines)


def closing_lines(body, content_type=TEXT_PLAIN):
    """The header lines of the server's response with ``body`` to a request
    with ``Connection: close``, besides those the app adds."""
    return [
        ('connection', 'close'),
        ('content-length', str(len(body))),
        ('content-type', content_type),
    ]


def cors_lines(origin, credentials=False):
    """The header lines of ``cors_headers(origin, credentials)``."""
    return list(cors_headers(origin, credentials).items())


def assert_served(res, status_line, body, *lines):
    """``res``, from a real server, has ``status_line``, ``body`` and
    exactly the header lines of the lists ``lines``, in any order."""
    assert res.status_line == status_line, res.raw
    assert res.body == body, res.raw
    assert header_lines(res) == sorted(sum(lines, [])), res.raw
