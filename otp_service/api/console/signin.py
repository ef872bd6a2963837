"""Sign in with an admin key, sign out.

The key is checked as the admin API checks it (``auth.admin_key_id``: the same digests,
the same constant-time comparison) and then forgotten: the session remembers only the
key's id. A client or profile key is refused (403), an unknown one too (401); both are
logged with the reason, never with the key.
"""

from __future__ import annotations

import hashlib
import logging
import secrets

from flask import Blueprint, Response, g, redirect, request, url_for

from otp_service import errors
from otp_service.api.auth import admin_key_id
from otp_service.api.console import web
from otp_service.api.http import services

bp = Blueprint("signin", __name__)
log = logging.getLogger(__name__)
KEY_MAX = 512  # characters of a pasted key read at most


@bp.get("/sign-in")
def sign_in_form() -> Response:
    notice = None
    if request.args.get("expired"):
        notice = "Your session has ended. Sign in again."
    elif request.args.get("signed_out"):
        notice = "You are signed out."
    return _form(notice=notice)


@bp.post("/sign-in")
def sign_in() -> Response:
    key = request.form.get("key", "").strip()
    try:
        if not key or len(key) > KEY_MAX:
            raise errors.Unauthorized("the API key is not valid")
        key_id = admin_key_id(hashlib.sha256(key.encode()).digest())
    except (errors.Unauthorized, errors.Forbidden) as exc:
        log.warning("console sign-in refused: %s", exc.code)
        message = (
            "This is a client key: the console needs an admin key."
            if isinstance(exc, errors.Forbidden)
            else "This key is not a valid admin key."
        )
        return _form(problem=message, status=exc.status)
    found = services()
    previous = request.cookies.get(web.COOKIE)
    if previous:  # a new sign-in replaces the browser's session, never adds to it
        found.console_sessions.end(previous)
    with found.audit.audited(key_id, "console.sign_in", "console", {}) as outcome:
        token, _session = found.console_sessions.start(key_id)
        outcome["result"] = "signed_in"
    response = redirect(_next_page(), 303)
    web.set_session_cookie(response, token)
    response.delete_cookie(web.SIGN_IN_COOKIE, path=web.COOKIE_PATH)
    return response


@bp.post("/sign-out")
def sign_out() -> Response:
    found = services()
    with found.audit.audited(g.key_id, "console.sign_out", "console", {}) as outcome:
        found.console_sessions.end(g.console_token)
        outcome["result"] = "signed_out"
    response = redirect(url_for("console.signin.sign_in_form", signed_out=1), 303)
    web.set_session_cookie(response, None)
    return response


def _form(*, notice: str | None = None, problem: str | None = None, status: int = 200) -> Response:
    """The form, with a fresh CSRF token in it and in its cookie (double submit)."""
    token = secrets.token_urlsafe(32)
    response = web.render(
        "sign_in.html",
        status=status,
        notice_text=notice,
        sign_in_problem=problem,
        sign_in_token=token,
        next_page=_next_page(),
    )
    web.set_sign_in_cookie(response, token)
    return response


def _next_page() -> str:
    """Where to go after signing in: a console page asked for (never another site)."""
    wanted = request.values.get("next", "")
    if wanted.startswith("/console") and not wanted.startswith("//") and "\\" not in wanted:
        return wanted.rstrip("?")
    return url_for("console.pages.overview")
