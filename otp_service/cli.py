"""The `otp-service` command: serve the API, run the sandbox, operator tasks.

Each command imports what it needs inside itself, so that `--help` loads nothing and
`serve` starts redis-server and the sandbox before gunicorn loads the app.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import click
import httpx

from otp_service.config import DEV_DEFAULTS, ConfigError, Settings

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
    """Start the API under gunicorn and one `otp-service worker`; in development also an
    embedded redis-server and the Telnyx sandbox when REDIS_URL / TELNYX_API_KEY are
    unset. Each is started again if it dies. Ctrl-C stops all of it."""
    from otp_service.store.redis_server import RedisServer

    settings = _settings()
    children: list[Any] = []
    supervisors: list[_Supervisor] = []
    cleanups: list[Callable[[], Any]] = []
    try:
        if not settings.redis_url:
            server = RedisServer(Path(settings.data_dir) / "redis")
            try:
                os.environ["REDIS_URL"] = server.start()
            except RuntimeError as exc:
                raise click.ClickException(str(exc)) from exc
            children.append(server)
            supervisors.append(_Supervisor("redis-server", server))
            click.echo(f"redis-server   {server.url} (AOF in {server.data_dir})")
        if settings.uses_sandbox and not settings.is_production:
            sandbox = _Sandbox(settings)
            sandbox.start()
            children.append(sandbox)
            supervisors.append(_Supervisor("Telnyx sandbox", sandbox))
            keys = [k for k in [os.environ.get("TELNYX_PUBLIC_KEYS", ""), sandbox.public_key] if k]
            os.environ["TELNYX_PUBLIC_KEYS"] = ",".join(keys)
            click.echo(
                f"Telnyx sandbox {settings.telnyx_base_url}  (key {settings.telnyx_api_key})"
            )
            click.echo(f"  sent messages: {sandbox.url}/_sandbox/messages")
        settings = _settings()  # once more, with what was just started
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # one directory for gunicorn's workers and the worker's counters: /metrics
            # adds up both (route health, fallbacks); gone when serve ends
            metrics_dir = tempfile.mkdtemp(prefix="otp-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
            cleanups.append(lambda: os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None))
            cleanups.append(lambda: shutil.rmtree(metrics_dir, ignore_errors=True))
        worker = _WorkerProcess()
        worker.start()
        children.append(worker)
        supervisors.append(_Supervisor("worker", worker))
        click.echo("otp-service worker  (events, timers, webhook deliveries)")
        base = f"http://{settings.host}:{settings.port}"
        click.echo(f"otp-service    {base}  (docs {base}/docs)")
        if not settings.is_production:
            for line in _development_keys(os.environ):
                click.echo(line)
        for supervisor in supervisors:
            supervisor.start()
        _run_gunicorn()
    finally:
        for supervisor in supervisors:
            supervisor.stop()
        for child in reversed(children):
            child.stop()
        for cleanup in cleanups:
            cleanup()
    for supervisor in supervisors:
        if supervisor.gave_up:
            raise click.ClickException(f"stopped: {supervisor.name} kept dying")


def _development_keys(environ: Mapping[str, str]) -> list[str]:
    """The banner's lines for the keys development falls back on: only those in use, so
    that a key someone configured is never printed."""
    lines = []
    for name, label in (("OTP_API_KEYS", "client key"), ("OTP_ADMIN_KEYS", "admin key")):
        if environ.get(name, "").strip() in ("", DEV_DEFAULTS[name]):
            key = DEV_DEFAULTS[name].partition(":")[2]
            lines.append(f"  {label}: {key}")
    return lines


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


class _Supervisor:
    """Starts a child of `serve` again when it dies, so that the service answers again
    by itself. It waits 0.5 s before the first restart and twice as long before each
    next one while the child keeps dying within a minute; after five such restarts it
    gives up and stops `serve` (which then exits non-zero, for whatever runs it)."""

    CHECK_EVERY = 0.5
    STABLE_AFTER = 60.0
    MAX_QUICK_RESTARTS = 5

    def __init__(self, name: str, child: Any) -> None:
        self.name = name
        self.child = child
        self.gave_up = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"supervise {name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _watch(self) -> None:
        log = logging.getLogger("otp_service.serve")
        started, quick = time.monotonic(), 0
        while not self._stopping.wait(self.CHECK_EVERY):
            if self.child.running():
                continue
            quick = quick + 1 if time.monotonic() - started < self.STABLE_AFTER else 1
            if quick > self.MAX_QUICK_RESTARTS:
                log.error("%s keeps dying: stopping otp-service", self.name)
                self.gave_up = True
                os.kill(os.getpid(), signal.SIGTERM)  # gunicorn stops gracefully
                return
            delay = 0.5 * 2 ** (quick - 1)
            log.error("%s exited; restart %d in %g s", self.name, quick, delay)
            if self._stopping.wait(delay):
                return
            started = time.monotonic()
            try:
                self.child.start()
            except (RuntimeError, OSError, click.ClickException) as exc:
                log.error("%s did not restart: %s", self.name, exc)
                continue
            log.warning("%s restarted at %s", self.name, self.child.url)


class _Sandbox:
    """The Telnyx sandbox as a child process, on the port of TELNYX_BASE_URL, signing its
    webhooks with one key for all its lives (the workers trust that key)."""

    def __init__(self, settings: Settings) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from otp_service.telnyx.webhooks import public_key_b64

        seed = secrets.token_bytes(32)
        self.public_key = public_key_b64(Ed25519PrivateKey.from_private_bytes(seed))
        self.url = settings.telnyx_base_url.rsplit("/v2", 1)[0]
        self.port = httpx.URL(self.url).port or 8001
        self.env = dict(os.environ)
        self.env["SANDBOX_SIGNING_KEY"] = base64.b64encode(seed).decode()
        if settings.webhook_url:
            self.env["SANDBOX_WEBHOOK_URL"] = settings.webhook_url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> None:
        from otp_service.store.redis_server import die_with_parent

        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "otp_service.cli", "sandbox", "--port", str(self.port)],
            env=self.env,
            preexec_fn=die_with_parent,  # noqa: PLW1509
            process_group=0,  # a Ctrl-C stops `serve`, which stops the sandbox last
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{self.url}/_sandbox/public_key", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                if not self.running() or time.monotonic() > deadline:
                    self.stop()
                    raise click.ClickException(
                        f"the Telnyx sandbox did not start on {self.url}"
                    ) from None
                time.sleep(0.1)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        process, self.process = self.process, None
        _stop(process, 10)


class _WorkerProcess:
    """One `otp-service worker` beside gunicorn: the events of `make run` (and of any
    `serve`) reach their webhooks with nothing else to start."""

    url = "(no port)"

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from otp_service.store.redis_server import die_with_parent

        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "otp_service.cli", "worker"],
            preexec_fn=die_with_parent,  # noqa: PLW1509
            process_group=0,
        )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM (it finishes the deliveries in flight), then SIGKILL after 15 s."""
        process, self.process = self.process, None
        _stop(process, 15)


def _stop(process: subprocess.Popen[bytes] | None, seconds: float) -> None:
    """SIGTERM a child of `serve`, then SIGKILL if it is still there after ``seconds``."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@main.command()
@click.option("--name", default=None, help="This worker's name in the consumer group.")
@click.option("--threads", default=16, show_default=True, type=int)
@click.option(
    "--timeout-seconds",
    default=10.0,
    show_default=True,
    type=float,
    help="How long a receiver has to answer a delivery (2xx: delivered).",
)
@click.option(
    "--lease-seconds",
    default=60.0,
    show_default=True,
    type=float,
    help="After this, what a silent worker held is taken over by another; more than "
    "--timeout-seconds.",
)
def worker(name: str | None, threads: int, timeout_seconds: float, lease_seconds: float) -> None:
    """Deliver events to webhook endpoints, fire timers (expiry events) and retry failed
    deliveries. Run as many as you like, on any machine: they share the work through
    Redis, and what one that dies held is taken over by another. SIGTERM stops it after
    the deliveries in flight."""
    import logging.config
    import socket

    from otp_service.events.http import EndpointPoster
    from otp_service.logs import log_config
    from otp_service.services import build_services, build_worker

    settings = _settings()
    if not settings.redis_url:
        raise click.ClickException("REDIS_URL is not set: the worker needs the service's Redis")
    if lease_seconds <= timeout_seconds:
        raise click.ClickException("--lease-seconds must be more than --timeout-seconds")
    logging.config.dictConfig(log_config(os.environ.get("OTP_LOG_LEVEL", "INFO")))
    services = build_services(settings)
    runner = build_worker(
        services,
        name or f"{socket.gethostname()}-{os.getpid()}",
        threads=threads,
        poster=EndpointPoster(
            production=settings.is_production,
            timeout=timeout_seconds,
            trusted=settings.webhook_trusted_networks,
        ),
        lease_ms=int(lease_seconds * 1000),
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        runner.run(stop)
    finally:
        runner.close()
        services.close()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
def sandbox(host: str, port: int) -> None:
    """Run the local Telnyx stand-in (see GET /_sandbox for what it offers)."""
    from otp_service.sandbox.server import main as sandbox_main

    sandbox_main(host=host, port=port)


# -- operator commands: the same service code as /v1/admin ------------------------------
def _operator_settings() -> Settings:
    """Settings for operator commands; without REDIS_URL, the embedded redis-server that
    a running `otp-service serve` (`make run`) listens on."""
    settings = _settings()
    if settings.redis_url:
        return settings
    socket_path = Path(settings.data_dir).resolve() / "redis" / "redis.sock"
    if not socket_path.exists():
        raise click.ClickException(
            f"REDIS_URL is not set and no embedded redis-server socket is at {socket_path}: "
            "start `make run` (or `otp-service serve`) first, or set REDIS_URL"
        )
    return settings.replace(redis_url=f"unix://{socket_path}")


@contextmanager
def _admin() -> Iterator[Any]:
    """The services (as the API builds them); problems become one-line errors."""
    import redis

    from otp_service import build_services
    from otp_service.errors import ServiceError

    services = build_services(_operator_settings())
    try:
        yield services
    except ServiceError as exc:
        message = f"{exc.code} ({exc.status}): {exc.detail}"
        if exc.extra.get("rejected"):
            lines = [
                f"  line {r['line']}: {r['value']!r} {r['reason']}" for r in exc.extra["rejected"]
            ]
            message = "\n".join([message, *lines])
        if exc.extra.get("errors"):  # the fields at fault, as the API's problem names them
            message += "\n" + json.dumps(exc.extra["errors"], indent=2, ensure_ascii=False)
        raise click.ClickException(message) from None
    except redis.exceptions.RedisError as exc:
        raise click.ClickException(f"Redis: {exc}") from None
    finally:
        services.close()


def _echo_json(body: Any) -> None:
    click.echo(json.dumps(body, indent=2))


def _echo_table(rows: list[list[Any]], header: list[str]) -> None:
    cells = [header, *[["" if v is None else str(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        click.echo(
            "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        )


def _echo_meta(meta: dict[str, Any], what: str) -> None:
    click.echo(
        f"page {meta.get('page_number')}/{meta.get('total_pages')} "
        f"({meta.get('total_results')} {what})"
    )


def _paged(fetch: Any, query: dict[str, str], every_page: bool) -> dict[str, Any]:
    """One page of a list, or (every_page) all of them joined."""
    body = fetch(query)
    if not every_page:
        return body
    data = list(body["data"])
    number, total_pages = 1, body["meta"].get("total_pages") or 1
    while number < total_pages:
        number += 1
        data.extend(fetch({**query, "page[number]": str(number)})["data"])
    return {"data": data, "meta": body["meta"]}


@main.group()
def numbers() -> None:
    """Sending numbers and their messaging settings (Telnyx)."""


@numbers.command("list")
@click.option("--page", "page_number", type=int, default=1, show_default=True)
@click.option("--size", "page_size", type=int, default=20, show_default=True)
@click.option("--profile", "profile_id", help="only numbers of this messaging profile")
@click.option("--type", "kind", type=click.Choice(["longcode", "tollfree", "shortcode"]))
@click.option("--all", "every_page", is_flag=True, help="every page, not just one")
@click.option("--json", "as_json", is_flag=True, help="Telnyx's JSON as the API answers it")
def numbers_list(
    page_number: int,
    page_size: int,
    profile_id: str | None,
    kind: str | None,
    every_page: bool,
    as_json: bool,
) -> None:
    """List phone numbers with their messaging settings."""
    query = {"page[number]": str(page_number), "page[size]": str(page_size)}
    if profile_id:
        query["filter[messaging_profile_id]"] = profile_id
    if kind:
        query["filter[type]"] = kind
    # imported here, not at the top: start-up cost (Flask), only these commands need it
    from otp_service.api.query import telnyx_list

    operation = "ListPhoneNumbersWithMessagingSettings"
    with _admin() as services:
        fetch = services.numbers_admin.list_phone_numbers
        body = _paged(lambda q: fetch(*telnyx_list(q, operation)), query, every_page)
    if as_json:
        return _echo_json(body)
    rows = [
        [
            n.get("id"),
            n.get("phone_number"),
            n.get("type"),
            n.get("messaging_profile_id"),
            n.get("messaging_product"),
        ]
        for n in body["data"]
    ]
    _echo_table(rows, ["ID", "PHONE NUMBER", "TYPE", "MESSAGING PROFILE", "PRODUCT"])
    if not every_page:
        _echo_meta(body["meta"], "numbers")


@main.group()
def optouts() -> None:
    """The opt-out list: numbers the service must not text."""


@optouts.command("list")
@click.option("--source", type=click.Choice(["inbound_stop", "admin", "telnyx_sync", "send_error"]))
@click.option("--after", "created_after", help="opted out at or after (ISO 8601)")
@click.option("--before", "created_before", help="opted out at or before (ISO 8601)")
@click.option("--page", "page_number", type=int, default=1, show_default=True)
@click.option("--size", "page_size", type=int, default=20, show_default=True)
@click.option("--all", "every_page", is_flag=True, help="every page, not just one")
@click.option("--json", "as_json", is_flag=True)
def optouts_list(
    source: str | None,
    created_after: str | None,
    created_before: str | None,
    page_number: int,
    page_size: int,
    every_page: bool,
    as_json: bool,
) -> None:
    """List opted-out numbers, oldest first."""
    query = {"page[number]": str(page_number), "page[size]": str(page_size)}
    for name, value in (
        ("source", source),
        ("created_after", created_after),
        ("created_before", created_before),
    ):
        if value:
            query[name] = value
    # imported here, not at the top: start-up cost (Flask), only these commands need it
    from otp_service.api.query import optout_list

    with _admin() as services:
        fetch = services.optout_admin.list_optouts
        body = _paged(lambda q: fetch(*optout_list(q)), query, every_page)
    if as_json:
        return _echo_json(body)
    rows = [[o["phone_number"], o["source"], o["created_at"]] for o in body["data"]]
    _echo_table(rows, ["PHONE NUMBER", "SOURCE", "OPTED OUT AT"])
    if not every_page:
        _echo_meta(body["meta"], "opt-outs")


@optouts.command("add")
@click.argument("phone_number")
def optouts_add(phone_number: str) -> None:
    """Opt a number out (source admin); the next code for it is refused."""
    from otp_service.admin import CLI_KEY_ID

    with _admin() as services:
        added, optout = services.optout_admin.add_optout(phone_number, actor=CLI_KEY_ID)
    state = "opted out" if added else f"already opted out ({optout['source']})"
    click.echo(f"{optout['phone_number']} {state} at {optout['created_at']}")


@optouts.command("remove")
@click.argument("phone_number")
def optouts_remove(phone_number: str) -> None:
    """Opt a number back in (from the local list; Telnyx's own list is unchanged)."""
    from otp_service.admin import CLI_KEY_ID

    with _admin() as services:
        services.optout_admin.remove_optout(phone_number, actor=CLI_KEY_ID)
    click.echo(f"{phone_number} removed from the opt-out list")


@optouts.command("sync")
@click.option("--profile", "profile_id", help="only this messaging profile's opt-outs")
def optouts_sync(profile_id: str | None) -> None:
    """Add every opt-out Telnyx lists that the local list lacks (safe to run again)."""
    from otp_service.admin import CLI_KEY_ID

    with ExitStack() as stack, _admin() as services:
        bars: list[Any] = []

        def progress(done: int, total: int | None) -> None:
            if not bars:
                label = "Syncing opt-outs from Telnyx"
                bars.append(
                    stack.enter_context(click.progressbar(length=total or done, label=label))
                )
            bars[0].update(done - bars[0].pos)

        counts = services.optout_admin.sync_optouts(
            actor=CLI_KEY_ID, messaging_profile_id=profile_id, progress=progress
        )
    click.echo(
        f"fetched {counts['fetched']}, added {counts['added']}, "
        f"already present {counts['already_present']}, invalid {counts['invalid']}"
    )


@optouts.command("export")
@click.option(
    "--output",
    "-o",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="file to write (default: standard output)",
)
@click.option("--source", type=click.Choice(["inbound_stop", "admin", "telnyx_sync", "send_error"]))
def optouts_export(output: Any, source: str | None) -> None:
    """Write the opt-out list as CSV: phone_number,source,created_at."""
    # imported here, not at the top: start-up cost (Flask), only this command needs it
    from otp_service.api.query import optout_export

    query = {"source": source} if source else {}
    with _admin() as services:
        for chunk in services.optout_admin.export_csv(optout_export(query)):
            output.write(chunk)


@optouts.command("import")
@click.argument("file", type=click.File("rb"))
def optouts_import(file: Any) -> None:
    """Opt out every number of a CSV file with a phone_number column (all or nothing)."""
    from otp_service.admin import CLI_KEY_ID, IMPORT_MAX_BYTES

    data = file.read(IMPORT_MAX_BYTES + 1)
    with _admin() as services:
        report = services.optout_admin.import_csv(data, actor=CLI_KEY_ID)
    click.echo(
        f"received {report['received']}, added {report['added']}, "
        f"already present {report['already_present']}"
    )


if __name__ == "__main__":
    main()


@main.group()
def profiles() -> None:
    """Verify profiles: one per app, each with its own settings and keys."""


def _fields(raw: str) -> dict[str, Any]:
    """A profile's fields, given as a JSON object on the command line."""
    try:
        fields = json.loads(raw)
    except ValueError:
        raise click.BadParameter("give the fields as a JSON object") from None
    if not isinstance(fields, dict):
        raise click.BadParameter("give the fields as a JSON object")
    return fields


@profiles.command("list")
@click.option("--json", "as_json", is_flag=True)
def profiles_list(as_json: bool) -> None:
    """List the profiles, default first."""
    from otp_service.admin.page import Page

    with _admin() as services:
        body = services.profiles.list_page(Page(1, 250))
        total = body["meta"]["total_results"]
        if total > 250:  # every one, on one page
            body = services.profiles.list_page(Page(1, total))
    if as_json:
        return _echo_json(body)
    rows = [[p["id"], p.get("name"), p["created_at"]] for p in body["data"]]
    _echo_table(rows, ["ID", "NAME", "CREATED"])


@profiles.command("show")
@click.argument("profile_id")
def profiles_show(profile_id: str) -> None:
    """A profile: what it overrides and the settings it sends with."""
    with _admin() as services:
        _echo_json(services.profiles.get(profile_id))


@profiles.command("create")
@click.argument("fields", default="{}")
def profiles_create(fields: str) -> None:
    """Create a profile: FIELDS is a JSON object, e.g. '{"name": "Shop", "code_length": 8}'."""
    from otp_service.admin import CLI_KEY_ID

    with _admin() as services:
        _echo_json(services.profiles.create(_fields(fields), actor=CLI_KEY_ID))


@profiles.command("update")
@click.argument("profile_id")
@click.argument("fields")
def profiles_update(profile_id: str, fields: str) -> None:
    """Change a profile's fields (a JSON object; null falls back on the environment)."""
    from otp_service.admin import CLI_KEY_ID

    with _admin() as services:
        _echo_json(services.profiles.update(profile_id, _fields(fields), actor=CLI_KEY_ID))


@profiles.command("delete")
@click.argument("profile_id")
def profiles_delete(profile_id: str) -> None:
    """Delete a profile; its keys stop working within 2 seconds."""
    from otp_service.admin import CLI_KEY_ID

    with _admin() as services:
        services.profiles.delete(profile_id, actor=CLI_KEY_ID)
    click.echo(f"profile {profile_id} deleted; its keys are revoked")


@main.group()
def keys() -> None:
    """A profile's API keys: issue, list, revoke (rotation: issue, move, revoke)."""


@keys.command("create")
@click.option("--profile", "profile_id", required=True)
def keys_create(profile_id: str) -> None:
    """Issue a key; it is shown this once."""
    from otp_service.admin import CLI_KEY_ID

    with _admin() as services:
        key = services.profiles.create_key(profile_id, actor=CLI_KEY_ID)["data"]
    click.echo(f"{key['id']}  {key['key']}")
    click.echo("the key is shown this once: store it now", err=True)


@keys.command("list")
@click.option("--profile", "profile_id", required=True)
@click.option("--json", "as_json", is_flag=True)
def keys_list(profile_id: str, as_json: bool) -> None:
    """A profile's keys (never the keys themselves)."""
    with _admin() as services:
        body = services.profiles.list_keys(profile_id)
    if as_json:
        return _echo_json(body)
    rows = [
        [k["id"], k.get("prefix"), k.get("created_at"), k.get("last_used_at")] for k in body["data"]
    ]
    _echo_table(rows, ["ID", "PREFIX", "CREATED", "LAST USED"])


@keys.command("revoke")
@click.option("--profile", "profile_id", required=True)
@click.argument("key_id")
def keys_revoke(profile_id: str, key_id: str) -> None:
    """Revoke a key: refused everywhere within 2 seconds."""
    from otp_service.admin import CLI_KEY_ID

    with _admin() as services:
        services.profiles.revoke_key(profile_id, key_id, actor=CLI_KEY_ID)
    click.echo(f"key {key_id} revoked")
