"""The operator console at /console: server-rendered pages (Jinja templates and static
files in this package, no build step, no CDN) over the same services as the admin API.

Signed in with an admin key, which is checked once and never kept: the browser holds a
session cookie, Redis the session (``admin/sessions.py``). Every form carries its
session's CSRF token; every change is audited under the admin key's id, as the admin
API's are. One blueprint per area, nested under ``console``, whose hooks (session, CSRF,
security headers, error pages) run for all of them.
"""

from __future__ import annotations

import redis.exceptions
from flask import Blueprint
from werkzeug.exceptions import HTTPException

from otp_service import errors
from otp_service.api.console import (
    audit,
    numbers,
    optouts,
    pages,
    profiles,
    signin,
    verifications,
    web,
    webhooks,
)

__all__ = ["bp"]

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
bp.before_request(web.before_request)
bp.after_request(web.security_headers)
bp.register_error_handler(errors.ServiceError, web.handle_service_error)
bp.register_error_handler(HTTPException, web.handle_http_error)
bp.register_error_handler(redis.exceptions.RedisError, web.handle_redis_error)
bp.register_error_handler(Exception, web.handle_unexpected)
for area in (signin, pages, verifications, numbers, optouts, profiles, webhooks, audit):
    bp.register_blueprint(area.bp)
