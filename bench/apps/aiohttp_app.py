"""The benchmark app on aiohttp's own server (stock asyncio loop).

Usage: ``python aiohttp_app.py [--port N]``; it binds 127.0.0.1 only.
"""

import argparse

from aiohttp import web


async def hello(request):
    return web.Response(text='Hello, World!')


async def hello_json(request):
    return web.json_response({'message': 'Hello, World!'})


async def user(request):
    return web.json_response({'id': int(request.match_info['id'])})


app = web.Application()
app.add_routes(
    [
        web.get('/', hello),
        web.get('/json', hello_json),
        web.get(r'/users/{id:\d+}', user),
    ]
)

if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, default=8080)
    args = parser.parse_args()
    web.run_app(
        app, host='127.0.0.1', port=args.port, access_log=None, print=None
    )
