"""The demo application (examples/demo.py) answers as the README says."""

# runtime: cpython

import importlib.util
import os

from microdot.test_client import TestClient

DEMO = os.path.join(os.path.dirname(__file__), '..', 'examples', 'demo.py')


def load_demo():
    spec = importlib.util.spec_from_file_location('demo', DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


async def test_index_is_html():
    res = await TestClient(load_demo()).get('/')
    assert res.status_code == 200
    assert res.headers['Content-Type'] == 'text/html; charset=UTF-8'
    assert '<h1>microdot demo</h1>' in res.text


async def test_hello_form_escapes_name():
    res = await TestClient(load_demo()).post(
        '/hello',
        headers={'Content-Type': 'application/x-www-form-urlencoded'},
        body='name=%3Cb%3EAda',
    )
    assert res.status_code == 200
    assert res.text == '<p>Hello, &lt;b&gt;Ada!</p><p><a href="/">Back</a></p>'


async def test_user_route_returns_json():
    res = await TestClient(load_demo()).get('/users/42')
    assert res.json == {'id': 42, 'name': 'user42'}


async def test_counter_cookie_counts_visits():
    client = TestClient(load_demo())
    first = await client.get('/counter')
    second = await client.get('/counter')
    assert first.text == 'You have visited this page 1 times.\n'
    assert second.text == 'You have visited this page 2 times.\n'
    assert second.headers['Set-Cookie'] == ['count=2; Path=/counter']
