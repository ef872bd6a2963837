"""What api/flask_shortcuts.py relies on in Flask and Werkzeug, pinned: an upgrade that
changes any of it fails here."""

from __future__ import annotations

import io

import pytest
from flask import Flask, request

from otp_service import errors
from otp_service.api.flask_shortcuts import (
    UNREAD_BODY,
    App,
    close_connection,
    read_body,
    request_of,
)


def test_flask_hands_a_plain_function_back_as_it_is_so_caching_the_answer_is_safe():
    app = Flask(__name__)

    def view() -> str:
        return "ok"

    assert app.ensure_sync(view) is view
    cached = App(__name__)
    assert cached.ensure_sync(view) is view and cached.ensure_sync(view) is view


def test_werkzeug_keeps_the_request_in_the_environ_under_the_key_the_middleware_reads():
    app = Flask(__name__)
    with app.test_request_context("/v1/x"):
        assert request_of(request.environ) is request._get_current_object()


@pytest.mark.parametrize(
    ("environ", "limit", "expected"),
    [
        ({"CONTENT_LENGTH": "3"}, 10, b"abc"),
        ({"CONTENT_LENGTH": "0"}, 10, b""),
        ({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}, 10, b"abcdef"),
        ({"HTTP_TRANSFER_ENCODING": "chunked"}, 10, b""),  # an unending stream: not read
    ],
)
def test_a_body_is_read_as_its_length_or_its_end_says(environ, limit, expected):
    assert read_body({**environ, "wsgi.input": io.BytesIO(b"abcdef")}, limit) == expected


def test_a_body_past_the_limit_is_refused_whether_its_length_is_given_or_not():
    with pytest.raises(errors.PayloadTooLarge):
        read_body({"CONTENT_LENGTH": "7", "wsgi.input": io.BytesIO(b"x" * 7)}, 6)
    chunked = {"wsgi.input_terminated": True, "wsgi.input": io.BytesIO(b"x" * 7)}
    with pytest.raises(errors.PayloadTooLarge):
        read_body(chunked, 6)
    with pytest.raises(errors.InvalidRequest):
        read_body({"CONTENT_LENGTH": "9", "wsgi.input": io.BytesIO(b"x" * 7)}, 10)


def test_a_refused_body_is_marked_unread_for_the_connection_to_close():
    environ = {"CONTENT_LENGTH": "7", "wsgi.input": io.BytesIO(b"x" * 7)}
    with pytest.raises(errors.PayloadTooLarge):
        read_body(environ, 6)
    assert environ[UNREAD_BODY] is True
    read = {"CONTENT_LENGTH": "3", "wsgi.input": io.BytesIO(b"abc")}
    read_body(read, 6)
    assert UNREAD_BODY not in read


def test_gunicorn_closes_a_connection_through_the_response_start_response_belongs_to():
    """close_connection relies on it; tests/api/test_connection.py proves it end to end."""
    from gunicorn.http.wsgi import Response

    class Request:
        version = (1, 1)
        method = "POST"

        def should_close(self) -> bool:
            return False

    response = Response(Request(), None, None)
    assert not response.must_close
    close_connection(response.start_response)
    assert response.must_close and response.should_close()
    close_connection(lambda status, headers: None)  # another server's: nothing happens
