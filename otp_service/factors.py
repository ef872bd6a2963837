"""TOTP authenticator-app factors (RFC 6238, with pyotp): enrol, verify, check, revoke.

No Flask, no HTTP. A factor belongs to a subject (the customer's user id). It is created
``unverified`` with a fresh 160-bit secret, shown once as an ``otpauth://`` URI and a QR
code until the first right code verifies it (then ``active``); an unverified factor dies
after OTP_FACTOR_UNVERIFIED_TTL_SECONDS. DELETE removes it at once.

Secrets are kept in Redis only encrypted (AES-GCM under a key derived from
OTP_FACTOR_KEY, the factor id as associated data so a ciphertext cannot be moved to
another factor); they are never logged and never returned once the factor is verified.

A check is one Redis round trip. Comparing a code needs the secret, which Redis holds
only encrypted, so this process keeps decrypted secrets in a bounded in-memory cache
(filled at enrolment and on first use). Python compares the code with the codes of the
steps now-1, now and now+1 and hands the highest matching step (or none) to
``factor_check.lua``, which in one atomic step checks the factor's state in Redis (so a
revocation counts at once, warm cache or not), the subject's lock-out, the factor's
failures in the current time step, and replay (a step at or before the last accepted one
is refused), then records the outcome. A cold cache (first check in this process) costs
one extra read (HMGET of the ciphertext) before the script.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pyotp
import segno

from otp_service import errors, ids, metrics
from otp_service.config import Settings
from otp_service.ids import DEFAULT_PROFILE
from otp_service.sealing import InvalidTag, SecretBox
from otp_service.store import FactorCheck, NewFactor, Store
from otp_service.timefmt import iso_time

__all__ = ["ALGORITHMS", "FactorService", "factor_object"]

log = logging.getLogger(__name__)

ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
STATUSES = {"u": "unverified", "a": "active"}
SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends
DRIFT_STEPS = 1  # codes of one step before and after now are accepted
MAX_FACTORS_PER_SUBJECT = 10
CACHE_SIZE = 10_000
QR_PNG_SCALE = 8
QR_SVG_SCALE = 4


class _SecretCache:
    """Decrypted TOTP generators by factor id, least recently used dropped first.

    Factor ids are never reused and a factor's secret never changes, so an entry cannot
    go stale; a revoked factor's entry is harmless (the check script refuses the factor)
    and is dropped here when this process revokes it."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[str, pyotp.TOTP] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, factor_id: str) -> pyotp.TOTP | None:
        with self._lock:
            totp = self._items.get(factor_id)
            if totp is not None:
                self._items.move_to_end(factor_id)
            return totp

    def put(self, factor_id: str, totp: pyotp.TOTP) -> None:
        with self._lock:
            self._items[factor_id] = totp
            self._items.move_to_end(factor_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def drop(self, factor_id: str) -> None:
        with self._lock:
            self._items.pop(factor_id, None)


def _totp(secret: bytes, algorithm: str, digits: int, period: int) -> pyotp.TOTP:
    b32_secret = base64.b32encode(secret).decode("ascii")
    return pyotp.TOTP(b32_secret, digits=digits, digest=ALGORITHMS[algorithm], interval=period)


def _decoded(raw: dict[bytes, bytes]) -> dict[str, str]:
    """HGETALL of a factor as text, without its ciphertext."""
    return {k.decode(): v.decode() for k, v in raw.items() if k != b"ct"}


class FactorService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.box = SecretBox(settings.factor_key)
        self.tagger = ids.SubjectTagger(settings.factor_key)
        self.cache = _SecretCache(cache_size)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- enrol --------------------------------------------------------------------------
    def create(
        self,
        subject: str,
        *,
        issuer: str | None = None,
        label: str | None = None,
        profile: str = DEFAULT_PROFILE,
    ) -> dict[str, Any]:
        """Enrol a factor for ``subject`` in ``profile`` (the asking key's): another
        profile's keys never see it."""
        s = self.settings
        tag = self.tagger.tag(subject)
        suffix = ids.new_suffix()
        factor_id = tag + suffix
        secret = os.urandom(SECRET_BYTES)
        issuer = issuer or s.totp_issuer
        label = label or subject
        now = self.now_ms()
        ttl_ms = s.factor_unverified_ttl_seconds * 1000
        factor = NewFactor(
            suffix=suffix,
            subject=subject,
            issuer=issuer,
            label=label,
            algorithm=s.totp_algorithm,
            digits=s.totp_digits,
            period=s.totp_period,
            ciphertext=self.box.seal(factor_id, secret),
            expires_at=now + ttl_ms,
            ttl_ms=ttl_ms,
            max_factors=MAX_FACTORS_PER_SUBJECT,
        )
        if self.store.create_factor(tag, factor, now, profile) == "too_many":
            raise errors.TooManyFactors(
                f"this subject has {MAX_FACTORS_PER_SUBJECT} factors already; delete one first"
            )
        totp = _totp(secret, s.totp_algorithm, s.totp_digits, s.totp_period)
        del secret
        self.cache.put(_cached(profile, factor_id), totp)
        fields = {
            "sb": subject,
            "st": "u",
            "ca": str(now),
            "ea": str(now + ttl_ms),
            "is": issuer,
            "lb": label,
            "al": s.totp_algorithm,
            "dg": str(s.totp_digits),
            "pd": str(s.totp_period),
        }
        return self._view(factor_id, fields, totp)

    # -- verify / check -----------------------------------------------------------------
    def verify(self, factor_id: str, code: str, profile: str = DEFAULT_PROFILE) -> dict[str, Any]:
        """The first right code activates an unverified factor."""
        return self._check("verify", factor_id, code, profile)

    def check(self, factor_id: str, code: str, profile: str = DEFAULT_PROFILE) -> dict[str, Any]:
        return self._check("check", factor_id, code, profile)

    def _check(self, mode: str, factor_id: str, code: str, profile: str) -> dict[str, Any]:
        s = self.settings
        tag, suffix = self._split(factor_id)
        totp = self._cached_totp(factor_id, tag, suffix, profile)
        now = self.clock()
        now_ms = int(now * 1000)
        step = int(now // totp.interval)
        matched = None
        for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
            # Every candidate is compared (constant work); the highest match wins.
            if hmac.compare_digest(totp.generate_otp(candidate), code):
                matched = candidate
        check = FactorCheck(
            mode=mode,
            step=step,
            matched_step=matched,
            max_attempts=s.factor_max_attempts,
            failure_limit=s.failure_limit,
            lockout_ms=s.lockout_seconds * 1000,
        )
        outcome, detail = self.store.check_factor(tag, suffix, check, now_ms, profile)
        metrics.child(metrics.CHECKS, "totp", outcome).inc()
        if outcome == "not_found":
            raise errors.FactorNotFound()
        if outcome == "already_verified":
            raise errors.FactorAlreadyVerified("this factor is verified already; check codes")
        if outcome == "not_verified":
            raise errors.FactorNotVerified("verify this factor before checking codes")
        if outcome == "locked":
            metrics.child(metrics.RATE_LIMITED, "too_many_failures", "enforce").inc()
            raise errors.RateLimited(
                "too many failed checks for this subject; try again later",
                reason="too_many_failures",
                retry_after=(int(detail) - now_ms) / 1000,
            )
        if outcome == "max_attempts":
            window_end_ms = (step + 1) * totp.interval * 1000
            seconds = max(1, math.ceil((window_end_ms - now_ms) / 1000))
            raise errors.MaxAttemptsReached(
                "too many wrong codes for this factor in this time step; wait for the next",
                headers={"Retry-After": str(seconds)},
                retry_after=seconds,
            )
        if outcome == "reused":
            # ASVS 2.8.5: logged, and counted (the factor's `rc`, and otp_checks{result=reused})
            log.warning(
                "totp code reuse refused: factor %s", factor_id, extra={"factor_id": factor_id}
            )
        valid = outcome == "valid"
        active = valid or mode == "check"
        return {
            "id": factor_id,
            "status": "active" if active else "unverified",
            "valid": valid,
            "reused": outcome == "reused",
            "attempts_remaining": max(0, int(detail)),
        }

    def _cached_totp(self, factor_id: str, tag: str, suffix: str, profile: str) -> pyotp.TOTP:
        totp = self.cache.get(_cached(profile, factor_id))
        if totp is None:
            blob, algorithm, digits, period = self.store.redis.hmget(
                self.store.factor_key(tag, suffix, profile), ["ct", "al", "dg", "pd"]
            )
            if blob is None:
                raise errors.FactorNotFound()
            totp = _totp(self._open(factor_id, blob), algorithm.decode(), int(digits), int(period))
            self.cache.put(_cached(profile, factor_id), totp)
        return totp

    def _open(self, factor_id: str, blob: bytes) -> bytes:
        try:
            return self.box.open(factor_id, blob)
        except InvalidTag:
            log.error("factor secret cannot be decrypted", extra={"factor_id": factor_id})
            raise errors.InternalError(
                "the factor's secret cannot be decrypted (was OTP_FACTOR_KEY changed?)"
            ) from None

    # -- read / list / revoke -----------------------------------------------------------
    def get(self, factor_id: str, profile: str = DEFAULT_PROFILE) -> dict[str, Any]:
        """The factor; while unverified, with its otpauth URI and QR code."""
        tag, suffix = self._split(factor_id)
        raw = self.store.redis.hgetall(self.store.factor_key(tag, suffix, profile))
        fields = self._live(raw)
        totp = self._enrolment_totp(factor_id, raw, fields)
        return self._view(factor_id, fields, totp)

    def qr_png(self, factor_id: str, profile: str = DEFAULT_PROFILE) -> bytes:
        """The QR code of the otpauth URI, as PNG; only while the factor is unverified."""
        tag, suffix = self._split(factor_id)
        raw = self.store.redis.hgetall(self.store.factor_key(tag, suffix, profile))
        fields = self._live(raw)
        totp = self._enrolment_totp(factor_id, raw, fields)
        if totp is None:
            raise errors.NotFound("the QR code is shown only until the factor is verified")
        out = io.BytesIO()
        _qr(self._uri(totp, fields)).save(out, kind="png", scale=QR_PNG_SCALE)
        return out.getvalue()

    def for_subject(self, subject: str, profile: str = DEFAULT_PROFILE) -> list[dict[str, Any]]:
        """The subject's factors in ``profile`` (without URIs or QR codes), oldest first."""
        tag = self.tagger.tag(subject)
        index = self.store.redis.hgetall(self.store.subject_key(tag, profile))
        now = self.now_ms()
        suffixes = [
            name[2:].decode()
            for name, value in index.items()
            if name.startswith(b"x:") and (int(value) == 0 or int(value) > now)
        ]
        if not suffixes:
            return []
        pipe = self.store.pipeline()
        for suffix in suffixes:
            pipe.hgetall(self.store.factor_key(tag, suffix, profile))
        views = []
        for suffix, raw in zip(suffixes, pipe.execute(), strict=True):
            fields = _decoded(raw)
            if fields and fields["sb"] == subject and self._alive(fields, now):
                views.append(self._view(tag + suffix, fields, None))
        return sorted(views, key=lambda view: (view["created_at"], view["id"]))

    def delete(self, factor_id: str, profile: str = DEFAULT_PROFILE) -> None:
        """Revoke the factor: it is gone for every later check, at once."""
        tag, suffix = self._split(factor_id)
        deleted = self.store.delete_factor(tag, suffix, self.now_ms(), profile)
        self.cache.drop(_cached(profile, factor_id))
        if not deleted:
            raise errors.FactorNotFound()

    # -- helpers ------------------------------------------------------------------------
    @staticmethod
    def _split(factor_id: str) -> tuple[str, str]:
        parts = ids.split_id(factor_id)
        if parts is None:
            raise errors.FactorNotFound()
        return parts

    def _alive(self, fields: dict[str, str], now: int) -> bool:
        return fields.get("st") == "a" or (fields.get("st") == "u" and int(fields["ea"]) > now)

    def _live(self, raw: dict[bytes, bytes]) -> dict[str, str]:
        fields = _decoded(raw)
        if not fields or not self._alive(fields, self.now_ms()):
            raise errors.FactorNotFound()
        return fields

    def _enrolment_totp(
        self, factor_id: str, raw: dict[bytes, bytes], fields: dict[str, str]
    ) -> pyotp.TOTP | None:
        """The factor's TOTP while it is unverified (its URI may be shown), else None."""
        if fields["st"] != "u":
            return None
        secret = self._open(factor_id, raw[b"ct"])
        return _totp(secret, fields["al"], int(fields["dg"]), int(fields["pd"]))

    @staticmethod
    def _uri(totp: pyotp.TOTP, fields: dict[str, str]) -> str:
        return totp.provisioning_uri(name=fields["lb"], issuer_name=fields["is"])

    def _view(
        self, factor_id: str, f: dict[str, str], enrolment: pyotp.TOTP | None
    ) -> dict[str, Any]:
        view = factor_object(factor_id, f)
        if enrolment is not None:
            uri = self._uri(enrolment, f)
            svg = io.BytesIO()
            _qr(uri).save(svg, kind="svg", scale=QR_SVG_SCALE, xmldecl=False, nl=False)
            view["otpauth_uri"] = uri
            view["qr_code_svg"] = svg.getvalue().decode()
            view["qr_code_png_url"] = f"/v1/factors/{factor_id}/qr.png"
        return view


def factor_object(factor_id: str, f: dict[str, str]) -> dict[str, Any]:
    """The factor as the API returns it (openapi.yaml's Factor), from its hash's fields;
    also the ``data`` of its events."""
    return {
        "id": factor_id,
        "type": "totp",
        "subject": f["sb"],
        "status": STATUSES[f["st"]],
        "issuer": f["is"],
        "label": f["lb"],
        "algorithm": f["al"],
        "digits": int(f["dg"]),
        "period": int(f["pd"]),
        "created_at": iso_time(int(f["ca"])),
        "expires_at": iso_time(int(f["ea"])) if f["st"] == "u" and f.get("ea") else None,
        "verified_at": iso_time(int(f["va"])) if f.get("va") else None,
        "last_used_at": iso_time(int(f["lu"])) if f.get("lu") else None,
    }


def _qr(uri: str) -> segno.QRCode:
    """A regular QR code (never a Micro QR) with medium error correction or better."""
    return segno.make_qr(uri, error="m")


def _cached(profile: str, factor_id: str) -> str:
    """The secret cache's key: a factor id is unique only within its profile."""
    return factor_id if profile == DEFAULT_PROFILE else f"{profile}/{factor_id}"
