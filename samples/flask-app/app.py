"""flask-app: a small Flask web app (Debian's python3-flask) for minify's samples.

GET / answers JSON rendered through Flask's jsonify, GET /healthz answers "ok".
`python3 app.py` serves on 127.0.0.1:$PORT (default 8082), or on $HOST:$PORT when HOST is set.
"""
import os
import sys

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def index():
    return jsonify(
        message="hello from flask-app",
        python=".".join(map(str, sys.version_info[:3])),
        routes=sorted(str(r) for r in app.url_map.iter_rules()),
    )


@app.get("/healthz")
def healthz():
    return "ok\n", 200, {"Content-Type": "text/plain"}


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8082")))
