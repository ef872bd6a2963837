"""api/query.py on its own: query strings become typed values, or a 422 naming the name."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from otp_service.admin import AuditFilter, OptOutFilter, Page
from otp_service.api import query
from otp_service.errors import InvalidRequest


def test_a_name_given_twice_is_refused() -> None:
    args = MultiDict([("page[size]", "5"), ("source", "a"), ("source", "b")])
    with pytest.raises(InvalidRequest) as caught:
        query.single_values(args)
    assert caught.value.extra["errors"] == {"source": ["given more than once"]}
    assert query.single_values(MultiDict([("page[size]", "5")])) == {"page[size]": "5"}


@pytest.mark.parametrize("raw", ["0", "251", "-1", "1.5", "٣", "²", "", "0" * 18 + "1", "9" * 5000])
def test_a_page_size_out_of_bounds_or_not_ascii_digits_is_refused(raw: str) -> None:
    with pytest.raises(InvalidRequest, match=r"page\[size\] must be an integer from 1 to 250"):
        query.page({"page[size]": raw})


def test_a_page_defaults_to_the_first_twenty() -> None:
    assert query.page({}) == Page(1, 20)
    assert query.page({"page[number]": "3", "page[size]": "250"}) == Page(3, 250)


def test_a_telnyx_list_takes_its_operations_names_and_passes_filters_on() -> None:
    page, filters = query.telnyx_list(
        {"page[number]": "2", "filter[messaging_profile_id]": "p1"}, "ListShortCodes"
    )
    assert (page, filters) == (Page(2, 20), {"filter[messaging_profile_id]": "p1"})
    with pytest.raises(InvalidRequest, match=r"unknown query parameter\(s\): filter\[type\]"):
        query.telnyx_list({"filter[type]": "x"}, "ListShortCodes")


def test_optout_filters_are_typed() -> None:
    page, where = query.optout_list(
        {"source": "admin", "created_after": "2027-01-15T08:00:00Z", "page[size]": "5"}
    )
    assert page == Page(1, 5)
    assert where == OptOutFilter(source="admin", created_after=1_800_000_000_000)
    with pytest.raises(InvalidRequest, match="unknown source"):
        query.optout_export({"source": "nope"})
    with pytest.raises(InvalidRequest, match="created_before must be an ISO 8601 date-time"):
        query.optout_export({"created_before": "yesterday"})
    with pytest.raises(InvalidRequest, match="unknown query parameter"):
        query.optout_export({"page[size]": "5"})  # an export is not paged


def test_audit_filters_are_typed() -> None:
    assert query.audit_list({"action": "optout.add", "key_id": "k"}) == (
        Page(),
        AuditFilter(action="optout.add", key_id="k"),
    )
    with pytest.raises(InvalidRequest, match="unknown action"):
        query.audit_list({"action": "nope"})
