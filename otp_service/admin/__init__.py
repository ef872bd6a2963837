"""Operators' tools, one module a job: the sending numbers, passed through to Telnyx
(``numbers``), the opt-out list with sync and CSV (``optouts``), the audit log of
every change (``audit``), and the console's sign-in sessions (``sessions``)."""

from otp_service.admin.audit import CLI_KEY_ID, AuditFilter, AuditLog, UnfinishedChanges
from otp_service.admin.numbers import BULK_MAX_NUMBERS, LIST_PARAMS, NumbersAdmin
from otp_service.admin.optouts import IMPORT_MAX_BYTES, OptOutAdmin, OptOutFilter
from otp_service.admin.page import Page
from otp_service.admin.sessions import ConsoleSession, ConsoleSessions

__all__ = [
    "BULK_MAX_NUMBERS",
    "CLI_KEY_ID",
    "IMPORT_MAX_BYTES",
    "LIST_PARAMS",
    "AuditFilter",
    "AuditLog",
    "ConsoleSession",
    "ConsoleSessions",
    "NumbersAdmin",
    "OptOutAdmin",
    "OptOutFilter",
    "Page",
    "UnfinishedChanges",
]
