"""A small demo application for microdot (CPython).

Run it with ``python3 dev.py demo`` and open http://127.0.0.1:5000.
"""

import datetime
import html
import time

from microdot import Microdot, Response, redirect

app = Microdot()

HTML = {'Content-Type': 'text/html; charset=UTF-8'}

INDEX_PAGE = """<!DOCTYPE html>
<html>
<head><title>microdot demo</title></head>
<body>
<h1>microdot demo</h1>
<p>microdot is the impossibly small web framework for Python and
MicroPython. This page is served by <code>examples/demo.py</code>.</p>
<form method="POST" action="/hello">
  <label>Your name: <input name="name"></label>
  <button type="submit">Say hello</button>
</form>
<ul>
  <li><a href="/api/time">/api/time</a>: the server time, as JSON</li>
  <li><a href="/users/42">/users/42</a>: a route with an integer
    argument</li>
  <li><a href="/counter">/counter</a>: a visit counter kept in a
    cookie</li>
</ul>
</body>
</html>
"""


@app.route('/')
async def index(request):
    return INDEX_PAGE, 200, HTML


@app.post('/hello')
async def hello(request):
    form = request.form
    name = (form.get('name') if form else None) or 'stranger'
    page = '<p>Hello, %s!</p><p><a href="/">Back</a></p>' % html.escape(name)
    return page, 200, HTML


@app.get('/hello')
async def hello_form(request):
    return redirect('/')


@app.get('/api/time')
async def api_time(request):
    now = datetime.datetime.now(datetime.timezone.utc)
    return {'epoch': time.time(), 'utc': now.isoformat()}


@app.get('/users/<int:id>')
async def user(request, id):
    return {'id': id, 'name': 'user%d' % id}


@app.get('/counter')
async def counter(request):
    try:
        count = int(request.cookies.get('count', '0')) + 1
    except ValueError:
        count = 1
    response = Response('You have visited this page %d times.\n' % count)
    response.set_cookie('count', str(count), path='/counter')
    return response


if __name__ == '__main__':
    print('Serving the demo at http://127.0.0.1:5000 (Ctrl+C to stop)')
    app.run(host='127.0.0.1', port=5000, debug=True)
