"""The verification flow tests (create, resend, check, cancel, idempotency) on the cluster."""

from tests.test_verifications import *  # noqa: F403
