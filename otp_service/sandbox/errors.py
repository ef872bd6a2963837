"""Telnyx-shaped errors: ``{"errors": [{"code", "title", "detail", "source"}]}``.

Handlers raise ``ApiError``; one Flask error handler renders it (see ``api.py``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError", "error_object", "not_found"]


def error_object(
    code: str,
    title: str,
    detail: str | None = None,
    *,
    pointer: str | None = None,
    parameter: str | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "title": title}
    if detail:
        error["detail"] = detail
    if pointer is not None:
        error["source"] = {"pointer": pointer}
    elif parameter is not None:
        error["source"] = {"parameter": parameter}
    return error


class ApiError(Exception):
    """An HTTP error answer with Telnyx error objects; ``headers`` e.g. ``Retry-After``."""

    def __init__(
        self,
        status: int,
        errors: list[dict[str, Any]],
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {errors[0]['code'] if errors else ''}")
        self.status = status
        self.errors = errors
        self.headers = headers or {}

    @classmethod
    def one(
        cls,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
    ) -> ApiError:
        return cls(
            status, [error_object(code, title, detail, pointer=pointer, parameter=parameter)]
        )


def not_found(what: str = "resource") -> ApiError:
    return ApiError.one(
        404, "10005", "Resource not found", f"The requested {what} could not be found."
    )


def unauthorized() -> ApiError:
    return ApiError.one(
        401,
        "10009",
        "Authentication failed",
        "The required authentication headers were either invalid or not included in the request.",
    )


def associated_missing(field: str, what: str) -> ApiError:
    return ApiError.one(
        422,
        "10017",
        "Associated resource does not exist",
        f"The {what} given in '{field}' does not exist.",
        pointer=f"/{field}",
    )
