"""Errors raised by the Telnyx client.

Every error the adapter raises is a ``TelnyxError``, so callers can catch one base::

    TelnyxError
     ├── APIError                      a request to Telnyx failed
     │    ├── APIStatusError           Telnyx answered with status >= 400
     │    │    ├── BadRequestError             400
     │    │    ├── AuthenticationError         401
     │    │    ├── PermissionDeniedError       403
     │    │    ├── NotFoundError               404
     │    │    ├── ConflictError               409
     │    │    ├── UnprocessableEntityError    422
     │    │    ├── RateLimitError              429  (.retry_after)
     │    │    └── InternalServerError         >= 500
     │    └── APIConnectionError       no usable answer (DNS, refused, reset, ...)
     │         └── APITimeoutError     connect / read / write / pool timeout
     └── WebhookVerificationError      (webhooks.py) a webhook is not provably from Telnyx

``APIStatusError`` keeps Telnyx's ``errors`` list (``code``, ``title``, ``detail``,
``source``), so callers branch on Telnyx codes (``exc.codes``), not on message text.
An ``APITimeoutError`` on a message send means the outcome is unknown: the message may
have been sent. Messages never contain the API key: the client redacts it.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "TelnyxError",
    "UnprocessableEntityError",
    "make_status_error",
    "parse_retry_after",
]


class TelnyxError(Exception):
    """Base of everything the Telnyx adapter raises."""


class APIError(TelnyxError):
    """A request to Telnyx did not succeed."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class APIConnectionError(APIError):
    """Telnyx could not be reached, or the connection broke before an answer arrived."""


class APITimeoutError(APIConnectionError):
    """A connect, read, write or pool timeout."""


class APIStatusError(APIError):
    """Telnyx answered with an error status; ``errors`` is its error list."""

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code
        self.errors = errors or []
        self.request_id = response.headers.get("x-request-id")

    @property
    def codes(self) -> list[str]:
        """Telnyx error codes (e.g. ``"40300"`` for an opted-out recipient), as strings."""
        return [str(e["code"]) for e in self.errors if e.get("code") is not None]


class BadRequestError(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    pass


class UnprocessableEntityError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    """429; ``retry_after`` is the server's ``Retry-After`` in seconds, if it sent one."""

    def __init__(self, message: str, *, response: httpx.Response, **kwargs: Any) -> None:
        super().__init__(message, response=response, **kwargs)
        self.retry_after = parse_retry_after(response)


class InternalServerError(APIStatusError):
    pass


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The one place that maps an HTTP status to an exception class."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)


def make_status_error(response: httpx.Response, *, redact: str | None = None) -> APIStatusError:
    """Build the right ``APIStatusError`` from any error response, JSON or not."""
    errors = _parse_errors(response)
    if errors:
        first = errors[0]
        text = " ".join(str(first[k]) for k in ("title", "detail") if first.get(k))
        if first.get("code") is not None:
            text += f" (code {first['code']})"
        if len(errors) > 1:
            text += f" (+{len(errors) - 1} more)"
    else:  # a proxy's HTML page, an empty body, ...
        text = response.text.strip()[:200] or response.reason_phrase
    message = f"Telnyx {response.status_code}: {text}"
    if request_id := response.headers.get("x-request-id"):
        message += f" [request {request_id}]"
    if redact:
        message = message.replace(redact, "[redacted]")
    return status_error_class(response.status_code)(message, response=response, errors=errors)


def _parse_errors(response: httpx.Response) -> list[dict[str, Any]]:
    """Telnyx's ``{"errors": [...]}``, or a bare error object (some endpoints send one)."""
    try:
        body = response.json()
    except ValueError:
        return []
    if isinstance(body, dict) and "errors" in body:
        items = body["errors"] if isinstance(body["errors"], list) else [body["errors"]]
    elif isinstance(body, dict) and ("code" in body or "title" in body):
        items = [body]
    else:
        return []
    return [item if isinstance(item, dict) else {"detail": str(item)} for item in items]


def parse_retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent/bad."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
