"""HTTP views. They parse, authenticate, call a service and render; nothing else."""

from __future__ import annotations

from flask import Flask

from otp_service.api import admin, factors, ops, verifications, webhooks

__all__ = ["register"]


def register(app: Flask) -> None:
    app.register_blueprint(ops.bp)
    app.register_blueprint(verifications.bp)
    app.register_blueprint(factors.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(admin.bp)
