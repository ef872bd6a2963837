"""The vendored Telnyx messaging OpenAPI spec, read once per process, and its operations.

Schemas are addressed by JSON pointer into the spec (``schema_ref``), resolved through one
``referencing`` registry, so ``#/components/...`` references inside them just work.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "SPEC_URI",
    "Operation",
    "load_spec",
    "operations",
    "registry",
    "response_schema",
    "schema_ref",
]

SPEC_URI = "urn:telnyx:messaging-openapi"
_METHODS = ("get", "post", "put", "patch", "delete")


@functools.cache
def load_spec() -> dict[str, Any]:
    """The parsed spec; callers must not mutate it."""
    text = resources.files(__package__).joinpath("spec/messaging-openapi.yaml").read_text("utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader


@functools.cache
def registry() -> Registry:
    resource = Resource.from_contents(load_spec(), default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource)


def pointer(*parts: str | int) -> str:
    """A JSON pointer into the spec from raw path segments."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def schema_ref(json_pointer: str) -> dict[str, str]:
    """A schema that is the spec's schema at ``json_pointer``."""
    return {"$ref": f"{SPEC_URI}#{json_pointer}"}


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (parameters, responses) to its target."""
    spec = load_spec()
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


@dataclass(frozen=True)
class Operation:
    """One spec operation and what the sandbox needs to serve it."""

    operation_id: str
    method: str
    path: str  # as in the spec, relative to /v2
    parameters: tuple[dict[str, Any], ...]  # resolved, plus "schema_pointer"
    body_pointer: str | None
    body_content_type: str | None
    success_status: int
    validation_status: int  # 400 when the spec documents 400 but not 422/4XX, else 422
    bare_error_statuses: frozenset[int] = field(default_factory=frozenset)

    @property
    def rule(self) -> str:
        return "/v2" + re.sub(r"\{(\w+)\}", r"<\1>", self.path)

    @property
    def spec_pointer(self) -> str:
        return pointer("paths", self.path, self.method)


@functools.cache
def operations() -> tuple[Operation, ...]:
    spec = load_spec()
    ops = []
    for path, item in spec["paths"].items():
        for method in _METHODS:
            if method not in item:
                continue
            op = item[method]
            raw = [
                (pointer("paths", path, "parameters", i), p)
                for i, p in enumerate(item.get("parameters", []))
            ]
            raw += [
                (pointer("paths", path, method, "parameters", i), p)
                for i, p in enumerate(op.get("parameters", []))
            ]
            params = tuple(
                {
                    **resolve(p),
                    "schema_pointer": (p["$ref"].removeprefix("#") if "$ref" in p else where)
                    + "/schema",
                }
                for where, p in raw
            )
            body_pointer = content_type = None
            body = op.get("requestBody")
            if body:
                content_type = next(iter(resolve(body)["content"]))
                body_pointer = pointer(
                    "paths", path, method, "requestBody", "content", content_type, "schema"
                )
            responses = op["responses"]
            success = 201 if "201" in responses else 200
            bare = frozenset(
                int(code)
                for code, response in responses.items()
                if code.isdigit()
                and response.get("content", {})
                .get("application/json", {})
                .get("schema", {})
                .get("$ref", "")
                .endswith("/messaging_Error")
            )
            only_400 = "400" in responses and not {"422", "4XX"} & responses.keys()
            validation = 400 if only_400 else 422
            ops.append(
                Operation(
                    operation_id=op["operationId"],
                    method=method.upper(),
                    path=path,
                    parameters=params,
                    body_pointer=body_pointer,
                    body_content_type=content_type,
                    success_status=success,
                    validation_status=validation,
                    bare_error_statuses=bare,
                )
            )
    return tuple(ops)


def response_schema(operation_id: str, status: int | str = 200) -> dict[str, str]:
    """The schema of one documented response (used by the contract tests)."""
    for op in operations():
        if op.operation_id == operation_id:
            return schema_ref(
                pointer(
                    "paths",
                    op.path,
                    op.method.lower(),
                    "responses",
                    str(status),
                    "content",
                    "application/json",
                    "schema",
                )
            )
    raise KeyError(operation_id)
