"""Verify profiles and their keys: list, create, show, update; keys created (the key shown
once, on the answer to the form), listed and revoked. Through ``ProfileService``, as the
admin API: the same checks, every change audited.

The form covers the plain settings; templates and test numbers are set through the API
or the CLI (the page shows them, test numbers masked and never with their codes).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g

from otp_service import errors
from otp_service.admin import Page
from otp_service.api.console import web
from otp_service.api.http import services

bp = Blueprint("profiles", __name__, url_prefix="/profiles")
PAGE_SIZE = 50
# The form's fields: (name, label, kind); an empty field removes the override.
FORM_FIELDS = (
    ("name", "Name", "text"),
    ("app_name", "App name in the message", "text"),
    ("code_length", "Code length", "integer"),
    ("ttl_seconds", "Code lifetime (seconds)", "integer"),
    ("max_attempts", "Attempts per code", "integer"),
    ("max_sends", "Sends per verification", "integer"),
    ("resend_cooldown_seconds", "Resend cooldown (seconds)", "integer"),
    ("default_locale", "Default locale", "text"),
    ("allowed_countries", "Allowed countries (ISO codes, comma-separated)", "list"),
    ("webotp_domain", "WebOTP domain", "text"),
)


@bp.get("")
def list_profiles() -> Response:
    return _profiles_page()


def _profiles_page(
    problem: errors.ServiceError | None = None, form: dict[str, str] | None = None
) -> Response:
    number = web.page_number()
    found = services().profiles.list_page(Page(number, PAGE_SIZE))
    return web.render(
        "profiles.html",
        status=problem.status if problem else 200,
        page="profiles",
        profiles=found["data"],
        meta=found["meta"],
        page_number=number,
        fields=FORM_FIELDS,
        problem=problem,
        form=form or {},
    )


def _form_values() -> tuple[dict[str, Any], dict[str, str]]:
    """(the profile's fields from the form, the form as typed). Empty fields are None:
    on an update, that removes the override."""
    typed = {name: web.field(name, 300) for name, _label, _kind in FORM_FIELDS}
    values: dict[str, Any] = {}
    problems: dict[str, list[str]] = {}
    for name, _label, kind in FORM_FIELDS:
        text = typed[name]
        if not text:
            values[name] = None
        elif kind == "integer":
            if text.isascii() and text.isdigit():  # "²" is a digit that int() refuses
                values[name] = int(text)
            else:
                problems[name] = ["must be a whole number"]
        elif kind == "list":
            values[name] = [part.strip() for part in text.split(",") if part.strip()]
        else:
            values[name] = text
    if problems:
        raise errors.InvalidRequest("the profile is not valid", errors=problems)
    return values, typed


@bp.post("")
def create_profile() -> Response:
    typed: dict[str, str] = {}
    try:
        values, typed = _form_values()
        created = services().profiles.create(
            {k: v for k, v in values.items() if v is not None}, actor=g.key_id
        )
    except errors.InvalidRequest as exc:
        return _profiles_page(problem=exc, form=typed)
    return web.done(
        f"Created profile {created['id']}.",
        "console.profiles.show_profile",
        profile_id=created["id"],
    )


@bp.get("/<profile_id>")
def show_profile(profile_id: str) -> Response:
    return _profile_page(profile_id)


def _profile_page(
    profile_id: str,
    *,
    problem: errors.ServiceError | None = None,
    form: dict[str, str] | None = None,
    new_key: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    found = services().profiles
    profile = found.get(profile_id)
    keys = found.list_keys(profile_id)["data"]
    overrides = profile["overrides"]
    if form is None:  # the form shows the overrides; empty: the environment's value
        form = {
            name: ", ".join(overrides[name]) if kind == "list" else str(overrides[name])
            for name, _label, kind in FORM_FIELDS
            if overrides.get(name) is not None
        }
        if profile.get("name") and not profile.get("read_only"):
            form["name"] = profile["name"]
    return web.render(
        "profile.html",
        status=problem.status if problem else status,
        page="profiles",
        profile=profile,
        keys=keys,
        fields=FORM_FIELDS,
        form=form,
        problem=problem,
        new_key=new_key,
    )


@bp.post("/<profile_id>")
def update_profile(profile_id: str) -> Response:
    typed: dict[str, str] = {}
    try:
        values, typed = _form_values()
        services().profiles.update(profile_id, values, actor=g.key_id)
    except (errors.InvalidRequest, errors.Conflict) as exc:
        return _profile_page(profile_id, problem=exc, form=typed)
    return web.done("Saved.", "console.profiles.show_profile", profile_id=profile_id)


@bp.post("/<profile_id>/keys")
def create_key(profile_id: str) -> Response:
    """The new key is in this answer only (Redis keeps its digest): no redirect, so that
    no other page, notice or session ever holds it."""
    try:
        created = services().profiles.create_key(profile_id, actor=g.key_id)["data"]
    except errors.Conflict as exc:
        return _profile_page(profile_id, problem=exc)
    return _profile_page(profile_id, new_key=created, status=201)


@bp.post("/<profile_id>/keys/<key_id>/revoke")
def revoke_key(profile_id: str, key_id: str) -> Response:
    try:
        services().profiles.revoke_key(profile_id, key_id, actor=g.key_id)
    except errors.Conflict as exc:
        return _profile_page(profile_id, problem=exc)
    return web.done(
        f"Revoked key {key_id[:40]}.", "console.profiles.show_profile", profile_id=profile_id
    )
