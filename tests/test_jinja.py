"""Tests of microdot.jinja: the Template class over Jinja, its options and
templates streamed through a real server.

Jinja runs on CPython only. Templates are written into pytest's
``tmp_path``; every test starts and ends with ``Template.jinja_env`` unset.
"""

# runtime: cpython

import importlib
import sys
import types

import jinja2
import pytest
import serverutil

from microdot import Microdot
from microdot.jinja import Template

PAGE = '<p>Hello, {{ name }}!</p>\n{% for i in items %}{{ i }},{% endfor %}'


@pytest.fixture(autouse=True)
def reset_environment():
    Template.jinja_env = None
    yield
    Template.jinja_env = None


@pytest.fixture
def folder(tmp_path):
    """A template folder with page.html; Template is initialized with it
    (a test may initialize it again with options)."""
    (tmp_path / 'page.html').write_text(PAGE)
    (tmp_path / 'html.html').write_text('<b>{{ text }}</b>')
    (tmp_path / 'blocks.html').write_text('{% if a %}\n  yes\n{% endif %}\n')
    Template.initialize(str(tmp_path))
    return tmp_path


def test_render(folder):
    text = Template('page.html').render(name='Ada', items=[1, 2])
    assert text == '<p>Hello, Ada!</p>\n1,2,'


def test_render_with_a_dict_argument(folder):
    text = Template('page.html').render({'name': 'Bo', 'items': []})
    assert text == '<p>Hello, Bo!</p>\n'


def test_generate_yields_chunks(folder):
    chunks = Template('page.html').generate(name='Ada', items=[1, 2])
    assert not isinstance(chunks, str)
    assert list(chunks) == ['<p>Hello, ', 'Ada', '!</p>\n', '1', ',', '2', ',']


def test_name(folder):
    assert Template('page.html').name == 'page.html'


def test_jinja_env_is_an_environment_on_the_folder(folder):
    env = Template.jinja_env
    assert isinstance(env, jinja2.Environment)
    assert isinstance(env.loader, jinja2.FileSystemLoader)
    assert env.loader.searchpath == [str(folder)]
    assert env.is_async is False


def test_default_folder_is_templates(tmp_path, monkeypatch):
    (tmp_path / 'templates').mkdir()
    (tmp_path / 'templates' / 'index.html').write_text('index {{ n }}')
    monkeypatch.chdir(tmp_path)
    assert Template('index.html').render(n=1) == 'index 1'
    assert Template.jinja_env.loader.searchpath == ['templates']


def test_initialize_replaces_the_environment(folder, tmp_path_factory):
    other = tmp_path_factory.mktemp('other')
    (other / 'page.html').write_text('other')
    first = Template.jinja_env
    Template.initialize(str(other))
    assert Template.jinja_env is not first
    assert Template('page.html').render() == 'other'


def test_kwargs_reach_the_environment(folder):
    assert Template('html.html').render(text='<i>') == '<b><i></b>'
    Template.initialize(str(folder), autoescape=True)
    assert Template.jinja_env.autoescape is True
    assert Template('html.html').render(text='<i>') == '<b>&lt;i&gt;</b>'


def test_trim_blocks_option(folder):
    assert Template('blocks.html').render(a=1) == '\n  yes\n'
    Template.initialize(str(folder), trim_blocks=True)
    assert Template('blocks.html').render(a=1) == '  yes\n'


async def test_enable_async(folder):
    Template.initialize(str(folder), enable_async=True)
    assert Template.jinja_env.is_async is True
    template = Template('page.html')
    text = await template.render_async(name='A', items=[3])
    assert text == '<p>Hello, A!</p>\n3,'
    chunks = []
    async for chunk in template.generate_async(name='B', items=[]):
        chunks.append(chunk)
    assert chunks == ['<p>Hello, ', 'B', '!</p>\n']


async def test_async_methods_need_enable_async(folder):
    template = Template('page.html')
    with pytest.raises(RuntimeError):
        await template.render_async(name='A', items=[])
    with pytest.raises(RuntimeError):
        async for _ in template.generate_async(name='A', items=[]):
            pass


def test_missing_template(folder):
    with pytest.raises(jinja2.TemplateNotFound) as info:
        Template('nope.html')
    assert info.value.name == 'nope.html'
    assert str(info.value) == (
        "Template 'nope.html' not found in folder '%s'" % folder
    )


def test_missing_include_names_the_included_template(folder):
    (folder / 'outer.html').write_text('{% include "gone.html" %}')
    with pytest.raises(jinja2.TemplateNotFound) as info:
        Template('outer.html').render()
    assert info.value.name == 'gone.html'


def test_import_on_micropython_is_an_import_error(monkeypatch):
    fake = types.SimpleNamespace(**vars(sys.implementation))
    fake.name = 'micropython'
    monkeypatch.setattr(sys, 'implementation', fake)
    monkeypatch.delitem(sys.modules, 'microdot.jinja')
    with pytest.raises(ImportError, match='needs CPython'):
        importlib.import_module('microdot.jinja')


# -- through a server ---------------------------------------------------------


def jinja_app():
    app = Microdot()

    @app.route('/generate')
    async def generate(req):
        return Template('page.html').generate(name='Ada', items=[1])

    @app.route('/async')
    async def generate_async(req):
        return Template('page.html').generate_async(name='As', items=[])

    @app.route('/render')
    async def render(req):
        return Template('page.html').render(name='R\xe9', items=[])

    return app


async def fetch(path):
    server = await serverutil.start(jinja_app())
    try:
        return await server.request('GET', path)
    finally:
        await server.stop()


def chunked(*pieces):
    out = b''
    for piece in pieces:
        data = piece.encode()
        out += b'%x\r\n' % len(data) + data + b'\r\n'
    return out + b'0\r\n\r\n'


async def test_route_returning_generate_streams_chunks(folder):
    res = await fetch('/generate')
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers['transfer-encoding'] == 'chunked'
    assert 'content-length' not in res.headers
    assert res.raw_body == chunked('<p>Hello, ', 'Ada', '!</p>\n', '1', ',')


async def test_route_returning_generate_async_streams_chunks(folder):
    Template.initialize(str(folder), enable_async=True)
    res = await fetch('/async')
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers['transfer-encoding'] == 'chunked'
    assert res.raw_body == chunked('<p>Hello, ', 'As', '!</p>\n')


async def test_route_returning_render(folder):
    res = await fetch('/render')
    body = '<p>Hello, R\xe9!</p>\n'.encode()
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers['content-length'] == str(len(body))
    assert res.body == body
