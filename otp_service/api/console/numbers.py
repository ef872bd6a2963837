"""The sending numbers: Telnyx's list with messaging settings, one number's settings,
moving a number to another messaging profile, and bulk updates with their progress.

Everything goes through ``admin.NumbersAdmin``, as the admin API does: changes are
audited under the signed-in key's id, Telnyx's refusals shown on the page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request, url_for

from otp_service import errors
from otp_service.admin import BULK_MAX_NUMBERS, Page
from otp_service.api.admin import NUMBER_ID, ORDER_ID
from otp_service.api.console import web
from otp_service.api.http import services
from otp_service.phones import mask_phone

bp = Blueprint("numbers", __name__, url_prefix="/numbers")
PAGE_SIZE = 20
PROFILES_PAGE_SIZE = 250  # Telnyx's largest page: the profiles a number can move to


@bp.get("")
def list_numbers() -> Response:
    return _numbers_page()


def _numbers_page(problem: errors.ServiceError | None = None, form: Any = None) -> Response:
    admin = services().numbers_admin
    number = web.page_number()
    found = admin.list_phone_numbers(Page(number, PAGE_SIZE), {"sort[phone_number]": "asc"})
    profiles = _messaging_profiles()
    return web.render(
        "numbers.html",
        status=problem.status if problem else 200,
        page="numbers",
        numbers=found["data"],
        meta=found["meta"],
        page_number=number,
        profiles=profiles,
        profile_names={p["id"]: p.get("name") or p["id"] for p in profiles},
        problem=problem,
        form=form or {},
        bulk_max=BULK_MAX_NUMBERS,
    )


def _messaging_profiles() -> list[dict[str, Any]]:
    found = services().numbers_admin.list_messaging_profiles(Page(1, PROFILES_PAGE_SIZE), {})
    return [p for p in found["data"] if isinstance(p, dict) and p.get("id")]


def _number_id(value: str) -> str:
    if not NUMBER_ID.fullmatch(value):
        raise errors.NotFound("There is no such number.")
    return value


@bp.get("/<number_id>")
def show_number(number_id: str) -> Response:
    found = services().numbers_admin.get_phone_number(_number_id(number_id))["data"]
    profiles = _messaging_profiles()
    return web.render(
        "number.html",
        page="numbers",
        number=found,
        settings=_settings_rows(found),
        profiles=profiles,
        profile_names={p["id"]: p.get("name") or p["id"] for p in profiles},
    )


def _settings_rows(found: dict[str, Any]) -> list[tuple[str, str]]:
    """The number's messaging settings as (name, value) rows, numbers masked."""
    rows = []
    for name, value in sorted(found.items()):
        if name == "phone_number" and isinstance(value, str):
            value = mask_phone(value)
        rows.append((name, value if isinstance(value, str) else _compact(value)))
    return rows


def _compact(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(_compact(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_compact(v)}" for k, v in value.items()) or "—"
    return str(value)


@bp.post("/<number_id>/move")
def move_number(number_id: str) -> Response:
    number_id = _number_id(number_id)
    profile_id = web.field("messaging_profile_id", 64)
    if not profile_id:
        raise errors.InvalidRequest(
            "choose a messaging profile", errors={"messaging_profile_id": ["required"]}
        )
    found = services().numbers_admin.update_phone_number(
        number_id, actor=g.key_id, messaging_profile_id=profile_id
    )["data"]
    phone = mask_phone(found.get("phone_number") or "") if isinstance(found, dict) else number_id
    message = f"Moved {phone} to messaging profile {profile_id}."
    if request.form.get("from") == "number":
        return web.done(message, "console.numbers.show_number", number_id=number_id)
    return web.done(message, "console.numbers.list_numbers", page=web.form_page())


@bp.post("/bulk-updates")
def create_bulk_update() -> Response:
    profile_id = web.field("messaging_profile_id", 64)
    numbers = web.field("numbers", 20 * BULK_MAX_NUMBERS).split()
    form = {"messaging_profile_id": profile_id, "numbers": "\n".join(numbers)}
    try:
        if not profile_id:
            raise errors.InvalidRequest(
                "choose a messaging profile", errors={"messaging_profile_id": ["required"]}
            )
        found = services().numbers_admin.bulk_update(
            actor=g.key_id, messaging_profile_id=profile_id, numbers=numbers
        )["data"]
    except errors.ServiceError as exc:
        return _numbers_page(problem=exc, form=form)
    order_id = found.get("order_id", "") if isinstance(found, dict) else ""
    if not ORDER_ID.fullmatch(order_id or ""):
        raise errors.ProviderError("Telnyx accepted the bulk update but gave no order id")
    return web.done(
        f"Bulk update of {len(numbers)} number(s) started.",
        "console.numbers.show_bulk_update",
        order_id=order_id,
    )


@bp.get("/bulk-updates/<order_id>")
def show_bulk_update(order_id: str) -> Response:
    if not ORDER_ID.fullmatch(order_id):
        raise errors.NotFound("There is no such bulk update.")
    found = services().numbers_admin.get_bulk_update(order_id)["data"]
    lists = {
        name: [mask_phone(n) for n in found.get(name) or [] if isinstance(n, str)]
        for name in ("success", "failed", "pending")
    }
    total = sum(len(v) for v in lists.values())
    finished = total - len(lists["pending"])
    return web.render(
        "bulk_update.html",
        page="numbers",
        order_id=order_id,
        lists=lists,
        total=total,
        finished=finished,
        running=bool(lists["pending"]),
        self_url=url_for("console.numbers.show_bulk_update", order_id=order_id),
    )
