"""Operators' tools: the sending numbers (Telnyx, passed through), the opt-out list
(sync, CSV), and the audit log of every change."""

from otp_service.admin.service import (
    BULK_MAX_NUMBERS,
    CLI_KEY_ID,
    IMPORT_MAX_BYTES,
    LIST_PARAMS,
    AdminService,
)

__all__ = ["BULK_MAX_NUMBERS", "CLI_KEY_ID", "IMPORT_MAX_BYTES", "LIST_PARAMS", "AdminService"]
