"""The webhook tests (delivery status, STOP/START opt-outs, link clicks) on the cluster."""

from tests.test_webhooks import *  # noqa: F403
