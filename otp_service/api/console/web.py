"""What every console page shares: the session and CSRF checks run before each request,
the cookie, page rendering with the layout's context, form fields, and the error page.

A page never answers a 500 for a problem it can explain: a ``ServiceError`` (a bad form
field, Telnyx refusing, a profile that is gone) becomes the same page with the problem
shown, or the error page with its status; only a bug is a 500, and its page says nothing
of the error (the log has it).
"""

from __future__ import annotations

import hmac
import logging
import re
from typing import Any
from urllib.parse import urlsplit

import redis.exceptions
from flask import Response, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from otp_service import errors
from otp_service.admin import IMPORT_MAX_BYTES, ConsoleSession
from otp_service.admin.audit import mask
from otp_service.api.http import services
from otp_service.phones import mask_phone

__all__ = [
    "COOKIE",
    "SIGN_IN_COOKIE",
    "back_to",
    "before_request",
    "done",
    "field",
    "form_page",
    "layout_context",
    "page_number",
    "render",
    "render_error",
    "security_headers",
    "set_session_cookie",
    "set_sign_in_cookie",
]

log = logging.getLogger(__name__)

COOKIE = "otp_console"  # the session token; the session itself is in Redis
SIGN_IN_COOKIE = "otp_console_sign_in"  # the sign-in form's CSRF token (double submit)
COOKIE_PATH = "/console"
# Endpoints open without a session: the sign-in form and the CSS/JS it needs.
OPEN_ENDPOINTS = {"console.signin.sign_in", "console.signin.sign_in_form", "console.static"}
UPLOAD_ENDPOINTS = {"console.optouts.import_csv"}
UPLOAD_OVERHEAD = 64 * 1024  # multipart framing and the form's other fields
# Pages (endpoint, label) in the navigation, in order.
NAVIGATION = (
    ("console.pages.overview", "Overview"),
    ("console.verifications.list_verifications", "Verifications"),
    ("console.numbers.list_numbers", "Numbers"),
    ("console.optouts.list_optouts", "Opt-outs"),
    ("console.profiles.list_profiles", "Profiles"),
    ("console.webhooks.list_endpoints", "Webhooks"),
    ("console.audit.list_audit", "Audit log"),
)
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def before_request() -> Response | None:
    """Every console request but the open ones needs a live session; every POST its
    session's CSRF token (the sign-in form its cookie's)."""
    endpoint = request.endpoint or ""
    if endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = IMPORT_MAX_BYTES + UPLOAD_OVERHEAD
    if endpoint in OPEN_ENDPOINTS:
        if request.method == "POST" and not _token_matches(request.cookies.get(SIGN_IN_COOKIE)):
            return csrf_refused()
        return None
    token = request.cookies.get(COOKIE, "")
    session = services().console_sessions.resume(token)
    if session is None:
        if request.method == "GET":
            return redirect(
                url_for("console.signin.sign_in_form", next=request.full_path.rstrip("?"))
            )
        return redirect(url_for("console.signin.sign_in_form", expired=1), 303)
    if request.method == "POST" and not _token_matches(session.csrf):
        return csrf_refused()
    g.console_token, g.console_session, g.key_id = token, session, session.key_id
    return None


def _token_matches(expected: str | None) -> bool:
    given = request.form.get("csrf_token", "")
    return bool(expected) and bool(given) and hmac.compare_digest(given, expected or "")


def csrf_refused() -> Response:
    log.warning("console: %s %s refused: missing or wrong CSRF token", request.method, request.path)
    return render_error(
        errors.Forbidden(
            "This form was sent without its security token, or with a wrong one, so nothing "
            "was changed. Go back, reload the page and send the form again."
        ),
        title="Form refused",
    )


def security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def set_session_cookie(response: Response, token: str | None) -> None:
    """The session cookie (``None`` clears it): HttpOnly, SameSite=Strict, and Secure
    except in development, where the console is plain http on loopback."""
    secure = services().settings.is_production
    if token is None:
        response.delete_cookie(COOKIE, path=COOKIE_PATH, secure=secure, samesite="Strict")
        return
    response.set_cookie(
        COOKIE, token, path=COOKIE_PATH, httponly=True, secure=secure, samesite="Strict"
    )


def set_sign_in_cookie(response: Response, token: str) -> None:
    """The sign-in form's CSRF token as a short-lived cookie, to compare the form's with."""
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        max_age=3600,
        path=COOKIE_PATH,
        httponly=True,
        secure=services().settings.is_production,
        samesite="Strict",
    )


def render(template: str, status: int = 200, **context: Any) -> Response:
    """A page in the layout: navigation, the signed-in key's id, its CSRF token, its notice."""
    body = render_template(f"console/{template}", **layout_context(), **context)
    return Response(body, status=status, mimetype="text/html")


def layout_context() -> dict[str, Any]:
    """What the layout needs: navigation, the session (key id, CSRF token, notice)."""
    session: ConsoleSession | None = g.get("console_session")
    return {
        "navigation": NAVIGATION,
        "session": session,
        "csrf_token": session.csrf if session else "",
        "notice": session.flash if session else None,
        "mask_phone": mask_phone,
        "mask_target": mask,
        "mask_numbers": mask_numbers,
        "when": when,
    }


def when(iso: str | None) -> str:
    """An API time (``2027-01-15T08:00:00.000Z``) as a table shows it, to the second:
    ``2027-01-15 08:00:00`` (UTC, as every time in the console)."""
    return iso[:19].replace("T", " ") if iso else "—"


_NUMBER_IN_TEXT = re.compile(r"\+[1-9][0-9]{6,14}")


def mask_numbers(text: str) -> str:
    """``text`` with every E.164 number in it masked: problem details may quote one
    (Telnyx's messages do)."""
    return _NUMBER_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), str(text))


def render_error(
    error: errors.ServiceError, *, title: str | None = None, back: str | None = None
) -> Response:
    return render(
        "error.html",
        status=error.status,
        problem=error,
        title=title or error.title,
        back=back or back_to(url_for("console.pages.overview")),
    )


def done(message: str, endpoint: str, **values: Any) -> Response:
    """After a change: the notice for the next page, and a 303 to it (reloading it does
    not send the form again)."""
    services().console_sessions.notify(g.console_token, message)
    return redirect(url_for(endpoint, **values), 303)


def field(name: str, max_length: int = 200) -> str:
    """A form field, stripped; a longer value is refused rather than cut."""
    value = request.form.get(name, "").strip()
    if len(value) > max_length:
        raise errors.InvalidRequest(
            f"{name} is too long", errors={name: [f"at most {max_length} characters"]}
        )
    return value


def page_number() -> int:
    """``?page=`` as a page number from 1; anything else is page 1."""
    return _page(request.args.get("page", "1"))


def form_page() -> int:
    """The page a form was sent from (its ``page`` field), to go back to it."""
    return _page(request.form.get("page", "1"))


def _page(raw: str) -> int:
    # ASCII digits, and few: int() refuses "²" (a digit to isdigit) and 4301 digits
    if raw.isascii() and raw.isdigit() and len(raw) <= 6 and 0 < int(raw) <= 100_000:
        return int(raw)
    return 1


def back_to(default: str) -> str:
    """The page that sent the form (same site, under /console), else ``default``."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith(COOKIE_PATH):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return default


def handle_service_error(error: errors.ServiceError) -> Response:
    return render_error(error)


def handle_http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 413:
        error: errors.ServiceError = errors.PayloadTooLarge(
            f"The file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MiB."
        )
    elif status == 404:
        error = errors.NotFound("There is no such page in the console.")
    else:
        error = errors.ServiceError(exc.description or exc.name, status=status)
        error.title = exc.name
    return render_error(error)


def handle_redis_error(exc: redis.exceptions.RedisError) -> Response:
    log.warning("console: redis error: %s", type(exc).__name__)
    return render_error(errors.StorageUnavailable("Redis is not reachable; try again shortly."))


def handle_unexpected(exc: Exception) -> Response:
    log.exception("console: unhandled error")
    return render_error(errors.InternalError("Something went wrong; the service log says what."))
