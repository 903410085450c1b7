"""The routes that every microdot benchmark app serves, on an app of any
Microdot class (built-in server, ASGI or WSGI adapter). MicroPython imports
it too (``microdot_app.py``): keep it to what both runtimes run.
"""


def add_routes(app):
    """Add ``/``, ``/json`` and ``/users/<int:id>`` to ``app``. The
    handlers stay ``async def``: under the WSGI adapter they run on the
    worker thread's own event loop, while a ``def`` handler would go
    through the thread pool executor."""

    @app.route('/')
    async def hello(request):
        return 'Hello, World!'

    @app.route('/json')
    async def hello_json(request):
        return {'message': 'Hello, World!'}

    @app.route('/users/<int:id>')
    async def user(request, id):
        return {'id': id}
