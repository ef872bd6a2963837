"""Request validation driven by the spec: bodies and query parameters, Telnyx error shape.

Validators are built once per operation when the app is created (``build_validators``).
A missing required field is error 10004 with ``source.pointer`` (``/to``); any other schema
violation is 10015 (10003 for a bad URL); query parameters report ``source.parameter``.
The HTTP status is 422 unless the operation's spec documents only 400.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from .errors import ApiError, error_object
from .spec import Operation, registry, resolve, schema_ref
from .spec import pointer as json_pointer

__all__ = ["OperationValidator", "build_validators", "format_checker"]


def format_checker() -> FormatChecker:
    """The standard checkers plus the spec's ``url``/``uri``: http(s) with a host, or ""."""
    checker = FormatChecker()

    def is_url(value: object) -> bool:
        if not isinstance(value, str) or value == "":  # the spec defaults some URLs to ""
            return True
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value

    checker.checks("url")(is_url)
    checker.checks("uri")(is_url)
    return checker


def _errors_from(
    errors: Iterable[ValidationError], *, prefix: list[Any], parameter: str | None = None
) -> list[dict[str, Any]]:
    """Telnyx error objects for jsonschema errors; ``parameter`` names a query parameter."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()  # jsonschema reports each missing property as its own error
    for err in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        path = prefix + list(err.absolute_path)
        if err.validator == "required":
            instance = err.instance if isinstance(err.instance, dict) else {}
            for name in err.validator_value:
                where = json_pointer(*path, name)
                if name in instance or where in seen:
                    continue
                seen.add(where)
                out.append(
                    error_object(
                        "10004",
                        "Missing required parameter",
                        f"The '{parameter or name}' parameter is required.",
                        pointer=None if parameter else where,
                        parameter=parameter,
                    )
                )
            continue
        name = parameter or (str(path[-1]) if path else "body")
        if err.validator == "format" and err.validator_value in ("url", "uri"):
            code, title = "10003", "Invalid URL"
        else:
            code, title = "10015", "Bad Request"
        out.append(
            error_object(
                code,
                title,
                f"The '{name}' parameter is invalid: {err.message}",
                pointer=None if parameter else json_pointer(*path),
                parameter=parameter,
            )
        )
    return out


_INT = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _coerce(value: str, schema: Mapping[str, Any]) -> Any:
    """Query strings are strings; give the schema the type it expects when it plainly fits."""
    types = schema.get("type")
    types = [types] if isinstance(types, str) else (types or [])
    if "integer" in types and _INT.match(value):
        return int(value)
    if "number" in types and _NUMBER.match(value):
        return float(value)
    if "boolean" in types and value in ("true", "false"):
        return value == "true"
    return value


@dataclass
class _Param:
    name: str
    style: str | None
    required: bool
    schema: dict[str, Any]
    validator: Draft202012Validator


class OperationValidator:
    """Validates one operation's query parameters and body."""

    def __init__(self, op: Operation, checker: FormatChecker) -> None:
        self.op = op
        reg = registry()
        self.body: Draft202012Validator | None = None
        if op.body_pointer and op.body_content_type == "application/json":
            self.body = Draft202012Validator(
                schema_ref(op.body_pointer), registry=reg, format_checker=checker
            )
        self.query: list[_Param] = []
        for param in op.parameters:
            if param["in"] != "query":
                continue
            self.query.append(
                _Param(
                    name=param["name"],
                    style=param.get("style"),
                    required=bool(param.get("required")),
                    schema=resolve(param["schema"]),
                    validator=Draft202012Validator(
                        schema_ref(param["schema_pointer"]), registry=reg, format_checker=checker
                    ),
                )
            )

    def parse_query(self, args: Mapping[str, str]) -> dict[str, Any]:
        """The operation's query parameters, typed; raise ``ApiError`` when invalid."""
        values: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for param in self.query:
            if param.style == "deepObject":
                pattern = re.compile(re.escape(param.name) + r"\[([^\[\]]+)\]$")
                props = param.schema.get("properties", {})
                found = {}
                for key, raw in args.items():
                    match = pattern.match(key)
                    if match:
                        sub = match.group(1)
                        found[sub] = _coerce(raw, resolve(props.get(sub, {})))
                if not found:
                    if param.required:
                        errors.extend(self._missing(param.name))
                    continue
                value: Any = found
            elif param.name in args:
                value = _coerce(args[param.name], param.schema)
            else:
                if param.required:
                    errors.extend(self._missing(param.name))
                continue
            problems = list(param.validator.iter_errors(value))
            if problems:
                for err in problems:
                    sub = [str(p) for p in err.absolute_path]
                    name = param.name + "".join(f"[{s}]" for s in sub)
                    errors.extend(_errors_from([err], prefix=[], parameter=name))
                continue
            values[param.name] = value
        if errors:
            raise ApiError(self.op.validation_status, errors)
        return values

    def _missing(self, name: str) -> list[dict[str, Any]]:
        return [
            error_object(
                "10004",
                "Missing required parameter",
                f"The '{name}' query parameter is required.",
                parameter=name,
            )
        ]

    def check_body(self, body: Any) -> None:
        if self.body is None:
            return
        errors = _errors_from(self.body.iter_errors(body), prefix=[])
        if errors:
            raise ApiError(self.op.validation_status, errors)


def build_validators(ops: Iterable[Operation]) -> dict[str, OperationValidator]:
    checker = format_checker()
    return {op.operation_id: OperationValidator(op, checker) for op in ops}
