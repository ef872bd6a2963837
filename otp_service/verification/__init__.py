"""SMS and WhatsApp verifications: create and resend, check, get, cancel — split by job
(the service, the SMS-pumping guard, idempotency, the stored record)."""

from otp_service.verification.service import CreateRequest, Result, VerificationService

__all__ = ["CreateRequest", "Result", "VerificationService"]
