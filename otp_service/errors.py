"""Every error the API answers with, and the one handler that renders it.

Errors are RFC 9457 problem documents (``application/problem+json``) carrying a stable
machine-readable ``code``. The service raises ``ServiceError`` subclasses; views never
catch them; ``api/problems.py`` turns them (and Werkzeug's HTTP errors, and a lost Redis)
into problem documents. Nothing here ever echoes a code, a key or a secret.

    ServiceError                      status code
    ├── InvalidRequest                400/422 invalid_request
    │   ├── PayloadTooLarge           413 payload_too_large
    │   ├── UnsupportedMediaType      415 unsupported_media_type
    │   ├── RequestTimeout            408 request_timeout (the body did not arrive in time)
    │   └── WebhookUrlNotAllowed      422 webhook_url_not_allowed (+ reason)
    ├── MethodNotAllowed              405 method_not_allowed
    ├── Unauthorized                  401 unauthorized
    ├── InvalidSignature              401 invalid_signature
    ├── Forbidden                     403 forbidden
    │   └── DestinationNotAllowed     403 destination_not_allowed
    ├── NotFound                      404 not_found
    │   ├── VerificationNotFound      404 verification_not_found
    │   ├── FactorNotFound            404 factor_not_found
    │   ├── OptOutNotFound            404 optout_not_found
    │   ├── ProfileNotFound           404 profile_not_found
    │   ├── WebhookEndpointNotFound   404 webhook_endpoint_not_found
    │   └── WebhookDeliveryNotFound   404 webhook_delivery_not_found
    ├── Conflict                      409 conflict (Telnyx answered 409 to an admin change)
    │   ├── RecipientOptedOut         409 recipient_opted_out
    │   ├── AlreadyApproved           409 already_approved
    │   ├── RequestInProgress         409 request_in_progress
    │   ├── FactorAlreadyVerified     409 factor_already_verified
    │   ├── FactorNotVerified         409 factor_not_verified
    │   └── TooManyFactors            409 too_many_factors
    ├── RateLimited                   429 rate_limited (+ Retry-After, reason)
    ├── MaxAttemptsReached            429 max_attempts_reached
    ├── InternalError                 500 internal_error
    ├── ProviderError                 502 provider_error
    │   └── ProviderUnavailable       503 provider_unavailable
    └── StorageUnavailable            503 storage_unavailable
"""

from __future__ import annotations

import math
from typing import Any

import redis.exceptions

__all__ = [
    "REDIS_UNAVAILABLE",
    "AlreadyApproved",
    "ConfigError",
    "Conflict",
    "DestinationNotAllowed",
    "FactorAlreadyVerified",
    "FactorNotFound",
    "FactorNotVerified",
    "Forbidden",
    "InternalError",
    "InvalidRequest",
    "InvalidSignature",
    "MaxAttemptsReached",
    "MethodNotAllowed",
    "NotFound",
    "OptOutNotFound",
    "PayloadTooLarge",
    "ProfileNotFound",
    "ProviderError",
    "ProviderUnavailable",
    "RateLimited",
    "RecipientOptedOut",
    "RequestInProgress",
    "RequestTimeout",
    "ServiceError",
    "StorageUnavailable",
    "TooManyFactors",
    "Unauthorized",
    "UnsupportedMediaType",
    "VerificationNotFound",
    "WebhookDeliveryNotFound",
    "WebhookEndpointNotFound",
    "WebhookUrlNotAllowed",
]


class ConfigError(Exception):
    """A setting is missing or invalid; the message is one line naming the variable."""


class ServiceError(Exception):
    status: int = 500
    code: str = "internal_error"
    title: str = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if status is not None:
            self.status = status
        self.headers = headers or {}
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body = {
            "type": f"urn:otp-service:problem:{self.code}",
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


class InvalidRequest(ServiceError):
    status, code, title = 422, "invalid_request", "Invalid request"


class WebhookUrlNotAllowed(InvalidRequest):
    """The endpoint URL is not https (production) or reaches a non-public address."""

    status, code, title = 422, "webhook_url_not_allowed", "Webhook URL not allowed"


class PayloadTooLarge(InvalidRequest):
    status, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(InvalidRequest):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class RequestTimeout(InvalidRequest):
    """The body did not arrive in time (gunicorn_conf.py's read deadline)."""

    status, code, title = 408, "request_timeout", "Request timeout"


class MethodNotAllowed(ServiceError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class Unauthorized(ServiceError):
    status, code, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="otp-service"'})
        super().__init__(detail, **kwargs)


class InvalidSignature(ServiceError):
    status, code, title = 401, "invalid_signature", "Webhook signature not valid"


class Forbidden(ServiceError):
    status, code, title = 403, "forbidden", "Forbidden"


class DestinationNotAllowed(Forbidden):
    status, code, title = 403, "destination_not_allowed", "Destination not allowed"


class NotFound(ServiceError):
    status, code, title = 404, "not_found", "Not found"


class VerificationNotFound(NotFound):
    status, code, title = 404, "verification_not_found", "Verification not found"


class FactorNotFound(NotFound):
    status, code, title = 404, "factor_not_found", "Factor not found"


class OptOutNotFound(NotFound):
    status, code, title = 404, "optout_not_found", "Opt-out not found"


class ProfileNotFound(NotFound):
    status, code, title = 404, "profile_not_found", "Profile not found"


class WebhookEndpointNotFound(NotFound):
    status, code, title = 404, "webhook_endpoint_not_found", "Webhook endpoint not found"


class WebhookDeliveryNotFound(NotFound):
    status, code, title = 404, "webhook_delivery_not_found", "Webhook delivery not found"


class Conflict(ServiceError):
    status, code, title = 409, "conflict", "Conflict"


class RecipientOptedOut(Conflict):
    status, code, title = 409, "recipient_opted_out", "Recipient opted out"


class AlreadyApproved(Conflict):
    status, code, title = 409, "already_approved", "Verification already approved"


class RequestInProgress(Conflict):
    status, code, title = 409, "request_in_progress", "Request in progress"


class FactorAlreadyVerified(Conflict):
    status, code, title = 409, "factor_already_verified", "Factor already verified"


class FactorNotVerified(Conflict):
    status, code, title = 409, "factor_not_verified", "Factor not verified"


class TooManyFactors(Conflict):
    status, code, title = 409, "too_many_factors", "Too many factors"


class RateLimited(ServiceError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, detail: str, *, reason: str, retry_after: float, **kwargs: Any) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            detail,
            headers={"Retry-After": str(seconds)},
            reason=reason,
            retry_after=seconds,
            **kwargs,
        )


class MaxAttemptsReached(ServiceError):
    status, code, title = 429, "max_attempts_reached", "Maximum check attempts reached"


class InternalError(ServiceError):
    status, code, title = 500, "internal_error", "Internal error"


class ProviderError(ServiceError):
    status, code, title = 502, "provider_error", "Messaging provider error"


class ProviderUnavailable(ProviderError):
    status, code, title = 503, "provider_unavailable", "Messaging provider unavailable"


class StorageUnavailable(ServiceError):
    status, code, title = 503, "storage_unavailable", "Storage unavailable"


# Redis failures that mean "storage is not reachable right now", as opposed to a bug.
REDIS_UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.MasterDownError,
    # redirects or TRYAGAIN answers that did not settle (a slot still moving): not run
    redis.exceptions.ClusterError,
)
