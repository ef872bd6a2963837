"""The `otp-service` command: serve the API, run the sandbox, operator tasks."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx

from otp_service.config import ConfigError, Settings

__all__ = ["main"]


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        click.echo(f"otp-service: {exc}", err=True)
        sys.exit(2)


@click.group()
def main() -> None:
    """otp-service: one-time codes over SMS and WhatsApp through Telnyx."""


@main.command()
def serve() -> None:
    """Start the API under gunicorn; in development also an embedded redis-server and the
    Telnyx sandbox when REDIS_URL / TELNYX_API_KEY are unset. Ctrl-C stops all of it."""
    from otp_service.redis_server import RedisServer

    settings = _settings()
    children: list[Any] = []
    try:
        if not settings.redis_url:
            server = RedisServer(Path(settings.data_dir) / "redis")
            os.environ["REDIS_URL"] = server.start()
            children.append(server)
            click.echo(f"redis-server   {server.url} (AOF in {server.data_dir})")
        if settings.uses_sandbox and not settings.is_production:
            sandbox, public_key = _start_sandbox(settings)
            children.append(sandbox)
            keys = [k for k in [os.environ.get("TELNYX_PUBLIC_KEYS", ""), public_key] if k]
            os.environ["TELNYX_PUBLIC_KEYS"] = ",".join(keys)
            click.echo(
                f"Telnyx sandbox {settings.telnyx_base_url}  (key {settings.telnyx_api_key})"
            )
            click.echo(f"  sent messages: {settings.telnyx_base_url[:-3]}/_sandbox/messages")
        settings = _settings()  # once more, with what was just started
        base = f"http://{settings.host}:{settings.port}"
        click.echo(f"otp-service    {base}  (docs {base}/docs)")
        if not settings.is_production:
            click.echo("  client key: dev-client-key   admin key: dev-admin-key")
        _run_gunicorn()
    finally:
        for child in reversed(children):
            child.stop()


def _run_gunicorn() -> None:
    from gunicorn.app.base import BaseApplication

    from otp_service import gunicorn_conf

    class Application(BaseApplication):
        def load_config(self) -> None:
            for name in dir(gunicorn_conf):
                if name in self.cfg.settings and not name.startswith("_"):
                    self.cfg.set(name, getattr(gunicorn_conf, name))

        def load(self) -> Any:
            from otp_service import create_app

            return create_app()

    try:
        Application().run()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise


class _Process:
    """A child process we started, stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _start_sandbox(settings: Settings) -> tuple[_Process, str]:
    """Run the sandbox on the port of TELNYX_BASE_URL with a fresh signing key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from otp_service.redis_server import _die_with_parent
    from otp_service.telnyx.webhooks import public_key_b64

    seed = secrets.token_bytes(32)
    public_key = public_key_b64(Ed25519PrivateKey.from_private_bytes(seed))
    root = settings.telnyx_base_url.rsplit("/v2", 1)[0]
    port = httpx.URL(root).port or 8001
    env = dict(os.environ)
    env["SANDBOX_SIGNING_KEY"] = base64.b64encode(seed).decode()
    if settings.webhook_url:
        env["SANDBOX_WEBHOOK_URL"] = settings.webhook_url
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "otp_service.cli", "sandbox", "--port", str(port)],
        env=env,
        preexec_fn=_die_with_parent,  # noqa: PLW1509
    )
    child = _Process(process)
    deadline = time.monotonic() + 15
    while True:
        try:
            httpx.get(f"{root}/_sandbox/public_key", timeout=1).raise_for_status()
            return child, public_key
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                child.stop()
                raise click.ClickException(f"the Telnyx sandbox did not start on {root}") from None
            time.sleep(0.1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
def sandbox(host: str, port: int) -> None:
    """Run the local Telnyx stand-in (see GET /_sandbox for what it offers)."""
    from otp_service.sandbox.server import main as sandbox_main

    sandbox_main(host=host, port=port)


if __name__ == "__main__":
    main()
