"""TOTP factors: enrol, verify, check, list, revoke — with pyotp as the authenticator app."""

from __future__ import annotations

import logging
import re
import struct
import zlib
from typing import Any

import pyotp
import pytest
import segno
from cryptography.exceptions import InvalidTag

from otp_service import create_app
from otp_service.ids import PhoneTagger, SubjectTagger
from otp_service.sealing import SecretBox
from tests.conftest import SECRET, ApiClient, FakeClock

SUBJECT = "user-42"
WRONG = "000000"


def enrol(client: ApiClient, subject: str = SUBJECT, **body: object) -> dict[str, Any]:
    response = client.post("/v1/factors", json={"type": "totp", "subject": subject, **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def app_of(factor: dict[str, Any]) -> pyotp.TOTP:
    """The authenticator app, after scanning the factor's QR code."""
    return pyotp.parse_uri(factor["otpauth_uri"])


def wrong_code(totp: pyotp.TOTP, now: float) -> str:
    codes = {totp.at(now + offset) for offset in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in codes)


def verify(client: ApiClient, factor_id: str, code: str):
    return client.post(f"/v1/factors/{factor_id}/verify", json={"code": code})


def check(client: ApiClient, factor_id: str, code: str):
    return client.post(f"/v1/factors/{factor_id}/check", json={"code": code})


def active_factor(client: ApiClient, clock: FakeClock, **body: object):
    factor = enrol(client, **body)
    totp = app_of(factor)
    assert verify(client, factor["id"], totp.at(clock.now)).get_json()["valid"] is True
    clock.advance(30)  # the next code is a new one
    return factor, totp


# -- enrolment, verification, checks ------------------------------------------------------
def test_enrol_verify_and_check_with_an_authenticator_app(client, clock: FakeClock):
    response = client.post(
        "/v1/factors", json={"type": "totp", "subject": SUBJECT, "label": "alice@example.com"}
    )
    assert response.status_code == 201
    factor = response.get_json()
    assert re.fullmatch(r"[a-z2-7]{32}", factor["id"])
    assert response.headers["Location"] == f"/v1/factors/{factor['id']}"
    assert response.headers["Cache-Control"] == "no-store"
    assert factor["status"] == "unverified"
    assert factor["type"] == "totp"
    assert factor["subject"] == SUBJECT
    assert (factor["algorithm"], factor["digits"], factor["period"]) == ("SHA1", 6, 30)
    assert factor["created_at"] == "2027-01-15T08:00:00.000Z"
    assert factor["expires_at"] == "2027-01-15T08:10:00.000Z"
    assert factor["verified_at"] is None
    assert factor["qr_code_png_url"] == f"/v1/factors/{factor['id']}/qr.png"
    assert factor["qr_code_svg"].startswith("<svg")
    assert factor["otpauth_uri"].startswith("otpauth://totp/otp-service:alice%40example.com?")
    totp = app_of(factor)
    assert (totp.issuer, totp.name, totp.digits, totp.interval) == (
        "otp-service",
        "alice@example.com",
        6,
        30,
    )
    assert len(totp.byte_secret()) == 20

    response = verify(client, factor["id"], totp.at(clock.now))
    assert response.status_code == 200
    assert response.get_json() == {
        "id": factor["id"],
        "status": "active",
        "valid": True,
        "reused": False,
        "attempts_remaining": 5,
    }

    clock.advance(30)
    response = check(client, factor["id"], totp.at(clock.now))
    assert response.get_json() == {
        "id": factor["id"],
        "status": "active",
        "valid": True,
        "reused": False,
        "attempts_remaining": 5,
    }
    response = check(client, factor["id"], wrong_code(totp, clock.now))
    assert response.get_json()["valid"] is False
    assert response.get_json()["attempts_remaining"] == 4

    shown = client.get(f"/v1/factors/{factor['id']}").get_json()
    assert shown["status"] == "active"
    assert shown["verified_at"] == "2027-01-15T08:00:00.000Z"
    assert shown["last_used_at"] == "2027-01-15T08:00:30.000Z"
    assert shown["expires_at"] is None
    for hidden in ("otpauth_uri", "qr_code_svg", "qr_code_png_url"):
        assert hidden not in shown
    assert totp.secret not in str(shown)


def test_issuer_and_label_default_to_the_configured_issuer_and_the_subject(client):
    factor = enrol(client)
    assert (factor["issuer"], factor["label"]) == ("otp-service", SUBJECT)
    totp = app_of(factor)
    assert (totp.issuer, totp.name) == ("otp-service", SUBJECT)
    other = app_of(enrol(client, issuer="Acme Inc", label="Alice"))
    assert (other.issuer, other.name) == ("Acme Inc", "Alice")


def test_unverified_factor_shows_its_uri_until_verified(client, clock: FakeClock):
    factor = enrol(client)
    shown = client.get(f"/v1/factors/{factor['id']}").get_json()
    assert shown["otpauth_uri"] == factor["otpauth_uri"]
    verify(client, factor["id"], app_of(factor).at(clock.now))
    assert "otpauth_uri" not in client.get(f"/v1/factors/{factor['id']}").get_json()
    png = client.get(f"/v1/factors/{factor['id']}/qr.png")
    assert png.status_code == 404
    assert png.get_json()["code"] == "not_found"


def test_a_wrong_code_does_not_verify_and_the_right_one_does(client, clock: FakeClock):
    factor = enrol(client)
    totp = app_of(factor)
    body = verify(client, factor["id"], wrong_code(totp, clock.now)).get_json()
    assert body == {
        "id": factor["id"],
        "status": "unverified",
        "valid": False,
        "reused": False,
        "attempts_remaining": 4,
    }
    assert client.get(f"/v1/factors/{factor['id']}").get_json()["status"] == "unverified"
    assert verify(client, factor["id"], totp.at(clock.now)).get_json()["status"] == "active"


def test_verify_twice_and_check_before_verifying_are_conflicts(client, clock: FakeClock):
    factor = enrol(client)
    totp = app_of(factor)
    response = check(client, factor["id"], totp.at(clock.now))
    assert response.status_code == 409
    assert response.get_json()["code"] == "factor_not_verified"
    verify(client, factor["id"], totp.at(clock.now))
    clock.advance(30)
    response = verify(client, factor["id"], totp.at(clock.now))
    assert response.status_code == 409
    assert response.get_json()["code"] == "factor_already_verified"


@pytest.mark.parametrize(("drift", "valid"), [(-60, False), (-30, True), (30, True), (60, False)])
def test_codes_one_step_off_are_accepted_two_steps_off_refused(client, clock, drift, valid):
    factor, totp = active_factor(client, clock)
    clock.advance(90)  # well past the step accepted at verification
    body = check(client, factor["id"], totp.at(clock.now + drift)).get_json()
    assert body["valid"] is valid
    assert body["reused"] is False


def test_other_totp_parameters_are_configurable(env, clock: FakeClock):
    env.update(OTP_TOTP_DIGITS="8", OTP_TOTP_PERIOD="60", OTP_TOTP_ALGORITHM="SHA256")
    env.update(OTP_TOTP_ISSUER="Acme")
    app = create_app(env, clock=clock)
    try:
        client = ApiClient(app.test_client())
        factor = enrol(client)
        assert (factor["algorithm"], factor["digits"], factor["period"]) == ("SHA256", 8, 60)
        assert "algorithm=SHA256&digits=8&period=60" in factor["otpauth_uri"]
        totp = app_of(factor)
        assert (totp.digits, totp.interval, totp.issuer) == (8, 60, "Acme")
        assert verify(client, factor["id"], totp.at(clock.now)).get_json()["valid"] is True
        clock.advance(60)
        assert check(client, factor["id"], totp.at(clock.now - 60)).get_json()["valid"] is False
        assert check(client, factor["id"], totp.at(clock.now)).get_json()["valid"] is True
    finally:
        app.extensions["otp"].close()


# -- replay -------------------------------------------------------------------------------
def test_an_accepted_code_is_refused_again_logged_and_counted(
    client, clock: FakeClock, redis_client, caplog
):
    factor, totp = active_factor(client, clock)
    code = totp.at(clock.now)
    assert check(client, factor["id"], code).get_json()["valid"] is True

    with caplog.at_level(logging.WARNING, logger="otp_service.factors"):
        again = check(client, factor["id"], code)
    assert again.status_code == 200
    assert again.get_json() == {
        "id": factor["id"],
        "status": "active",
        "valid": False,
        "reused": True,
        "attempts_remaining": 4,
    }
    [record] = [r for r in caplog.records if "totp code reuse refused" in r.getMessage()]
    assert record.getMessage() == f"totp code reuse refused: factor {factor['id']}"
    assert record.factor_id == factor["id"]
    assert code not in caplog.text
    assert totp.secret not in caplog.text
    [key] = redis_client.keys(f"*:f:{factor['id'][16:]}")
    assert redis_client.hget(key, "rc") == b"1"


def test_a_code_of_an_earlier_step_than_the_accepted_one_is_refused(client, clock: FakeClock):
    factor, totp = active_factor(client, clock)
    # The app's clock runs ahead: the next step's code is accepted...
    assert check(client, factor["id"], totp.at(clock.now + 30)).get_json()["valid"] is True
    # ...after which the current step's code, though within the drift window, is used up.
    body = check(client, factor["id"], totp.at(clock.now)).get_json()
    assert (body["valid"], body["reused"]) == (False, True)
    clock.advance(30)
    assert check(client, factor["id"], totp.at(clock.now)).get_json()["reused"] is True
    clock.advance(30)
    assert check(client, factor["id"], totp.at(clock.now)).get_json()["valid"] is True


def test_the_code_that_verified_a_factor_cannot_be_checked(client, clock: FakeClock):
    factor = enrol(client)
    totp = app_of(factor)
    code = totp.at(clock.now)
    assert verify(client, factor["id"], code).get_json()["valid"] is True
    clock.advance(10)
    body = check(client, factor["id"], code).get_json()
    assert (body["valid"], body["reused"]) == (False, True)


# -- throttling ---------------------------------------------------------------------------
def test_wrong_codes_are_limited_per_factor_per_time_step(client, clock: FakeClock):
    factor, totp = active_factor(client, clock)
    clock.advance(10)  # 20 s left in this step
    wrong = wrong_code(totp, clock.now)
    for remaining in (4, 3, 2, 1, 0):
        body = check(client, factor["id"], wrong).get_json()
        assert (body["valid"], body["attempts_remaining"]) == (False, remaining)

    response = check(client, factor["id"], totp.at(clock.now))
    assert response.status_code == 429
    assert response.get_json()["code"] == "max_attempts_reached"
    assert response.headers["Retry-After"] == "20"
    assert response.get_json()["retry_after"] == 20

    clock.advance(20)
    body = check(client, factor["id"], totp.at(clock.now)).get_json()
    assert (body["valid"], body["attempts_remaining"]) == (True, 5)


def test_consecutive_failures_lock_the_subject_out_across_its_factors(
    settings, clock: FakeClock, redis_client
):
    app = create_app(settings.replace(failure_limit=3, lockout_seconds=600), clock=clock)
    try:
        client = ApiClient(app.test_client())
        first, first_app = active_factor(client, clock)
        second = enrol(client)
        second_app = app_of(second)
        other, other_app = active_factor(client, clock, subject="someone-else")

        assert check(client, first["id"], wrong_code(first_app, clock.now)).status_code == 200
        # A success resets the count of consecutive failures.
        assert check(client, first["id"], first_app.at(clock.now)).get_json()["valid"] is True
        for _ in range(2):
            check(client, first["id"], wrong_code(first_app, clock.now))
        # The unverified factor's failures count too: the third failure locks the subject.
        body = verify(client, second["id"], wrong_code(second_app, clock.now)).get_json()
        assert body["valid"] is False

        clock.advance(30)
        for response in (
            check(client, first["id"], first_app.at(clock.now)),
            verify(client, second["id"], second_app.at(clock.now)),
        ):
            assert response.status_code == 429
            assert response.get_json()["code"] == "rate_limited"
            assert response.get_json()["reason"] == "too_many_failures"
            assert response.headers["Retry-After"] == "570"
        # Another subject is not affected.
        assert check(client, other["id"], other_app.at(clock.now)).get_json()["valid"] is True

        clock.advance(570)
        assert check(client, first["id"], first_app.at(clock.now)).get_json()["valid"] is True
    finally:
        app.extensions["otp"].close()


# -- revocation, expiry, listing ----------------------------------------------------------
def test_a_revoked_factor_is_refused_at_once(client, clock: FakeClock):
    factor, totp = active_factor(client, clock)
    response = client.delete(f"/v1/factors/{factor['id']}")
    assert response.status_code == 204
    assert response.data == b""
    # This process still holds the secret in its cache: the script refuses the factor.
    response = check(client, factor["id"], totp.at(clock.now))
    assert response.status_code == 404
    assert response.get_json()["code"] == "factor_not_found"
    assert client.get(f"/v1/factors/{factor['id']}").status_code == 404
    assert client.delete(f"/v1/factors/{factor['id']}").status_code == 404
    assert client.get(f"/v1/factors?subject={SUBJECT}").get_json() == {"data": []}


def test_a_factor_revoked_by_another_process_is_refused(client, settings, clock: FakeClock):
    factor, totp = active_factor(client, clock)
    other = create_app(settings, clock=clock)
    try:
        revoke = ApiClient(other.test_client()).delete(f"/v1/factors/{factor['id']}")
        assert revoke.status_code == 204
    finally:
        other.extensions["otp"].close()
    assert check(client, factor["id"], totp.at(clock.now)).status_code == 404


def test_an_unverified_factor_expires(client, clock: FakeClock):
    factor = enrol(client)
    clock.advance(600)
    assert verify(client, factor["id"], app_of(factor).at(clock.now)).status_code == 404
    assert client.get(f"/v1/factors/{factor['id']}").status_code == 404
    assert client.get(f"/v1/factors/{factor['id']}/qr.png").status_code == 404
    assert client.get(f"/v1/factors?subject={SUBJECT}").get_json() == {"data": []}
    assert client.delete(f"/v1/factors/{factor['id']}").status_code == 404


def test_listing_a_subjects_factors(client, clock: FakeClock):
    first, _ = active_factor(client, clock)
    clock.advance(1)
    second = enrol(client, label="phone 2")
    enrol(client, subject="someone-else")

    body = client.get("/v1/factors", query_string={"subject": SUBJECT}).get_json()
    assert [(f["id"], f["status"]) for f in body["data"]] == [
        (first["id"], "active"),
        (second["id"], "unverified"),
    ]
    assert all("otpauth_uri" not in f and "qr_code_svg" not in f for f in body["data"])
    assert client.get("/v1/factors?subject=nobody").get_json() == {"data": []}

    response = client.get("/v1/factors")
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid_request"
    assert client.get(f"/v1/factors?subject={SUBJECT}&limit=5").status_code == 422


def test_a_subject_has_at_most_ten_factors(client, clock: FakeClock):
    ids = [enrol(client)["id"] for _ in range(10)]
    response = client.post("/v1/factors", json={"type": "totp", "subject": SUBJECT})
    assert response.status_code == 409
    assert response.get_json()["code"] == "too_many_factors"
    assert client.delete(f"/v1/factors/{ids[0]}").status_code == 204
    enrol(client)
    clock.advance(600)  # unverified factors expire and no longer count
    for _ in range(10):
        enrol(client)


# -- storage ------------------------------------------------------------------------------
def all_redis_data(redis_client) -> bytes:
    chunks = []
    for key in redis_client.scan_iter():
        chunks.append(key)
        kind = redis_client.type(key)
        if kind == b"hash":
            for name, value in redis_client.hgetall(key).items():
                chunks += [name, value]
        else:
            chunks.append(redis_client.dump(key))
    return b"\n".join(chunks)


def test_the_secret_is_not_readable_from_redis_in_clear(client, clock: FakeClock, redis_client):
    factor, totp = active_factor(client, clock)
    pending = app_of(enrol(client))
    data = all_redis_data(redis_client)
    for app in (totp, pending):
        assert app.secret.encode() not in data
        assert app.secret.lower().encode() not in data
        assert app.byte_secret() not in data
    assert SUBJECT.encode() in data  # the check above looks at the right data


def test_a_ciphertext_moved_to_another_factor_does_not_decrypt(
    client, settings, clock: FakeClock, redis_client
):
    first, _ = active_factor(client, clock)
    second, second_app = active_factor(client, clock)
    [first_key] = redis_client.keys(f"*:f:{first['id'][16:]}")
    [second_key] = redis_client.keys(f"*:f:{second['id'][16:]}")
    redis_client.hset(second_key, "ct", redis_client.hget(first_key, "ct"))
    cold = create_app(settings, clock=clock)  # a process that has not seen the secret
    try:
        response = check(ApiClient(cold.test_client()), second["id"], second_app.at(clock.now))
        assert response.status_code == 500
        assert response.get_json()["code"] == "internal_error"
    finally:
        cold.extensions["otp"].close()


def test_secret_box_binds_the_ciphertext_to_its_factor_and_key():
    box = SecretBox(b"k" * 32)
    sealed = box.seal("a" * 32, b"secret-bytes-0123456")
    assert box.open("a" * 32, sealed) == b"secret-bytes-0123456"
    assert b"secret-bytes" not in sealed
    with pytest.raises(InvalidTag):
        box.open("b" * 32, sealed)
    with pytest.raises(InvalidTag):
        SecretBox(b"j" * 32).open("a" * 32, sealed)


def test_every_key_of_a_subject_is_in_one_slot_and_expires_until_verified(
    client, clock: FakeClock, redis_client
):
    factor = enrol(client)
    keys = subject_keys(redis_client)
    assert len(keys) == 2
    tags = {re.search(rb"\{([a-z2-7]{16})\}", key).group(1) for key in keys}
    assert tags == {factor["id"][:16].encode()}
    assert all(0 < redis_client.ttl(key) <= 600 for key in keys)

    verify(client, factor["id"], app_of(factor).at(clock.now))
    assert all(redis_client.ttl(key) == -1 for key in keys)
    client.delete(f"/v1/factors/{factor['id']}")
    assert subject_keys(redis_client) == []
    # what remains is the two events in the outbox, for the worker to deliver
    events = redis_client.xrange(b"otp:{o}:x")
    assert [fields[b"t"] for _id, fields in events] == [b"factor.verified", b"factor.deleted"]


def subject_keys(redis_client) -> list[bytes]:
    """Every key but the shard's outbox (one Redis: the {o} shard)."""
    return [key for key in redis_client.keys("*") if b"{o}" not in key]


def count_commands(app: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The commands the app's connections send to Redis from now on (a script is one
    EVALSHA), counted where they leave, as packed bytes: the store packs its EVALSHAs
    itself and sends them on a pooled connection, not through ``execute_command``."""
    sent: list[str] = []
    client = app.extensions["otp"].store.redis
    client.ping()  # the connection exists (its hello is not counted)
    pool = client.connection_pool
    get_connection = pool.get_connection

    def counted_connection(*args: Any, **kwargs: Any) -> Any:
        connection = get_connection(*args, **kwargs)
        if "send_packed_command" not in vars(connection):
            send = connection.send_packed_command

            def counting_send(command: Any, *args: Any, **options: Any) -> Any:
                chunks = [command] if isinstance(command, bytes | str) else command
                sent.extend(_command_names(b"".join(_bytes(c) for c in chunks)))
                return send(command, *args, **options)

            monkeypatch.setattr(connection, "send_packed_command", counting_send)
        return connection

    monkeypatch.setattr(pool, "get_connection", counted_connection)
    return sent


def _bytes(chunk: Any) -> bytes:
    return chunk.encode() if isinstance(chunk, str) else bytes(chunk)


def _command_names(packed: bytes) -> list[str]:
    """The name of each command in RESP-packed bytes (``*N``, then N bulk strings)."""
    names, at = [], 0
    while at < len(packed):
        end = packed.index(b"\r\n", at)
        count, at = int(packed[at + 1 : end]), end + 2
        for i in range(count):
            end = packed.index(b"\r\n", at)
            length = int(packed[at + 1 : end])
            if i == 0:
                names.append(packed[end + 2 : end + 2 + length].decode().upper())
            at = end + 2 + length + 2
    return names


def test_a_check_is_one_round_trip_once_the_secret_is_cached(
    app, client, settings, clock: FakeClock, monkeypatch
):
    factor, totp = active_factor(client, clock)
    sent = count_commands(app, monkeypatch)
    assert check(client, factor["id"], totp.at(clock.now)).get_json()["valid"] is True
    assert sent == ["EVALSHA"]

    cold = create_app(settings, clock=clock)  # another process: the secret is not cached
    try:
        sent = count_commands(cold, monkeypatch)
        clock.advance(30)
        response = check(ApiClient(cold.test_client()), factor["id"], totp.at(clock.now))
        assert response.get_json()["valid"] is True
        assert sent == ["HMGET", "EVALSHA"]
        clock.advance(30)
        response = check(ApiClient(cold.test_client()), factor["id"], totp.at(clock.now))
        assert sent == ["HMGET", "EVALSHA", "EVALSHA"]
    finally:
        cold.extensions["otp"].close()


def test_subject_tags_are_keyed_apart_from_phone_tags():
    # Generalising the tagger did not change phone tags (ids of live verifications).
    assert PhoneTagger(SECRET.encode()).tag("+13125550123") == "zjbwa4balleulkrr"
    assert SubjectTagger(SECRET.encode()).tag("+13125550123") != "zjbwa4balleulkrr"
    assert SubjectTagger(b"k" * 32).tag("ü-user") == SubjectTagger(b"k" * 32).tag("ü-user")


# -- QR codes -----------------------------------------------------------------------------
def png_pixels(data: bytes) -> tuple[int, int, list[list[int]]]:
    """Width, height and pixel rows of a non-interlaced 1-bit greyscale PNG (segno's)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert (depth, colour, interlace) == (1, 0, 0)
    raw = zlib.decompress(idat)
    stride = (width + 7) // 8
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - 1] if i else 0
            up, up_left = previous[i], previous[i - 1] if i else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[i] = (line[i] + pred) & 0xFF
        rows.append([(line[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
        previous = line
    return width, height, rows


def svg_dark_modules(svg: str) -> set[tuple[int, int]]:
    """Dark (row, column) modules of segno's SVG: one path of M/m moves and h runs."""
    path = re.search(r' d="([^"]+)"', svg).group(1)
    x = y = 0.0
    dark = set()
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            dark |= {(int(y), int(x) + i) for i in range(int(float(a)))}
            x += float(a)
    return dark


def test_qr_codes_encode_the_otpauth_uri(client):
    factor = enrol(client, label="alice@example.com")
    expected = segno.make_qr(factor["otpauth_uri"], error="m")
    symbol = [list(row) for row in expected.matrix_iter(scale=1, border=4)]

    response = client.get(factor["qr_code_png_url"])
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    width, height, pixels = png_pixels(response.data)
    assert (width, height) == expected.symbol_size(scale=8, border=4)
    version = (width // 8 - 8 - 17) / 4
    assert version == expected.version and 1 <= version <= 40
    # Every 8x8 block is one module of the QR code of the URI (dark = 0 in greyscale).
    assert pixels == [
        [0 if dark else 1 for dark in row] for row in expected.matrix_iter(scale=8, border=4)
    ]

    svg = factor["qr_code_svg"]
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    size = expected.symbol_size(scale=4, border=4)
    assert f'width="{size[0]}" height="{size[1]}"' in svg
    assert svg_dark_modules(svg) == {
        (r, c) for r, row in enumerate(symbol) for c, dark in enumerate(row) if dark
    }


# -- requests -----------------------------------------------------------------------------
FACTOR_ID = "a" * 32


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v1/factors"),
        ("get", "/v1/factors?subject=x"),
        ("get", f"/v1/factors/{FACTOR_ID}"),
        ("get", f"/v1/factors/{FACTOR_ID}/qr.png"),
        ("post", f"/v1/factors/{FACTOR_ID}/verify"),
        ("post", f"/v1/factors/{FACTOR_ID}/check"),
        ("delete", f"/v1/factors/{FACTOR_ID}"),
    ],
)
def test_every_factor_route_needs_a_client_key(app, method, path):
    response = getattr(ApiClient(app.test_client(), key=None), method)(path)
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"
    wrong = getattr(ApiClient(app.test_client(), key="not-a-key"), method)(path)
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": SUBJECT}, "type"),
        ({"type": "sms", "subject": SUBJECT}, "type"),
        ({"type": "totp"}, "subject"),
        ({"type": "totp", "subject": ""}, "subject"),
        ({"type": "totp", "subject": 42}, "subject"),
        ({"type": "totp", "subject": "x" * 256}, "subject"),
        ({"type": "totp", "subject": "a\nb"}, "subject"),
        ({"type": "totp", "subject": SUBJECT, "issuer": "Acme:Corp"}, "issuer"),
        ({"type": "totp", "subject": SUBJECT, "label": "a\x00b"}, "label"),
        ({"type": "totp", "subject": SUBJECT, "secret": "JBSWY3DPEHPK3PXP"}, "secret"),
    ],
)
def test_enrolment_bodies_are_validated(client, body, field):
    response = client.post("/v1/factors", json=body)
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid_request"
    assert field in response.get_json()["errors"]


@pytest.mark.parametrize("code", ["12a456", 123456, "", "1" * 11, None])
def test_codes_are_validated(client, code):
    factor = enrol(client)
    for action in ("verify", "check"):
        response = client.post(f"/v1/factors/{factor['id']}/{action}", json={"code": code})
        assert response.status_code == 422
        assert set(response.get_json()["errors"]) == {"code"}


@pytest.mark.parametrize("factor_id", ["short", "A" * 32, "a" * 31 + "1", "a" * 33])
def test_malformed_ids_are_404_without_touching_redis(app, client, factor_id):
    class NoRedis:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError("Redis was touched")

    app.extensions["otp"].factors.store = NoRedis()
    requests = [
        client.get(f"/v1/factors/{factor_id}"),
        client.get(f"/v1/factors/{factor_id}/qr.png"),
        client.delete(f"/v1/factors/{factor_id}"),
        client.post(f"/v1/factors/{factor_id}/verify", json={"code": "123456"}),
        client.post(f"/v1/factors/{factor_id}/check", json={"code": "123456"}),
    ]
    for response in requests:
        assert response.status_code == 404
        assert response.get_json()["code"] == "factor_not_found"


def test_unknown_factors_are_404(client):
    for response in (
        client.get(f"/v1/factors/{FACTOR_ID}"),
        client.post(f"/v1/factors/{FACTOR_ID}/check", json={"code": "123456"}),
        client.post(f"/v1/factors/{FACTOR_ID}/verify", json={"code": "123456"}),
        client.delete(f"/v1/factors/{FACTOR_ID}"),
    ):
        assert response.status_code == 404
        assert response.get_json()["code"] == "factor_not_found"
