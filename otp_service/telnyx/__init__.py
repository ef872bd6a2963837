"""A client for Telnyx's messaging API, shaped like Telnyx's official SDKs.

::

    from otp_service.telnyx import TelnyxClient, APIStatusError

    with TelnyxClient(api_key) as client:
        message = client.messages.send_long_code(from_="+15550001111", to="+15550002222",
                                                 text="Your code is 123456")
        for number in client.phone_numbers.messaging.list(page_size=100):
            ...

Conventions (details in ``_endpoints.py``): path parameters are positional; everything
else is keyword-only and named as in Telnyx's spec (``from_`` for ``from``); ``None``
is never sent. List calls take ``page_number``/``page_size``, their common filters as
keywords (``messaging_profile_id=`` → ``filter[messaging_profile_id]``) and nested
filters as dicts (``filter={"phone_number": {"contains": "555"}}``); they return a
``Page`` that iterates over every page. Single calls return the response's ``data``.
Errors are ``TelnyxError`` subclasses (see ``_exceptions.py``); retries never resend a
message (see ``_retry.py``). This package imports nothing from the rest of otp_service.
"""

from ._client import DEFAULT_BASE_URL, DEFAULT_LIMITS, DEFAULT_TIMEOUT, TelnyxClient
from ._endpoints import ENDPOINTS, Endpoint
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TelnyxError,
    UnprocessableEntityError,
)
from ._pagination import Page
from ._retry import DEFAULT_MAX_RETRIES, RetryPolicy
from .webhooks import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookVerificationError,
    generate_signing_key,
    load_public_key,
    public_key_b64,
    sign_webhook,
    verify_webhook,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "DEFAULT_BASE_URL",
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TOLERANCE",
    "ENDPOINTS",
    "Endpoint",
    "InternalServerError",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "RetryPolicy",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TelnyxClient",
    "TelnyxError",
    "UnprocessableEntityError",
    "WebhookVerificationError",
    "generate_signing_key",
    "load_public_key",
    "public_key_b64",
    "sign_webhook",
    "verify_webhook",
]
