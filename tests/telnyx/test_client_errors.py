"""Error responses become typed exceptions that keep Telnyx's error list and request id."""

from __future__ import annotations

import httpx
import pytest

from otp_service import telnyx
from otp_service.telnyx import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TelnyxClient,
    TelnyxError,
    UnprocessableEntityError,
    WebhookVerificationError,
)
from otp_service.telnyx._exceptions import status_error_class

KEY = "KEY0123456789secret"
OPTED_OUT = {
    "code": "40300",
    "title": "Blocked due to STOP message",
    "detail": "Messages cannot be sent from '+15550001111' to '+15550002222' due to STOP.",
    "source": {"pointer": "/to"},
    "meta": {"url": "https://developers.telnyx.com/docs/overview/errors/40300"},
}


def _client(response: httpx.Response) -> TelnyxClient:
    return TelnyxClient(KEY, transport=httpx.MockTransport(lambda r: response), max_retries=0)


def _send(client: TelnyxClient) -> object:
    return client.messages.send_long_code(from_="+15550001111", to="+15550002222", text="x")


@pytest.mark.parametrize(
    "status, error_class",
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
    ],
)
def test_error_statuses_map_to_classes_keeping_telnyx_errors(
    status: int, error_class: type[APIStatusError]
) -> None:
    second = {"code": 10015, "title": "Bad Request", "detail": "Invalid 'from'"}
    response = httpx.Response(
        status, json={"errors": [OPTED_OUT, second]}, headers={"x-request-id": "req-42"}
    )
    with pytest.raises(error_class) as caught:
        _send(_client(response))

    error = caught.value
    assert type(error) is error_class
    assert isinstance(error, APIStatusError | APIError | TelnyxError)
    assert error.status_code == status
    assert error.errors == [OPTED_OUT, second]
    assert error.codes == ["40300", "10015"]
    assert error.errors[0]["source"] == {"pointer": "/to"}
    assert error.request_id == "req-42"
    assert error.response.status_code == status
    assert error.request is not None and error.request.url.path == "/v2/messages/long_code"
    message = str(error)
    assert f"Telnyx {status}" in message
    assert "Blocked due to STOP message" in message and "40300" in message
    assert "+1 more" in message and "req-42" in message


def test_unlisted_statuses_are_plain_api_status_errors() -> None:
    for status in (402, 405, 410, 418):
        assert status_error_class(status) is APIStatusError
    assert status_error_class(599) is InternalServerError
    with pytest.raises(APIStatusError) as caught:
        _send(_client(httpx.Response(418, json={"errors": []})))
    assert type(caught.value) is APIStatusError


def test_a_bare_error_object_is_kept_as_a_one_item_list() -> None:
    response = httpx.Response(404, json={"code": "10005", "title": "Resource not found"})
    with pytest.raises(NotFoundError) as caught:
        _client(response).messages.cancel_scheduled("m1")
    assert caught.value.codes == ["10005"]
    assert caught.value.errors == [{"code": "10005", "title": "Resource not found"}]


@pytest.mark.parametrize(
    "status, content, error_class",
    [
        (502, b"<html><body>Bad gateway</body></html>", InternalServerError),
        (401, b"Unauthorized", AuthenticationError),
        (429, b"", RateLimitError),
        (400, b'{"errors": "not a list"}', BadRequestError),
        (422, b'{"errors": [', UnprocessableEntityError),
    ],
)
def test_malformed_error_bodies_still_give_the_right_class(
    status: int, content: bytes, error_class: type[APIStatusError]
) -> None:
    response = httpx.Response(status, content=content, headers={"content-type": "text/html"})
    with pytest.raises(error_class) as caught:
        _send(_client(response))
    assert caught.value.status_code == status
    assert str(caught.value).startswith(f"Telnyx {status}: ")
    assert all(isinstance(e, dict) for e in caught.value.errors)


def test_rate_limit_error_carries_retry_after() -> None:
    response = httpx.Response(429, json={"errors": []}, headers={"Retry-After": "7"})
    with pytest.raises(RateLimitError) as caught:
        _send(_client(response))
    assert caught.value.retry_after == 7.0

    with pytest.raises(RateLimitError) as caught:
        _send(_client(httpx.Response(429, headers={"Retry-After": "soon"})))
    assert caught.value.retry_after is None


def test_messages_never_contain_the_api_key() -> None:
    echo = {"errors": [{"code": "10009", "title": "Authentication failed", "detail": KEY}]}
    with pytest.raises(AuthenticationError) as caught:
        _send(_client(httpx.Response(401, json=echo)))
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused {request.headers['authorization']}", request=request)

    client = TelnyxClient(KEY, transport=httpx.MockTransport(refuse), max_retries=0)
    with pytest.raises(APIConnectionError) as conn:
        _send(client)
    assert KEY not in str(conn.value)
    assert isinstance(conn.value.__cause__, httpx.ConnectError)


def test_timeouts_are_api_timeout_errors() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    client = TelnyxClient(KEY, transport=httpx.MockTransport(slow), max_retries=0)
    with pytest.raises(APITimeoutError) as caught:
        client.messages.retrieve("m1")
    assert isinstance(caught.value, APIConnectionError)
    assert caught.value.request is not None


def test_exception_tree_matches_the_documented_hierarchy() -> None:
    assert issubclass(APIError, TelnyxError)
    assert issubclass(APIStatusError, APIError)
    assert issubclass(APIConnectionError, APIError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(WebhookVerificationError, TelnyxError)
    for error_class in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        UnprocessableEntityError,
        RateLimitError,
        InternalServerError,
    ):
        assert issubclass(error_class, APIStatusError)
        assert error_class.__name__ in telnyx._exceptions.__doc__


def test_package_exports_its_public_surface() -> None:
    for name in telnyx.__all__:
        assert hasattr(telnyx, name), name
    for name in ("TelnyxClient", "Page", "TelnyxError", "verify_webhook", "sign_webhook"):
        assert name in telnyx.__all__
