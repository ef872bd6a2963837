"""``/_sandbox`` helper routes: not Telnyx, no auth, for tests and people poking at it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, request

from . import magic, traffic
from .core import Sandbox, current_sandbox, json_response
from .errors import ApiError
from .faults import Fault, SenderFault
from .seed import HOSTED_VERIFICATION_CODE
from .state import SandboxState

__all__ = ["HELPER_ROUTES", "init_app"]

HELPER_ROUTES: list[tuple[str, str, str]] = [
    ("GET", "/_sandbox", "this index: helper routes, magic numbers, seeded senders"),
    ("GET", "/_sandbox/messages?to=+E164", "accepted outbound messages, newest first"),
    ("DELETE", "/_sandbox/messages", "forget the outbox"),
    ("GET", "/_sandbox/public_key", "the webhook signing public key (base64)"),
    (
        "POST",
        "/_sandbox/faults",
        '{"status": 429|500|503, "retry_after"?, "latency_ms"?, "count"? (1; 0 = until '
        'cleared), "path_prefix"? ("/v2"), "errors"?}: fail or delay the next matching requests',
    ),
    ("GET", "/_sandbox/faults", "the faults still queued"),
    (
        "POST",
        "/_sandbox/sender_faults",
        '{"from", "effect": delivery_failed|sending_failed|delayed|dropped, "rate"? (1), '
        '"delay_seconds"? (30, for delayed), "seed"? (0)}: what happens to the messages of '
        "one sender (a new fault for it replaces the old)",
    ),
    ("GET", "/_sandbox/sender_faults", "the sender faults set"),
    ("DELETE", "/_sandbox/sender_faults", "clear the sender faults"),
    ("DELETE", "/_sandbox/faults", "clear all faults"),
    (
        "POST",
        "/_sandbox/inbound",
        '{"from", "to", "text", "webhook_url"?}: deliver a signed message.received; '
        "STOP/START words update the opt-out list",
    ),
    ("POST", "/_sandbox/link_click", '{"message_id", "url"?}: deliver a message.link_click'),
    ("GET", "/_sandbox/webhooks?event_type=&message_id=", "webhook deliveries, newest first"),
    ("DELETE", "/_sandbox/webhooks", "forget pending webhooks and the delivery log"),
    ("POST", "/_sandbox/reset", "seeded state again; clears outbox, faults and webhooks"),
]

bp = Blueprint("sandbox_helpers", __name__, url_prefix="/_sandbox")


def _body() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise ApiError.one(400, "10015", "Bad Request", "The body must be a JSON object.")
    return body


def _senders(state: SandboxState) -> dict[str, Any]:
    """What senders exist right now: profiles with their numbers, codes and sender IDs."""
    with state.lock:
        return {
            "messaging_profiles": [
                {
                    "id": p["id"],
                    "name": p["name"],
                    "from_numbers": [n["phone_number"] for n in state.profile_numbers(p["id"])],
                    "short_codes": [
                        s["short_code"]
                        for s in state.short_codes
                        if s["messaging_profile_id"] == p["id"]
                    ],
                    "alphanumeric_sender_ids": [
                        a["alphanumeric_sender_id"]
                        for a in state.alphanumeric_ids
                        if a["messaging_profile_id"] == p["id"]
                    ],
                }
                for p in state.profiles
            ],
            "rcs_agents": [a["agent_id"] for a in state.rcs_agents],
            "opted_out_numbers": sorted({o["to"] for o in state.optouts}),
        }


@bp.get("")
@bp.get("/")
def index() -> Response:
    sb = current_sandbox()
    root = request.host_url.rstrip("/")
    return json_response(
        {
            "name": "otp-service Telnyx sandbox",
            "base_url": f"{root}/v2",
            "api_key": sb.config.api_key,
            "public_key": sb.public_key,
            "webhook_url": sb.config.webhook_url,
            "webhook_delay": sb.config.webhook_delay,
            "helper_routes": [
                {"method": m, "path": p, "description": d} for m, p, d in HELPER_ROUTES
            ],
            "request_headers": {
                "X-Sandbox-Fault": "429|500|503|timeout: fail this request (timeout: answer late)",
                "X-Sandbox-Latency-Ms": "n: answer n ms late (the request is still processed)",
            },
            "magic_numbers": magic.describe(),
            "hosted_number_verification_code": HOSTED_VERIFICATION_CODE,
            "seed": _senders(sb.state),
        },
        200,
    )


@bp.get("/messages")
def outbox() -> Response:
    sb = current_sandbox()
    to = request.args.get("to")
    if to is not None:
        to = to.strip()
        to = "+" + to if to.isdigit() else to
    with sb.state.lock:
        data = [m.summary() for m in sb.state.outbox(to)]
    return json_response({"data": data}, 200)


@bp.delete("/messages")
def clear_outbox() -> Response:
    sb = current_sandbox()
    with sb.state.lock:
        sb.state.clear_outbox()
    return Response(status=204)


@bp.get("/public_key")
def public_key() -> Response:
    return json_response({"public_key": current_sandbox().public_key}, 200)


@bp.post("/faults")
def add_fault() -> Response:
    try:
        fault = Fault.parse(_body())
    except ValueError as exc:
        raise ApiError.one(400, "10015", "Bad Request", str(exc)) from None
    current_sandbox().faults.add(fault)
    return json_response({"data": fault.to_json()}, 201)


@bp.get("/faults")
def list_faults() -> Response:
    return json_response({"data": current_sandbox().faults.list()}, 200)


@bp.delete("/faults")
def clear_faults() -> Response:
    current_sandbox().faults.clear()
    return Response(status=204)


@bp.post("/sender_faults")
def add_sender_fault() -> Response:
    try:
        fault = SenderFault.parse(_body())
    except ValueError as exc:
        raise ApiError.one(400, "10015", "Bad Request", str(exc)) from None
    current_sandbox().sender_faults.set(fault)
    return json_response({"data": fault.to_json()}, 201)


@bp.get("/sender_faults")
def list_sender_faults() -> Response:
    return json_response({"data": current_sandbox().sender_faults.list()}, 200)


@bp.delete("/sender_faults")
def clear_sender_faults() -> Response:
    current_sandbox().sender_faults.clear()
    return Response(status=204)


def _simulate(deliver: Callable[[Sandbox, dict[str, Any]], dict[str, Any]]) -> Response:
    """Run a simulated event against the state; 201 with what it did."""
    sb = current_sandbox()
    with sb.state.lock:
        result = deliver(sb, _body())
    return json_response(result, 201)


@bp.post("/inbound")
def inbound() -> Response:
    return _simulate(traffic.deliver_inbound)


@bp.post("/link_click")
def link_click() -> Response:
    return _simulate(traffic.deliver_link_click)


@bp.get("/webhooks")
def webhooks() -> Response:
    records = current_sandbox().webhooks.records()
    for name in ("event_type", "message_id"):
        wanted = request.args.get(name)
        if wanted:
            records = [r for r in records if r.get(name) == wanted]
    return json_response({"data": records}, 200)


@bp.delete("/webhooks")
def clear_webhooks() -> Response:
    current_sandbox().webhooks.clear()
    return Response(status=204)


@bp.post("/reset")
def reset() -> Response:
    current_sandbox().reset()
    return Response(status=204)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
