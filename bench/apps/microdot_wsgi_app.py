"""The benchmark app on microdot's WSGI adapter; serve it with gunicorn (1
sync worker)::

gunicorn -w 1 microdot_wsgi_app:app

The routes (``routes.py``, ``async def`` handlers) and the work per
request are those of ``microdot_app.py`` (without its MicroPython-only
``/heap``).
"""

from routes import add_routes

from microdot.wsgi import Microdot

app = Microdot()
add_routes(app)
