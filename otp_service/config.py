"""Settings: read from the environment once at start-up, validated, then immutable.

Development (the default) fills every missing value with a documented default so that
`make run` works with nothing set; production refuses to start without its secrets and
says which one is missing in a single line (``ConfigError``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from otp_service.delivery.routing import DeliveryConfig, load_delivery_config
from otp_service.errors import ConfigError
from otp_service.keywords import DEFAULT_KEYWORDS, KEYWORD_TABLE, OPT_IN, OPT_OUT, Keywords
from otp_service.phones import E164
from otp_service.store.redis_url import parse_redis_url
from otp_service.telnyx.webhooks import load_public_key

__all__ = ["ApiKey", "ConfigError", "Settings", "DEV_DEFAULTS"]

SANDBOX_URL = "http://127.0.0.1:8001/v2"
TELNYX_URL = "https://api.telnyx.com/v2"

# The values development mode uses when a variable is unset (documented in the README).
DEV_DEFAULTS = {
    "OTP_SECRET": "dev-only-secret-do-not-use-in-production-0000",
    "OTP_FACTOR_KEY": "dev-only-factor-key-do-not-use-in-production-00",
    "OTP_API_KEYS": "dev:dev-client-key",
    "OTP_ADMIN_KEYS": "dev-admin:dev-admin-key",
    "TELNYX_API_KEY": "sandbox-key",
    "TELNYX_FROM_NUMBER": "+13125550100",
}

_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SHA256 = re.compile(r"^sha256:([0-9a-fA-F]{64})$")


@dataclass(frozen=True)
class ApiKey:
    """A configured key: only its SHA-256 digest is kept in memory, never the key."""

    id: str
    digest: bytes


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    redis_url: str | None = None
    data_dir: str = ".data"
    secret: bytes = b""
    api_keys: tuple[ApiKey, ...] = ()
    admin_keys: tuple[ApiKey, ...] = ()
    telnyx_api_key: str = ""
    telnyx_base_url: str = TELNYX_URL
    telnyx_public_keys: tuple[str, ...] = ()
    telnyx_messaging_profile_id: str | None = None
    telnyx_from_number: str | None = None
    telnyx_timeout: float = 10.0
    public_base_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    key_prefix: str = "otp"
    app_name: str = "otp-service"
    code_length: int = 6
    ttl_seconds: int = 600
    max_attempts: int = 5
    max_sends: int = 5
    resend_cooldown_seconds: int = 30
    retention_seconds: int = 3600
    history_days: int = 30
    # networks webhook endpoints may be in besides public ones (an operator's own)
    webhook_trusted_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    failure_limit: int = 100
    lockout_seconds: int = 3600
    # The SMS-pumping guard: enforce, shadow (count and log only) or off; 0 = no cap.
    guard_mode: str = "enforce"
    limit_phone_hour: int = 10
    limit_phone_day: int = 20
    limit_key_minute: int = 600
    limit_prefix_hour: int = 30
    limit_country_hour: int = 1000
    limit_global_day: int = 20000
    # per end user, from the create's optional signals (IPv6 by /64); 0 = no cap
    limit_ip_hour: int = 0
    limit_device_hour: int = 0
    min_code_length: int = 6
    # TOTP factors (factors.py): the key their secrets are encrypted under, the RFC 6238
    # parameters of new factors, how long an unverified one lives, failures per time step.
    factor_key: bytes = b""
    totp_algorithm: str = "SHA1"
    totp_digits: int = 6
    totp_period: int = 30
    totp_issuer: str = "otp-service"
    factor_unverified_ttl_seconds: int = 600
    factor_max_attempts: int = 5
    idempotency_ttl_seconds: int = 86400
    max_body_bytes: int = 16384
    # Routes, allowed countries, WhatsApp template, WebOTP/app hash (delivery/routing.py).
    delivery: DeliveryConfig | None = None
    webhook_max_bytes: int = 65536
    # Whole inbound messages that opt their sender out / back in (keywords.py).
    keywords: Keywords = DEFAULT_KEYWORDS
    access_log: bool = True
    access_log_flush_ms: int = 100  # request lines written in batches this often; 0: at once
    # GET /metrics: open, or the SHA-256 digest of the Bearer token it needs; neither in
    # production without OTP_METRICS_TOKEN (refused until it is set: a token, or "off").
    metrics_open: bool = True
    metrics_token_digest: bytes | None = None
    # Development without a Telnyx key of its own: `serve` starts the sandbox.
    uses_sandbox: bool = False

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def webhook_url(self) -> str | None:
        if not self.public_base_url:
            return None
        return self.public_base_url.rstrip("/") + "/v1/webhooks/telnyx"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); raise ``ConfigError``."""
        env = _Env(os.environ if environ is None else environ)
        mode = env.choice("OTP_ENV", ("development", "production"), "development")
        production = mode == "production"
        if not production:
            env.defaults = DEV_DEFAULTS

        secret = env.required("OTP_SECRET")
        if production and len(secret.encode()) < 32:
            raise ConfigError("OTP_SECRET must be at least 32 bytes in production")
        own_telnyx_key = env.optional_own("TELNYX_API_KEY")
        telnyx_key = env.required("TELNYX_API_KEY")
        redis_url = env.optional("REDIS_URL")
        if production and not redis_url:
            raise ConfigError("REDIS_URL is required in production (no embedded Redis there)")
        if redis_url:
            try:
                parse_redis_url(redis_url)
            except ValueError as exc:
                raise ConfigError(f"REDIS_URL is invalid: {exc}") from None
        public_keys = tuple(_split(env.optional("TELNYX_PUBLIC_KEYS") or ""))
        if production and not public_keys:
            raise ConfigError("TELNYX_PUBLIC_KEYS is required in production (webhook signatures)")
        for key in public_keys:
            _check_public_key(key)
        from_number = env.optional("TELNYX_FROM_NUMBER")
        if from_number and not E164.fullmatch(from_number):
            raise ConfigError("TELNYX_FROM_NUMBER must be an E.164 number such as +13125550100")
        profile_id = env.optional("TELNYX_MESSAGING_PROFILE_ID")
        delivery = load_delivery_config(env.optional, production=production)
        # Development talks to the sandbox unless a real Telnyx key was given.
        default_url = TELNYX_URL if production or own_telnyx_key else SANDBOX_URL
        base_url = env.optional("TELNYX_BASE_URL") or default_url
        host = env.optional("HOST") or ("0.0.0.0" if production else "127.0.0.1")  # noqa: S104
        port = env.integer("PORT", 8000, 1, 65535)
        public_base_url = env.optional("OTP_PUBLIC_BASE_URL")
        if public_base_url is None and not production and "OTP_PUBLIC_BASE_URL" not in env.environ:
            public_base_url = f"http://127.0.0.1:{port}"  # where `serve` listens
        # ASVS 2.7.6: at least 20 bits of entropy, i.e. 6 digits, unless lowered on purpose
        min_code_length = env.integer("OTP_MIN_CODE_LENGTH", 6, 4, 10)
        code_length = env.integer("OTP_CODE_LENGTH", max(6, min_code_length), min_code_length, 10)
        ttl = env.integer("OTP_TTL_SECONDS", 600, 60, 600)
        return cls(
            env=mode,
            redis_url=redis_url,
            data_dir=env.optional("OTP_DATA_DIR") or ".data",
            secret=secret.encode(),
            api_keys=_parse_keys("OTP_API_KEYS", env.required("OTP_API_KEYS")),
            admin_keys=_parse_keys("OTP_ADMIN_KEYS", env.required("OTP_ADMIN_KEYS")),
            telnyx_api_key=telnyx_key,
            telnyx_base_url=base_url.rstrip("/"),
            telnyx_public_keys=public_keys,
            telnyx_messaging_profile_id=profile_id,
            telnyx_from_number=from_number,
            telnyx_timeout=env.number("TELNYX_TIMEOUT_SECONDS", 10.0, 0.1, 60.0),
            public_base_url=public_base_url,
            host=host,
            port=port,
            key_prefix=env.optional("OTP_KEY_PREFIX") or "otp",
            app_name=env.optional("OTP_APP_NAME") or "otp-service",
            code_length=code_length,
            min_code_length=min_code_length,
            ttl_seconds=ttl,
            max_attempts=env.integer("OTP_MAX_ATTEMPTS", 5, 1, 20),
            max_sends=env.integer("OTP_MAX_SENDS", 5, 1, 20),
            resend_cooldown_seconds=env.integer("OTP_RESEND_COOLDOWN_SECONDS", 30, 0, 3600),
            retention_seconds=env.integer("OTP_RETENTION_SECONDS", 3600, 0, 30 * 86400),
            history_days=env.integer("OTP_HISTORY_DAYS", 30, 1, 400),
            webhook_trusted_networks=_networks(env.optional("OTP_WEBHOOK_TRUSTED_NETWORKS")),
            failure_limit=env.integer("OTP_FAILURE_LIMIT", 100, 1, 100),
            lockout_seconds=env.integer("OTP_LOCKOUT_SECONDS", 3600, 1, 7 * 86400),
            **_guard_settings(env),
            idempotency_ttl_seconds=env.integer(
                "OTP_IDEMPOTENCY_TTL_SECONDS", 86400, 60, 7 * 86400
            ),
            max_body_bytes=env.integer("OTP_MAX_BODY_BYTES", 16384, 1024, 1048576),
            delivery=delivery,
            webhook_max_bytes=env.integer("OTP_WEBHOOK_MAX_BYTES", 65536, 4096, 1048576),
            keywords=_keywords(env),
            access_log=env.choice("OTP_ACCESS_LOG", ("on", "off"), "on") == "on",
            access_log_flush_ms=env.integer("OTP_ACCESS_LOG_FLUSH_MS", 100, 0, 10000),
            **_metrics_settings(env, production),
            **_factor_settings(env, production),
            uses_sandbox=not production and not own_telnyx_key,
        )

    def replace(self, **changes: object) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)  # type: ignore[arg-type]


class _Env:
    """Typed reads of environment variables, with development defaults."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.defaults: Mapping[str, str] = {}

    def optional(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or self.defaults.get(name)

    def optional_own(self, name: str) -> str | None:
        """The value set in the environment itself, ignoring development defaults."""
        return self.environ.get(name, "").strip() or None

    def required(self, name: str) -> str:
        value = self.optional(name)
        if not value:
            raise ConfigError(f"{name} is required when OTP_ENV=production")
        return value

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.optional(name) or default
        if value not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        return self._bounded(name, default, low, high, int, "an integer")

    def number(self, name: str, default: float, low: float, high: float) -> float:
        return self._bounded(name, default, low, high, float, "a number")

    def _bounded(self, name, default, low, high, parse, kind):  # noqa: ANN001, ANN202
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = parse(raw)
        except ValueError:
            raise ConfigError(f"{name} must be {kind} (got {raw!r})") from None
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high} (got {value})")
        return value


def _metrics_settings(env: _Env, production: bool) -> dict[str, object]:
    """Who may read /metrics (OTP_METRICS_TOKEN): holders of the token; anyone with
    ``off`` or in development without one; in production without it, nobody."""
    value = env.optional("OTP_METRICS_TOKEN")
    if value == "off":  # noqa: S105 - the word that opens /metrics, not a password
        return {"metrics_open": True, "metrics_token_digest": None}
    if value is None:
        return {"metrics_open": not production, "metrics_token_digest": None}
    return {"metrics_open": False, "metrics_token_digest": hashlib.sha256(value.encode()).digest()}


def _guard_settings(env: _Env) -> dict[str, object]:
    """The SMS-pumping guard's mode and caps (see guard.py)."""
    big = 10**9
    return {
        "guard_mode": env.choice("OTP_GUARD_MODE", ("enforce", "shadow", "off"), "enforce"),
        "limit_phone_hour": env.integer("OTP_LIMIT_PHONE_HOUR", 10, 0, big),
        "limit_phone_day": env.integer("OTP_LIMIT_PHONE_DAY", 20, 0, big),
        "limit_key_minute": env.integer("OTP_LIMIT_KEY_MINUTE", 600, 0, big),
        "limit_prefix_hour": env.integer("OTP_LIMIT_PREFIX_HOUR", 30, 0, big),
        "limit_country_hour": env.integer("OTP_LIMIT_COUNTRY_HOUR", 1000, 0, big),
        "limit_global_day": env.integer("OTP_LIMIT_GLOBAL_DAY", 20000, 0, big),
        "limit_ip_hour": env.integer("OTP_LIMIT_IP_HOUR", 0, 0, big),
        "limit_device_hour": env.integer("OTP_LIMIT_DEVICE_HOUR", 0, 0, big),
    }


def _factor_settings(env: _Env, production: bool) -> dict[str, object]:
    """TOTP factors: OTP_FACTOR_KEY (required in production) and the TOTP parameters."""
    key = env.required("OTP_FACTOR_KEY")
    if production and len(key.encode()) < 32:
        raise ConfigError("OTP_FACTOR_KEY must be at least 32 bytes in production")
    issuer = env.optional("OTP_TOTP_ISSUER") or env.optional("OTP_APP_NAME") or "otp-service"
    if ":" in issuer or not issuer.isprintable() or len(issuer) > 64:
        raise ConfigError(
            "OTP_TOTP_ISSUER (default OTP_APP_NAME) must be 1 to 64 printable characters "
            "without ':'"
        )
    return {
        "factor_key": key.encode(),
        "totp_algorithm": env.choice("OTP_TOTP_ALGORITHM", ("SHA1", "SHA256", "SHA512"), "SHA1"),
        "totp_digits": env.integer("OTP_TOTP_DIGITS", 6, 6, 8),
        "totp_period": env.integer("OTP_TOTP_PERIOD", 30, 15, 300),
        "totp_issuer": issuer,
        "factor_unverified_ttl_seconds": env.integer(
            "OTP_FACTOR_UNVERIFIED_TTL_SECONDS", 600, 60, 86400
        ),
        "factor_max_attempts": env.integer("OTP_FACTOR_MAX_ATTEMPTS", 5, 1, 20),
    }


def _keywords(env: _Env) -> Keywords:
    """OTP_OPTOUT_KEYWORDS / OTP_OPTIN_KEYWORDS (comma-separated): each replaces its
    default list of ``keywords.KEYWORD_TABLE``."""
    opt_out = env.optional("OTP_OPTOUT_KEYWORDS")
    opt_in = env.optional("OTP_OPTIN_KEYWORDS")
    if opt_out is None and opt_in is None:
        return DEFAULT_KEYWORDS
    try:
        return Keywords.of(
            KEYWORD_TABLE[OPT_OUT] if opt_out is None else _split(opt_out),
            KEYWORD_TABLE[OPT_IN] if opt_in is None else _split(opt_in),
            names=("OTP_OPTOUT_KEYWORDS", "OTP_OPTIN_KEYWORDS"),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _parse_keys(name: str, value: str) -> tuple[ApiKey, ...]:
    """Parse ``[id:]key`` or ``[id:]sha256:<hex>`` entries, comma-separated."""
    keys = []
    for entry in _split(value):
        key_id, secret = None, entry
        head, sep, rest = entry.partition(":")
        if sep and head != "sha256" and _KEY_ID.match(head) and rest:
            key_id, secret = head, rest
        hashed = _SHA256.match(secret)
        if hashed:
            digest = bytes.fromhex(hashed.group(1))
        elif secret.startswith("sha256:"):
            raise ConfigError(f"{name}: a sha256: key must be 64 hexadecimal characters")
        else:
            if len(secret) < 8:
                raise ConfigError(f"{name}: every key must be at least 8 characters")
            digest = hashlib.sha256(secret.encode()).digest()
        keys.append(ApiKey(id=key_id or "key-" + digest.hex()[:8], digest=digest))
    if not keys:
        raise ConfigError(f"{name} must list at least one key")
    ids = [k.id for k in keys]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{name}: key ids must be unique")
    return tuple(keys)


def _check_public_key(value: str) -> None:
    try:
        load_public_key(value)
    except ValueError:
        raise ConfigError(
            "TELNYX_PUBLIC_KEYS: every key must be a base64 Ed25519 public key (32 bytes)"
        ) from None


def _networks(raw: str | None) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """OTP_WEBHOOK_TRUSTED_NETWORKS: comma-separated CIDRs (10.0.0.0/8, fd00::/8)."""
    out = []
    for item in filter(None, (part.strip() for part in (raw or "").split(","))):
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"OTP_WEBHOOK_TRUSTED_NETWORKS: {item!r} is not a network such as 10.0.0.0/8"
            ) from None
    return tuple(out)
