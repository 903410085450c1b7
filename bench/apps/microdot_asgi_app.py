"""The benchmark app on microdot's ASGI adapter; serve it with uvicorn::

python -m uvicorn microdot_asgi_app:app --loop uvloop --http httptools

The routes and the work per request are those of ``microdot_app.py``
(without its MicroPython-only ``/heap``).
"""

from microdot.asgi import Microdot

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
