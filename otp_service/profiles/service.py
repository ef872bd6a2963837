"""ProfileService: profiles and their keys for operators (create, update, delete, preview,
keys), and each request's profile for the views (``settings_for``, ``resolve_key``).

No Flask. Every change runs inside the audit log's ``audited`` (given, not imported: a
service does not import another), and reloads this process's ring at once so that the
operator's next call sees it; other processes see it within the ring's bound
(``keys.REVOCATION_BOUND_SECONDS``).

The profile ``default`` is the environment's settings and ``OTP_API_KEYS``: it is shown
like any other but is read-only here (409 ``conflict``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from otp_service import errors
from otp_service.config import Settings
from otp_service.delivery.fallback import never_sends
from otp_service.ids import DEFAULT_PROFILE, PROFILE_PATTERN, new_suffix
from otp_service.profiles.keys import KEY_ID_PATTERN, KeyRing, new_key, stored_key
from otp_service.profiles.model import (
    LOCALE,
    RANGES,
    StoredProfile,
    app_name_problems,
    check_fields,
    message_problems,
    preview,
    profile_dict,
    settings_dict,
)
from otp_service.profiles.settings import ProfileSettings, effective
from otp_service.store.profiles import ProfileStore, StoredKey
from otp_service.store.webhooks import WebhookStore
from otp_service.timefmt import iso_time

__all__ = ["Auditor", "ProfileService", "new_profile_id"]

log = logging.getLogger(__name__)

_KEY_ID = re.compile(KEY_ID_PATTERN)
_UPDATE_TRIES = 5
READ_ONLY = (
    "the profile default is read-only: it is the environment's settings (OTP_* variables) "
    "and its keys are OTP_API_KEYS"
)


class Page(Protocol):
    """``admin.page.Page``'s shape (a service does not import another)."""

    @property
    def offset(self) -> int: ...
    @property
    def size(self) -> int: ...
    def meta(self, total: int) -> dict[str, int]: ...


class Auditor(Protocol):
    """``admin.audit.AuditLog``'s ``audited``."""

    def audited(
        self, actor: str, action: str, target: str, detail: dict[str, Any]
    ) -> AbstractContextManager[dict[str, Any]]: ...


def new_profile_id() -> str:
    return "pf_" + new_suffix()


class ProfileService:
    def __init__(
        self,
        settings: Settings,
        store: ProfileStore,
        ring: KeyRing,
        audit: Auditor,
        clock: Callable[[], float] = time.time,
        webhooks: WebhookStore | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.webhooks = webhooks  # a deleted profile's endpoints go with it
        self.ring = ring
        self.audit = audit
        self.clock = clock
        self.default = effective(settings)
        for why in app_name_problems(self.default):  # not refused: installs run as before
            log.warning(
                "OTP_APP_NAME %r %s (its codes go out all the same)", settings.app_name, why
            )

    # -- each request ---------------------------------------------------------------------
    def settings_for(self, profile_id: str) -> ProfileSettings | None:
        """The settings a request of ``profile_id`` runs with (from the ring: no round
        trip once loaded); None for a profile deleted since."""
        if profile_id == DEFAULT_PROFILE:
            return self.default
        return self.ring.settings_for(profile_id)

    def resolve_key(self, digest: bytes) -> tuple[str, str] | None:
        """(key id, profile id) of a profile key's SHA-256 digest, or None."""
        return self.ring.resolve(digest)

    # -- profiles -------------------------------------------------------------------------
    def list_page(self, page: Page) -> dict[str, Any]:
        """``default`` first, then the others oldest first."""
        stored = sorted(
            (
                StoredProfile.from_json(pid, raw)
                for pid, raw in self.store.snapshot().profiles.items()
            ),
            key=lambda p: (p.created_at, p.id),
        )
        rows = [self._default_dict()] + [self._dict(p) for p in stored]
        return {
            "data": rows[page.offset : page.offset + page.size],
            "meta": page.meta(len(rows)),
        }

    def get(self, profile_id: str) -> dict[str, Any]:
        if self._known(profile_id) == DEFAULT_PROFILE:
            return self._default_dict()
        return self._dict(self._read(profile_id)[0])

    def create(self, fields: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
        profile_id = new_profile_id()
        detail = {"fields": sorted(fields)}
        with self.audit.audited(actor, "profile.create", profile_id, detail) as outcome:
            checked = check_fields(fields, self.settings)
            now = self._now_ms()
            profile = StoredProfile(
                id=profile_id,
                name=checked.pop("name", None),
                overrides={k: v for k, v in checked.items() if v is not None},
                created_at=now,
                updated_at=now,
            )
            self._consistent(profile)
            if not self.store.create(profile_id, profile.to_json()):
                raise errors.Conflict("a profile with this id exists; try again")
            outcome.update(result="created", status=201)
        self.ring.reload()
        return self._dict(profile)

    def update(self, profile_id: str, fields: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
        detail = {"fields": sorted(fields)}
        with self.audit.audited(actor, "profile.update", profile_id[:64], detail) as outcome:
            self._writable(profile_id)
            checked = check_fields(fields, self.settings)
            for _ in range(_UPDATE_TRIES):
                current, raw = self._read(profile_id)
                overrides = dict(current.overrides)
                name = current.name
                for field, value in checked.items():
                    if field == "name":
                        name = value
                    elif value is None:
                        overrides.pop(field, None)
                    else:
                        overrides[field] = value
                updated = StoredProfile(
                    profile_id, name, overrides, current.created_at, self._now_ms()
                )
                self._consistent(updated, current)
                done = self.store.update(profile_id, raw, updated.to_json())
                if done == 0:
                    raise errors.ProfileNotFound(f"no profile {profile_id}")
                if done == 1:
                    break
            else:
                raise errors.Conflict("the profile changed while it was updated; try again")
            outcome["result"] = "updated"
        self.ring.reload()
        return self._dict(updated)

    def delete(self, profile_id: str, *, actor: str) -> None:
        """Delete the profile; its keys are revoked in the same step, then its webhook
        endpoints deleted (no route reaches them once it is gone); the worker then removes
        its verifications and TOTP factors from Redis (``profiles/purge.py``)."""
        with self.audit.audited(actor, "profile.delete", profile_id[:64], {}) as outcome:
            self._writable(profile_id)
            if not self.store.delete(profile_id):
                raise errors.ProfileNotFound(f"no profile {profile_id}")
            detail: dict[str, Any] = {}
            if self.webhooks is not None:
                detail["webhook_endpoints"] = self.webhooks.delete_profile_endpoints(profile_id)
            outcome.update(result="deleted", status=204, detail=detail)
        self.ring.reload()

    def preview(
        self, profile_id: str, locale: str | None = None, code_length: int | None = None
    ) -> dict[str, Any]:
        """The exact text a verification would send (with a sample code), its encoding and
        its SMS segments."""
        if self._known(profile_id) == DEFAULT_PROFILE:
            profile = self.default
        else:
            stored = self._read(profile_id)[0]
            profile = effective(self.settings, profile_id, stored.overrides)
        problems: dict[str, list[str]] = {}
        if locale is not None and (not isinstance(locale, str) or not LOCALE.fullmatch(locale)):
            problems["locale"] = ["must be a locale like en or pt-BR"]
        low, high = max(RANGES["code_length"][0], self.settings.min_code_length), 10
        if code_length is not None and (
            isinstance(code_length, bool)
            or not isinstance(code_length, int)
            or not low <= code_length <= high
        ):
            problems["code_length"] = [f"must be an integer from {low} to {high}"]
        if problems:
            raise errors.InvalidRequest("the preview request is not valid", errors=problems)
        return {"data": preview(profile, locale, code_length)}

    # -- keys -----------------------------------------------------------------------------
    def create_key(self, profile_id: str, *, actor: str) -> dict[str, Any]:
        """A new key, in the answer only: Redis keeps its digest."""
        with self.audit.audited(actor, "profile_key.create", profile_id[:64], {}) as outcome:
            self._writable(profile_id)
            key = new_key()
            stored = stored_key(profile_id, key, self._now_ms())
            if not self.store.add_key(stored):
                raise errors.ProfileNotFound(f"no profile {profile_id}")
            outcome.update(result="created", status=201, detail={"key_id": stored.id})
        self.ring.reload()
        return {"data": {**_key_dict(stored), "key": key}}

    def list_keys(self, profile_id: str) -> dict[str, Any]:
        if self._known(profile_id) == DEFAULT_PROFILE:
            rows = [
                {
                    "id": k.id,
                    "profile_id": DEFAULT_PROFILE,
                    "prefix": None,
                    "created_at": None,
                    "last_used_at": None,
                }
                for k in self.settings.api_keys
            ]
            return {"data": rows}
        self._read(profile_id)
        return {"data": [_key_dict(k) for k in self.store.list_keys(profile_id)]}

    def revoke_key(self, profile_id: str, key_id: str, *, actor: str) -> None:
        target = f"{profile_id[:64]}/{key_id[:40]}"
        with self.audit.audited(actor, "profile_key.revoke", target, {}) as outcome:
            self._writable(profile_id)
            if not _KEY_ID.fullmatch(key_id) or not self.store.revoke_key(profile_id, key_id):
                self._read(profile_id)  # 404 profile_not_found first, if that is why
                raise errors.NotFound(f"no key {key_id[:40]} in profile {profile_id}")
            outcome.update(result="revoked", status=204)
        self.ring.reload()

    def close(self) -> None:
        self.ring.close()

    # -- helpers --------------------------------------------------------------------------
    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _known(self, profile_id: str) -> str:
        """``profile_id`` if it has a profile id's form, else 404 ``profile_not_found``."""
        if profile_id != DEFAULT_PROFILE and not PROFILE_PATTERN.fullmatch(profile_id):
            raise errors.ProfileNotFound("no such profile: ids are pf_ and 16 characters a-z, 2-7")
        return profile_id

    def _consistent(self, profile: StoredProfile, before: StoredProfile | None = None) -> None:
        """Refuse what each field allows alone but not with the others (or with the
        environment's values they fall back on). An update (``before``: the profile it
        changes) is refused only for what it makes so: a template or fallback it leaves as
        it was (saved before these checks, or with an environment changed since) does not
        stop a change of another field."""
        problems = self._problems(profile)
        if before is not None and problems:
            kept = self._problems(before)
            texts = effective(self.settings, profile.id, profile.overrides).templates
            old_texts = effective(self.settings, before.id, before.overrides).templates
            templates = {
                language: why
                for language, why in problems.get("templates", {}).items()
                if kept.get("templates", {}).get(language) != why
                or texts.get(language) != old_texts.get(language)
            }
            same_fallback = all(
                profile.overrides.get(field) == before.overrides.get(field)
                for field in ("fallback", "routes")
            )
            same_text = all(
                profile.overrides.get(field) == before.overrides.get(field)
                for field in ("app_name", "templates", "webotp_domain", "android_app_hash")
            )
            problems = {
                **({"templates": templates} if templates else {}),
                **(
                    {"app_name": problems["app_name"]}
                    if "app_name" in problems
                    and (kept.get("app_name") != problems["app_name"] or not same_text)
                    else {}
                ),
                **(
                    {"fallback": problems["fallback"]}
                    if "fallback" in problems
                    and (kept.get("fallback") != problems["fallback"] or not same_fallback)
                    else {}
                ),
            }
        if problems:
            raise errors.InvalidRequest("the profile is not valid", errors=problems)

    def _problems(self, profile: StoredProfile) -> dict[str, Any]:
        settings = effective(self.settings, profile.id, profile.overrides)
        problems: dict[str, Any] = {}
        templates = message_problems(settings)
        if templates:
            problems["templates"] = templates
        # the profile's own name only: OTP_APP_NAME, which it may inherit, is not measured
        app_name = app_name_problems(settings) if "app_name" in profile.overrides else []
        if app_name:
            problems["app_name"] = app_name
        own = "fallback" in profile.overrides
        # OTP_FALLBACK is checked against OTP_ROUTES at start-up: a profile's own routes
        # can strand it, so a profile that inherits it is checked here too.
        if settings.fallback is not None and (own or "routes" in profile.overrides):
            routes = settings.routes
            if routes is None:
                routes = self.settings.delivery.routes if self.settings.delivery else {}
            why = never_sends(settings.fallback, routes)
            if why and own:
                problems["fallback"] = [f"{why} (the profile's routes, else the environment's)"]
            elif why:
                problems["fallback"] = [
                    "the service-wide fallback (OTP_FALLBACK) that the profile inherits could "
                    f"never send with these routes: {why}; set the profile's own fallback, "
                    'e.g. {"on": []} to switch it off'
                ]
        return problems

    def _writable(self, profile_id: str) -> None:
        if self._known(profile_id) == DEFAULT_PROFILE:
            raise errors.Conflict(READ_ONLY)

    def _read(self, profile_id: str) -> tuple[StoredProfile, str]:
        self._known(profile_id)
        raw = self.store.get(profile_id)
        if raw is None:
            raise errors.ProfileNotFound(f"no profile {profile_id}")
        return StoredProfile.from_json(profile_id, raw), raw

    def _dict(self, stored: StoredProfile) -> dict[str, Any]:
        return profile_dict(stored, effective(self.settings, stored.id, stored.overrides))

    def _default_dict(self) -> dict[str, Any]:
        return {
            "id": DEFAULT_PROFILE,
            "name": DEFAULT_PROFILE,
            "read_only": True,
            "created_at": None,
            "updated_at": None,
            "overrides": {},
            "settings": settings_dict(self.default),
        }


def _key_dict(key: StoredKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "profile_id": key.profile_id,
        "prefix": key.prefix,
        "created_at": iso_time(key.created_at),
        "last_used_at": None if key.last_used_at is None else iso_time(key.last_used_at),
    }
