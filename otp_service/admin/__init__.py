"""Operators' tools, one module a job: the sending numbers, passed through to Telnyx
(``numbers``), the opt-out list with sync and CSV (``optouts``), and the audit log of
every change (``audit``)."""

from otp_service.admin.audit import CLI_KEY_ID, AuditFilter, AuditLog
from otp_service.admin.numbers import BULK_MAX_NUMBERS, LIST_PARAMS, NumbersAdmin
from otp_service.admin.optouts import IMPORT_MAX_BYTES, OptOutAdmin, OptOutFilter
from otp_service.admin.page import Page

__all__ = [
    "BULK_MAX_NUMBERS",
    "CLI_KEY_ID",
    "IMPORT_MAX_BYTES",
    "LIST_PARAMS",
    "AuditFilter",
    "AuditLog",
    "NumbersAdmin",
    "OptOutAdmin",
    "OptOutFilter",
    "Page",
]
