"""The opt-out list: list, add, remove, sync from Telnyx with its progress, CSV import
and export. Through ``admin.OptOutAdmin``, as the admin API: every change audited.

Numbers on the page are masked; to remove one, an operator types it (they know it: the
user asked). The CSV export holds full numbers, as the admin API's does, and is audited.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, g, request, stream_template

from otp_service import errors
from otp_service.admin import OptOutFilter, Page
from otp_service.api.console import web
from otp_service.api.http import services
from otp_service.phones import mask_phone
from otp_service.store.optouts import SOURCES

bp = Blueprint("optouts", __name__, url_prefix="/opt-outs")
log = logging.getLogger(__name__)
PAGE_SIZE = 50
SYNC_WAIT_SECONDS = 300  # the page gives up on a sync that says nothing for this long


@bp.get("")
def list_optouts() -> Response:
    return _optouts_page()


def _optouts_page(problem: errors.ServiceError | None = None) -> Response:
    source = request.args.get("source") or None
    if source not in (None, *SOURCES):
        source = None
    number = web.page_number()
    found = services().optout_admin.list_optouts(Page(number, PAGE_SIZE), OptOutFilter(source))
    return web.render(
        "optouts.html",
        status=problem.status if problem else 200,
        page="optouts",
        optouts=found["data"],
        meta=found["meta"],
        page_number=number,
        source=source,
        sources=SOURCES,
        problem=problem,
        rejected=(problem.extra.get("rejected") or []) if problem else [],
    )


@bp.post("")
def add_optout() -> Response:
    phone = web.field("phone_number", 40)
    try:
        added, body = services().optout_admin.add_optout(phone, actor=g.key_id)
    except errors.InvalidRequest as exc:
        return _optouts_page(problem=exc)  # the number typed is not shown back
    shown = mask_phone(body["phone_number"])
    message = f"Opted out {shown}." if added else f"{shown} was already opted out."
    return web.done(message, "console.optouts.list_optouts")


@bp.post("/remove")
def remove_optout() -> Response:
    phone = web.field("phone_number", 40)
    try:
        services().optout_admin.remove_optout(phone, actor=g.key_id)
    except errors.OptOutNotFound:
        return _optouts_page(problem=errors.OptOutNotFound(f"{mask_phone(phone)} is not opted out"))
    except errors.InvalidRequest as exc:
        return _optouts_page(problem=exc)
    return web.done(f"Opted {mask_phone(phone)} back in.", "console.optouts.list_optouts")


@bp.post("/sync")
def sync() -> Response:
    """Sync from Telnyx, the page showing each page of Telnyx's list as it is added: the
    sync runs in a thread, the response streams its progress."""
    return Response(
        stream_template(
            "console/optouts_sync.html",
            steps=_sync_steps(services(), g.key_id),
            page="optouts",
            **web.layout_context(),
        ),
        mimetype="text/html",
    )


def _sync_steps(found: Any, actor: str) -> Iterator[dict[str, Any]]:
    """Progress events of one sync: ``progress`` after each page, then ``done`` with the
    counts or ``failed`` with the problem."""
    events: queue.Queue[dict[str, Any]] = queue.Queue()

    def progress(done: int, total: int | None) -> None:
        events.put({"kind": "progress", "done": done, "total": total})

    def run() -> None:
        try:
            counts = found.optout_admin.sync_optouts(actor=actor, progress=progress)
            events.put({"kind": "done", "counts": counts})
        except errors.ServiceError as exc:
            events.put({"kind": "failed", "detail": exc.detail})
        except Exception:
            log.exception("console: opt-out sync failed")
            events.put({"kind": "failed", "detail": "the sync failed; the service log says why"})

    threading.Thread(target=run, name="otp-console-sync", daemon=True).start()
    while True:
        try:
            event = events.get(timeout=SYNC_WAIT_SECONDS)
        except queue.Empty:
            yield {"kind": "failed", "detail": "no progress for five minutes; see the audit log"}
            return
        yield event
        if event["kind"] != "progress":
            return


@bp.post("/import")
def import_csv() -> Response:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _optouts_page(
            problem=errors.InvalidRequest("choose a CSV file", errors={"file": ["required"]})
        )
    try:
        counts = services().optout_admin.import_csv(upload.read(), actor=g.key_id)
    except errors.InvalidRequest as exc:
        return _optouts_page(problem=exc)
    return web.done(
        f"Imported {counts['received']} number(s): {counts['added']} added, "
        f"{counts['already_present']} already opted out.",
        "console.optouts.list_optouts",
    )


@bp.get("/export")
def export_csv() -> Response:
    found = services()
    with found.audit.audited(g.key_id, "optouts.export", "*", {}) as outcome:
        chunks = found.optout_admin.export_csv(OptOutFilter())
        outcome["result"] = "exported"
    return Response(
        chunks,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="opt-outs.csv"'},
    )
