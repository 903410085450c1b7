"""Tests of microdot.utemplate: the template compiler (every statement,
literal text, errors), the three loaders, the Template class and templates
streamed through a real server.

Portable: they run under pytest and under ``tests/mpy_runner.py`` on
MicroPython. Each test writes its templates into a folder
``tests/tmp_utemplate_<random>`` (ignored by git) and removes it, compiled
modules included, in ``finally``.
"""

import errno
import os
import random
import sys
import time

import serverutil
import support

import microdot
from microdot import Microdot
from microdot import utemplate as utemplate_module
from microdot.utemplate import (
    Template,
    TemplateSyntaxError,
    compile_template,
    compiled,
    recompile,
    source,
)

TESTS_DIR = __file__.replace('\\', '/').rsplit('/', 1)[0]  # MPY: no os.path
MTIME_TIMEOUT = 5  # seconds for a rewritten file to get a later mtime
POLL_INTERVAL = 0.05


# -- helpers ------------------------------------------------------------------


def _is_dir(path):
    return os.stat(path)[0] & 0x4000 != 0  # S_IFDIR


def _remove_tree(path):
    for entry in os.listdir(path):
        child = path + '/' + entry
        if _is_dir(child):
            _remove_tree(child)
        else:
            os.remove(child)
    os.rmdir(path)


def _exists(path):
    try:
        os.stat(path)
    except OSError:
        return False
    return True


class Folder:
    """A template folder under tests/ with a unique name."""

    def __init__(self, files=None):
        self.path = TESTS_DIR + '/tmp_utemplate_%08x' % random.getrandbits(32)
        os.mkdir(self.path)
        for name, text in (files or {}).items():
            self.write(name, text)

    def write(self, name, text):
        if '/' in name:
            folder = self.path + '/' + name.rsplit('/', 1)[0]
            if not _exists(folder):
                os.mkdir(folder)
        with open(self.path + '/' + name, 'wb') as f:
            f.write(text.encode())

    def read(self, name):
        with open(self.path + '/' + name, 'rb') as f:
            return f.read().decode()

    def exists(self, name):
        return _exists(self.path + '/' + name)

    def remove(self, name):
        os.remove(self.path + '/' + name)

    def mtime(self, name):
        return os.stat(self.path + '/' + name)[8]

    def listing(self):
        return sorted(os.listdir(self.path))

    def delete(self):
        _remove_tree(self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        Template._loader = None  # the next Template() initializes afresh
        self.delete()


def templates(files, loader_class=None):
    """Write ``files`` into a new ``Folder`` and initialize Template with
    it; leaving the ``with`` block resets Template and deletes the folder."""
    folder = Folder(files)
    if loader_class is None:
        Template.initialize(folder.path)
    else:
        Template.initialize(folder.path, loader_class=loader_class)
    return folder


def render_files(files, name, *args, **kwargs):
    """Render the template ``name`` of ``files`` with these arguments."""
    with templates(files):
        return Template(name).render(*args, **kwargs)


def render_text(text, *args, **kwargs):
    """Render a template made of ``text`` with these arguments."""
    return render_files({'page.html': text}, 'page.html', *args, **kwargs)


def raised(exc_class, function, *args):
    """Return the ``exc_class`` exception that ``function(*args)`` raises
    (AssertionError if it raises none)."""
    try:
        function(*args)
    except exc_class as exc:
        return exc
    raise AssertionError('no %s' % exc_class.__name__)


def compile_error(text, name='page.html'):
    """Return the message of the error that loading ``text`` raises, and
    check that no compiled module was written."""
    with templates({name: text}) as folder:
        exc = raised(TemplateSyntaxError, Template, name)
        assert folder.listing() == [name], folder.listing()
        return exc.args[0]


def check_compile_error(text, line, message):
    """Loading ``text`` fails with "Template 'page.html', line <line>:
    <message>"."""
    error = compile_error(text)
    expected = "Template 'page.html', line %d: %s" % (line, message)
    assert error == expected, (text, error)


NOT_FOUND = "Template '%s' not found in folder '%s'"


def not_found_message(function, *args):
    """Return the message of the ENOENT error that ``function(*args)``
    raises."""
    exc = raised(OSError, function, *args)
    assert exc.errno == errno.ENOENT
    return exc.args[1]


def make_newer(folder, name, than, text):
    """Write ``text`` to ``name`` so that its mtime is later than that of
    ``than``: os.utime on CPython; on MicroPython (whole seconds, no
    utime) rewrite it until the clock has moved on."""
    folder.write(name, text)
    reference = folder.mtime(than)
    if hasattr(os, 'utime'):
        stamp = os.stat(folder.path + '/' + than).st_mtime + 10
        os.utime(folder.path + '/' + name, (stamp, stamp))
        return
    deadline = serverutil.Deadline(MTIME_TIMEOUT)
    while folder.mtime(name) <= reference:
        if deadline.expired():
            support.skip('the file system clock did not move on')
        time.sleep(POLL_INTERVAL)
        folder.write(name, text)


# -- expressions and literal text ---------------------------------------------


def test_expression_is_written_with_str():
    text = '{{ 42 }} {{ None }} {{ [1, "a"] }} {{ 1.5 }}'
    assert render_text(text) == "42 None [1, 'a'] 1.5"


def test_expression_with_argument():
    text = '{% args name %}Hello, {{ name }}!'
    assert render_text(text, 'World') == 'Hello, World!'


def test_expression_calls():
    text = (
        '{% args name, items, double %}'
        '{{ name.upper() }}|{{ len(items) }}|{{ double(21) }}|'
        '{{ ", ".join([str(i * 2) for i in items]) }}'
    )
    result = render_text(text, 'ab', [1, 2, 3], lambda n: n * 2)
    assert result == 'AB|3|42|2, 4, 6'


def test_expression_with_braces_and_closers_in_strings():
    text = '{{ {"a": {"b": "}}"}}["a"]["b"] }}|{{ "%}" }}|{{ \'{{\' }}'
    assert render_text(text) == '}}|%}|{{'


def test_expression_over_several_lines():
    assert render_text('{{ 1 +\n  2 }}') == '3'


def test_expression_without_spaces():
    assert render_text('{% args a %}[{{a}}]', 'x') == '[x]'


def test_literal_text_is_written_as_is():
    text = (
        'single \' double " triple \'\'\' """ backslash \\ \\n \\\\ \\x41 '
        '\\u00e9\n'
        'tab\there\r\nCRLF\rCR  trailing spaces  \n'
        'non-ASCII: \xe9\xfc \u4e2d\u6587 \U0001f600 \u2028\n'
        'percent %s %d %% %(x)s braces { } {} }} %} {# #} { { {\n'
        'dollar $x ${x} nul \x00 escape \x1b del \x7f end {'
    )
    assert render_text(text) == text


def test_empty_template():
    assert render_text('') == ''


def test_template_with_only_statements_renders_nothing():
    with templates({'page.html': '{% set a = 1 %}{% if a > 1 %}{% endif %}'}):
        assert list(Template('page.html').generate()) == []


def test_newlines_around_statements_are_kept():
    text = '{% args n %}\n{% if n %}\nyes\n{% endif %}\n'
    assert render_text(text, 1) == '\n\nyes\n\n'
    assert render_text(text, 0) == '\n\n'


# -- args ---------------------------------------------------------------------


def test_args_defaults():
    text = '{% args a, b=2, c="x" %}{{ a }}-{{ b }}-{{ c }}'
    assert render_text(text, 1) == '1-2-x'
    assert render_text(text, 1, 3) == '1-3-x'
    assert render_text(text, 1, c='y') == '1-2-y'
    assert render_text(text, a=0, b=None) == '0-None-x'


def test_args_rest_and_keywords():
    text = '{% args a, *rest, **kw %}{{ a }}{{ rest }}{{ sorted(kw.items()) }}'
    result = render_text(text, 1, 2, 3, x=4, y=5)
    assert result == "1(2, 3)[('x', 4), ('y', 5)]"


def test_args_missing_argument_is_a_type_error():
    with templates({'page.html': '{% args a %}{{ a }}'}):
        raised(TypeError, Template('page.html').render)


def test_template_without_args_takes_no_arguments():
    with templates({'page.html': 'static'}):
        assert Template('page.html').render() == 'static'
        raised(TypeError, Template('page.html').render, 1)


def test_args_after_literal_text():
    assert render_text('head\n{% args a %}{{ a }}', 'x') == 'head\nx'


# -- control statements -------------------------------------------------------


def test_if_elif_else():
    text = (
        '{% args n %}{% if n < 0 %}negative{% elif n == 0 %}zero'
        '{% elif n < 10 %}small{% else %}large{% endif %}'
    )
    assert render_text(text, -1) == 'negative'
    assert render_text(text, 0) == 'zero'
    assert render_text(text, 5) == 'small'
    assert render_text(text, 50) == 'large'


def test_if_without_else():
    text = '{% args a %}[{% if a %}yes{% endif %}]'
    assert render_text(text, True) == '[yes]'
    assert render_text(text, False) == '[]'


def test_for():
    text = '{% args items %}{% for item in items %}<{{ item }}>{% endfor %}.'
    assert render_text(text, ['a', 'b', 'c']) == '<a><b><c>.'
    assert render_text(text, []) == '.'


def test_for_unpacking():
    text = (
        '{% args pairs %}{% for k, v in pairs %}{{ k }}={{ v }};{% endfor %}'
    )
    assert render_text(text, [('a', 1), ('b', 2)]) == 'a=1;b=2;'


def test_while_and_set():
    text = (
        '{% set n = 3 %}{% while n > 0 %}{{ n }}{% set n = n - 1 %}'
        '{% endwhile %}!'
    )
    assert render_text(text) == '321!'


def test_set_changes_an_argument_and_keeps_its_value():
    text = '{% args a %}{% set a = a * 2 %}{{ a }}{% set b, c = a, a + 1 %}'
    assert render_text(text + '{{ b }}{{ c }}', 2) == '445'


def test_nested_blocks():
    text = (
        '{% args rows %}'
        '{% for row in rows %}'
        '{% if row %}'
        '{% for cell in row %}'
        '{% if cell % 2 %}o{% else %}e{% endif %}'
        '{% set i = cell %}{% while i > 0 %}.{% set i = i - 1 %}{% endwhile %}'
        '{% endfor %}'
        '{% else %}empty{% endif %}|'
        '{% endfor %}'
    )
    assert render_text(text, [[1, 2], [], [3]]) == 'o.e..|empty|o...|'


def test_empty_blocks():
    text = (
        '{% args a %}{% if a %}{% elif a == 0 %}{% else %}{% endif %}'
        '{% for x in [1] %}{% endfor %}{% while False %}{% endwhile %}ok'
    )
    assert render_text(text, 1) == 'ok'
    assert render_text(text, None) == 'ok'


# -- include ------------------------------------------------------------------


def test_include_static():
    files = {'page.html': '<{% include "part.html" %}>', 'part.html': 'P'}
    assert render_files(files, 'page.html') == '<P>'


def test_include_static_with_arguments():
    files = {
        'page.html': "{% include 'squares.html' 3 %}|"
        '{% include "squares.html" 2, sep="," %}',
        'squares.html': '{% args n, sep=" " %}'
        '{% for i in range(1, n + 1) %}{{ i * i }}{{ sep }}{% endfor %}',
    }
    assert render_files(files, 'page.html') == '1 4 9 |1,4,'


def test_include_dynamic():
    files = {
        'page.html': '{% args name %}<{% include {{ name }} %}>',
        'a.html': 'A',
        'b.html': 'B',
    }
    assert render_files(files, 'page.html', 'a.html') == '<A>'
    assert render_files(files, 'page.html', 'b.html') == '<B>'


def test_include_dynamic_with_arguments():
    files = {
        'page.html': '{% args items %}{% for name, n in items %}'
        '{% include {{ name + ".html" }} n, "!" %}{% endfor %}',
        'one.html': '{% args n, end %}one{{ n }}{{ end }}',
        'two.html': '{% args n, end %}two{{ n * 2 }}{{ end }}',
    }
    items = [('one', 1), ('two', 2)]
    assert render_files(files, 'page.html', items) == 'one1!two4!'


def test_include_from_a_subfolder():
    files = {
        'page.html': '{% include "parts/item.html" "x" %}',
        'parts/item.html': '{% args v %}[{{ v }}]',
    }
    with templates(files) as folder:
        assert Template('page.html').render() == '[x]'
        assert folder.exists('parts/item_html.py')


def test_include_of_itself():
    text = (
        '{% args n %}{{ n }}{% if n %}({% include "page.html" n - 1 %})'
        '{% endif %}'
    )
    assert render_text(text, 2) == '2(1(0))'


def test_include_of_a_missing_template_fails_when_rendering():
    with templates({'page.html': 'a{% include "gone.html" %}'}) as folder:
        generator = Template('page.html').generate()
        assert next(generator) == 'a'
        message = not_found_message(next, generator)
        assert message == NOT_FOUND % ('gone.html', folder.path)


# -- compile errors -----------------------------------------------------------


def test_unknown_statement_names_template_and_line():
    text = 'one\ntwo\n{% block content %}\n'
    check_compile_error(text, 3, 'unknown statement {% block content %}')


def test_empty_statement():
    check_compile_error('{%  %}', 1, 'empty statement')


def test_unclosed_block_names_the_line_where_it_opened():
    text = 'a\n{% for x in y %}\n{% if x %}{% endif %}\n'
    check_compile_error(text, 2, "'for' is not closed: 'endfor' is missing")


def test_mismatched_end():
    text = '{% while a %}\n\n{% endif %}'
    check_compile_error(text, 3, "'endif' does not close 'while' (line 1)")


def test_end_without_block():
    check_compile_error('x\n{% endfor %}', 2, "'endfor' without 'for'")


def test_else_and_elif_outside_if():
    text = '{% for a in b %}{% else %}{% endfor %}'
    check_compile_error(text, 1, "'else' outside 'if'")
    check_compile_error('{% elif a %}', 1, "'elif' outside 'if'")


def test_branch_after_else():
    text = '{% if a %}{% else %}\n{% elif b %}{% endif %}'
    check_compile_error(text, 2, "'elif' after 'else'")
    text = '{% if a %}{% else %}{% else %}{% endif %}'
    check_compile_error(text, 1, "'else' after 'else'")


def test_statement_arguments_are_checked():
    check_compile_error('{% if %}{% endif %}', 1, "'if' needs an argument")
    text = '{% if a %}{% endif a %}'
    check_compile_error(text, 1, "'endif' takes no argument")
    check_compile_error('{% set a %}', 1, "'set' needs 'name = expression'")
    message = """'include' needs a "file name" or {{ expression }}"""
    check_compile_error('{% include page %}', 1, message)


def test_args_must_come_first():
    message = "'args' must be the first statement"
    check_compile_error('{{ 1 }}\n{% args a %}', 2, message)
    check_compile_error('{% args a %}{% args b %}', 1, message)


def test_unclosed_tags():
    check_compile_error('a\nb {{ c', 2, "'{{' is not closed")
    check_compile_error('{% if a %}\n{% endif', 2, "'{%' is not closed")
    check_compile_error('{{ }}', 1, 'empty expression')


def test_python_syntax_error_names_template_line():
    # The message after the line is Python's own.
    cases = (
        ('a\nb\n{{ 1 + }}\nc', 3),
        ('{% args a b %}\n{{ a }}', 1),
        ('\n\n{% for x %}{% endfor %}', 3),
    )
    for text, line in cases:
        message = compile_error(text)
        prefix = "Template 'page.html', line %d: " % line
        assert message.startswith(prefix), (text, message)


def test_error_in_expression_is_raised_when_rendering():
    with templates({'page.html': 'a{{ missing_name }}'}):
        generator = Template('page.html').generate()
        assert next(generator) == 'a'
        raised(NameError, next, generator)


def test_compile_template_returns_module_source():
    text = compile_template('{% args a, b=1 %}x{{ a }}', 'x.html')
    assert "from 'x.html'" in text
    assert '\ndef render(a, b=1):\n' in text
    namespace = {}
    exec(text, namespace)
    assert list(namespace['render'](2)) == ['x', '2']


# -- compiled modules and loaders ---------------------------------------------


def test_compiled_module_written_next_to_template():
    files = {'index.html': 'i', 'a.b.txt': 'ab', 'sub/page.html': 'p'}
    with templates(files) as folder:
        for name in files:
            Template(name).render()
        assert folder.exists('index_html.py')
        assert folder.exists('a_b_txt.py')
        assert folder.exists('sub/page_html.py')
        namespace = {}
        exec(folder.read('index_html.py'), namespace)
        assert list(namespace['render']()) == ['i']


def test_default_loader_is_recompile():
    with templates({'page.html': 'x'}) as folder:
        assert type(Template._loader) is recompile.Loader
        assert Template._loader.dir == folder.path


def test_loader_caches_render_function():
    for loader_class in (recompile.Loader, source.Loader, compiled.Loader):
        with Folder({'page.html': 'x'}) as folder:
            source.Loader(None, folder.path).load('page.html')  # compiles
            loader = loader_class(None, folder.path)
            assert loader.load('page.html') is loader.load('page.html')


def test_recompile_when_template_is_newer():
    with templates({'page.html': 'old'}) as folder:
        assert Template('page.html').render() == 'old'
        make_newer(folder, 'page.html', 'page_html.py', 'new {{ 1 }}')
        assert Template('page.html').render() == 'new 1'
        assert "yield 'new '" in folder.read('page_html.py')


def test_recompile_uses_module_that_is_not_older():
    with templates({'page.html': 'from template'}) as folder:
        # written after the template: the same mtime or a later one
        folder.write('page_html.py', 'def render():\n    yield "module"\n')
        assert Template('page.html').render() == 'module'


def test_recompile_needs_the_template():
    with templates({'page.html': 'x'}) as folder:
        Template('page.html')
        folder.remove('page.html')
        message = not_found_message(Template._loader.load, 'page.html')
        assert message == NOT_FOUND % ('page.html', folder.path)


def test_source_loader_compiles_once_ignoring_modules():
    with templates({'page.html': 'template'}, source.Loader) as folder:
        folder.write('page_html.py', 'def render():\n    yield "module"\n')
        assert Template('page.html').render() == 'template'
        assert "yield 'template'" in folder.read('page_html.py')
        make_newer(folder, 'page.html', 'page_html.py', 'changed')
        assert Template('page.html').render() == 'template'  # cached
        Template.initialize(folder.path, loader_class=source.Loader)
        assert Template('page.html').render() == 'changed'


def test_compiled_loader_without_template():
    with templates({'page.html': 'a{% include "part.html" 1 %}'}) as folder:
        folder.write('part.html', '{% args n %}b{{ n }}')
        assert Template('page.html').render() == 'ab1'
        folder.remove('page.html')
        folder.remove('part.html')
        Template.initialize(folder.path, loader_class=compiled.Loader)
        assert Template('page.html').render() == 'ab1'


def test_compiled_loader_loads_handwritten_module():
    with templates({}, compiled.Loader) as folder:
        folder.write('page_html.py', 'def render(a):\n    yield "<%s>" % a\n')
        assert Template('page.html').render('x') == '<x>'


def test_compiled_loader_never_compiles():
    with templates({'page.html': 'x'}, compiled.Loader) as folder:
        message = not_found_message(Template._loader.load, 'page.html')
        assert message == (
            NOT_FOUND % ('page.html', folder.path)
            + ' (no compiled module page_html.py)'
        )
        assert folder.listing() == ['page.html']


class _FakeModule:
    pass


def test_compiled_loader_imports_a_module_without_file():
    package = 'tmp_utemplate_pkg%08x' % random.getrandbits(32)
    module = _FakeModule()
    module.render = lambda a: iter(['imported ', a])
    names = [package, package + '.tpl', package + '.tpl.page_html']
    for name in names:
        sys.modules[name] = _FakeModule()
    sys.modules[names[-1]] = module
    try:
        loader = compiled.Loader(package, 'tpl')
        assert ''.join(loader.load('page.html')('x')) == 'imported x'
        assert module._loader is loader
        loader = compiled.Loader(package, './tpl/')
        assert ''.join(loader.load('page.html')('y')) == 'imported y'
    finally:
        for name in names:
            del sys.modules[name]


def test_compiled_loader_missing_module_in_a_path_that_is_no_package():
    loader = compiled.Loader(None, TESTS_DIR + '/no-such-folder')
    message = not_found_message(loader.load, 'page.html')
    assert message == (
        NOT_FOUND % ('page.html', TESTS_DIR + '/no-such-folder')
        + ' (no compiled module page_html.py)'
    )


# -- missing templates --------------------------------------------------------


def test_missing_template_names_folder():
    with templates({}) as folder:
        message = not_found_message(Template, 'nope.html')
        assert message == NOT_FOUND % ('nope.html', folder.path)
        loader = source.Loader(None, folder.path)
        message = not_found_message(loader.load, 'x.t')
        assert message == NOT_FOUND % ('x.t', folder.path)
        assert folder.listing() == []


# -- Template -----------------------------------------------------------------


def test_default_folder_is_templates():
    files = {'templates/page.html': '{% args a %}default {{ a }}'}
    with Folder(files) as folder:
        cwd = os.getcwd()
        Template._loader = None
        os.chdir(folder.path)
        try:
            assert Template('page.html').render('x') == 'default x'
            assert Template._loader.dir == 'templates'
            assert _exists('templates/page_html.py')
        finally:
            os.chdir(cwd)


def test_initialize_custom_folder_and_trailing_slash():
    with Folder({'page.html': 'custom'}) as folder:
        Template.initialize(folder.path + '/')
        assert Template('page.html').render() == 'custom'
        assert Template._loader.dir == folder.path


def test_template_name():
    with templates({'page.html': 'x', 'sub/p.html': 'y'}):
        assert Template('page.html').name == 'page.html'
        assert Template('sub/p.html').name == 'sub/p.html'


def test_generate_yields_the_pieces():
    with templates({'page.html': '{% args a %}Hello {{ a }}!'}):
        generator = Template('page.html').generate(a='World')
        assert list(generator) == ['Hello ', 'World', '!']
        assert Template('page.html').render('you') == 'Hello you!'


async def test_generate_async_and_render_async():
    with templates({'page.html': '{% args a, b=2 %}{{ a }}+{{ b }}'}):
        template = Template('page.html')
        iterator = template.generate_async(1, b=3)
        assert iterator.__aiter__() is iterator
        pieces = []
        async for piece in iterator:
            pieces.append(piece)
        assert pieces == ['1', '+', '3']
        assert await template.render_async(4) == '4+2'


async def test_generate_async_aclose_stops_it():
    with templates({'page.html': 'a{{ 1 }}b'}):
        iterator = Template('page.html').generate_async()
        assert await iterator.__anext__() == 'a'
        await iterator.aclose()
        try:
            await iterator.__anext__()
        except StopAsyncIteration:
            pass
        else:
            raise AssertionError('the iterator goes on')


# -- through a server ---------------------------------------------------------


def template_app():
    app = Microdot()

    @app.route('/generate')
    async def generate(req):
        return Template('page.html').generate(req.args.get('name', 'you'))

    @app.route('/async')
    async def generate_async(req):
        return Template('page.html').generate_async('async')

    @app.route('/render')
    async def render(req):
        return Template('page.html').render('r\xe9')

    @app.route('/render_async')
    async def render_async(req):
        text = await Template('page.html').render_async('ra')
        return text, {'Content-Type': 'text/html; charset=UTF-8'}

    return app


PAGE = '{% args name %}<p>Hello, {{ name }}!</p>\n'


async def fetch(path):
    """GET ``path`` from ``template_app()`` on a real server, with PAGE as
    its page.html."""
    with templates({'page.html': PAGE}):
        server = await serverutil.start(template_app())
        try:
            return await server.request('GET', path)
        finally:
            await server.stop()


def chunked(*pieces):
    """The raw chunked body that sends these text pieces."""
    out = b''
    for piece in pieces:
        data = piece.encode()
        out += b'%x\r\n' % len(data) + data + b'\r\n'
    return out + b'0\r\n\r\n'


def assert_streamed(res, *pieces):
    """A 200 response whose chunked body sends these text pieces."""
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers['transfer-encoding'] == 'chunked'
    assert 'content-length' not in res.headers
    assert res.raw_body == chunked(*pieces)


async def test_route_returning_generate_streams_chunks():
    res = await fetch('/generate?name=Ada')
    assert_streamed(res, '<p>Hello, ', 'Ada', '!</p>\n')
    assert res.body == b'<p>Hello, Ada!</p>\n'


async def test_route_returning_generate_async_streams_chunks():
    res = await fetch('/async')
    assert_streamed(res, '<p>Hello, ', 'async', '!</p>\n')


async def test_route_returning_render_has_content_length():
    res = await fetch('/render')
    res_async = await fetch('/render_async')
    body = '<p>Hello, r\xe9!</p>\n'.encode()
    assert res.status_line == b'HTTP/1.1 200 OK'
    assert res.headers['content-length'] == str(len(body))
    assert 'transfer-encoding' not in res.headers
    assert res.body == body
    assert res_async.headers['content-type'] == 'text/html; charset=UTF-8'
    assert res_async.body == b'<p>Hello, ra!</p>\n'


# -- with the utemplate package -----------------------------------------------

_FAKE_LOADER = """
class Loader:
    def __init__(self, pkg, dir):
        self.kind = %r
        self.dir = dir

    def load(self, name):
        def render(*args):
            yield self.kind + ':' + name
        return render
"""


def test_utemplate_package_loaders_are_used_when_installed():
    with Folder({'utemplate/__init__.py': ''}) as folder:
        for kind in ('compiled', 'source', 'recompile'):
            folder.write('utemplate/%s.py' % kind, _FAKE_LOADER % kind)
        names = ['utemplate', 'utemplate.compiled', 'utemplate.source',
                 'utemplate.recompile', 'microdot.utemplate']  # fmt: skip
        sys.path.insert(0, folder.path)
        del sys.modules['microdot.utemplate']
        if hasattr(microdot, 'utemplate'):  # else `from` would not reimport
            delattr(microdot, 'utemplate')
        try:
            __import__('microdot.utemplate')
            fake_backed = sys.modules['microdot.utemplate']
            assert fake_backed is not utemplate_module
            assert fake_backed.HAVE_UTEMPLATE is True
            assert fake_backed.recompile is sys.modules['utemplate.recompile']
            assert fake_backed.compiled is sys.modules['utemplate.compiled']
            template = fake_backed.Template('page.html')
            assert template.render() == 'recompile:page.html'
            assert fake_backed.Template._loader.dir == 'templates'
            source_loader = fake_backed.source.Loader
            fake_backed.Template.initialize(loader_class=source_loader)
            assert fake_backed.Template('x').render() == 'source:x'
        finally:
            sys.path.remove(folder.path)
            for name in names:
                sys.modules.pop(name, None)
            sys.modules['microdot.utemplate'] = utemplate_module
            setattr(microdot, 'utemplate', utemplate_module)
    assert utemplate_module.HAVE_UTEMPLATE is False
