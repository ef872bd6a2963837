"""Message traffic: the nine send endpoints, their sender rules, magic numbers and the events
after, cancelling, and the inbound and link-click events the helper routes simulate.

Sender rules (each failure is HTTP 422 unless noted):

- long code / group MMS / WhatsApp: ``from`` must be a number of the account (seeded long
  code, toll-free or hosted number) assigned to a messaging profile, else 40305;
- short code: ``from`` must be a short code of the account with a profile, else 40305;
- number pool: ``messaging_profile_id`` must exist (10017) and have numbers (40305); the
  pool picks one of its numbers, the same one for the same destination (sticky sender);
- alphanumeric: the profile must exist (10017) and own the sender ID (40305);
- ``POST /messages`` and ``/messages/schedule`` pick by ``from``: ``+E.164`` is a long code,
  digits a short code, anything else an alphanumeric sender ID; no ``from`` is a number pool;
- every sender: ``to`` must be ``+E.164`` (40310); ``text`` is required for SMS and
  ``media_urls`` for MMS (10004); a destination that opted out of the sender or its profile
  is refused with HTTP 409 / 40300, like Telnyx's STOP block.
"""

from __future__ import annotations

import copy
import math
import re
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from .core import Sandbox
from .errors import ApiError, associated_missing, error_object
from .faults import SENDER_FAULTS
from .magic import magic_outcome
from .seed import ORGANIZATION_ID
from .state import Message
from .timestamps import iso, now_iso, parse_iso
from .webhooks import ScheduledWebhook

__all__ = ["SEND_OPERATIONS", "cancel", "deliver_inbound", "deliver_link_click", "send"]

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "UNSTOP", "YES"}

# operationId -> how it picks a sender
SEND_OPERATIONS = {
    "SendMessage": "auto",
    "ScheduleMessage": "auto",
    "CreateLongCodeMessage": "long_code",
    "CreateShortCodeMessage": "short_code",
    "CreateNumberPoolMessage": "number_pool",
    "SendAlphanumericSenderIdMessage": "alphanumeric",
    "SendWhatsappMessage": "whatsapp",
    "CreateGroupMmsMessage": "group_mms",
    "SendRCSMessage": "rcs",
}

_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = set("^{}\\[~]|€\f")
_CARRIERS = (
    ("T-MOBILE USA, INC.", "Wireless"),
    ("CELLCO PARTNERSHIP DBA VERIZON WIRELESS", "Wireless"),
    ("AT&T WIRELESS", "Wireless"),
)


def _invalid(code: str, title: str, detail: str, pointer: str, status: int = 422) -> ApiError:
    return ApiError.one(status, code, title, detail, pointer=pointer)


def _missing(field: str, why: str) -> ApiError:
    return _invalid("10004", "Missing required parameter", why, f"/{field}")


def encoding_of(text: str, wanted: str = "auto") -> tuple[str, int]:
    """(encoding, parts) as Telnyx counts them: GSM-7 160/153 chars, UCS-2 70/67."""
    gsm = all(c in _GSM7 or c in _GSM7_EXT for c in text)
    if wanted == "gsm7" and not gsm:
        raise _invalid(
            "10015",
            "Bad Request",
            "The text has characters GSM-7 cannot encode (encoding is 'gsm7').",
            "/text",
            status=400,
        )
    if gsm and wanted != "ucs2":
        units = sum(2 if c in _GSM7_EXT else 1 for c in text)
        return "GSM-7", 1 if units <= 160 else math.ceil(units / 153)
    units = len(text.encode("utf-16-le")) // 2
    return "UCS-2", 1 if units <= 70 else math.ceil(units / 67)


def _carrier(number: str) -> tuple[str, str]:
    outcome = magic_outcome(number)
    if outcome is not None and outcome.name == "not_routable":
        return "AT&T LOCAL", "Wireline"
    return _CARRIERS[zlib.crc32(number.encode()) % len(_CARRIERS)]


# senders ------------------------------------------------------------------------------
def _profile(sb: Sandbox, profile_id: Any, field: str = "messaging_profile_id") -> dict:
    profile = sb.state.profiles.find(str(profile_id)) if profile_id else None
    if profile is None:
        raise associated_missing(field, "messaging profile")
    return profile


def _bad_from(detail: str) -> ApiError:
    return _invalid("40305", "Invalid 'from' address", detail, "/from")


def _long_code(sb: Sandbox, sender: Any) -> tuple[str, str]:
    number = sb.state.sender_number(str(sender)) if isinstance(sender, str) else None
    if number is None:
        raise _bad_from(f"'{sender}' is not a messaging-enabled number of this account.")
    if not number.get("messaging_profile_id"):
        raise _bad_from(f"'{sender}' is not assigned to a messaging profile.")
    return number["phone_number"], number["messaging_profile_id"]


def _short_code(sb: Sandbox, sender: Any) -> tuple[str, str]:
    code = str(sender).lstrip("+")
    found = sb.state.short_codes.find(code)
    if found is None or found["short_code"] != code:
        raise _bad_from(f"'{sender}' is not a short code of this account.")
    if not found.get("messaging_profile_id"):
        raise _bad_from(f"Short code '{code}' is not assigned to a messaging profile.")
    return code, found["messaging_profile_id"]


def _number_pool(sb: Sandbox, profile_id: Any, to: str) -> tuple[str, str]:
    profile = _profile(sb, profile_id)
    numbers = sb.state.profile_numbers(profile["id"])
    if not numbers:
        raise _bad_from("The messaging profile has no numbers in its number pool.")
    chosen = numbers[zlib.crc32(to.encode()) % len(numbers)]  # sticky per destination
    return chosen["phone_number"], profile["id"]


def _alphanumeric(sb: Sandbox, sender: Any, profile_id: Any) -> tuple[str, str]:
    profile = _profile(sb, profile_id)
    owned = {
        a["alphanumeric_sender_id"]
        for a in sb.state.alphanumeric_ids
        if a["messaging_profile_id"] == profile["id"]
    }
    if profile.get("alpha_sender"):
        owned.add(profile["alpha_sender"])
    if sender not in owned:
        raise _bad_from(f"'{sender}' is not an alphanumeric sender ID of the messaging profile.")
    return str(sender), profile["id"]


def _resolve_sender(sb: Sandbox, kind: str, body: dict[str, Any], to: str) -> tuple[str, str, str]:
    """(sender kind, from address, messaging profile id)."""
    sender = body.get("from")
    if kind == "auto":
        if not sender:
            if not body.get("messaging_profile_id"):
                raise _missing(
                    "from", "'from' is required unless 'messaging_profile_id' names a number pool."
                )
            kind = "number_pool"
        elif str(sender).startswith("+"):
            kind = "long_code"
        elif str(sender).isdigit():
            kind = "short_code"
        else:
            if not body.get("messaging_profile_id"):
                raise _missing(
                    "messaging_profile_id",
                    "'messaging_profile_id' is required with an alphanumeric sender ID.",
                )
            kind = "alphanumeric"
    if kind in ("long_code", "group_mms", "whatsapp"):
        address, profile_id = _long_code(sb, sender)
        if kind == "whatsapp" and body.get("messaging_profile_id"):
            profile_id = _profile(sb, body["messaging_profile_id"])["id"]
        return kind, address, profile_id
    if kind == "short_code":
        return (kind, *_short_code(sb, sender))
    if kind == "number_pool":
        return (kind, *_number_pool(sb, body.get("messaging_profile_id"), to))
    if kind == "alphanumeric":
        return (kind, *_alphanumeric(sb, sender, body.get("messaging_profile_id")))
    if kind == "rcs":
        agent = sb.state.rcs_agents.find(str(body.get("agent_id")))
        if agent is None:
            raise associated_missing("agent_id", "RCS agent")
        return kind, agent["agent_id"], _profile(sb, body.get("messaging_profile_id"))["id"]
    raise AssertionError(kind)


# sending ------------------------------------------------------------------------------
def _content(kind: str, body: dict[str, Any]) -> tuple[str | None, str, list[str]]:
    """(text, SMS|MMS, media urls), enforcing what the spec's descriptions require."""
    if kind == "whatsapp":
        content = body.get("whatsapp_message") or {}
        text = (content.get("text") or {}).get("body") or content.get("type") or "whatsapp"
        return text, "SMS", []
    if kind == "rcs":
        message = (body.get("agent_message") or {}).get("content_message") or {}
        return message.get("text") or "", "SMS", []
    media = list(body.get("media_urls") or [])
    text = body.get("text")
    if kind == "group_mms":
        if not text and not media:
            raise _missing("text", "A group MMS needs 'text' or 'media_urls'.")
        return text, "MMS", media
    msg_type = body.get("type") or ("MMS" if media else "SMS")
    if msg_type == "SMS" and not text:
        raise _missing("text", "'text' is required for SMS (a non-empty string).")
    if msg_type == "MMS" and not media:
        raise _missing("media_urls", "'media_urls' is required for MMS.")
    return text, msg_type, media


def _check_to(to: Any, pointer: str = "/to") -> str:
    if not isinstance(to, str) or not E164.match(to):
        raise _invalid(
            "40310",
            "Invalid 'to' address",
            f"'{to}' is not a +E.164 phone number.",
            pointer,
        )
    return to


def _webhook_urls(sb: Sandbox, body: dict[str, Any], profile_id: str) -> tuple[str | None, ...]:
    """(primary, failover) URL of a message: its own, else its profile's, else the config's."""
    profile = sb.state.profiles.find(profile_id) or {}
    use_profile = body.get("use_profile_webhooks", True)
    primary = body.get("webhook_url") or (use_profile and profile.get("webhook_url")) or None
    failover = (
        body.get("webhook_failover_url")
        or (use_profile and profile.get("webhook_failover_url"))
        or None
    )
    return primary, failover


def send(sb: Sandbox, operation_id: str, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    """Accept (store, schedule events, answer) or refuse one send request."""
    kind = SEND_OPERATIONS[operation_id]
    if operation_id == "ScheduleMessage" and not body.get("send_at"):
        raise _missing("send_at", "'send_at' is required to schedule a message.")
    recipients = body.get("to") if kind == "group_mms" else [body.get("to")]
    if kind == "group_mms" and not 1 <= len(recipients) <= 8:
        raise _invalid("10015", "Bad Request", "A group MMS has 1 to 8 recipients.", "/to")
    for index, to in enumerate(recipients):
        _check_to(to, f"/to/{index}" if kind == "group_mms" else "/to")
    text, msg_type, media = _content(kind, body)
    kind, sender, profile_id = _resolve_sender(sb, kind, body, recipients[0])

    for to in recipients:
        outcome = magic_outcome(to)
        blocked = sb.state.find_optout(to, sender, profile_id)
        if blocked is not None or (outcome is not None and outcome.name == "opted_out"):
            raise _invalid(
                "40300",
                "Blocked due to STOP message",
                f"Messages cannot be sent from {sender} to {to} due to an existing block rule.",
                "/to",
                status=409,
            )
        if (
            outcome is not None
            and outcome.name == "not_routable"
            and kind
            in (
                "long_code",
                "short_code",
            )
        ):
            code, title, detail = outcome.error or ("40001", "Not routable", "")
            raise _invalid(code, title, detail, "/to")

    encoding, parts = encoding_of(text or "", body.get("encoding", "auto"))
    if parts > 10:
        raise _invalid(
            "10015", "Bad Request", f"The text needs {parts} parts (at most 10).", "/text"
        )

    now = datetime.now(UTC)
    send_at = None
    if body.get("send_at"):
        send_at = parse_iso(body["send_at"])
        if send_at <= now:
            send_at = None
    primary, failover = _webhook_urls(sb, body, profile_id)
    line = "VoIP" if sender.startswith("+") else ""
    data: dict[str, Any] = {
        "record_type": "message",
        "direction": "outbound",
        "id": str(uuid.uuid4()),
        "type": msg_type,
        "messaging_profile_id": profile_id,
        "organization_id": ORGANIZATION_ID,
        "from": {"phone_number": sender, "carrier": "TELNYX LLC", "line_type": line},
        "to": [
            {
                "phone_number": to,
                "status": "queued",
                "carrier": _carrier(to)[0],
                "line_type": _carrier(to)[1],
            }
            for to in recipients
        ],
        "cc": [],
        "text": text or "",
        "subject": body.get("subject"),
        "media": [{"url": u, "content_type": None, "sha256": None, "size": None} for u in media],
        "webhook_url": primary,
        "webhook_failover_url": failover,
        "encoding": encoding,
        "parts": parts,
        "num_chars": len(text or ""),
        "tags": [],
        "cost": {"amount": f"{0.004 * parts * len(recipients):.4f}", "currency": "USD"},
        "cost_breakdown": {
            "rate": {"amount": f"{0.0025 * parts:.4f}", "currency": "USD"},
            "carrier_fee": {"amount": f"{0.0015 * parts:.4f}", "currency": "USD"},
        },
        "tcr_campaign_id": None,
        "tcr_campaign_billable": False,
        "tcr_campaign_registered": None,
        "smart_encoding_applied": False,
        "received_at": iso(now),
        "sent_at": None,
        "completed_at": None,
        "valid_until": iso(now + timedelta(hours=4)),
        "wait_seconds": None,
        "errors": [],
    }
    if kind in ("whatsapp", "rcs"):
        del data["type"]  # the spec's message object only knows SMS and MMS

    outcome = magic_outcome(recipients[0])
    final = outcome.final_status if outcome and outcome.final_status else "delivered"
    error = None
    if outcome and outcome.final_status and outcome.error:
        code, title, detail = outcome.error
        error = error_object(code, title, detail)
    receipt = outcome.receipt if outcome else True
    receipt_delay = outcome.receipt_delay if outcome else None
    effect = sb.sender_faults.effect_for(sender)  # POST /_sandbox/sender_faults
    if effect is not None:
        final, injected = SENDER_FAULTS[effect]
        error = error_object(*injected) if injected else None
        receipt = effect != "dropped"
        if effect == "delayed":
            receipt_delay = sb.sender_faults.delay_for(sender)
    message = Message(
        data=data,
        endpoint=endpoint,
        body=copy.deepcopy(body),
        created_at=iso(now),
        final_status=final,
        error=error,
        skip_sent=final == "sending_failed",
        receipt=receipt,
        receipt_delay=receipt_delay,
        scheduled_for=send_at,
        extra={"channel_type": {"whatsapp": "WHATSAPP", "rcs": "RCS"}.get(kind, msg_type)},
    )
    if kind == "whatsapp":
        sender_obj = {"phone_number": data["from"]["phone_number"]}
        message.response = _channel_response(
            data, "WHATSAPP", sender_obj, body.get("whatsapp_message")
        )
    elif kind == "rcs":
        agent = sb.state.rcs_agents.get(data["from"]["phone_number"])
        sender_obj = {"agent_id": agent["agent_id"], "agent_name": agent["agent_name"]}
        message.response = _channel_response(data, "RCS", sender_obj, body.get("agent_message"))
    sb.state.add_message(message)
    _schedule_events(sb, message, (primary, failover), now)

    # A scheduled message stays "queued": the spec's message object has no "scheduled".
    return {"data": message.response if message.response is not None else data}


def _channel_response(
    data: dict[str, Any], channel: str, sender: dict[str, Any], content: Any
) -> dict[str, Any]:
    """What a WhatsApp or RCS send answers instead of the message object."""
    return {
        "record_type": "message",
        "id": data["id"],
        "direction": "outbound",
        "type": channel,
        "encoding": data["encoding"],
        "messaging_profile_id": data["messaging_profile_id"],
        "organization_id": ORGANIZATION_ID,
        "from": {**sender, "carrier": "TELNYX LLC"},
        "to": copy.deepcopy(data["to"]),
        "body": copy.deepcopy(content or {}),
        "received_at": data["received_at"],
        "wait_seconds": None,
    }


def _event(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "record_type": "event",
        "id": str(uuid.uuid4()),
        "event_type": event_type,
        "occurred_at": now_iso(),
        "payload": copy.deepcopy(payload),
    }


def _schedule_events(
    sb: Sandbox, message: Message, urls: tuple[str | None, ...], now: datetime
) -> None:
    """message.sent now (or at send_at), message.finalized ``webhook_delay`` later."""
    primary, failover = urls
    targets = [u for u in (primary or sb.config.webhook_url, failover) if u]
    message_id = message.data["id"]

    def advance(status: str) -> tuple[dict[str, Any], list[str]] | None:
        with sb.state.lock:
            if message.cancelled:
                return None
            stamp = now_iso()
            for recipient in message.data["to"]:
                recipient["status"] = status
            if status != "sending_failed" and message.data["sent_at"] is None:
                message.data["sent_at"] = stamp
            event_type = "message.sent"
            if status != "sent":
                event_type = "message.finalized"
                message.data["completed_at"] = stamp
                if message.error:
                    message.data["errors"] = [dict(message.error)]
            return _event(event_type, message.data), targets

    final = ScheduledWebhook(
        "message.finalized", lambda: advance(message.final_status), message_id=message_id
    )
    delay = 0.0
    if message.scheduled_for is not None:
        delay = (message.scheduled_for - now).total_seconds()
    receipt_delay = sb.config.webhook_delay
    if message.receipt_delay is not None:
        receipt_delay = message.receipt_delay
    if message.skip_sent:
        if message.receipt:
            sb.webhooks.schedule(final, delay + receipt_delay)
        return
    sent = ScheduledWebhook(
        "message.sent",
        lambda: advance("sent"),
        message_id=message_id,
        then=final if message.receipt else None,
        then_delay=receipt_delay,
    )
    sb.webhooks.schedule(sent, delay)


def cancel(sb: Sandbox, message_id: str) -> dict[str, Any]:
    """DELETE /messages/{id}: only a scheduled message more than a minute away."""
    message = sb.state.get_message(message_id)
    limit = datetime.now(UTC) + timedelta(minutes=1)
    if message.cancelled or message.scheduled_for is None or message.scheduled_for <= limit:
        raise ApiError.one(
            403,
            "10015",
            "Message cannot be cancelled",
            "Only a scheduled message whose send_at is more than a minute away can be cancelled.",
        )
    message.cancelled = True
    for recipient in message.data["to"]:
        recipient["status"] = "cancelled"
    message.data["cost"] = {"amount": "0.0", "currency": "USD"}
    message.data["cost_breakdown"] = None
    return message.data


def _deliver_once(sb: Sandbox, event: dict[str, Any], url: str | None, message_id: str) -> None:
    """Schedule an event that is ready now and has no follow-up (inbound, link click)."""
    sb.webhooks.schedule(
        ScheduledWebhook(
            event["event_type"], lambda: (event, [url] if url else []), message_id=message_id
        )
    )


# helpers for tests ----------------------------------------------------------------------
def deliver_inbound(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """POST /_sandbox/inbound: a message.received event, and STOP/START bookkeeping."""
    sender, to, text = body.get("from"), body.get("to"), body.get("text") or ""
    for field, value in (("from", sender), ("to", to)):
        if not isinstance(value, str) or not value:
            raise _missing(field, f"'{field}' is required.")
    state = sb.state
    number = state.sender_number(to) or state.short_codes.find(to.lstrip("+"))
    profile_id = (number or {}).get("messaging_profile_id")
    profile = state.profiles.find(profile_id) if profile_id else None
    url = body.get("webhook_url") or (profile or {}).get("webhook_url") or sb.config.webhook_url
    encoding, parts = encoding_of(text)
    now = now_iso()
    media = list(body.get("media_urls") or [])
    carrier, line = _carrier(sender) if sender.startswith("+") else ("", "")
    data: dict[str, Any] = {
        "record_type": "message",
        "direction": "inbound",
        "id": str(uuid.uuid4()),
        "type": "MMS" if media else "SMS",
        "organization_id": ORGANIZATION_ID,
        "from": {
            "phone_number": sender,
            "carrier": carrier,
            "line_type": line,
            "status": "received",
        },
        "to": [
            {
                "phone_number": to,
                "status": "webhook_delivered",
                "carrier": "TELNYX LLC",
                "line_type": "VoIP",
            }
        ],
        "cc": [],
        "text": text,
        "subject": None,
        "media": [{"url": u, "content_type": "image/jpeg", "size": 1024} for u in media],
        "encoding": encoding,
        "parts": min(parts, 10),
        "num_chars": len(text),
        "tags": [],
        "cost": None,
        "cost_breakdown": None,
        "received_at": now,
        "sent_at": None,
        "completed_at": None,
        "valid_until": None,
        "errors": [],
        "webhook_url": url,
        "webhook_failover_url": None,
        "tcr_campaign_id": None,
        "tcr_campaign_billable": False,
        "tcr_campaign_registered": None,
    }
    if profile_id:
        data["messaging_profile_id"] = profile_id
    state.add_message(
        Message(data=data, endpoint="/_sandbox/inbound", body=copy.deepcopy(body), created_at=now)
    )

    keyword = text.strip().upper()
    if keyword in STOP_WORDS and state.find_optout(sender, to, profile_id) is None:
        state.optouts.append(
            {
                "messaging_profile_id": profile_id,
                "from": to,
                "to": sender,
                "keyword": keyword,
                "created_at": now,
            }
        )
    elif keyword in START_WORDS:
        state.optouts = [
            o
            for o in state.optouts
            if not (
                o["to"] == sender
                and (o["from"] == to or (profile_id and o["messaging_profile_id"] == profile_id))
            )
        ]

    event = _event("message.received", data)
    _deliver_once(sb, event, url, data["id"])
    return {"data": data, "event_id": event["id"], "webhook_url": url}


def deliver_link_click(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """POST /_sandbox/link_click: a message.link_click event for a sent message."""
    message = sb.state.get_message(str(body.get("message_id")))
    data = message.data
    link = body.get("url")
    if not link:
        found = re.search(r"https?://\S+", data.get("text") or "")
        link = found.group(0) if found else "https://acme.link/x"
    url = data.get("webhook_url") or sb.config.webhook_url
    if body.get("webhook_url"):
        url = body["webhook_url"]
    event = {
        "record_type": "link_clicked",
        "id": str(uuid.uuid4()),
        "event_type": "message.link_click",
        "occurred_at": now_iso(),
        "message_id": data["id"],
        "to": data["to"][0]["phone_number"] if data.get("to") else None,
        "url": link,
        "time_clicked": now_iso(),
    }
    _deliver_once(sb, event, url, data["id"])
    return {"data": event, "webhook_url": url}
