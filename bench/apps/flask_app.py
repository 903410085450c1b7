"""The benchmark app on Flask; serve it with gunicorn (1 sync worker)::

gunicorn -w 1 flask_app:app
"""

from flask import Flask, jsonify

app = Flask(__name__)


@app.route('/')
def hello():
    return 'Hello, World!', 200, {'Content-Type': 'text/plain'}


@app.route('/json')
def hello_json():
    return jsonify(message='Hello, World!')


@app.route('/users/<int:id>')
def user(id):
    return jsonify(id=id)
