"""Webhook endpoints of a profile, for operators: create, list, change, delete, rotate the
secret, send a test, and see, retry and replay deliveries. No Flask.

Every change runs inside the audit log's ``audited`` (given, not imported). A secret
(``whsec_`` + base64 of 24 random bytes, as Standard Webhooks and Svix make them) is in
the answer that creates it only; Redis keeps it sealed (``sealing.SecretBox``) because
the worker must sign with it. Rotation keeps the old secret signing beside the new one
for ``ROTATION_OVERLAP_MS``: a receiver that has not switched yet still verifies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from otp_service import errors
from otp_service.config import Settings
from otp_service.events.catalog import EVENT_TYPES, PING, Event, body_of
from otp_service.events.http import UnsafeURL, check_url, resolve_within
from otp_service.ids import new_suffix
from otp_service.sealing import SecretBox
from otp_service.store.webhooks import DeliveryRecord, NewDelivery, WebhookStore
from otp_service.timefmt import iso_time, parse_iso

__all__ = [
    "ENDPOINT_PATTERN",
    "Endpoint",
    "EndpointService",
    "ROTATION_OVERLAP_MS",
    "delivery_id_of",
]

ROTATION_OVERLAP_MS = 24 * 3_600_000
ENDPOINT_PATTERN = re.compile(r"ep_[a-z2-7]{16}")
DELIVERY_PATTERN = re.compile(r"dlv_[0-9a-f]{24}")
URL_MAX = 2048
LOOKUP_SECONDS = 5.0  # a URL's host that has not resolved by then is refused (422)
CHANGE_ATTEMPTS = 5  # saves of one change raced by others before it is refused (409)
DESCRIPTION_MAX = 200


class Auditor(Protocol):
    def audited(
        self, actor: str, action: str, target: str, detail: dict[str, Any]
    ) -> AbstractContextManager[dict[str, Any]]: ...


@dataclass(frozen=True)
class Secret:
    sealed: str  # base64 of SecretBox.seal
    created_at: int
    expires_at: int | None  # ms; None: the current one


@dataclass(frozen=True)
class Endpoint:
    id: str
    profile: str
    url: str
    events: tuple[str, ...]  # empty: every event
    description: str
    enabled: bool
    created_at: int
    updated_at: int
    secrets: tuple[Secret, ...] = field(default_factory=tuple)  # newest first
    disabled_reason: str | None = None

    def wants(self, event_type: str) -> bool:
        return self.enabled and (not self.events or event_type in self.events)

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "profile": self.profile,
                "url": self.url,
                "events": list(self.events),
                "description": self.description,
                "enabled": self.enabled,
                "created_at": self.created_at,
                "updated_at": self.updated_at,
                "secrets": [s.__dict__ for s in self.secrets],
                "disabled_reason": self.disabled_reason,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str) -> Endpoint:
        d = json.loads(raw)
        return cls(
            id=d["id"],
            profile=d["profile"],
            url=d["url"],
            events=tuple(d.get("events") or ()),
            description=d.get("description") or "",
            enabled=bool(d.get("enabled")),
            created_at=int(d["created_at"]),
            updated_at=int(d["updated_at"]),
            secrets=tuple(Secret(**s) for s in d.get("secrets") or ()),
            disabled_reason=d.get("disabled_reason"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The API object: never a secret."""
        return {
            "id": self.id,
            "profile_id": self.profile,
            "url": self.url,
            "events": list(self.events),
            "description": self.description,
            "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
            "created_at": iso_time(self.created_at),
            "updated_at": iso_time(self.updated_at),
        }


def delivery_id_of(endpoint_id: str, webhook_id: str) -> str:
    """One delivery per (endpoint, event): handing an event over twice stores it once."""
    return "dlv_" + hashlib.sha256(f"{endpoint_id}/{webhook_id}".encode()).hexdigest()[:24]


def delivery_dict(d: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": d.id,
        "endpoint_id": d.endpoint_id,
        "event_type": d.type,
        "webhook_id": d.webhook_id,
        "status": d.status,
        "attempts": d.attempts,
        "created_at": iso_time(d.created_at),
        "last_attempt_at": iso_time(d.last_attempt_at),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "next_attempt_at": iso_time(d.next_attempt_at),
    }


class EndpointService:
    def __init__(
        self,
        settings: Settings,
        store: WebhookStore,
        audit: Auditor,
        check_profile: Callable[[str], object],
        *,
        clock: Callable[[], float] = time.time,
        resolve: Callable[..., Any] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.audit = audit
        self.check_profile = check_profile  # raises ProfileNotFound
        self.clock = clock
        self.box = SecretBox(
            settings.secret, b"otp-service webhook secret v1", b"otp-service endpoint:"
        )
        self._resolve = resolve

    # -- endpoints ------------------------------------------------------------------------
    def create(self, profile_id: str, body: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
        endpoint_id = "ep_" + new_suffix()[:16]
        with self.audit.audited(
            actor, "webhook.create", endpoint_id, {"profile": profile_id[:64]}
        ) as outcome:
            self.check_profile(profile_id)
            fields = self._fields(body, creating=True)
            now = self._now_ms()
            secret, sealed = self._new_secret(endpoint_id)
            endpoint = Endpoint(
                id=endpoint_id,
                profile=profile_id,
                url=fields["url"],
                events=tuple(fields.get("events") or ()),
                description=fields.get("description") or "",
                enabled=True,
                created_at=now,
                updated_at=now,
                secrets=(Secret(sealed, now, None),),
            )
            if not self.store.save_endpoint(endpoint_id, endpoint.to_json(), "create"):
                raise errors.Conflict("an endpoint with this id exists; try again")
            outcome.update(result="created", status=201)
        return {"data": {**endpoint.to_dict(), "secret": secret}}

    def list(self, profile_id: str) -> dict[str, Any]:
        self.check_profile(profile_id)
        rows = sorted(
            (e for e in self.all_endpoints() if e.profile == profile_id),
            key=lambda e: (e.created_at, e.id),
        )
        return {"data": [e.to_dict() for e in rows]}

    def get(self, profile_id: str, endpoint_id: str) -> dict[str, Any]:
        return {"data": self._endpoint(profile_id, endpoint_id).to_dict()}

    def update(
        self, profile_id: str, endpoint_id: str, body: Mapping[str, Any], *, actor: str
    ) -> dict[str, Any]:
        with self.audit.audited(
            actor, "webhook.update", endpoint_id[:64], {"fields": sorted(body)}
        ) as outcome:
            self._endpoint(profile_id, endpoint_id)  # 404 before 422
            fields = self._fields(body, creating=False)
            changes: dict[str, Any] = {"updated_at": self._now_ms()}
            if "url" in fields:
                changes["url"] = fields["url"]
            if "events" in fields:
                changes["events"] = tuple(fields["events"] or ())
            if "description" in fields:
                changes["description"] = fields["description"] or ""
            if "enabled" in fields:
                changes["enabled"] = fields["enabled"]
                changes["disabled_reason"] = None if fields["enabled"] else "operator"
            updated = self._change(
                profile_id, endpoint_id, lambda current: Endpoint(**{**current.__dict__, **changes})
            )
            outcome["result"] = "updated"
        return {"data": updated.to_dict()}

    def delete(self, profile_id: str, endpoint_id: str, *, actor: str) -> None:
        with self.audit.audited(actor, "webhook.delete", endpoint_id[:64], {}) as outcome:
            self._endpoint(profile_id, endpoint_id)
            if not self.store.save_endpoint(endpoint_id, "", "delete"):
                raise errors.WebhookEndpointNotFound(f"no endpoint {endpoint_id}")
            outcome.update(result="deleted", status=204)

    def rotate_secret(self, profile_id: str, endpoint_id: str, *, actor: str) -> dict[str, Any]:
        """A new secret; the current one keeps signing beside it for 24 hours."""
        with self.audit.audited(actor, "webhook.rotate_secret", endpoint_id[:64], {}) as outcome:
            now = self._now_ms()
            secret, sealed = self._new_secret(endpoint_id)

            def rotated(current: Endpoint) -> Endpoint:
                kept = tuple(
                    Secret(s.sealed, s.created_at, s.expires_at or now + ROTATION_OVERLAP_MS)
                    for s in current.secrets
                    if s.expires_at is None or s.expires_at > now
                )
                secrets = (Secret(sealed, now, None), *kept)
                return Endpoint(**{**current.__dict__, "secrets": secrets, "updated_at": now})

            updated = self._change(profile_id, endpoint_id, rotated)
            outcome["result"] = "rotated"
        return {
            "data": {
                **updated.to_dict(),
                "secret": secret,
                "previous_secret_expires_at": iso_time(now + ROTATION_OVERLAP_MS),
            }
        }

    def send_test(self, profile_id: str, endpoint_id: str, *, actor: str) -> dict[str, Any]:
        """A ``ping`` event to the endpoint, delivered by the worker like any other."""
        with self.audit.audited(actor, "webhook.test", endpoint_id[:64], {}) as outcome:
            endpoint = self._endpoint(profile_id, endpoint_id)
            now = self._now_ms()
            webhook_id = "msg_ping" + secrets.token_hex(10)
            event = Event(webhook_id, PING, profile_id, now, {"endpoint_id": endpoint.id})
            delivery_id = delivery_id_of(endpoint.id, webhook_id)
            self.store.enqueue(
                [
                    NewDelivery(
                        delivery_id, endpoint.id, profile_id, webhook_id, PING, body_of(event)
                    )
                ],
                now,
            )
            outcome.update(result="queued", status=202)
        record = self.store.delivery(delivery_id)
        assert record is not None
        return {"data": delivery_dict(record)}

    # -- deliveries -----------------------------------------------------------------------
    def deliveries(
        self,
        profile_id: str,
        endpoint_id: str,
        *,
        limit: int,
        before: int | None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """The endpoint's deliveries, newest first: created before ``before`` (ms), or
        after ``cursor`` (the ``next_cursor`` of the page before; many deliveries can share
        a millisecond, so a time cannot say where a page ended)."""
        self._endpoint(profile_id, endpoint_id)
        if cursor is not None and (before is not None or not DELIVERY_PATTERN.fullmatch(cursor)):
            problem = "use a next_cursor of an answer" if before is None else "not with before"
            raise errors.InvalidRequest("cursor is not valid", errors={"cursor": [problem]})
        rows, next_cursor = self.store.deliveries(
            endpoint_id, before=before, limit=limit, after=cursor
        )
        return {"data": [delivery_dict(d) for d in rows], "meta": {"next_cursor": next_cursor}}

    def retry(
        self, profile_id: str, endpoint_id: str, delivery_id: str, *, actor: str
    ) -> dict[str, Any]:
        target = f"{endpoint_id[:40]}/{delivery_id[:40]}"
        with self.audit.audited(actor, "webhook_delivery.retry", target, {}) as outcome:
            self._endpoint(profile_id, endpoint_id)
            record = self._delivery(endpoint_id, delivery_id)
            self.store.retry(endpoint_id, record.id, self._now_ms())
            outcome.update(result="queued", status=202)
        found = self.store.delivery(delivery_id)
        assert found is not None
        return {"data": delivery_dict(found)}

    def replay(
        self, profile_id: str, endpoint_id: str, body: Mapping[str, Any], *, actor: str
    ) -> dict[str, Any]:
        """Every failed delivery to the endpoint since ``since``, due again now."""
        with self.audit.audited(actor, "webhook.replay", endpoint_id[:64], {}) as outcome:
            self._endpoint(profile_id, endpoint_id)
            unknown = sorted(set(body) - {"since"})
            since = parse_iso(body.get("since")) if isinstance(body.get("since"), str) else None
            if since is None or unknown:
                problems = {name: ["unknown field"] for name in unknown}
                if since is None:
                    problems["since"] = ["required: an RFC 3339 time"]
                raise errors.InvalidRequest("the replay request is not valid", errors=problems)
            count = self.store.replay_failed(endpoint_id, since, self._now_ms())
            outcome.update(result="queued", status=202, detail={"deliveries": count})
        return {"data": {"queued": count}}

    # -- for the worker -------------------------------------------------------------------
    def all_endpoints(self) -> list[Endpoint]:
        return [Endpoint.from_json(raw) for raw in self.store.endpoints().values()]

    def signing_secrets(self, endpoint: Endpoint, now: int) -> list[bytes]:
        """The secrets that sign a delivery now: the current one and, for 24 hours after a
        rotation, the one before it."""
        return [
            self.box.open(endpoint.id, base64.b64decode(s.sealed))
            for s in endpoint.secrets
            if s.expires_at is None or s.expires_at > now
        ]

    # -- helpers --------------------------------------------------------------------------
    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _new_secret(self, endpoint_id: str) -> tuple[str, str]:
        raw = secrets.token_bytes(24)
        sealed = base64.b64encode(self.box.seal(endpoint_id, raw)).decode()
        return "whsec_" + base64.b64encode(raw).decode(), sealed

    def _endpoint(self, profile_id: str, endpoint_id: str) -> Endpoint:
        return self._stored(profile_id, endpoint_id)[1]

    def _stored(self, profile_id: str, endpoint_id: str) -> tuple[str, Endpoint]:
        """The endpoint's stored JSON and the endpoint; 404 unless it is the profile's."""
        self.check_profile(profile_id)
        raw = self.store.endpoint(endpoint_id) if ENDPOINT_PATTERN.fullmatch(endpoint_id) else None
        endpoint = Endpoint.from_json(raw) if raw else None
        if raw is None or endpoint is None or endpoint.profile != profile_id:
            raise errors.WebhookEndpointNotFound(
                f"no endpoint {endpoint_id[:40]} in profile {profile_id}"
            )
        return raw, endpoint

    def _change(
        self, profile_id: str, endpoint_id: str, change: Callable[[Endpoint], Endpoint]
    ) -> Endpoint:
        """``change`` made to the endpoint as stored and saved, unless something else
        saved it meanwhile (another operator, the worker disabling it): then made again
        over that, so that neither change is lost. Turned back on, or given another URL,
        an endpoint's failing clock starts again (failures before say nothing of it)."""
        for _ in range(CHANGE_ATTEMPTS):
            raw, current = self._stored(profile_id, endpoint_id)
            updated = change(current)
            fresh = (updated.enabled and not current.enabled) or updated.url != current.url
            saved = self.store.save_endpoint(
                endpoint_id, updated.to_json(), "update", raw, fresh_start=fresh
            )
            if saved:
                return updated
        raise errors.Conflict("the endpoint kept changing while this change was saved; try again")

    def _delivery(self, endpoint_id: str, delivery_id: str) -> DeliveryRecord:
        record = (
            self.store.delivery(delivery_id) if DELIVERY_PATTERN.fullmatch(delivery_id) else None
        )
        if record is None or record.endpoint_id != endpoint_id:
            raise errors.WebhookDeliveryNotFound(f"no delivery {delivery_id[:40]} to this endpoint")
        return record

    def _fields(self, body: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        """The body's fields, checked: 422 naming every problem at once."""
        allowed = {"url", "events", "description"} | (set() if creating else {"enabled"})
        problems: dict[str, list[str]] = {
            name: ["unknown field"] for name in sorted(set(body) - allowed)
        }
        out: dict[str, Any] = {}
        url = body.get("url")
        if "url" in body or creating:
            if not isinstance(url, str) or not url or len(url) > URL_MAX:
                problems["url"] = [f"required: a URL of at most {URL_MAX} characters"]
            else:
                out["url"] = url
        if "events" in body:
            events = body["events"]
            if events is None:
                out["events"] = []
            elif not isinstance(events, list) or not all(isinstance(e, str) for e in events):
                problems["events"] = ["must be a list of event types"]
            elif unknown := sorted(set(events) - set(EVENT_TYPES)):
                problems["events"] = [f"unknown event types: {', '.join(unknown)[:200]}"]
            else:
                out["events"] = sorted(set(events), key=EVENT_TYPES.index)
        if "description" in body:
            text = body["description"]
            if text is not None and (not isinstance(text, str) or len(text) > DESCRIPTION_MAX):
                problems["description"] = [f"must be text of at most {DESCRIPTION_MAX} characters"]
            else:
                out["description"] = text
        if "enabled" in body:
            if not isinstance(body["enabled"], bool):
                problems["enabled"] = ["must be true or false"]
            else:
                out["enabled"] = body["enabled"]
        if problems:
            raise errors.InvalidRequest("the endpoint is not valid", errors=problems)
        if "url" in out:
            self._check_url(out["url"])
        return out

    def _check_url(self, url: str) -> None:
        try:
            check_url(
                url,
                production=self.settings.is_production,
                trusted=self.settings.webhook_trusted_networks,
                resolve=resolve_within(self._resolve or socket.getaddrinfo, LOOKUP_SECONDS),
            )
        except UnsafeURL as exc:
            raise errors.WebhookUrlNotAllowed(str(exc), reason=exc.code) from exc
