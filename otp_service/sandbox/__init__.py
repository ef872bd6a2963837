"""A local Telnyx messaging API stand-in, in the spirit of stripe-mock.

Real HTTP under ``/v2`` for all 69 operations of the vendored spec
(``spec/messaging-openapi.yaml``), Bearer auth (any key but ``SandboxConfig.api_key``,
default ``sandbox-key``, is 401 / 10009), Telnyx-shaped bodies and errors, request
validation against the spec's schemas (422 / 10004 missing, 10015 invalid, with
``source.pointer``), in-memory state seeded deterministically (see ``seed.py``: 3 messaging
profiles, 50 numbers, 28 mobile numbers, 4 short codes, 36 opt-outs, ...), and Ed25519-signed
webhooks back to the service.

Start it::

    from otp_service.sandbox import SandboxServer, SandboxConfig
    with SandboxServer(SandboxConfig(webhook_url="http://127.0.0.1:8000/v1/webhooks/telnyx")) as sb:
        sb.base_url, sb.api_key, sb.public_key      # http://127.0.0.1:<port>/v2, ...

    python -m otp_service.sandbox --port 8001        # or main(host, port): SANDBOX_* env

Helper routes (no auth; also listed by ``GET /_sandbox``):

    GET    /_sandbox                   index: these routes, magic numbers, seeded senders
    GET    /_sandbox/messages?to=+E164 accepted outbound messages, newest first: id, to, from,
                                       text, endpoint (/v2/messages/long_code ...),
                                       messaging_profile_id, type, status, webhook_url,
                                       created_at, body (the JSON request body)
    DELETE /_sandbox/messages          forget the outbox
    GET    /_sandbox/public_key        {"public_key": base64} - verify webhooks with it
    POST   /_sandbox/faults            {"status": 429|500|503, "retry_after"?, "latency_ms"?,
                                       "count"? (default 1; 0 = until cleared),
                                       "path_prefix"? ("/v2"; "/v2/messages" matches below it),
                                       "errors"?: [Telnyx error objects]}
    GET    /_sandbox/faults, DELETE /_sandbox/faults
    POST   /_sandbox/sender_faults     {"from", "effect": delivery_failed|sending_failed|
                                       delayed|dropped, "rate"?, "delay_seconds"?, "seed"?}:
                                       one sender's messages fail, or their receipts come
                                       late or never (GET, DELETE too)
    POST   /_sandbox/inbound           {"from", "to", "text", "webhook_url"?} -> signed
                                       message.received; "STOP" (END, QUIT, UNSUBSCRIBE, ...)
                                       adds an opt-out for that sender/profile, "START" lifts it
    POST   /_sandbox/link_click        {"message_id", "url"?} -> signed message.link_click
    GET    /_sandbox/webhooks          deliveries, newest first: id, event_type, message_id,
                                       url, status_code, attempts, delivered, error, payload
    DELETE /_sandbox/webhooks          drop pending deliveries and the log
    POST   /_sandbox/reset             seeded state again; no outbox, faults, webhooks

Per-request headers: ``X-Sandbox-Fault: 429|500|503`` answers that error (nothing is
stored); ``X-Sandbox-Fault: timeout`` and ``X-Sandbox-Latency-Ms: n`` process the request
(the message is stored, its webhooks go out) and hold the answer back (timeout:
``timeout_fault_seconds``, 30 s, or the given latency). A 429 carries ``Retry-After``.

Magic destination numbers (``MAGIC_NUMBERS``); any other number is delivered
(``message.sent``, then ``message.finalized`` ``delivered`` after ``webhook_delay``):

    +14155550101  opted_out             HTTP 409, 40300 "Blocked due to STOP message", any sender
    +14155550102  delivery_failed       accepted; finalized delivery_failed, errors [40008]
    +14155550103  delivery_unconfirmed  accepted; finalized delivery_unconfirmed
    +14155550104  not_routable          HTTP 422, 40001 "Not routable" for long code and short
                                        code senders; pool/alphanumeric/WhatsApp/RCS deliver
    +14155550105  sending_failed        accepted; no message.sent, finalized sending_failed
                                        with errors [40006]

The seeded opt-outs (+1 646 555 0100 ... 0135) are refused the same way (409 / 40300) for
their profile. Sender errors: unknown ``from`` 40305, bad ``to`` 40310 (both HTTP 422).

Webhooks: to the message's ``webhook_url``, else its profile's, else
``SandboxConfig.webhook_url``; ``telnyx-timestamp`` + ``telnyx-signature-ed25519`` over
``"{timestamp}|{body}"``; retried (3 attempts, 0.5 s doubling, alternating with the failover
URL) on anything but 2xx, then dropped and logged.

Layout, imports pointing down only: ``app`` wires ``api`` (the /v2 pipeline) with
``handlers/`` (one module per API area) and ``helper_routes``; those use ``traffic``
(sending) and ``core`` (``Sandbox``, ``current_sandbox``, ``json_response``), which owns
``state`` (seeded from ``seed``), ``faults``, ``validation`` and ``webhooks``.
"""

from __future__ import annotations

from .app import create_app
from .config import SandboxConfig, load_signing_key, signing_key_b64
from .core import Sandbox
from .magic import MAGIC_NUMBERS
from .seed import (
    ALPHANUMERIC_SENDER_IDS,
    FROM_NUMBERS,
    OPTED_OUT_NUMBERS,
    PROFILE_IDS,
    SHORT_CODES,
)
from .server import SandboxServer, main

__all__ = [
    "ALPHANUMERIC_SENDER_IDS",
    "FROM_NUMBERS",
    "MAGIC_NUMBERS",
    "OPTED_OUT_NUMBERS",
    "PROFILE_IDS",
    "SHORT_CODES",
    "Sandbox",
    "SandboxConfig",
    "SandboxServer",
    "create_app",
    "load_signing_key",
    "main",
    "signing_key_b64",
]
