"""The opt-out list for operators: list, get, add and remove numbers, sync it from
Telnyx, and import and export it as CSV.

Storage is ``store.optouts.OptOutStore`` (verification reads the same list); this module
adds what operators need on top: validation, the API's shapes, and an audit entry for
every change (``audit.py``), failures included. No Flask here: the admin views and the
CLI call the same methods.
"""

from __future__ import annotations

import csv
import io
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from otp_service import errors
from otp_service.admin.audit import AuditLog
from otp_service.admin.numbers import call_telnyx, every_page
from otp_service.admin.page import Page
from otp_service.phones import InvalidPhone
from otp_service.phones import normalize as normalize_phone
from otp_service.store.optouts import OptOut, OptOutStore
from otp_service.telnyx import TelnyxClient
from otp_service.timefmt import iso_time, parse_iso

__all__ = [
    "IMPORT_MAX_BYTES",
    "IMPORT_MAX_ROWS",
    "OptOutAdmin",
    "OptOutFilter",
    "Progress",
]

SYNC_PAGE_SIZE = 250
WRITE_CHUNK = 500  # opt-outs written per round trip (sync pages, imports)
EXPORT_CHUNK = 1000
# a sync pages through every opt-out Telnyx holds: it may take far longer than another
# change before the worker files it as unconfirmed (admin/audit.py)
SYNC_OPEN_MS = 60 * 60_000
IMPORT_MAX_BYTES = 5 * 1024 * 1024
IMPORT_MAX_ROWS = 100_000
IMPORT_MAX_REJECTED = 100  # rejected lines listed in the answer

Progress = Callable[[int, int | None], None]  # (items done, items in all if known)


@dataclass(frozen=True)
class OptOutFilter:
    """Which opt-outs a listing or export keeps; times in ms, inclusive; ``None`` keeps any."""

    source: str | None = None
    created_after: int | None = None
    created_before: int | None = None


class OptOutAdmin:
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

    def list_optouts(self, page: Page, where: OptOutFilter) -> dict[str, Any]:
        """A page of the opt-out list, oldest first."""
        items, total = self._stored(where, offset=page.offset, limit=page.size)
        return {"data": [_optout_body(o) for o in items], "meta": page.meta(total)}

    def get_optout(self, phone_number: str) -> dict[str, Any]:
        phone = _valid_phone(phone_number)
        found = self.optouts.get(phone)
        if found is None:
            raise errors.OptOutNotFound(f"{phone} is not opted out")
        return _optout_body(found)

    def add_optout(self, phone_number: str, *, actor: str) -> tuple[bool, dict[str, Any]]:
        """Opt a number out (source ``admin``); (added?, the opt-out as it now stands).

        The marker is written before this returns: the next create for it answers 409."""
        phone = _valid_phone(phone_number)
        at = self._now_ms()
        with self.audit.audited(actor, "optout.add", phone, {}) as outcome:
            result = self.optouts.add(phone, "admin", at_ms=at, in_time=True)
            outcome["result"], outcome["status"] = result, 201 if result == "added" else 200
        if result == "added":
            return True, _optout_body(OptOut(phone, "admin", at))
        found = self.optouts.get(phone)
        return False, _optout_body(found or OptOut(phone, "admin", at))

    def remove_optout(self, phone_number: str, *, actor: str) -> None:
        """Opt a number back in, whatever opted it out; 404 when it was not opted out.

        Only the local list: a number Telnyx itself blocks stays blocked there, and the
        next sync adds it again."""
        phone = _valid_phone(phone_number)
        with self.audit.audited(actor, "optout.remove", phone, {}) as outcome:
            # a removal cut short on a cluster's index node: not opted out, still listed
            found = self.optouts.get(phone) or self.optouts.listed(phone)
            if found is not None:
                outcome["detail"] = {"source": found.source}
                # An operator's removal wins over any opt-out time, even a future one.
                at = max(self._now_ms(), found.created_at)
                removed = self.optouts.remove(phone, by="admin", at_ms=at, in_time=True)
                if removed == "removed":
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
        with self.audit.audited(
            actor, "optouts.sync", messaging_profile_id or "*", detail, open_for_ms=SYNC_OPEN_MS
        ) as outcome:
            outcome["detail"] = counts  # the counts so far, should a page fail
            first = call_telnyx(
                self.telnyx.messaging_optouts.list,
                messaging_profile_id=messaging_profile_id,
                page_size=self.sync_page_size,
            )
            total = first.meta.get("total_results")
            total = total if isinstance(total, int) else None
            for page in every_page(first):
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
        # Telnyx's own list: no deadline, never dropped (a 503 here is made on resuming)
        for added in self._add_many(valid, "telnyx_sync", in_time=False):
            counts["added" if added else "already_present"] += 1

    def _add_many(
        self, rows: list[tuple[str, int]], source: str, *, in_time: bool
    ) -> Iterator[bool]:
        """Opt ``rows`` (phone, ms) out, ``WRITE_CHUNK`` per round trip; added? per row.
        ``in_time``: an operator's, which Redis must not make after a 503."""
        for outcome in self.optouts.add_many(rows, source, chunk=WRITE_CHUNK, in_time=in_time):
            yield outcome == "added"

    def _stored(self, where: OptOutFilter, *, offset: int, limit: int) -> tuple[list[OptOut], int]:
        return self.optouts.list(
            source=where.source,
            created_after=where.created_after,
            created_before=where.created_before,
            offset=offset,
            limit=limit,
        )

    def export_csv(self, where: OptOutFilter) -> Iterator[str]:
        """The opt-out list as CSV (``phone_number,source,created_at``), oldest first, in
        chunks; the first chunk is read before this returns, so storage errors surface."""
        chunks = self._csv_chunks(where)
        first = next(chunks)
        return itertools.chain([first], chunks)

    def _csv_chunks(self, where: OptOutFilter) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(["phone_number", "source", "created_at"])
        offset = 0
        while True:
            items, _total = self._stored(where, offset=offset, limit=EXPORT_CHUNK)
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
        with self.audit.audited(actor, "optouts.import", "*", {}) as outcome:
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
            for added in self._add_many(rows, "admin", in_time=True):
                counts["added" if added else "already_present"] += 1
            outcome["result"] = "completed"
        return {**counts, "rejected": []}


def _valid_phone(value: str) -> str:
    """``value`` normalised, or a 422 naming ``phone_number`` (it comes from the path)."""
    try:
        return normalize_phone(value)
    except InvalidPhone as exc:
        raise errors.InvalidRequest(
            "phone_number is not valid", errors={"phone_number": [str(exc)]}
        ) from None


def _optout_body(optout: OptOut) -> dict[str, Any]:
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
                # the offending cell: each reason starts with its column's name
                at = phone_at
                if time_at is not None and reason.startswith("created_at"):
                    at = time_at
                value = line[at].strip() if at < len(line) else ""
                rejected.append({"line": reader.line_num, "value": value[:40], "reason": reason})
    except csv.Error as exc:
        raise errors.InvalidRequest(f"the file is not valid CSV: {exc}", status=400) from None
    return rows, rejected


def _import_row(
    line: list[str], phone_at: int, time_at: int | None, now: int
) -> tuple[tuple[str, int] | None, str]:
    """One line's (phone, ms) row, or None and why it is rejected."""
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
