"""``TelnyxClient``: one keep-alive ``httpx.Client``, timeouts, retries, typed errors.

Resources (``client.messages``, ``client.phone_numbers.messaging``, ...) are attached
lazily and are thin: each names its endpoint in ``_endpoints.py`` and hands over its
arguments. Everything goes through ``request()``, which also serves calls the resources
do not cover.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

import httpx

from ._endpoints import LIST, UPLOAD, Endpoint, check_path, encode_body, encode_query, wire_name
from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    make_status_error,
    parse_retry_after,
)
from ._pagination import Page
from ._retry import DEFAULT_MAX_RETRIES, RetryPolicy, is_idempotent, should_retry
from .resources.alphanumeric_sender_ids import AlphanumericSenderIds
from .resources.messages import Messages
from .resources.messaging import Messaging
from .resources.messaging_hosted_number_orders import MessagingHostedNumberOrders
from .resources.messaging_hosted_numbers import MessagingHostedNumbers
from .resources.messaging_numbers_bulk_updates import MessagingNumbersBulkUpdates
from .resources.messaging_optouts import MessagingOptouts
from .resources.messaging_profile_metrics import MessagingProfileMetrics
from .resources.messaging_profiles import MessagingProfiles
from .resources.messaging_tollfree import MessagingTollfree
from .resources.messaging_url_domains import MessagingUrlDomains
from .resources.phone_numbers import MobilePhoneNumbers, PhoneNumbers
from .resources.short_codes import ShortCodes

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_LIMITS", "DEFAULT_TIMEOUT", "TelnyxClient"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.telnyx.com/v2"
# A user is waiting on a send: fail fast on connect (5 s), allow 10 s per read/write/pool wait.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=50, max_keepalive_connections=20, keepalive_expiry=30)
DEFAULT_USER_AGENT = "otp-service"


class TelnyxClient:
    """A client for Telnyx's messaging API; one per process, shared by all threads.

    ``with TelnyxClient(api_key) as client: client.messages.send_long_code(...)``.
    ``transport`` is for tests (``httpx.MockTransport``); ``sleep`` lets tests make
    backoff instant; ``retry_policy`` replaces the defaults built from ``max_retries``.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        limits: httpx.Limits = DEFAULT_LIMITS,
        user_agent: str = DEFAULT_USER_AGENT,
        default_headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        observer: Callable[[str, str, float], None] | None = None,
    ) -> None:
        if not api_key or not isinstance(api_key, str):
            raise ValueError("a Telnyx API key is required")
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.retry_policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self._sleep = sleep
        # called after every attempt with (operationId or "request", outcome, seconds):
        # outcome is the HTTP status, "timeout" or "connection_error"
        self._observer = observer
        headers = {
            "Accept": "application/json",
            "User-Agent": user_agent,
            **(default_headers or {}),
            "Authorization": f"Bearer {api_key}",
        }
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            limits=limits,
            transport=transport,
        )

    def __repr__(self) -> str:  # never the key
        return f"<TelnyxClient {self.base_url}>"

    def __enter__(self) -> TelnyxClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    @property
    def timeout(self) -> httpx.Timeout:
        """Each request's timeouts: waiting for a pooled connection, connect, write, read."""
        return self._http.timeout

    def with_options(self, *, retry_policy: RetryPolicy) -> TelnyxClient:
        """This client with another retry policy, on the same connections (like the
        official SDKs' ``client.with_options``); closing either closes both."""
        clone = object.__new__(TelnyxClient)
        clone.__dict__.update(
            (name, value)
            for name, value in vars(self).items()
            if not isinstance(getattr(TelnyxClient, name, None), cached_property)
        )  # resources built on first use are bound to this client: not copied
        clone.retry_policy = retry_policy
        return clone

    # Resources, one per API area, built on first use.

    @cached_property
    def alphanumeric_sender_ids(self) -> AlphanumericSenderIds:
        return AlphanumericSenderIds(self)

    @cached_property
    def messages(self) -> Messages:
        return Messages(self)

    @cached_property
    def messaging(self) -> Messaging:
        return Messaging(self)

    @cached_property
    def messaging_hosted_number_orders(self) -> MessagingHostedNumberOrders:
        return MessagingHostedNumberOrders(self)

    @cached_property
    def messaging_hosted_numbers(self) -> MessagingHostedNumbers:
        return MessagingHostedNumbers(self)

    @cached_property
    def messaging_numbers_bulk_updates(self) -> MessagingNumbersBulkUpdates:
        return MessagingNumbersBulkUpdates(self)

    @cached_property
    def messaging_optouts(self) -> MessagingOptouts:
        return MessagingOptouts(self)

    @cached_property
    def messaging_profile_metrics(self) -> MessagingProfileMetrics:
        return MessagingProfileMetrics(self)

    @cached_property
    def messaging_profiles(self) -> MessagingProfiles:
        return MessagingProfiles(self)

    @cached_property
    def messaging_tollfree(self) -> MessagingTollfree:
        return MessagingTollfree(self)

    @cached_property
    def messaging_url_domains(self) -> MessagingUrlDomains:
        return MessagingUrlDomains(self)

    @cached_property
    def mobile_phone_numbers(self) -> MobilePhoneNumbers:
        return MobilePhoneNumbers(self)

    @cached_property
    def phone_numbers(self) -> PhoneNumbers:
        return PhoneNumbers(self)

    @cached_property
    def short_codes(self) -> ShortCodes:
        return ShortCodes(self)

    # The low level.

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
        operation: str = "request",
    ) -> Any:
        """Send one API call, retrying as ``_retry.py`` allows; return the decoded body.

        ``path`` is relative to ``base_url``; ``params`` are flattened like resource
        keywords. Returns None for an empty body; raises ``APIStatusError`` subclasses for
        error statuses and ``APIConnectionError`` when Telnyx cannot be reached.
        """
        check_path(path)
        retryable = is_idempotent(method, path, idempotent)
        query = encode_query(params or {})
        policy = self.retry_policy
        started = time.monotonic()
        retries = 0
        while True:
            sent = time.perf_counter()
            try:
                response = self._http.request(method, path, params=query, json=json, files=files)
            except httpx.TransportError as exc:
                self._observe(operation, _outcome(exc), sent)
                failure: httpx.Response | httpx.TransportError = exc
                retry_after = None
            else:
                self._observe(operation, str(response.status_code), sent)
                if response.status_code < 400:
                    return _decode(response)
                failure = response
                retry_after = parse_retry_after(response)
            if retries < policy.max_retries and self._should_retry(retryable, failure):
                delay = policy.delay(retries, retry_after)
                if time.monotonic() - started + delay <= policy.max_total:
                    logger.info(
                        "telnyx %s retry %d in %.2fs after %s",
                        method,
                        retries + 1,
                        delay,
                        _describe(failure),
                    )
                    self._sleep(delay)
                    retries += 1
                    continue
            if isinstance(failure, httpx.TransportError):
                raise self._connection_error(failure) from failure
            raise make_status_error(failure, redact=self._api_key)

    def _observe(self, operation: str, outcome: str, sent: float) -> None:
        if self._observer is not None:
            self._observer(operation, outcome, time.perf_counter() - sent)

    @staticmethod
    def _should_retry(idempotent: bool, failure: httpx.Response | httpx.TransportError) -> bool:
        if isinstance(failure, httpx.Response):
            return should_retry(idempotent=idempotent, response=failure)
        return should_retry(idempotent=idempotent, error=failure)

    def _connection_error(self, error: httpx.TransportError) -> APIConnectionError:
        kind = APITimeoutError if isinstance(error, httpx.TimeoutException) else APIConnectionError
        text = f"Telnyx request failed: {_describe(error)}".replace(self._api_key, "[redacted]")
        try:
            request: httpx.Request | None = error.request
        except RuntimeError:  # raised before a request existed
            request = None
        return kind(text, request=request)

    # What resource methods call.

    def _operation(
        self, endpoint: Endpoint, arguments: Mapping[str, Any], filters: tuple[str, ...] = ()
    ) -> Any:
        """Run ``endpoint`` with a resource method's arguments (its ``locals()``).

        Path parameters are taken by name; ``page_number``/``page_size`` and the names in
        ``filters`` shape list queries; the remaining keywords (``**extra`` merged in) go
        to the query (GET, DELETE), the multipart form (upload) or the JSON body.
        """
        args = {k: v for k, v in arguments.items() if k not in ("self", "extra")}
        args.update(arguments.get("extra") or {})
        path = endpoint.render({name: args.pop(name) for name in endpoint.path_params})
        if endpoint.kind == LIST:
            return self._list(endpoint, path, args, filters)
        if endpoint.kind == UPLOAD:
            body = self.request(
                endpoint.method,
                path,
                files=_form_files(args),
                idempotent=endpoint.idempotent,
                operation=endpoint.operation_id,
            )
        elif endpoint.method in ("GET", "DELETE"):
            body = self.request(
                endpoint.method,
                path,
                params=args,
                idempotent=endpoint.idempotent,
                operation=endpoint.operation_id,
            )
        else:
            fields = encode_body(args)
            body = self.request(
                endpoint.method,
                path,
                json=fields or None,
                idempotent=endpoint.idempotent,
                operation=endpoint.operation_id,
            )
        return body["data"] if isinstance(body, dict) and "data" in body else body

    def _list(
        self, endpoint: Endpoint, path: str, args: dict[str, Any], filters: tuple[str, ...]
    ) -> Page:
        page_number = args.pop("page_number", None)
        page_size = args.pop("page_size", None)
        filter_ = dict(args.pop("filter", None) or {})
        for name in filters:
            value = args.pop(name, None)
            if value is not None:
                filter_[wire_name(name)] = value
        query = encode_query({**args, "filter": filter_})
        number_key, size_key = endpoint.page_params

        def fetch(number: int | None) -> Page:
            params = {**query, number_key: number, size_key: page_size}
            body = self.request(
                "GET",
                path,
                params=params,
                idempotent=endpoint.idempotent,
                operation=endpoint.operation_id,
            )
            return Page.from_body(body, page_number=number, page_size=page_size, fetch=fetch)

        return fetch(page_number)


def _outcome(error: httpx.TransportError) -> str:
    return "timeout" if isinstance(error, httpx.TimeoutException) else "connection_error"


def _decode(response: httpx.Response) -> Any:
    """JSON when there is a body; the text if it is not JSON; None when empty."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _describe(failure: httpx.Response | httpx.TransportError) -> str:
    if isinstance(failure, httpx.Response):
        return f"HTTP {failure.status_code}"
    return f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__


def _form_files(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Multipart parts: bytes or a file object become a PDF part named after its field."""
    files: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, tuple):  # (filename, content[, content_type]) as httpx takes it
            files[name] = value
        else:
            files[name] = (f"{name}.pdf", value, "application/pdf")
    return files
