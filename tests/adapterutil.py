# runtime: cpython
"""Helpers shared by the adapter tests (``test_asgi.py``, ``test_wsgi.py``)
and by ``deploy_app.py``."""

from microdot import Request


class Limits:
    """Set ``Request`` limits for a block, and restore them."""

    def __init__(self, **limits):
        self.limits = limits
        self.saved = {}

    def __enter__(self):
        for name, value in self.limits.items():
            self.saved[name] = getattr(Request, name)
            setattr(Request, name, value)

    def __exit__(self, *exc_info):
        for name, value in self.saved.items():
            setattr(Request, name, value)


def add_json_form_routes(app):
    """``POST /json`` echoes the JSON body under ``echo``; ``POST /form``
    returns the form fields as lists."""

    @app.post('/json')
    async def json_echo(request):
        return {'echo': request.json}

    @app.post('/form')
    async def form(request):
        return {k: request.form.getlist(k) for k in request.form}
