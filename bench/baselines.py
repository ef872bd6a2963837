"""The two baseline apps `make bench` compares otp-service with: the stack's limit.

Both run under gunicorn with otp-service's own settings module (workers, threads, worker
class), are configured from the environment like the service, and do the least a call of
the same kind could do:

- ``create_check_app``: ``POST /check/<id>`` parses a JSON body and runs one EVALSHA of a
  trivial script (what a check needs at minimum: one Redis round trip).
- ``create_send_app``: ``POST /send`` parses a JSON body, runs one ``SET ... EX`` and one
  HTTP POST through a pooled httpx client to the sandbox's send endpoint (what a create
  needs at minimum: one write and one call to Telnyx).

    gunicorn -c python:otp_service.gunicorn_conf 'bench.baselines:create_check_app()'
"""

from __future__ import annotations

import json
import os

import httpx
import redis
from flask import Flask, Response, request

__all__ = ["create_check_app", "create_send_app"]

TRIVIAL_SCRIPT = "return redis.call('EXISTS', KEYS[1])"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=2.0)


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, mimetype="application/json")


def create_check_app() -> Flask:
    """A JSON body in, one EVALSHA, a JSON body out."""
    app = Flask(__name__)
    script = _redis().register_script(TRIVIAL_SCRIPT)

    @app.post("/check/<ident>")
    def check(ident: str) -> Response:
        data = json.loads(request.get_data())
        found = script(keys=[f"bench:{{{ident}}}"], args=[data["code"]])
        return _json({"id": ident, "valid": bool(found)})

    return app


def create_send_app() -> Flask:
    """A JSON body in, one SET with EX, one POST to the sandbox's send endpoint."""
    app = Flask(__name__)
    client = _redis()
    base_url = os.environ["TELNYX_BASE_URL"].rstrip("/")
    telnyx = httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {os.environ['TELNYX_API_KEY']}"},
        timeout=10.0,
    )
    sender = os.environ["TELNYX_FROM_NUMBER"]

    @app.post("/send")
    def send() -> Response:
        data = json.loads(request.get_data())
        to = data["phone_number"]
        client.set(f"bench:{{{to}}}", "123456", ex=600)
        sent = telnyx.post(
            "/messages/long_code",
            json={"from": sender, "to": to, "text": "123456 is your code."},
        )
        sent.raise_for_status()
        return _json({"id": sent.json()["data"]["id"], "status": "pending"}, 201)

    return app
