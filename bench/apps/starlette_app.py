"""The benchmark app on Starlette; serve it with uvicorn::

python -m uvicorn starlette_app:app --loop uvloop --http httptools
"""

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def hello(request):
    return PlainTextResponse('Hello, World!')


async def hello_json(request):
    return JSONResponse({'message': 'Hello, World!'})


async def user(request):
    return JSONResponse({'id': request.path_params['id']})


app = Starlette(
    routes=[
        Route('/', hello),
        Route('/json', hello_json),
        Route('/users/{id:int}', user),
    ]
)
