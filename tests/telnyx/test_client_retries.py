"""Retries: reads and idempotent writes retry; a message send never goes out twice."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from otp_service.telnyx import (
    APIConnectionError,
    APITimeoutError,
    InternalServerError,
    RateLimitError,
    RetryPolicy,
    TelnyxClient,
)
from otp_service.telnyx._retry import is_idempotent, should_retry

Reply = httpx.Response | type[httpx.TransportError]
OK = httpx.Response(200, json={"data": {"id": "ok"}})


class Transport:
    """Answers from a script (responses or transport errors to raise), counting attempts."""

    def __init__(self, *script: Reply) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(reply, type):
            raise reply("simulated", request=request)
        return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)

    def client(self, **kwargs: Any) -> TelnyxClient:
        return TelnyxClient(
            "KEY-secret", transport=httpx.MockTransport(self), sleep=self.sleeps.append, **kwargs
        )


def _send(client: TelnyxClient) -> Any:
    return client.messages.send_long_code(from_="+15550001111", to="+15550002222", text="123456")


# Reads and idempotent writes


def test_get_is_retried_after_503_with_backoff() -> None:
    transport = Transport(httpx.Response(503), OK)
    assert transport.client().messages.retrieve("m1") == {"id": "ok"}
    assert len(transport.requests) == 2
    assert len(transport.sleeps) == 1
    assert 0.375 <= transport.sleeps[0] <= 0.5  # 0.5 s less up to 25 % jitter


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_get_is_retried_on_retryable_statuses(status: int) -> None:
    transport = Transport(httpx.Response(status), OK)
    transport.client().phone_numbers.messaging.retrieve("+15550001111")
    assert len(transport.requests) == 2


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout, httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError]
)
def test_get_is_retried_after_timeouts_and_dropped_connections(error: type) -> None:
    transport = Transport(error, OK)
    assert transport.client().messaging_profiles.retrieve("p1") == {"id": "ok"}
    assert len(transport.requests) == 2


def test_idempotent_writes_are_retried_on_5xx() -> None:
    transport = Transport(httpx.Response(502), OK)
    transport.client().phone_numbers.messaging.update("+15550001111", messaging_profile_id="p1")
    assert [r.method for r in transport.requests] == ["PATCH", "PATCH"]

    transport = Transport(httpx.Response(500), OK)
    transport.client().messaging_profiles.autoresp_configs.update(
        "p1", "c1", op="stop", keywords=["STOP"], country_code="US"
    )
    assert [r.method for r in transport.requests] == ["PUT", "PUT"]


def test_retries_are_bounded_by_max_retries() -> None:
    transport = Transport(httpx.Response(500))
    with pytest.raises(InternalServerError):
        transport.client().messages.retrieve("m1")
    assert len(transport.requests) == 3  # first attempt + max_retries=2
    assert len(transport.sleeps) == 2
    assert transport.sleeps[1] > transport.sleeps[0] * 1.4  # exponential


def test_max_retries_zero_disables_retries() -> None:
    transport = Transport(httpx.Response(503), OK)
    with pytest.raises(InternalServerError):
        transport.client(max_retries=0).messages.retrieve("m1")
    assert len(transport.requests) == 1
    assert transport.sleeps == []


def test_retry_after_seconds_is_honoured() -> None:
    transport = Transport(httpx.Response(429, headers={"Retry-After": "3"}), OK)
    transport.client().messages.retrieve("m1")
    assert transport.sleeps == [3.0]


def test_retry_after_http_date_is_honoured() -> None:
    when = email.utils.formatdate(time.time() + 10, usegmt=True)
    transport = Transport(httpx.Response(503, headers={"Retry-After": when}), OK)
    transport.client().messages.retrieve("m1")
    assert 8.0 <= transport.sleeps[0] <= 10.0


def test_retry_after_is_capped_at_60_seconds() -> None:
    transport = Transport(httpx.Response(429, headers={"Retry-After": "3600"}), OK)
    transport.client().messages.retrieve("m1")
    assert transport.sleeps == [60.0]


def test_total_retry_time_is_bounded() -> None:
    transport = Transport(httpx.Response(429, headers={"Retry-After": "5"}), OK)
    client = transport.client(retry_policy=RetryPolicy(max_total=2.0))
    with pytest.raises(RateLimitError) as caught:
        client.messages.retrieve("m1")
    assert caught.value.retry_after == 5.0
    assert len(transport.requests) == 1
    assert transport.sleeps == []


def test_backoff_doubles_up_to_8_seconds_with_jitter() -> None:
    policy = RetryPolicy()
    for retry_number, base in enumerate([0.5, 1, 2, 4, 8, 8, 8]):
        delays = {policy.delay(retry_number) for _ in range(50)}
        assert all(0.75 * base <= d <= base for d in delays)
        assert len(delays) > 1  # jittered


# Message sends


def test_send_is_not_retried_after_read_timeout() -> None:
    transport = Transport(httpx.ReadTimeout, OK)
    with pytest.raises(APITimeoutError):
        _send(transport.client())
    assert len(transport.requests) == 1  # exactly one request reached Telnyx
    assert transport.sleeps == []


@pytest.mark.parametrize(
    "error", [httpx.WriteTimeout, httpx.WriteError, httpx.ReadError, httpx.RemoteProtocolError]
)
def test_send_is_not_retried_once_the_request_may_have_left(error: type) -> None:
    transport = Transport(error, OK)
    with pytest.raises(APIConnectionError):
        _send(transport.client())
    assert len(transport.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_send_is_not_retried_after_5xx(status: int) -> None:
    transport = Transport(httpx.Response(status), OK)
    with pytest.raises(InternalServerError):
        _send(transport.client())
    assert len(transport.requests) == 1


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_send_is_retried_when_the_request_never_left(error: type) -> None:
    transport = Transport(error, OK)
    assert _send(transport.client()) == {"id": "ok"}
    assert len(transport.requests) == 2


def test_send_is_retried_after_429() -> None:
    transport = Transport(httpx.Response(429, headers={"Retry-After": "1"}), OK)
    assert _send(transport.client()) == {"id": "ok"}
    assert len(transport.requests) == 2
    assert transport.sleeps == [1.0]


def test_send_retries_are_bounded_by_max_retries() -> None:
    transport = Transport(httpx.ConnectError)
    with pytest.raises(APIConnectionError) as caught:
        _send(transport.client(max_retries=3))
    assert len(transport.requests) == 4
    assert not isinstance(caught.value, APITimeoutError)
    assert "KEY-secret" not in str(caught.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.messages.send(to="+15550002222", text="x"),
        lambda c: c.messages.send_short_code(from_="12345", to="+15550002222", text="x"),
        lambda c: c.messages.send_number_pool(messaging_profile_id="p", to="+1555", text="x"),
        lambda c: c.messages.send_with_alphanumeric_sender(
            from_="ACME", to="+1555", text="x", messaging_profile_id="p"
        ),
        lambda c: c.messages.send_group_mms(from_="+1555", to=["+1666", "+1777"], text="x"),
        lambda c: c.messages.whatsapp(from_="+1555", to="+1666", whatsapp_message={}),
        lambda c: c.messages.schedule(to="+1666", from_="+1555", send_at="2030-01-01T00:00Z"),
        lambda c: c.messages.rcs.send(
            agent_id="a", to="+1666", messaging_profile_id="p", agent_message={}
        ),
        lambda c: c.messaging_hosted_number_orders.create_verification_codes(
            "o1", phone_numbers=["+1555"], verification_method="sms"
        ),
    ],
)
def test_every_send_is_sent_once_despite_a_read_timeout(call: Callable[[Any], Any]) -> None:
    transport = Transport(httpx.ReadTimeout, OK)
    with pytest.raises(APITimeoutError):
        call(transport.client())
    assert len(transport.requests) == 1


def test_other_creating_posts_are_not_retried_after_5xx() -> None:
    transport = Transport(httpx.Response(500), OK)
    with pytest.raises(InternalServerError):
        transport.client().messaging_profiles.create(name="otp", whitelisted_destinations=["US"])
    assert len(transport.requests) == 1


def test_lookup_posts_declared_idempotent_are_retried() -> None:
    transport = Transport(httpx.Response(503), httpx.Response(200, json={"phone_numbers": []}))
    result = transport.client().messaging_hosted_number_orders.check_eligibility(
        phone_numbers=["+15550001111"]
    )
    assert result == {"phone_numbers": []}
    assert len(transport.requests) == 2


def test_a_message_post_is_never_idempotent_even_if_the_caller_says_so() -> None:
    transport = Transport(httpx.Response(503), OK)
    with pytest.raises(InternalServerError):
        transport.client().request("POST", "/messages", json={"to": "+1"}, idempotent=True)
    assert len(transport.requests) == 1

    transport = Transport(httpx.Response(503), OK)
    transport.client().request("POST", "/some/lookup", json={}, idempotent=True)
    assert len(transport.requests) == 2


@pytest.mark.parametrize(
    "method, path, declared, expected",
    [
        ("GET", "/messages/m1", None, True),
        ("PATCH", "/phone_numbers/1/messaging", None, True),
        ("PUT", "/x", None, True),
        ("DELETE", "/messages/m1", None, True),
        ("POST", "/messaging_profiles", None, False),
        ("POST", "/messages/long_code", True, False),
        ("POST", "/messages", True, False),
        ("POST", "/messaging/rcs/bulk_capabilities", True, True),
        ("GET", "/x", False, False),
    ],
)
def test_idempotency_is_decided_by_method_and_path(
    method: str, path: str, declared: bool | None, expected: bool
) -> None:
    assert is_idempotent(method, path, declared) is expected


def test_should_retry_names_exactly_what_is_retryable() -> None:
    request = httpx.Request("POST", "https://api.telnyx.com/v2/messages")
    for error, when_idempotent, when_not in [
        (httpx.ConnectError, True, True),
        (httpx.ConnectTimeout, True, True),
        (httpx.PoolTimeout, True, True),
        (httpx.ReadTimeout, True, False),
        (httpx.WriteTimeout, True, False),
        (httpx.ReadError, True, False),
        (httpx.RemoteProtocolError, True, False),
        (httpx.LocalProtocolError, False, False),
    ]:
        exc = error("x", request=request)
        assert should_retry(idempotent=True, error=exc) is when_idempotent, error
        assert should_retry(idempotent=False, error=exc) is when_not, error
    for status, when_idempotent, when_not in [
        (429, True, True),
        (500, True, False),
        (503, True, False),
        (501, False, False),
        (400, False, False),
        (404, False, False),
        (409, False, False),
    ]:
        response = httpx.Response(status, request=request)
        assert should_retry(idempotent=True, response=response) is when_idempotent, status
        assert should_retry(idempotent=False, response=response) is when_not, status
