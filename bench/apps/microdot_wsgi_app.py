"""The benchmark app on microdot's WSGI adapter; serve it with gunicorn (1
sync worker)::

gunicorn -w 1 microdot_wsgi_app:app

The routes and the work per request are those of ``microdot_app.py``
(without its MicroPython-only ``/heap``). The handlers stay ``async def``:
the adapter runs them on the worker thread's own event loop, while a
``def`` handler would go through the thread pool executor.
"""

from microdot.wsgi import Microdot

app = Microdot()


@app.route('/')
async def hello(request):
    return 'Hello, World!'


@app.route('/json')
async def hello_json(request):
    return {'message': 'Hello, World!'}


@app.route('/users/<int:id>')
async def user(request, id):
    return {'id': id}
