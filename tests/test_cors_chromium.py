# runtime: cpython
"""CORS and CSRF against a real browser: headless Chromium.

Microdot apps serve on 127.0.0.1 in a thread. Chromium (``--headless=new
--dump-dom``) loads a page from ``http://127.0.0.1:PAGE`` whose script makes
cross-origin ``fetch()`` calls to apps on ``http://localhost:PORT`` (another
origin and another site) and writes their outcomes into the DOM; other runs
submit forms across sites. The apps record the headers Chromium sent and
what they answered, and the tests assert both, plus what the browser let the
page see.

Runs with ``--host-resolver-rules`` put ``app.example.com`` and
``api.example.com`` on 127.0.0.1 for same-site requests. Chromium sends
``Sec-Fetch-*`` only to potentially trustworthy origins (HTTPS, localhost,
127.0.0.1), so the same-site runs add ``--unsafely-treat-insecure-origin-
as-secure`` and the "plain HTTP" runs, without it, see a browser that sends
``Origin`` only, as on a LAN address.

The module is skipped when ``/usr/bin/chromium`` is missing, unless the
environment variable ``CI`` is set: then it fails.
"""

import asyncio
import html
import json
import os
import re
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from microdot import Microdot
from microdot.cors import CORS
from microdot.csrf import CSRF

CHROMIUM = '/usr/bin/chromium'
HOST = '127.0.0.1'
RUN_TIMEOUT = 20  # seconds for one Chromium run
TOTAL_TIMEOUT = 45  # seconds for all the runs
START_TIMEOUT = 5  # seconds for the servers to listen
STOP_TIMEOUT = 10  # seconds for the server thread to end
VIRTUAL_TIME_BUDGET = 10000  # ms of page time before the DOM is dumped
RESOLVER = '--host-resolver-rules=MAP *.example.com 127.0.0.1'


# -- the apps -----------------------------------------------------------------


class Recorder:
    """Records every request an app answers, with its response."""

    def __init__(self, name, app):
        self.name = name
        self.records = []
        app.after_request(self.record)
        app.after_error_request(self.record)

    def record(self, request, response):
        self.records.append(
            {
                'method': request.method,
                'url': request.url,
                'headers': dict(request.headers),
                'status': response.status_code,
                'response_headers': {
                    name.lower(): value
                    for name, value in response.headers.items()
                },
            }
        )
        return response

    def find(self, method, url):
        """The records of ``method`` requests to ``url`` (favicons and
        other requests left out)."""
        return [
            r
            for r in self.records
            if r['method'] == method and r['url'] == url
        ]

    def one(self, method, url):
        found = self.find(method, url)
        assert len(found) == 1, (self.name, method, url, self.records)
        return found[0]


class Site:
    """The apps, their ports and their recorders."""

    def __init__(self):
        self.apps = {}
        self.recorders = {}
        self.ports = {}

    def add(self, name, app):
        self.apps[name] = app

    def origin(self, name, host=HOST):
        return 'http://%s:%d' % (host, self.ports[name])

    def page_origin(self):
        return self.origin('page')


FETCH_PAGE = """<!doctype html>
<html><body><pre id="results">pending</pre><script>
const urls = %s;
const json = {method: 'POST', body: JSON.stringify({n: 1}),
              headers: {'Content-Type': 'application/json', 'X-Token': 'abc'}};
const results = {};
async function attempt(name, url, init) {
  try {
    const response = await fetch(url, init);
    results[name] = {
      status: response.status,
      body: await response.text(),
      request_id: response.headers.get('X-Request-Id'),
      secret: response.headers.get('X-Secret'),
    };
  } catch (error) {
    results[name] = {error: error.name};
  }
}
async function run() {
  await attempt('same_origin', '/echo', json);
  await attempt('api', urls.api + '/api', {...json, credentials: 'include'});
  await attempt('closed', urls.closed + '/api', json);
  await attempt('closed_simple', urls.closed + '/simple',
                {method: 'POST', body: 'x'});
  await attempt('star', urls.star + '/api', json);
  await attempt('star_credentials', urls.star + '/api2',
                {...json, credentials: 'include'});
  await attempt('star_reflected', urls.star_reflected + '/api',
                {...json, credentials: 'include'});
  document.getElementById('results').textContent = JSON.stringify(results);
}
run();
</script></body></html>
"""

FORM_PAGE = """<!doctype html>
<html><body><form id="form" method="post" action="%s">
<input name="x" value="1"></form>
<script>document.getElementById('form').submit();</script></body></html>
"""


def form_page(action):
    return FORM_PAGE % html.escape(action, quote=True), {
        'Content-Type': 'text/html; charset=UTF-8'
    }


def add_form_routes(app):
    @app.get('/form')
    async def form(request):
        return form_page(request.args['action'])

    @app.post('/submit')
    async def submit(request):
        return 'submitted'


def add_api_routes(app):
    @app.post('/api')
    async def api(request):
        return request.json, {'X-Request-Id': '42', 'X-Secret': 's'}

    @app.post('/api2')
    async def api2(request):
        return request.json

    @app.post('/simple')
    async def simple(request):
        return 'simple'


def build_site():
    site = Site()

    page = Microdot()  # the page's own origin, protected too
    CSRF(page)

    @page.get('/fetch')
    async def fetch_page(request):
        urls = {
            'api': site.origin('api', 'localhost'),
            'closed': site.origin('closed', 'localhost'),
            'star': site.origin('star', 'localhost'),
            'star_reflected': site.origin('star_reflected', 'localhost'),
        }
        return FETCH_PAGE % json.dumps(urls), {
            'Content-Type': 'text/html; charset=UTF-8'
        }

    @page.post('/echo')
    async def echo(request):
        return request.json

    add_form_routes(page)
    site.add('page', page)

    api = Microdot()  # allows the page (origins added once listening)
    cors = CORS(
        api,
        allowed_origins=[],
        allow_credentials=True,
        expose_headers=['X-Request-Id'],
        max_age=600,
    )
    CSRF(api, cors)
    add_api_routes(api)
    add_form_routes(api)
    site.add('api', api)
    site.api_cors = cors

    closed = Microdot()  # allows another origin only
    cors = CORS(closed, allowed_origins=['https://partner.example'])
    CSRF(closed, cors)
    add_api_routes(closed)
    add_form_routes(closed)
    site.add('closed', closed)

    star = Microdot()
    CORS(star, allowed_origins='*')
    add_api_routes(star)
    site.add('star', star)

    star_reflected = Microdot()
    CORS(star_reflected, allowed_origins='*', allow_credentials=True)
    add_api_routes(star_reflected)
    site.add('star_reflected', star_reflected)

    subdomains = Microdot()  # trusts the sibling subdomains
    CSRF(subdomains, allow_subdomains=True)
    add_form_routes(subdomains)
    site.add('subdomains', subdomains)

    for name, app in site.apps.items():  # last: they see the final answers
        site.recorders[name] = Recorder(name, app)
    return site


# -- the servers --------------------------------------------------------------


class ServerThread:
    """Serves the apps of a ``Site`` on 127.0.0.1 in a thread with its own
    event loop."""

    def __init__(self, site):
        self.site = site
        self.loop = None
        self.listening = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            asyncio.run(self._serve())
        except Exception as exc:  # reported by start()
            self.error = exc
            self.listening.set()

    async def _serve(self):
        self.loop = asyncio.get_running_loop()
        apps = list(self.site.apps.values())
        tasks = [
            asyncio.create_task(app.start_server(host=HOST, port=0))
            for app in apps
        ]
        for _ in range(int(START_TIMEOUT / 0.01)):
            if all(app.server is not None for app in apps):
                break
            await asyncio.sleep(0.01)
        for name, app in self.site.apps.items():
            self.site.ports[name] = app.server.sockets[0].getsockname()[1]
        self.listening.set()
        await asyncio.gather(*tasks)

    def start(self):
        self.thread.start()
        assert self.listening.wait(START_TIMEOUT), 'servers did not start'
        if self.error is not None:
            raise self.error

    def stop(self):
        if self.loop is not None:
            for app in self.site.apps.values():
                self.loop.call_soon_threadsafe(app.shutdown)
        self.thread.join(STOP_TIMEOUT)
        assert not self.thread.is_alive(), 'servers did not stop'


# -- Chromium -----------------------------------------------------------------


def chromium_args(profile, url, extra):
    return (
        [
            CHROMIUM,
            '--headless=new',
            '--no-sandbox',
            '--disable-gpu',
            '--user-data-dir=' + profile,
            '--no-first-run',
            '--no-default-browser-check',
            '--disable-extensions',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--disable-dev-shm-usage',
            '--virtual-time-budget=%d' % VIRTUAL_TIME_BUDGET,
        ]
        + list(extra)
        + ['--dump-dom', url]
    )


def run_chromium(profile, url, extra, deadline):
    """Load ``url`` and return the DOM Chromium dumps (bounded in time)."""
    timeout = max(1, min(RUN_TIMEOUT, deadline - time.monotonic()))
    try:
        done = subprocess.run(
            chromium_args(profile, url, extra),
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return 'TIMEOUT after %d s loading %s' % (timeout, url)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    out = done.stdout.decode('utf-8', 'replace')
    if done.returncode != 0 or not out:
        err = done.stderr.decode('utf-8', 'replace')
        return 'FAILED (%d) loading %s: %s' % (
            done.returncode,
            url,
            err[-2000:],
        )
    return out


def secure(*origins):
    return '--unsafely-treat-insecure-origin-as-secure=' + ','.join(origins)


def plan_runs(site):
    """The Chromium runs: name -> (url, extra flags)."""
    page = site.page_origin()
    api = site.origin('api', 'localhost')
    closed = site.origin('closed', 'localhost')
    app = site.origin('page', 'app.example.com')
    sub_api = site.origin('api', 'api.example.com')
    sub_closed = site.origin('closed', 'api.example.com')
    sub_trusting = site.origin('subdomains', 'api.example.com')
    same_site = secure(app, sub_api, sub_closed, sub_trusting)

    def form(origin, action):
        return origin + '/form?action=' + action

    return {
        'fetch': (page + '/fetch', []),
        'cross_form': (form(page, closed + '/submit?run=cross'), []),
        'same_origin_form': (form(closed, closed + '/submit?run=same'), []),
        'cors_origin_form': (form(page, api + '/submit?run=cors'), []),
        'same_site_form': (
            form(app, sub_closed + '/submit?run=site'),
            [RESOLVER, same_site],
        ),
        'same_site_trusted_form': (
            form(app, sub_trusting + '/submit?run=site'),
            [RESOLVER, same_site],
        ),
        'same_site_cors_form': (
            form(app, sub_api + '/submit?run=site'),
            [RESOLVER, same_site],
        ),
        'plain_http_trusted_form': (
            form(app, sub_trusting + '/submit?run=plain'),
            [RESOLVER],
        ),
        'plain_http_form': (
            form(app, sub_closed + '/submit?run=plain'),
            [RESOLVER],
        ),
    }


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    """Run every Chromium scenario once; return ``(site, doms)``."""
    if not os.path.exists(CHROMIUM):
        if 'CI' in os.environ:
            pytest.fail('%s is missing under CI' % CHROMIUM)
        pytest.skip('%s is not installed' % CHROMIUM)
    site = build_site()
    server = ServerThread(site)
    server.start()
    try:
        # the page, and its same-site twin on app.example.com
        site.api_cors.allowed_origins.append(site.page_origin())
        site.api_cors.allowed_origins.append(
            site.origin('page', 'app.example.com')
        )
        runs = plan_runs(site)
        deadline = time.monotonic() + TOTAL_TIMEOUT
        base = tmp_path_factory.mktemp('chromium')
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {
                name: pool.submit(
                    run_chromium, str(base / name), url, extra, deadline
                )
                for name, (url, extra) in runs.items()
            }
            doms = {name: future.result() for name, future in futures.items()}
    finally:
        server.stop()
    return site, doms


def fetch_results(doms):
    match = re.search(r'<pre id="results">(.*?)</pre>', doms['fetch'], re.S)
    assert match, doms['fetch'][:3000]
    return json.loads(html.unescape(match.group(1)))


def shown_text(dom):
    """The text Chromium shows for a text/plain response."""
    match = re.search(r'<pre[^>]*>(.*?)</pre>', dom, re.S)
    assert match, dom[:3000]
    return html.unescape(match.group(1))


FETCH_METADATA = ('sec-fetch-site', 'sec-fetch-mode', 'sec-fetch-dest')


def answered(request_id=None):
    """What the page's script saw of an answered ``fetch()`` that posted
    ``{"n":1}``: ``X-Secret`` is never exposed, ``X-Request-Id`` only where
    the app exposes it."""
    return {
        'status': 200,
        'body': '{"n":1}',
        'request_id': request_id,
        'secret': None,
    }


def api_response_headers(site, *extra):
    """The headers of ``/api``'s answer to a credentialed request from the
    page, plus the dicts ``extra``, as the Recorder sees them (before the
    core adds Content-Length)."""
    headers = {
        'content-type': 'application/json',
        'x-request-id': '42',
        'x-secret': 's',
        'access-control-allow-origin': site.page_origin(),
        'access-control-allow-credentials': 'true',
        'vary': 'Origin',
    }
    for more in extra:
        headers.update(more)
    return headers


def sent(record, *names):
    """The values of the Fetch Metadata headers and of ``names`` in the
    request of ``record`` (None for those the browser did not send)."""
    headers = record['headers']
    return {name: headers.get(name) for name in FETCH_METADATA + names}


# -- the page and same-origin requests ----------------------------------------


def test_typed_url_navigation(browser):
    site, doms = browser
    record = site.recorders['page'].one('GET', '/fetch')
    assert sent(record, 'sec-fetch-user', 'origin') == {
        'sec-fetch-site': 'none',
        'sec-fetch-mode': 'navigate',
        'sec-fetch-dest': 'document',
        'sec-fetch-user': '?1',
        'origin': None,
    }
    assert record['status'] == 200


def test_same_origin_fetch_passes_csrf(browser):
    site, doms = browser
    assert fetch_results(doms)['same_origin'] == answered()
    record = site.recorders['page'].one('POST', '/echo')
    assert sent(record, 'origin') == {
        'sec-fetch-site': 'same-origin',
        'sec-fetch-mode': 'cors',
        'sec-fetch-dest': 'empty',
        'origin': site.page_origin(),
    }


# -- a cross-origin fetch with a preflight ------------------------------------


def test_preflight_headers_sent_by_chromium(browser):
    site, doms = browser
    record = site.recorders['api'].one('OPTIONS', '/api')
    names = (
        'origin',
        'access-control-request-method',
        'access-control-request-headers',
    )
    assert sent(record, *names) == {
        'origin': site.page_origin(),
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-token',
        'sec-fetch-site': 'cross-site',
        'sec-fetch-mode': 'cors',
        'sec-fetch-dest': 'empty',
    }
    assert 'cookie' not in record['headers']


def test_preflight_answer(browser):
    site, doms = browser
    record = site.recorders['api'].one('OPTIONS', '/api')
    assert record['status'] == 204
    assert record['response_headers'] == {
        'access-control-allow-origin': site.page_origin(),
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'POST',
        'access-control-allow-headers': 'content-type,x-token',
        'access-control-max-age': '600',
        'vary': 'Origin',
    }


def test_preflighted_credentialed_fetch_is_allowed(browser):
    site, doms = browser
    # X-Request-Id is exposed to the script, X-Secret is not
    assert fetch_results(doms)['api'] == answered(request_id='42')


def test_actual_request_after_the_preflight(browser):
    site, doms = browser
    record = site.recorders['api'].one('POST', '/api')
    assert sent(record, 'origin', 'content-type', 'x-token') == {
        'sec-fetch-site': 'cross-site',
        'sec-fetch-mode': 'cors',
        'sec-fetch-dest': 'empty',
        'origin': site.page_origin(),
        'content-type': 'application/json',
        'x-token': 'abc',
    }
    assert record['status'] == 200
    assert record['response_headers'] == api_response_headers(
        site, {'access-control-expose-headers': 'X-Request-Id'}
    )


# -- disallowed origins -------------------------------------------------------


def test_disallowed_origin_preflight_blocks_the_fetch(browser):
    site, doms = browser
    assert fetch_results(doms)['closed'] == {'error': 'TypeError'}
    recorder = site.recorders['closed']
    record = recorder.one('OPTIONS', '/api')
    assert record['headers']['access-control-request-method'] == 'POST'
    assert record['status'] == 204
    assert record['response_headers'] == {}
    assert recorder.find('POST', '/api') == []  # never sent


def test_simple_cross_site_post_is_refused_by_csrf(browser):
    site, doms = browser
    # no preflight for a simple request: the browser sends it, the
    # CSRF check refuses it, and the page cannot read the answer
    assert fetch_results(doms)['closed_simple'] == {'error': 'TypeError'}
    recorder = site.recorders['closed']
    assert recorder.find('OPTIONS', '/simple') == []
    record = recorder.one('POST', '/simple')
    assert sent(record, 'origin') == {
        'sec-fetch-site': 'cross-site',
        'sec-fetch-mode': 'cors',
        'sec-fetch-dest': 'empty',
        'origin': site.page_origin(),
    }
    assert record['status'] == 403
    assert record['response_headers'] == {}


# -- the wildcard -------------------------------------------------------------


def test_wildcard_without_credentials_is_allowed(browser):
    site, doms = browser
    assert fetch_results(doms)['star'] == answered()
    recorder = site.recorders['star']
    preflight = recorder.one('OPTIONS', '/api')
    assert preflight['response_headers'] == {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'POST',
        'access-control-allow-headers': 'content-type,x-token',
    }
    record = recorder.one('POST', '/api')
    assert record['response_headers']['access-control-allow-origin'] == '*'


def test_browser_rejects_the_wildcard_with_credentials(browser):
    site, doms = browser
    assert fetch_results(doms)['star_credentials'] == {'error': 'TypeError'}
    recorder = site.recorders['star']
    preflight = recorder.one('OPTIONS', '/api2')
    assert preflight['response_headers']['access-control-allow-origin'] == (
        '*'
    )
    assert recorder.find('POST', '/api2') == []


def test_wildcard_with_credentials_reflects_the_origin(browser):
    site, doms = browser
    assert fetch_results(doms)['star_reflected'] == answered()
    record = site.recorders['star_reflected'].one('POST', '/api')
    assert record['response_headers'] == api_response_headers(site)


# -- forms --------------------------------------------------------------------


ACCEPTED = (200, 'submitted')  # the status and what Chromium shows
REFUSED = (403, 'Forbidden')


def answered_form(browser, name, run, dom, outcome):
    """The record of the form that Chromium run ``dom`` posted to app
    ``name`` (``/submit?run=<run>``), once checked that its status and the
    text Chromium then showed are ``outcome``."""
    site, doms = browser
    record = site.recorders[name].one('POST', '/submit?run=' + run)
    assert (record['status'], shown_text(doms[dom])) == outcome
    return record


def navigation(site_value, origin):
    """What ``sent(record, 'origin')`` gives for a form submission with
    ``Sec-Fetch-Site: <site_value>`` from ``origin``."""
    return {
        'sec-fetch-site': site_value,
        'sec-fetch-mode': 'navigate',
        'sec-fetch-dest': 'document',
        'origin': origin,
    }


def test_cross_site_form_post_is_refused(browser):
    record = answered_form(browser, 'closed', 'cross', 'cross_form', REFUSED)
    expected = navigation('cross-site', browser[0].page_origin())
    expected['content-type'] = 'application/x-www-form-urlencoded'
    assert sent(record, 'origin', 'content-type') == expected


def test_same_origin_form_post_is_accepted(browser):
    record = answered_form(
        browser, 'closed', 'same', 'same_origin_form', ACCEPTED
    )
    origin = browser[0].origin('closed', 'localhost')
    assert sent(record, 'origin') == navigation('same-origin', origin)


def test_cross_site_form_from_a_cors_origin_is_accepted(browser):
    record = answered_form(
        browser, 'api', 'cors', 'cors_origin_form', ACCEPTED
    )
    assert record['headers']['sec-fetch-site'] == 'cross-site'


def same_site_form_sent(site):
    """What Chromium sends with a form of app.example.com posted to
    api.example.com (the Fetch Metadata and Origin)."""
    return navigation('same-site', site.origin('page', 'app.example.com'))


def test_same_site_form_is_refused_by_default(browser):
    record = answered_form(
        browser, 'closed', 'site', 'same_site_form', REFUSED
    )
    assert sent(record, 'origin') == same_site_form_sent(browser[0])


def test_same_site_form_is_accepted_with_allow_subdomains(browser):
    record = answered_form(
        browser, 'subdomains', 'site', 'same_site_trusted_form', ACCEPTED
    )
    assert record['headers']['sec-fetch-site'] == 'same-site'


def test_same_site_form_from_a_cors_origin_is_accepted(browser):
    # allow_subdomains=False: the origin is in the app's CORS list
    record = answered_form(
        browser, 'api', 'site', 'same_site_cors_form', ACCEPTED
    )
    assert sent(record, 'origin') == same_site_form_sent(browser[0])


def test_plain_http_form_has_origin_only(browser):
    record = answered_form(
        browser, 'subdomains', 'plain', 'plain_http_trusted_form', ACCEPTED
    )
    assert sent(record, 'origin') == {
        'sec-fetch-site': None,
        'sec-fetch-mode': None,
        'sec-fetch-dest': None,
        'origin': browser[0].origin('page', 'app.example.com'),
    }


def test_plain_http_cross_origin_form_is_refused(browser):
    record = answered_form(
        browser, 'closed', 'plain', 'plain_http_form', REFUSED
    )
    assert 'sec-fetch-site' not in record['headers']
