"""
microdot.utemplate
------------------

Templates in the uTemplate syntax, on CPython and MicroPython.

When the ``utemplate`` package can be imported, its loaders are used.
Otherwise (``pip install utemplate`` fails: its release has no build
files) this module compiles templates itself. A template compiles to the
Python source of a generator function ``render(<args>)`` that yields the
text piece by piece; the source is written next to the template as a
module named after it (``index.html`` gives ``index_html.py``) and loaded
from there. Three loaders choose when to compile: ``compiled.Loader``,
``source.Loader`` and ``recompile.Loader`` (the default).
"""

import errno
import io
import os
import sys

try:
    from typing import Any, Callable, Dict, Iterator, List, Optional  # noqa: F401
except ImportError:  # MPY: no typing module
    pass

try:  # the real engine, when installed, provides the loaders
    from utemplate import compiled, recompile, source  # type: ignore

    HAVE_UTEMPLATE = True
except ImportError:
    HAVE_UTEMPLATE = False

# ============================================================================
# Compiler
# ============================================================================


class TemplateSyntaxError(SyntaxError):
    """A template that cannot be compiled. The message names the template
    and the line: ``Template 'index.html', line 3: ...``."""


_INDENT = '    '
_OPENERS = {'if': 'endif', 'for': 'endfor', 'while': 'endwhile'}
_CLOSERS = {'endif': 'if', 'endfor': 'for', 'endwhile': 'while'}
_WITH_ARGUMENT = ('if', 'elif', 'for', 'while', 'set', 'include')
_MODULE_HEAD = (
    "# Compiled by microdot.utemplate from '%s'. Do not edit: the template\n"
    '# is the source (the recompile loader overwrites this file).\n'
    '_loader = None  # set by the loader, for includes\n'
    '\n'
    '\n'
    'def render(%s):\n'
)
_MODULE_HEAD_LINES = 6


def _tag_end(text: str, position: int, closer: str) -> int:
    """Return the index of ``closer`` that ends the tag whose content
    starts at ``position``, or -1. String literals are skipped and braces
    nest, so ``{{ {'a': 1}['a'] }}`` and ``{{ '}}' }}`` end right."""
    depth = 0
    quote = ''
    index = position
    length = len(text)
    while index < length:
        char = text[index]
        if quote:
            if char == '\\':
                index += 1
            elif char == quote:
                quote = ''
        elif char == '"' or char == "'":
            quote = char
        elif depth == 0 and text.startswith(closer, index):
            return index
        elif char == '{':
            depth += 1
        elif char == '}' and depth:
            depth -= 1
        index += 1
    return -1


class _Compiler:
    """Turns the text of one template into the source of its module."""

    def __init__(self, text: str, name: str):
        self.text = text
        self.name = name
        self.line = 1  # template line of the piece being compiled
        self.params = None  # type: Optional[str]  # from {% args %}
        self.args_line = 1
        self.started = False  # a statement or expression was compiled
        self.yields = False  # render yields something
        # open blocks: [keyword, line it opened, empty so far, seen else]
        self.blocks = []  # type: List[List[Any]]
        self.code = []  # type: List[Any]  # (code, template line or 0)

    def error(self, message: str, line: int = 0) -> TemplateSyntaxError:
        where = "Template '%s', line %d: " % (self.name, line or self.line)
        return TemplateSyntaxError(where + message)

    def compile(self) -> str:
        """Return the Python source of the template's module."""
        text = self.text
        position = 0
        while True:
            start = self._next_tag(position)
            if start < 0:
                self.literal(text[position:])
                break
            self.literal(text[position:start])
            self.line += text.count('\n', position, start)
            closer = '}}' if text[start + 1] == '{' else '%}'
            end = _tag_end(text, start + 2, closer)
            if end < 0:
                raise self.error(
                    "'%s' is not closed" % text[start : start + 2]
                )
            content = text[start + 2 : end].strip()
            if closer == '}}':
                self.expression(content)
            else:
                self.statement(content)
            self.line += text.count('\n', start, end)
            position = end + 2
        if self.blocks:
            keyword, line = self.blocks[-1][:2]
            message = "'%s' is not closed: '%s' is missing"
            raise self.error(message % (keyword, _OPENERS[keyword]), line)
        return self.source()

    def _next_tag(self, position: int) -> int:
        """Return the index of the next ``{{`` or ``{%``, or -1."""
        text = self.text
        while True:
            index = text.find('{', position)
            if index < 0 or index + 1 >= len(text):
                return -1
            if text[index + 1] in '{%':
                return index
            position = index + 1

    def emit(self, code: str, line: int = 0) -> None:
        """Add a line of code to the body of the block that is open."""
        self.code.append((_INDENT * (len(self.blocks) + 1) + code, line))
        if self.blocks:
            self.blocks[-1][2] = False

    def literal(self, text: str) -> None:
        if text:
            self.emit('yield %r' % text)
            self.yields = True

    def expression(self, content: str) -> None:
        if not content:
            raise self.error('empty expression')
        self.started = self.yields = True
        self.emit('yield str(%s)' % content, self.line)

    def statement(self, content: str) -> None:
        words = content.split(None, 1)
        if not words:
            raise self.error('empty statement')
        keyword = words[0]
        argument = words[1].strip() if len(words) > 1 else ''
        if keyword == 'args':
            self.args(argument)
            return
        self.started = True
        if keyword in _OPENERS:
            self.need_argument(keyword, argument)
            self.emit('%s %s:' % (keyword, argument), self.line)
            self.blocks.append([keyword, self.line, True, False])
        elif keyword in ('elif', 'else'):
            self.branch(keyword, argument)
        elif keyword in _CLOSERS:
            self.close(keyword, argument)
        elif keyword == 'set':
            self.need_argument(keyword, argument)
            if '=' not in argument:
                raise self.error("'set' needs 'name = expression'")
            self.emit(argument, self.line)
        elif keyword == 'include':
            self.include(argument)
        else:
            raise self.error('unknown statement {%% %s %%}' % content)

    def need_argument(self, keyword: str, argument: str) -> None:
        if not argument and keyword in _WITH_ARGUMENT:
            raise self.error("'%s' needs an argument" % keyword)
        if argument and keyword not in _WITH_ARGUMENT:
            raise self.error("'%s' takes no argument" % keyword)

    def args(self, argument: str) -> None:
        if self.started or self.params is not None:
            raise self.error("'args' must be the first statement")
        self.params = argument
        self.args_line = self.line

    def branch(self, keyword: str, argument: str) -> None:
        """``elif`` or ``else`` inside the innermost ``if``."""
        self.need_argument(keyword, argument)
        block = self.blocks[-1] if self.blocks else None
        if block is None or block[0] != 'if':
            raise self.error("'%s' outside 'if'" % keyword)
        if block[3]:
            raise self.error("'%s' after 'else'" % keyword)
        self.end_body()
        code = 'else:' if keyword == 'else' else 'elif %s:' % argument
        self.blocks.pop()
        self.emit(code, self.line)
        self.blocks.append(['if', block[1], True, keyword == 'else'])

    def close(self, keyword: str, argument: str) -> None:
        self.need_argument(keyword, argument)
        opener = _CLOSERS[keyword]
        if not self.blocks:
            raise self.error("'%s' without '%s'" % (keyword, opener))
        block = self.blocks[-1]
        if block[0] != opener:
            message = "'%s' does not close '%s' (line %d)"
            raise self.error(message % (keyword, block[0], block[1]))
        self.end_body()
        self.blocks.pop()

    def end_body(self) -> None:
        """Give an empty block the ``pass`` that Python needs."""
        if self.blocks[-1][2]:
            self.emit('pass')

    def include(self, argument: str) -> None:
        """``include "file" [args]`` or ``include {{ expr }} [args]``."""
        if argument[:1] in ('"', "'"):
            end = argument.find(argument[0], 1)
            name = argument[: end + 1]
        elif argument.startswith('{{'):
            end = _tag_end(argument, 2, '}}')
            name = '(%s)' % argument[2:end].strip()
            end += 1
        else:
            end = -1
        if end < 1 or name in ('()', '""', "''"):
            raise self.error(
                """'include' needs a "file name" or {{ expression }}"""
            )
        call_arguments = argument[end + 1 :].strip()
        code = 'yield from _loader.load(%s)(%s)' % (name, call_arguments)
        self.emit(code, self.line)
        self.yields = True

    def source(self) -> str:
        if not self.yields:  # MPY: `if False: yield` makes no generator
            self.emit('yield from ()')
        lines = [_MODULE_HEAD % (self.name, self.params or '')]
        for code, line in self.code:
            lines.append(code + ('  # line %d\n' % line if line else '\n'))
        return ''.join(lines)

    def template_line(self, source_line: int) -> int:
        """Return the template line of a line of the compiled source."""
        line = _MODULE_HEAD_LINES  # the last one is `def render(...):`
        if source_line <= line:
            return self.args_line
        for code, template_line in self.code:
            line += code.count('\n') + 1
            if line >= source_line:
                return template_line or self.line
        return self.line


def compile_template(text: str, name: str = '<template>') -> str:
    """Compile the text of a template to the Python source of a module
    with a generator function ``render``.

    :param text: the template.
    :param name: the template's name, for error messages.

    Raises ``TemplateSyntaxError`` for a statement it does not know or
    blocks that do not match; errors in the Python code of expressions
    and statements show when the loaders compile the source.
    """
    return _Compiler(text, name).compile()


def _syntax_error_line(exc: SyntaxError, path: str) -> 'Optional[int]':
    """Return the line of a ``SyntaxError`` in the file ``path``."""
    line = getattr(exc, 'lineno', None)
    if line is None and hasattr(sys, 'print_exception'):
        # MPY: the line is only in the printed traceback
        buffer = io.StringIO()
        sys.print_exception(exc, buffer)  # type: ignore[attr-defined]
        text = buffer.getvalue()
        marker = 'File "%s", line ' % path
        index = text.rfind(marker)
        if index >= 0:
            digits = text[index + len(marker) :].split('\n')[0]
            line = int(digits) if digits.isdigit() else None
    return line


def _compile_module(text: str, name: str, path: str) -> 'Any':
    """Compile a template; return the module's source and code object.
    ``path`` is the module's file name, which tracebacks show. A Python
    syntax error raises ``TemplateSyntaxError`` with the template line.
    """
    compiler = _Compiler(text, name)
    source_text = compiler.compile()
    try:
        return source_text, compile(source_text, path, 'exec')
    except SyntaxError as exc:
        line = _syntax_error_line(exc, path)
        message = exc.args[0] if exc.args else 'invalid syntax'
        raise compiler.error(
            str(message), compiler.template_line(line) if line else 0
        )


# ============================================================================
# Loaders
# ============================================================================


def _mtime(path: str) -> 'Optional[float]':
    """Return the modification time of a file, or None if it is missing.
    MPY: ``os.stat()`` gives a tuple there, with whole seconds at [8]."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
    return stat.st_mtime if hasattr(stat, 'st_mtime') else stat[8]


def _read(path: str) -> str:
    with open(path, 'rb') as f:
        return f.read().decode()


def _is_identifier(name: str) -> bool:
    """MPY: no ``str.isidentifier`` or ``isalnum``."""
    if not name or name[0].isdigit():
        return False
    for char in name:
        if not (char.isalpha() or char.isdigit() or char == '_'):
            return False
    return True


class _Loader:
    """Loads the ``render`` functions of the templates in a folder and
    keeps them.

    :param pkg: a package prefix for importing compiled modules, or None.
    :param dir: the folder of the templates.
    """

    def __init__(self, pkg: 'Optional[str]', dir: str):
        self.pkg = pkg
        self.dir = dir.rstrip('/') or dir  # but '/' stays
        self.cache = {}  # type: Dict[str, Any]

    def template_path(self, name: str) -> str:
        return self.dir + '/' + name

    def module_name(self, name: str) -> str:
        """``sub/index.html`` gives ``sub/index_html``."""
        folder, slash, base = name.rpartition('/')
        return folder + slash + base.replace('.', '_')

    def compiled_path(self, name: str) -> str:
        return self.dir + '/' + self.module_name(name) + '.py'

    def not_found(self, name: str, extra: str = '') -> OSError:
        return OSError(
            errno.ENOENT,
            "Template '%s' not found in folder '%s'%s"
            % (name, self.dir, extra),
        )

    def run(self, code: 'Any') -> 'Callable[..., Iterator[str]]':
        """Run a compiled module's code; return its ``render``."""
        namespace = {}  # type: Dict[str, Any]
        exec(code, namespace)
        namespace['_loader'] = self
        return namespace['render']

    def run_file(self, path: str) -> 'Callable[..., Iterator[str]]':
        return self.run(compile(_read(path), path, 'exec'))

    def compile_file(self, name: str) -> 'Callable[..., Iterator[str]]':
        """Compile the template, write its module and return ``render``."""
        path = self.compiled_path(name)
        text = _read(self.template_path(name))
        source_text, code = _compile_module(text, name, path)
        with open(path, 'wb') as f:
            f.write(source_text.encode())
        return self.run(code)

    def load(self, name: str) -> 'Callable[..., Iterator[str]]':
        """Return the ``render`` function of the template ``name``."""
        raise NotImplementedError  # pragma: no cover


class _CompiledLoader(_Loader):
    """Loads compiled modules only, never templates: the module file next
    to where the template would be, else the module imported as
    ``<pkg>.<dir>.<module>`` (a frozen or ``.mpy`` module on a board)."""

    def load(self, name: str) -> 'Callable[..., Iterator[str]]':
        render = self.cache.get(name)
        if render is None:
            path = self.compiled_path(name)
            if _mtime(path) is not None:
                render = self.run_file(path)
            else:
                render = self.import_render(name)
            self.cache[name] = render
        return render

    def import_render(self, name: str) -> 'Callable[..., Iterator[str]]':
        parts = [part for part in self.dir.split('/') if part != '.']
        parts += self.module_name(name).split('/')
        if self.pkg:
            parts.insert(0, self.pkg)
        missing = self.not_found(
            name, ' (no compiled module %s.py)' % self.module_name(name)
        )
        for part in parts:
            if not _is_identifier(part):
                raise missing
        try:
            module = __import__('.'.join(parts), None, None, ['render'])
        except ImportError:
            raise missing
        setattr(module, '_loader', self)
        return module.render


class _SourceLoader(_Loader):
    """Compiles each template the first time it is loaded."""

    def load(self, name: str) -> 'Callable[..., Iterator[str]]':
        render = self.cache.get(name)
        if render is None:
            if _mtime(self.template_path(name)) is None:
                raise self.not_found(name)
            render = self.cache[name] = self.compile_file(name)
        return render


class _RecompileLoader(_Loader):
    """Compiles a template when its module is missing or older than the
    template; it checks the template's time on every load."""

    def load(self, name: str) -> 'Callable[..., Iterator[str]]':
        mtime = _mtime(self.template_path(name))
        if mtime is None:
            raise self.not_found(name)
        cached = self.cache.get(name)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        path = self.compiled_path(name)
        compiled_mtime = _mtime(path)
        if compiled_mtime is not None and compiled_mtime >= mtime:
            render = self.run_file(path)
        else:
            render = self.compile_file(name)
        self.cache[name] = (mtime, render)
        return render


if not HAVE_UTEMPLATE:
    # Namespaces named like utemplate's modules, so that
    # ``from microdot.utemplate import compiled`` reads as the docs do.

    class compiled:  # type: ignore[no-redef]
        """Loads precompiled template modules only."""

        Loader = _CompiledLoader

    class source:  # type: ignore[no-redef]
        """Compiles templates when first used."""

        Loader = _SourceLoader

    class recompile:  # type: ignore[no-redef]
        """Recompiles templates when they change."""

        Loader = _RecompileLoader


# ============================================================================
# Template
# ============================================================================


class _AsyncChunks:
    """Asynchronous iterator over the chunks of a render generator (MPY:
    no async generators there)."""

    def __init__(self, generator: 'Iterator[str]'):
        self.generator = generator

    def __aiter__(self) -> '_AsyncChunks':
        return self

    async def __anext__(self) -> str:
        try:
            return next(self.generator)
        except StopIteration:
            raise StopAsyncIteration()

    async def aclose(self) -> None:
        """Close the render generator (the client may have left)."""
        self.generator.close()  # type: ignore[attr-defined]


class Template:
    """A template object.

    :param template: The filename of the template to render, relative to
                     the configured template directory.
    """

    _loader = None  # type: Any

    @classmethod
    def initialize(
        cls,
        template_dir: str = 'templates',
        loader_class: 'Any' = recompile.Loader,
    ) -> None:
        """Initialize the templating subsystem.

        :param template_dir: the directory where templates are stored. This
                             argument is optional. The default is to load
                             templates from a *templates* subdirectory.
        :param loader_class: the ``utemplate.Loader`` class to use when
                             loading templates. This argument is optional.
                             The default is the ``recompile.Loader`` class,
                             which automatically recompiles templates when
                             they change.
        """
        cls._loader = loader_class(None, template_dir)

    def __init__(self, template: str):
        if self._loader is None:
            self.initialize()
        #: The name of the template
        self.name = template
        self.template = self._loader.load(template)

    def generate(self, *args: 'Any', **kwargs: 'Any') -> 'Iterator[str]':
        """Return a generator that renders the template in chunks, with the
        given arguments."""
        return self.template(*args, **kwargs)

    def render(self, *args: 'Any', **kwargs: 'Any') -> str:
        """Render the template with the given arguments and return it as a
        string."""
        return ''.join(self.generate(*args, **kwargs))

    def generate_async(self, *args: 'Any', **kwargs: 'Any') -> _AsyncChunks:
        """Return an asynchronous generator that renders the template in
        chunks, using the given arguments."""
        return _AsyncChunks(self.generate(*args, **kwargs))

    async def render_async(self, *args: 'Any', **kwargs: 'Any') -> str:
        """Render the template with the given arguments asynchronously and
        return it as a string."""
        chunks = []
        async for chunk in self.generate_async(*args, **kwargs):
            chunks.append(chunk)
        return ''.join(chunks)
