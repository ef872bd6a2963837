"""What the contract suite checks on every response, and where it gets its values.

``Contract`` reads the vendored spec (``otp_service/sandbox/spec/messaging-openapi.yaml``):
for each of its operations the method and path template, the success statuses it
documents and the JSON schema of every documented response (OpenAPI 3.1 schemas are JSON
Schema 2020-12; ``$ref``s resolve through one ``referencing`` registry over the spec).

``RecordingTransport`` wraps the client's real transport. Each response is matched to its
operationId and checked before the client sees it: a 2xx must be a success status the
spec documents, and a body the spec describes must validate against its schema (so every
field the spec marks ``required`` is there). A broken promise raises ``ContractViolation``
out of the client call that received it. ``Contract.succeeded`` is the set of operationIds
that answered a documented success, which the suite compares with the spec's.

``Target`` is the server under test and the values only the person running the suite may
choose (``TELNYX_CONTRACT_*``); ``Account`` holds what the tests use from the account,
read through the API, or given by those variables (on the sandbox, found through the API).
"""

from __future__ import annotations

import contextlib
import functools
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any, NoReturn

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from otp_service.telnyx import TelnyxClient, TelnyxError

__all__ = [
    "MAX_PAGE_SIZE",
    "Account",
    "Contract",
    "ContractViolation",
    "Exchange",
    "RecordingTransport",
    "Target",
    "cleanup",
    "ids",
    "schema_ref",
    "scratch",
]

SPEC_URI = "urn:otp-service:telnyx-messaging-openapi"
METHODS = ("get", "post", "put", "patch", "delete")
MAX_PAGE_SIZE = 250  # the largest page Telnyx serves


class ContractViolation(AssertionError):
    """A response that contradicts what the spec documents for its operation."""


@functools.cache
def load_spec() -> dict[str, Any]:
    text = (
        resources.files("otp_service.sandbox")
        .joinpath("spec/messaging-openapi.yaml")
        .read_text("utf-8")
    )
    return yaml.safe_load(text)


@functools.cache
def spec_registry() -> Registry:
    resource = Resource.from_contents(load_spec(), default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource)


def pointer(*parts: str) -> str:
    """A JSON pointer from raw segments (``/`` and ``~`` escaped)."""
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def schema_ref(json_pointer: str) -> dict[str, str]:
    """A schema that is the spec's schema at ``json_pointer`` (``/components/schemas/X``)."""
    return {"$ref": f"{SPEC_URI}#{json_pointer}"}


def _follow(node: dict[str, Any], where: str) -> tuple[dict[str, Any], str]:
    """Follow a local ``$ref`` (a shared response); return the target and its pointer."""
    spec = load_spec()
    while "$ref" in node:
        where = node["$ref"].removeprefix("#")
        node = spec
        for part in where.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node, where


@dataclass(frozen=True)
class Response:
    """One documented response: its status key (``200``, ``4XX``) and body schema, if any."""

    key: str
    schema: dict[str, str] | None


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    template: str  # relative to the base URL, as in the spec
    responses: Mapping[str, Response]

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        parts = re.split(r"(\{\w+\})", self.template)
        body = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        return re.compile(f"^{body}$")

    @property
    def literal_length(self) -> int:
        """Characters outside ``{params}``: the more, the more specific the template."""
        return len(re.sub(r"\{\w+\}", "", self.template))

    @property
    def success_statuses(self) -> frozenset[int]:
        return frozenset(int(k) for k in self.responses if k.isdigit() and k.startswith("2"))

    def documented(self, status: int) -> Response | None:
        for key in (str(status), f"{status // 100}XX", "default"):
            if key in self.responses:
                return self.responses[key]
        return None


def _operations() -> dict[str, Operation]:
    operations = {}
    for path, item in load_spec()["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            responses = {}
            for key, raw in op["responses"].items():
                where = pointer("paths", path, method, "responses", key)
                response, where = _follow(raw, where)
                content = response.get("content", {}).get("application/json")
                schema = None
                if content and "schema" in content:
                    schema = schema_ref(where + pointer("content", "application/json", "schema"))
                responses[str(key)] = Response(str(key), schema)
            operations[op["operationId"]] = Operation(
                op["operationId"], method.upper(), path, responses
            )
    return operations


@dataclass(frozen=True)
class Exchange:
    """One request the client made and the answer it got."""

    operation_id: str
    method: str
    path: str
    status: int
    body: Any


class Contract:
    """The spec's promises, checked on each response; what answered successfully."""

    def __init__(self) -> None:
        self.operations = _operations()
        self.exchanges: list[Exchange] = []
        self.succeeded: set[str] = set()
        self._overrides: dict[str, dict[str, Any]] = {}
        self._validators: dict[str, Draft202012Validator] = {}

    @property
    def operation_ids(self) -> set[str]:
        return set(self.operations)

    def match(self, method: str, path: str) -> Operation | None:
        """The operation a request is for; literal segments beat ``{params}``."""
        found = [
            op for op in self.operations.values() if op.method == method and op.pattern.match(path)
        ]
        return max(found, key=lambda op: op.literal_length, default=None)

    @contextlib.contextmanager
    def expecting(self, operation_id: str, schema: dict[str, Any]) -> Iterator[None]:
        """Check ``operation_id``'s successes against ``schema`` inside the block.

        For a response the spec describes under another name (see the test that uses it);
        everything else about the contract, statuses included, is still checked.
        """
        self._overrides[operation_id] = schema
        try:
            yield
        finally:
            del self._overrides[operation_id]

    def observe(self, request: httpx.Request, response: httpx.Response, path: str) -> None:
        op = self.match(request.method, path)
        if op is None:
            raise ContractViolation(f"{request.method} {path} is not an operation of the spec")
        status = response.status_code
        body = _body(response)
        self.exchanges.append(Exchange(op.operation_id, request.method, path, status, body))
        documented = op.documented(status)
        where = f"{op.operation_id} ({request.method} {path}) answered {status}"
        if 200 <= status < 300 and status not in op.success_statuses:
            raise ContractViolation(
                f"{where}; the spec documents {sorted(op.success_statuses)} for success"
            )
        if documented is None:  # an undocumented error: the client raises its typed error
            return
        schema = documented.schema
        if 200 <= status < 300 and op.operation_id in self._overrides:
            schema = self._overrides[op.operation_id]
        if schema is not None:
            if body is _NOT_JSON:
                raise ContractViolation(f"{where} with a body that is not JSON: {response.text!r}")
            problems = self.problems(body, schema)
            if problems:
                raise ContractViolation(
                    f"{where}; the body breaks its schema ({schema.get('$ref', schema)}):\n  "
                    + "\n  ".join(problems[:15])
                )
        if 200 <= status < 300:
            self.succeeded.add(op.operation_id)

    def problems(self, body: Any, schema: dict[str, Any]) -> list[str]:
        """Each way ``body`` breaks ``schema``; missing required fields are named as such."""
        key = repr(sorted(schema.items()))
        validator = self._validators.get(key)
        if validator is None:
            validator = Draft202012Validator(
                schema,
                registry=spec_registry(),
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
            self._validators[key] = validator
        return [_describe(e) for e in sorted(validator.iter_errors(body), key=_where)]


def _where(error: ValidationError) -> str:
    return "/" + "/".join(str(p) for p in error.absolute_path)


def _describe(error: ValidationError) -> str:
    if error.validator == "required":
        return f"{_where(error)}: missing required field: {error.message}"
    if error.context:  # oneOf / anyOf: say why the closest alternative failed
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        closest = min(branches.values(), key=len)
        return f"{_where(error)}: no alternative fits; the closest fails {_describe(closest[0])}"
    return f"{_where(error)}: {error.message[:300]}"


_NOT_JSON = object()


def _body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return _NOT_JSON


class RecordingTransport(httpx.BaseTransport):
    """The real transport, with every response checked by ``contract`` on its way back."""

    def __init__(self, contract: Contract, base_url: str, inner: httpx.BaseTransport) -> None:
        self.contract = contract
        self._prefix = httpx.URL(base_url).raw_path.decode("ascii").rstrip("/")
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        try:
            raw = b"".join(response.iter_raw())
        finally:
            response.close()
        # A fresh response over the raw bytes: decoded once, by whoever reads it.
        received = httpx.Response(
            response.status_code,
            headers=response.headers,
            content=raw,
            request=request,
            extensions=response.extensions,
        )
        path = request.url.raw_path.decode("ascii").partition("?")[0]
        self.contract.observe(request, received, path.removeprefix(self._prefix))
        return received

    def close(self) -> None:
        self._inner.close()


@dataclass
class Target:
    """The server under test, and the values the person running the suite chose.

    ``settings`` holds the ``TELNYX_CONTRACT_*`` variables (empty on the sandbox). Calls
    that send messages or change what the account already has only run against a real
    server with an explicit value; on the sandbox ``value()`` finds one through the API.
    """

    base_url: str
    api_key: str
    is_sandbox: bool
    settings: Mapping[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def value(self, name: str, discover: Callable[[], str]) -> str:
        """``name`` from the environment; on the sandbox, what ``discover()`` finds."""
        if self.settings.get(name):
            return self.settings[name]
        if self.is_sandbox:
            return discover()
        self.skip(f"{name} is not set", name)

    def allow_writes(self) -> None:
        """Skip unless the suite may change (and then restore) existing account objects."""
        if not self.is_sandbox and self.settings.get("TELNYX_CONTRACT_WRITES") != "1":
            self.skip(
                "TELNYX_CONTRACT_WRITES=1 is not set: existing objects are left alone",
                "TELNYX_CONTRACT_WRITES=1",
            )

    def skip(self, reason: str, why: str | None = None) -> NoReturn:
        """Skip the test; ``skipped`` remembers why, for the coverage check."""
        self.skipped.append(why or reason)
        pytest.skip(reason)

    def first(
        self, items: Iterable[dict[str, Any]], what: str, where: Callable[[Any], bool] | None = None
    ) -> dict[str, Any]:
        """The first item (matching ``where``) of a list call, or a skip naming ``what``."""
        for item in items:
            if where is None or where(item):
                return item
        self.skip(f"the account has no {what}", f"no {what}")


def scratch(label: str) -> str:
    """A name no one else uses, so scratch objects are found by it and never confused."""
    return f"otp-contract {label} {uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def cleanup(delete: Callable[[], object]) -> Iterator[None]:
    """Delete what the block made if the block fails (or skips) before deleting it."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(TelnyxError, ContractViolation):
            delete()
        raise


def ids(items: Iterable[dict[str, Any]], key: str = "id") -> list[Any]:
    return [item[key] for item in items]


class Account:
    """Numbers, senders and objects of the account under test, found or given.

    Reading finds works on any server. Values a test sends with, or changes, come from
    ``TELNYX_CONTRACT_*`` against a real server and are found through the API on the
    sandbox (``Target.value``).
    """

    def __init__(self, client: TelnyxClient, target: Target) -> None:
        self.client = client
        self.target = target

    # Found on any server: reading them changes nothing.
    @cached_property
    def number_on_a_profile(self) -> dict[str, Any]:
        return self.target.first(
            self.client.phone_numbers.messaging.list(page_size=MAX_PAGE_SIZE),
            "phone number on a messaging profile",
            lambda n: n.get("messaging_profile_id"),
        )

    @cached_property
    def short_code_on_a_profile(self) -> dict[str, Any]:
        return self.target.first(
            self.client.short_codes.list(page_size=MAX_PAGE_SIZE),
            "short code on a messaging profile",
            lambda s: s.get("messaging_profile_id"),
        )

    @cached_property
    def alphanumeric_sender_id(self) -> dict[str, Any]:
        return self.target.first(
            self.client.alphanumeric_sender_ids.list(page_size=MAX_PAGE_SIZE),
            "alphanumeric sender ID",
        )

    @cached_property
    def rcs_agent(self) -> dict[str, Any]:
        return self.target.first(self.client.messaging.rcs.agents.list(), "RCS agent")

    def settings_of(self, phone_number: str) -> dict[str, Any]:
        """The messaging settings of one number of the account."""
        found = list(self.client.phone_numbers.messaging.list(phone_number=phone_number))
        assert ids(found, "phone_number") == [phone_number], f"{phone_number} is not in the account"
        return found[0]

    # Given against a real server, found on the sandbox.
    @cached_property
    def destination(self) -> str:
        return self.target.value("TELNYX_CONTRACT_TO", self._reachable_mobile_number)

    @cached_property
    def long_code(self) -> str:
        return self.target.value(
            "TELNYX_CONTRACT_FROM",
            lambda: self.target.first(
                self.client.phone_numbers.messaging.list(type="longcode", page_size=MAX_PAGE_SIZE),
                "long code on a messaging profile",
                lambda n: n.get("messaging_profile_id"),
            )["phone_number"],
        )

    @cached_property
    def pool_profile_id(self) -> str:
        return self.target.value(
            "TELNYX_CONTRACT_PROFILE_ID",
            lambda: self.settings_of(self.long_code)["messaging_profile_id"],
        )

    @cached_property
    def short_code(self) -> str:
        return self.target.value(
            "TELNYX_CONTRACT_SHORT_CODE", lambda: self.short_code_on_a_profile["short_code"]
        )

    @cached_property
    def alphanumeric_sender(self) -> tuple[str, str]:
        """(sender ID, the messaging profile it belongs to)."""
        sender = self.target.value(
            "TELNYX_CONTRACT_ALPHANUMERIC_SENDER_ID",
            lambda: self.alphanumeric_sender_id["alphanumeric_sender_id"],
        )
        profile_id = self.target.value(
            "TELNYX_CONTRACT_PROFILE_ID",
            lambda: self.alphanumeric_sender_id["messaging_profile_id"],
        )
        return sender, profile_id

    @cached_property
    def whatsapp_from(self) -> str:
        return self.target.value("TELNYX_CONTRACT_WHATSAPP_FROM", lambda: self.long_code)

    @cached_property
    def rcs_sender(self) -> tuple[str, str]:
        """(RCS agent id, the messaging profile to send with)."""
        agent_id = self.target.value(
            "TELNYX_CONTRACT_RCS_AGENT_ID", lambda: self.rcs_agent["agent_id"]
        )
        profile_id = self.target.value(
            "TELNYX_CONTRACT_PROFILE_ID", lambda: self.rcs_agent["profile_id"]
        )
        return agent_id, profile_id

    @cached_property
    def hostable_number(self) -> str:
        return self.target.value("TELNYX_CONTRACT_HOSTED_NUMBER", self._eligible_number)

    @cached_property
    def tollfree_number(self) -> str:
        return self.target.value(
            "TELNYX_CONTRACT_TOLLFREE_NUMBER",
            lambda: self.target.first(
                self.client.phone_numbers.messaging.list(type="tollfree"), "toll-free number"
            )["phone_number"],
        )

    @cached_property
    def spare_number(self) -> dict[str, Any]:
        """Settings of a long code the suite may change and put back."""
        number = self.target.value(
            "TELNYX_CONTRACT_SPARE_NUMBER",
            lambda: self.target.first(
                self.client.phone_numbers.messaging.list(type="longcode", page_size=MAX_PAGE_SIZE),
                "second long code on a messaging profile",
                lambda n: n.get("messaging_profile_id") and n["phone_number"] != self.long_code,
            )["phone_number"],
        )
        return self.settings_of(number)

    @cached_property
    def deletable_hosted_number(self) -> str:
        return self.target.value(
            "TELNYX_CONTRACT_DELETABLE_HOSTED_NUMBER",
            lambda: self.target.first(self.client.messaging_hosted_numbers.list(), "hosted number")[
                "phone_number"
            ],
        )

    def _reachable_mobile_number(self) -> str:
        """A mobile number of the account that has not opted out of anything."""
        opted_out = {o["to"] for o in self.client.messaging_optouts.list(page_size=MAX_PAGE_SIZE)}
        return self.target.first(
            self.client.mobile_phone_numbers.messaging.list(page_size=MAX_PAGE_SIZE),
            "mobile number that has not opted out",
            lambda n: n["phone_number"] not in opted_out,
        )["phone_number"]

    def _eligible_number(self) -> str:
        """A number that is not on the account yet and that Telnyx says it could host."""
        mobiles = self.client.mobile_phone_numbers.messaging.list(page_size=MAX_PAGE_SIZE).data
        answer = self.client.messaging_hosted_number_orders.check_eligibility(
            phone_numbers=ids(mobiles, "phone_number")
        )
        return self.target.first(
            answer["phone_numbers"], "hostable number", lambda r: r["eligible"]
        )["phone_number"]
