"""
microdot.jinja
--------------

Templates rendered with Jinja (CPython only).
"""

import sys

if sys.implementation.name == 'micropython':
    raise ImportError(
        'microdot.jinja needs CPython: Jinja does not run on MicroPython '
        '(use microdot.utemplate)'
    )

from typing import Any, AsyncIterator, Iterator  # noqa: E402

from jinja2 import Environment, FileSystemLoader, TemplateNotFound  # noqa: E402


class Template:
    """A template object.

    :param template: The filename of the template to render, relative to
                     the configured template directory.
    """

    #: The Jinja environment, created by ``initialize()``.
    jinja_env = None  # type: Any

    @classmethod
    def initialize(
        cls,
        template_dir: str = 'templates',
        enable_async: bool = False,
        **kwargs: 'Any',
    ) -> None:
        """Initialize the templating subsystem.

        :param template_dir: the directory where templates are stored. This
                             argument is optional. The default is to load
                             templates from a *templates* subdirectory.
        :param enable_async: set to ``True`` to enable the async rendering
                             engine in Jinja, and the ``render_async()``
                             and ``generate_async()`` methods.
        :param kwargs: any additional options to be passed to Jinja's
                       ``Environment`` class.
        """
        cls.jinja_env = Environment(
            loader=FileSystemLoader(template_dir),
            enable_async=enable_async,
            **kwargs,
        )

    def __init__(self, template: str):
        if self.jinja_env is None:
            self.initialize()
        #: The name of the template
        self.name = template
        try:
            self.template = self.jinja_env.get_template(template)
        except TemplateNotFound as exc:
            if exc.name != template:  # a template it includes is missing
                raise
            folders = getattr(self.jinja_env.loader, 'searchpath', [])
            raise TemplateNotFound(
                template,
                "Template '%s' not found in folder '%s'"
                % (template, "', '".join(folders)),
            ) from None

    def generate(self, *args: 'Any', **kwargs: 'Any') -> 'Iterator[str]':
        """Return a generator that renders the template in chunks, with the
        given arguments."""
        return self.template.generate(*args, **kwargs)

    def render(self, *args: 'Any', **kwargs: 'Any') -> str:
        """Render the template with the given arguments and return it as a
        string."""
        return self.template.render(*args, **kwargs)

    def generate_async(
        self, *args: 'Any', **kwargs: 'Any'
    ) -> 'AsyncIterator[str]':
        """Return an asynchronous generator that renders the template in
        chunks, using the given arguments."""
        return self.template.generate_async(*args, **kwargs)

    async def render_async(self, *args: 'Any', **kwargs: 'Any') -> str:
        """Render the template with the given arguments asynchronously and
        return it as a string."""
        return await self.template.render_async(*args, **kwargs)
