"""The benchmark app on microdot's ASGI adapter; serve it with uvicorn::

python -m uvicorn microdot_asgi_app:app --loop uvloop --http httptools

The routes (``routes.py``) and the work per request are those of
``microdot_app.py`` (without its MicroPython-only ``/heap``).
"""

from routes import add_routes

from microdot.asgi import Microdot

app = Microdot()
add_routes(app)
