"""Operators' tools: the sending numbers (Telnyx, passed through), the opt-out list, audit.

No Flask here: the admin views (``api/admin.py``) and the CLI (``cli.py``) call the same
methods. Every change is written to the audit log (``audit.py``) with the acting key's id,
failures included. Telnyx errors become ``ServiceError``s in one function,
``provider_problem``, so views never catch:

    Telnyx 404                 → 404 not_found
    Telnyx 400 / 422 / other   → 422 invalid_request
    Telnyx 409                 → 409 conflict
    Telnyx 429                 → 429 rate_limited (reason provider_rate_limited, Retry-After)
    Telnyx 401 / 403           → 502 provider_error (the service's Telnyx key is wrong)
    Telnyx 5xx                 → 502 provider_error
    no answer / timeout        → 503 provider_unavailable

and every problem from a Telnyx answer carries ``provider_status``, ``provider_codes`` and
``provider_errors`` (Telnyx's ``errors``: code, title, detail, source).

List queries use Telnyx's names (``page[number]``, ``page[size]``, ``filter[...]``); the
names each list accepts are those of its operation in Telnyx's spec (``LIST_PARAMS``, and
a test holds them to the spec); any other name is 422.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from otp_service import errors
from otp_service.admin.audit import ACTIONS, AuditLog, mask
from otp_service.errors import REDIS_UNAVAILABLE, ServiceError
from otp_service.phones import E164, InvalidPhone
from otp_service.phones import normalize as normalize_phone
from otp_service.store.optouts import SOURCES, OptOut, OptOutStore
from otp_service.telnyx import APIConnectionError, APIStatusError, TelnyxClient, TelnyxError
from otp_service.timefmt import iso_time, parse_iso

__all__ = [
    "CLI_KEY_ID",
    "IMPORT_MAX_BYTES",
    "IMPORT_MAX_ROWS",
    "LIST_PARAMS",
    "AdminService",
    "provider_problem",
]

log = logging.getLogger(__name__)

CLI_KEY_ID = "cli"  # the audit's key id for changes made with `otp-service ...`
PAGE = ("page[number]", "page[size]")
# Query names each Telnyx list accepts (deepObject ``filter``/``page`` spelt out).
LIST_PARAMS: dict[str, tuple[str, ...]] = {
    "ListPhoneNumbersWithMessagingSettings": (
        *PAGE,
        "filter[messaging_profile_id]",
        "filter[phone_number]",
        "filter[phone_number][contains]",
        "filter[type]",
        "sort[phone_number]",
    ),
    "ListMobilePhoneNumbersWithMessagingSettings": PAGE,
    "ListShortCodes": (*PAGE, "filter[messaging_profile_id]"),
    "ListMessagingProfiles": (
        *PAGE,
        "filter[name]",
        "filter[name][eq]",
        "filter[name][contains]",
    ),
}
MAX_PAGE_SIZE = 250  # Telnyx's maximum, used for our own lists too
MAX_PAGE_NUMBER = 1_000_000
SYNC_PAGE_SIZE = 250
BULK_MAX_NUMBERS = 1000
WRITE_CHUNK = 500  # opt-outs written per round trip (sync pages, imports)
EXPORT_CHUNK = 1000
IMPORT_MAX_BYTES = 5 * 1024 * 1024
IMPORT_MAX_ROWS = 100_000
IMPORT_MAX_REJECTED = 100  # rejected lines listed in the answer
OPTOUT_FILTERS = ("source", "created_after", "created_before")
AUDIT_FILTERS = ("action", "key_id")

Progress = Callable[[int, int | None], None]  # (items done, items in all if known)
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


class AdminService:
    def __init__(
        self,
        telnyx: TelnyxClient,
        optouts: OptOutStore,
        audit: AuditLog,
        clock: Callable[[], float] = time.time,
        *,
        sync_page_size: int = SYNC_PAGE_SIZE,
    ) -> None:
        self.telnyx = telnyx
        self.optouts = optouts
        self.audit = audit
        self.clock = clock
        self.sync_page_size = sync_page_size

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- numbers (Telnyx) ---------------------------------------------------------------
    def list_phone_numbers(self, query: Mapping[str, str]) -> dict[str, Any]:
        return self._list(
            self.telnyx.phone_numbers.messaging.list, "ListPhoneNumbersWithMessagingSettings", query
        )

    def get_phone_number(self, number_id: str) -> dict[str, Any]:
        return {"data": _call(self.telnyx.phone_numbers.messaging.retrieve, number_id)}

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
        with self._audited(actor, "phone_number.update", number_id, changes) as outcome:
            data = _call(self.telnyx.phone_numbers.messaging.update, number_id, **changes)
            outcome["result"] = "updated"
        return {"data": data}

    def list_mobile_phone_numbers(self, query: Mapping[str, str]) -> dict[str, Any]:
        return self._list(
            self.telnyx.mobile_phone_numbers.messaging.list,
            "ListMobilePhoneNumbersWithMessagingSettings",
            query,
        )

    def get_mobile_phone_number(self, number_id: str) -> dict[str, Any]:
        return {"data": _call(self.telnyx.mobile_phone_numbers.messaging.retrieve, number_id)}

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
        with self._audited(
            actor, "phone_numbers.bulk_update", messaging_profile_id or "-", detail
        ) as outcome:
            data = _call(
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
        return {"data": _call(self.telnyx.messaging_numbers_bulk_updates.retrieve, order_id)}

    def list_short_codes(self, query: Mapping[str, str]) -> dict[str, Any]:
        return self._list(self.telnyx.short_codes.list, "ListShortCodes", query)

    def list_messaging_profiles(self, query: Mapping[str, str]) -> dict[str, Any]:
        return self._list(self.telnyx.messaging_profiles.list, "ListMessagingProfiles", query)

    def _list(
        self, method: Callable[..., Any], operation: str, query: Mapping[str, str]
    ) -> dict[str, Any]:
        _only(query, LIST_PARAMS[operation])
        number, size = _page(query)
        passed = {k: v for k, v in query.items() if k not in PAGE}
        page = _call(method, page_number=number, page_size=size, **passed)
        return {"data": page.data, "meta": page.meta}

    # -- opt-outs (the local store) -----------------------------------------------------
    def list_optouts(self, query: Mapping[str, str]) -> dict[str, Any]:
        """A page of the opt-out list, oldest first, filtered by source and time."""
        _only(query, (*OPTOUT_FILTERS, *PAGE))
        filters = _optout_filters(query)
        number, size = _page(query)
        items, total = self.optouts.list(**filters, offset=(number - 1) * size, limit=size)
        return {"data": [_optout(o) for o in items], "meta": _meta(number, size, total)}

    def get_optout(self, phone_number: str) -> dict[str, Any]:
        phone = _phone(phone_number)
        found = self.optouts.get(phone)
        if found is None:
            raise errors.OptOutNotFound(f"{phone} is not opted out")
        return _optout(found)

    def add_optout(self, phone_number: str, *, actor: str) -> tuple[bool, dict[str, Any]]:
        """Opt a number out (source ``admin``); (added?, the opt-out as it now stands).

        The marker is written before this returns: the next create for it answers 409."""
        phone = _phone(phone_number)
        at = self._now_ms()
        with self._audited(actor, "optout.add", phone, {}) as outcome:
            result = self.optouts.add(phone, "admin", at_ms=at)
            outcome["result"], outcome["status"] = result, 201 if result == "added" else 200
        if result == "added":
            return True, _optout(OptOut(phone, "admin", at))
        found = self.optouts.get(phone)
        return False, _optout(found or OptOut(phone, "admin", at))

    def remove_optout(self, phone_number: str, *, actor: str) -> None:
        """Opt a number back in, whatever opted it out; 404 when it was not opted out.

        Only the local list: a number Telnyx itself blocks stays blocked there, and the
        next sync adds it again."""
        phone = _phone(phone_number)
        with self._audited(actor, "optout.remove", phone, {}) as outcome:
            found = self.optouts.get(phone)
            if found is not None:
                outcome["detail"] = {"source": found.source}
                # An operator's removal wins over any opt-out time, even a future one.
                at = max(self._now_ms(), found.created_at)
                if self.optouts.remove(phone, by="admin", at_ms=at) == "removed":
                    outcome["result"], outcome["status"] = "removed", 204
                    return
            raise errors.OptOutNotFound(f"{phone} is not opted out")

    def sync_optouts(
        self,
        *,
        actor: str,
        messaging_profile_id: str | None = None,
        progress: Progress | None = None,
    ) -> dict[str, int]:
        """Add every opt-out Telnyx lists (``GET /messaging_optouts``, every page) that the
        local list lacks, with source ``telnyx_sync`` and Telnyx's time. Running it again
        adds nothing new. ``progress(done, total)`` is called after every page."""
        counts = {"fetched": 0, "added": 0, "already_present": 0, "invalid": 0}
        detail: dict[str, Any] = {"messaging_profile_id": messaging_profile_id}
        with self._audited(actor, "optouts.sync", messaging_profile_id or "*", detail) as outcome:
            outcome["detail"] = counts  # the counts so far, should a page fail
            first = _call(
                self.telnyx.messaging_optouts.list,
                messaging_profile_id=messaging_profile_id,
                page_size=self.sync_page_size,
            )
            total = first.meta.get("total_results")
            total = total if isinstance(total, int) else None
            pages = _pages(first)
            for page in pages:
                self._sync_page(page.data, counts)
                if progress is not None:
                    progress(counts["fetched"], total)
            outcome["result"] = "completed"
        return counts

    def _sync_page(self, items: list[Any], counts: dict[str, int]) -> None:
        now = self._now_ms()
        valid: list[tuple[str, int]] = []
        for item in items:
            counts["fetched"] += 1
            to = item.get("to") if isinstance(item, dict) else None
            try:
                phone = normalize_phone(to)
            except InvalidPhone:
                counts["invalid"] += 1  # a short code, a redacted or malformed number
                continue
            at = parse_iso(item.get("created_at"))
            valid.append((phone, min(at, now) if at is not None else now))
        for added in self._add_many(valid, "telnyx_sync"):
            counts["added" if added else "already_present"] += 1

    def _add_many(self, rows: list[tuple[str, int]], source: str) -> Iterator[bool]:
        """Opt ``rows`` (phone, ms) out, ``WRITE_CHUNK`` per round trip; added? per row."""
        for outcome in self.optouts.add_many(rows, source, chunk=WRITE_CHUNK):
            yield outcome == "added"

    def export_csv(self, query: Mapping[str, str]) -> Iterator[str]:
        """The opt-out list as CSV (``phone_number,source,created_at``), oldest first, in
        chunks; the first chunk is read before this returns, so storage errors surface."""
        _only(query, OPTOUT_FILTERS)
        chunks = self._csv_chunks(_optout_filters(query))
        first = next(chunks)
        return itertools.chain([first], chunks)

    def _csv_chunks(self, filters: dict[str, Any]) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(["phone_number", "source", "created_at"])
        offset = 0
        while True:
            items, _total = self.optouts.list(**filters, offset=offset, limit=EXPORT_CHUNK)
            writer.writerows([o.phone_number, o.source, iso_time(o.created_at)] for o in items)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(items) < EXPORT_CHUNK:
                return
            offset += EXPORT_CHUNK

    def import_csv(self, data: bytes | str, *, actor: str) -> dict[str, Any]:
        """Opt out every number of a CSV file (header row with a ``phone_number`` column,
        optional ``created_at``; other columns ignored), as source ``admin``.

        All or nothing: the whole file is checked first, and one bad line means nothing is
        imported (422 listing the rejected lines). Numbers already opted out are counted,
        not changed, so importing a file twice is safe."""
        with self._audited(actor, "optouts.import", "*", {}) as outcome:
            rows, rejected = _read_import(data, self._now_ms())
            outcome["detail"] = {"received": len(rows) + len(rejected), "rejected": len(rejected)}
            if rejected:
                raise errors.InvalidRequest(
                    f"{len(rejected)} line(s) rejected; nothing was imported",
                    rejected=rejected[:IMPORT_MAX_REJECTED],
                    rejected_count=len(rejected),
                )
            counts = {"received": len(rows), "added": 0, "already_present": 0}
            outcome["detail"] = counts
            for added in self._add_many(rows, "admin"):
                counts["added" if added else "already_present"] += 1
            outcome["result"] = "completed"
        return {**counts, "rejected": []}

    # -- audit --------------------------------------------------------------------------
    def list_audit(self, query: Mapping[str, str]) -> dict[str, Any]:
        """A page of the audit log, newest first."""
        _only(query, (*AUDIT_FILTERS, *PAGE))
        action = query.get("action")
        if action is not None and action not in ACTIONS:
            raise errors.InvalidRequest(
                "unknown action", errors={"action": [f"must be one of {', '.join(ACTIONS)}"]}
            )
        number, size = _page(query)
        entries, total = self.audit.list(
            action=action,
            key_id=query.get("key_id"),
            offset=(number - 1) * size,
            limit=size,
        )
        return {"data": [e.to_dict() for e in entries], "meta": _meta(number, size, total)}

    @contextmanager
    def _audited(
        self, actor: str, action: str, target: str, detail: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        """Record one audit entry for the block: ``outcome`` (result, status, detail) as
        the block set it, or the problem code and status it raised."""
        outcome: dict[str, Any] = {"result": "ok", "status": 200, "detail": {}}
        try:
            yield outcome
        except Exception as exc:
            problem = _as_problem(exc)
            failure = {**detail, **outcome["detail"]}
            for name in ("provider_status", "provider_codes"):
                if name in problem.extra:
                    failure[name] = problem.extra[name]
            log.warning("admin %s %r by %s failed: %s", action, mask(target), actor, problem.code)
            try:
                self.audit.record(
                    key_id=actor,
                    action=action,
                    target=target,
                    result=problem.code,
                    status=problem.status,
                    detail=failure,
                )
            except Exception:  # the failure itself stands; do not hide it
                log.exception("audit entry for a failed %s not written", action)
            raise
        log.info("admin %s %r by %s: %s", action, mask(target), actor, outcome["result"])
        self.audit.record(
            key_id=actor,
            action=action,
            target=target,
            result=outcome["result"],
            status=outcome["status"],
            detail={**detail, **outcome["detail"]},
        )


def _as_problem(exc: Exception) -> ServiceError:
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, REDIS_UNAVAILABLE):
        return errors.StorageUnavailable()
    return errors.InternalError()


def _call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the Telnyx client; its errors become problems."""
    try:
        return method(*args, **kwargs)
    except TelnyxError as exc:
        raise provider_problem(exc) from exc


def _pages(first: Any) -> Iterator[Any]:
    """Every page from ``first`` on; a Telnyx error on a later page becomes a problem."""
    page = first
    while page is not None:
        yield page
        page = _call(page.next_page)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _only(query: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        raise errors.InvalidRequest(
            f"unknown query parameter(s): {', '.join(unknown)}",
            errors={name: [f"unknown; this route takes {', '.join(allowed)}"] for name in unknown},
        )


def _int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise errors.InvalidRequest(
            f"{name} must be an integer from {low} to {high}",
            errors={name: [f"must be an integer from {low} to {high}"]},
        )
    return int(raw)


def _page(query: Mapping[str, str]) -> tuple[int, int]:
    return (
        _int_param(query, "page[number]", 1, 1, MAX_PAGE_NUMBER),
        _int_param(query, "page[size]", 20, 1, MAX_PAGE_SIZE),
    )


def _meta(number: int, size: int, total: int) -> dict[str, int]:
    """Telnyx's pagination meta, for our own lists."""
    return {
        "page_number": number,
        "page_size": size,
        "total_pages": math.ceil(total / size),
        "total_results": total,
    }


def _optout_filters(query: Mapping[str, str]) -> dict[str, Any]:
    source = query.get("source")
    if source is not None and source not in SOURCES:
        raise errors.InvalidRequest(
            "unknown source", errors={"source": [f"must be one of {', '.join(SOURCES)}"]}
        )
    filters: dict[str, Any] = {"source": source}
    for name in ("created_after", "created_before"):
        raw = query.get(name)
        if raw is None:
            continue
        at = parse_iso(raw)
        if at is None:
            raise errors.InvalidRequest(
                f"{name} must be an ISO 8601 date-time",
                errors={name: ["must be an ISO 8601 date-time such as 2025-01-31T00:00:00Z"]},
            )
        filters[name] = at
    return filters


def _phone(value: str) -> str:
    try:
        return normalize_phone(value)
    except InvalidPhone as exc:
        raise errors.InvalidRequest(
            "phone_number is not valid", errors={"phone_number": [str(exc)]}
        ) from None


def _optout(optout: OptOut) -> dict[str, Any]:
    return {
        "phone_number": optout.phone_number,
        "source": optout.source,
        "created_at": iso_time(optout.created_at),
    }


def _read_import(data: bytes | str, now: int) -> tuple[list[tuple[str, int]], list[dict]]:
    """The (phone, ms) rows of an import file and its rejected lines (line, value, reason)."""
    if isinstance(data, bytes):
        if len(data) > IMPORT_MAX_BYTES:
            raise errors.PayloadTooLarge(f"an import is at most {IMPORT_MAX_BYTES} bytes")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise errors.InvalidRequest("the file is not UTF-8 text", status=400) from None
    else:
        text = data.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        if "phone_number" not in header:
            raise errors.InvalidRequest(
                "the first line must be a header naming a phone_number column"
            )
        phone_at = header.index("phone_number")
        time_at = header.index("created_at") if "created_at" in header else None
        rows: list[tuple[str, int]] = []
        rejected: list[dict[str, Any]] = []
        for line in reader:
            if not any(cell.strip() for cell in line):
                continue
            if len(rows) + len(rejected) >= IMPORT_MAX_ROWS:
                raise errors.InvalidRequest(f"an import is at most {IMPORT_MAX_ROWS} lines")
            row, reason = _import_row(line, phone_at, time_at, now)
            if row is not None:
                rows.append(row)
            else:
                value = line[phone_at].strip() if phone_at < len(line) else ""
                rejected.append({"line": reader.line_num, "value": value[:40], "reason": reason})
    except csv.Error as exc:
        raise errors.InvalidRequest(f"the file is not valid CSV: {exc}", status=400) from None
    return rows, rejected


def _import_row(
    line: list[str], phone_at: int, time_at: int | None, now: int
) -> tuple[tuple[str, int] | None, str]:
    raw = line[phone_at].strip() if phone_at < len(line) else ""
    try:
        phone = normalize_phone(raw)
    except InvalidPhone as exc:
        return None, f"phone_number {exc}"
    at = now
    if time_at is not None and time_at < len(line) and line[time_at].strip():
        parsed = parse_iso(line[time_at])
        if parsed is None:
            return None, "created_at must be an ISO 8601 date-time"
        if parsed > now:
            return None, "created_at is in the future"
        at = parsed
    return (phone, at), ""
