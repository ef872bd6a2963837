"""The sending numbers, passed through to Telnyx: phone numbers, mobile numbers, bulk
updates, short codes and messaging profiles.

No Flask here: the admin views (``api/admin.py``) and the CLI (``cli.py``) call the same
methods, and every change is audited (``audit.py``), failures included. Telnyx errors
become ``ServiceError``s in one function, ``provider_problem``, so views never catch:

    Telnyx 404                 → 404 not_found
    Telnyx 400 / 422 / other   → 422 invalid_request
    Telnyx 409                 → 409 conflict
    Telnyx 429                 → 429 rate_limited (reason provider_rate_limited, Retry-After)
    Telnyx 401 / 403           → 502 provider_error (the service's Telnyx key is wrong)
    Telnyx 5xx                 → 502 provider_error
    no answer / timeout        → 503 provider_unavailable

and every problem from a Telnyx answer carries ``provider_status``, ``provider_codes`` and
``provider_errors`` (Telnyx's ``errors``: code, title, detail, source).

Lists take Telnyx's query names; those each list accepts are its operation's in Telnyx's
spec (``LIST_PARAMS``, held to the spec by a test), and ``api/query.py`` refuses others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from otp_service import errors
from otp_service.admin.audit import AuditLog
from otp_service.admin.page import Page
from otp_service.errors import ServiceError
from otp_service.phones import E164
from otp_service.telnyx import APIConnectionError, APIStatusError, TelnyxClient, TelnyxError

__all__ = [
    "BULK_MAX_NUMBERS",
    "LIST_PARAMS",
    "PAGE_PARAMS",
    "NumbersAdmin",
    "call_telnyx",
    "every_page",
    "provider_problem",
]

PAGE_PARAMS = ("page[number]", "page[size]")
# Query names each Telnyx list accepts (deepObject ``filter``/``page`` spelt out).
LIST_PARAMS: dict[str, tuple[str, ...]] = {
    "ListPhoneNumbersWithMessagingSettings": (
        *PAGE_PARAMS,
        "filter[messaging_profile_id]",
        "filter[phone_number]",
        "filter[phone_number][contains]",
        "filter[type]",
        "sort[phone_number]",
    ),
    "ListMobilePhoneNumbersWithMessagingSettings": PAGE_PARAMS,
    "ListShortCodes": (*PAGE_PARAMS, "filter[messaging_profile_id]"),
    "ListMessagingProfiles": (
        *PAGE_PARAMS,
        "filter[name]",
        "filter[name][eq]",
        "filter[name][contains]",
    ),
}
BULK_MAX_NUMBERS = 1000
_ERROR_FIELDS = ("code", "title", "detail", "source")  # of each Telnyx error kept


def provider_problem(exc: TelnyxError) -> ServiceError:
    """The problem to answer for a Telnyx error (table in the module docstring)."""
    if isinstance(exc, APIConnectionError):
        return errors.ProviderUnavailable("Telnyx could not be reached or did not answer in time")
    if not isinstance(exc, APIStatusError):
        return errors.ProviderError("Telnyx could not be used")
    status = exc.status_code
    extra: dict[str, Any] = {
        "provider_status": status,
        "provider_codes": exc.codes,
        "provider_errors": [
            {k: (str(v) if k == "code" else v) for k, v in e.items() if k in _ERROR_FIELDS}
            for e in exc.errors
        ],
    }
    detail = exc.message
    if status == 404:
        return errors.NotFound(detail, **extra)
    if status == 409:
        return errors.Conflict(detail, **extra)
    if status == 429:
        retry_after = getattr(exc, "retry_after", None) or 1
        return errors.RateLimited(
            detail, reason="provider_rate_limited", retry_after=retry_after, **extra
        )
    if status in (401, 403):
        return errors.ProviderError(
            f"Telnyx refused the service's API key (check TELNYX_API_KEY): {detail}", **extra
        )
    if status >= 500 or status < 400:
        return errors.ProviderError(detail, **extra)
    return errors.InvalidRequest(detail, **extra)


def call_telnyx(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the Telnyx client; its errors become problems (``provider_problem``)."""
    try:
        return method(*args, **kwargs)
    except TelnyxError as exc:
        raise provider_problem(exc) from exc


def every_page(first: Any) -> Iterator[Any]:
    """Every page from ``first`` on; a Telnyx error on a later page becomes a problem."""
    page = first
    while page is not None:
        yield page
        page = call_telnyx(page.next_page)


class NumbersAdmin:
    """The operators' view of the account's numbers; Telnyx keeps them, not Redis."""

    def __init__(self, telnyx: TelnyxClient, audit: AuditLog) -> None:
        self.telnyx = telnyx
        self.audit = audit

    def list_phone_numbers(self, page: Page, filters: Mapping[str, str]) -> dict[str, Any]:
        return _list(self.telnyx.phone_numbers.messaging.list, page, filters)

    def get_phone_number(self, number_id: str) -> dict[str, Any]:
        return {"data": call_telnyx(self.telnyx.phone_numbers.messaging.retrieve, number_id)}

    def update_phone_number(
        self,
        number_id: str,
        *,
        actor: str,
        messaging_profile_id: str | None = None,
        messaging_product: str | None = None,
    ) -> dict[str, Any]:
        """Move a number to another profile (``""`` unassigns) and/or product."""
        changes = {
            name: value
            for name, value in (
                ("messaging_profile_id", messaging_profile_id),
                ("messaging_product", messaging_product),
            )
            if value is not None
        }
        if not changes:
            raise errors.InvalidRequest("give messaging_profile_id and/or messaging_product")
        with self.audit.audited(actor, "phone_number.update", number_id, changes) as outcome:
            data = call_telnyx(self.telnyx.phone_numbers.messaging.update, number_id, **changes)
            outcome["result"] = "updated"
        return {"data": data}

    def list_mobile_phone_numbers(self, page: Page, filters: Mapping[str, str]) -> dict[str, Any]:
        return _list(self.telnyx.mobile_phone_numbers.messaging.list, page, filters)

    def get_mobile_phone_number(self, number_id: str) -> dict[str, Any]:
        return {"data": call_telnyx(self.telnyx.mobile_phone_numbers.messaging.retrieve, number_id)}

    def bulk_update(
        self, *, actor: str, messaging_profile_id: str, numbers: list[str]
    ) -> dict[str, Any]:
        """Start a Telnyx bulk update: ``numbers`` to ``messaging_profile_id``."""
        if not 1 <= len(numbers) <= BULK_MAX_NUMBERS:
            raise errors.InvalidRequest(f"give 1 to {BULK_MAX_NUMBERS} numbers")
        bad = [n for n in numbers if not isinstance(n, str) or not E164.fullmatch(n)]
        if bad:
            raise errors.InvalidRequest(
                "numbers must be E.164", errors={"numbers": [f"not E.164: {bad[0]!r}"]}
            )
        detail: dict[str, Any] = {
            "messaging_profile_id": messaging_profile_id,
            "numbers": len(numbers),
        }
        with self.audit.audited(
            actor, "phone_numbers.bulk_update", messaging_profile_id or "-", detail
        ) as outcome:
            data = call_telnyx(
                self.telnyx.messaging_numbers_bulk_updates.create,
                messaging_profile_id=messaging_profile_id,
                numbers=numbers,
            )
            outcome["result"], outcome["status"] = "accepted", 202
            outcome["detail"] = {
                "order_id": data.get("order_id") if isinstance(data, dict) else None
            }
        return {"data": data}

    def get_bulk_update(self, order_id: str) -> dict[str, Any]:
        return {"data": call_telnyx(self.telnyx.messaging_numbers_bulk_updates.retrieve, order_id)}

    def list_short_codes(self, page: Page, filters: Mapping[str, str]) -> dict[str, Any]:
        return _list(self.telnyx.short_codes.list, page, filters)

    def list_messaging_profiles(self, page: Page, filters: Mapping[str, str]) -> dict[str, Any]:
        return _list(self.telnyx.messaging_profiles.list, page, filters)


def _list(method: Callable[..., Any], page: Page, filters: Mapping[str, str]) -> dict[str, Any]:
    """One page of a Telnyx list, ``filters`` passed as Telnyx names them."""
    found = call_telnyx(method, page_number=page.number, page_size=page.size, **filters)
    return {"data": found.data, "meta": found.meta}
