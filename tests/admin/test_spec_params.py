"""The query names the admin lists pass to Telnyx are exactly those of Telnyx's spec."""

from __future__ import annotations

import pytest

from otp_service.admin import LIST_PARAMS
from otp_service.sandbox.spec import operations


def spec_query_names(operation_id: str) -> set[str]:
    (op,) = [o for o in operations() if o.operation_id == operation_id]
    names = set()
    for param in op.parameters:
        if param["in"] != "query":
            continue
        schema = param.get("schema", {})
        if param.get("style") == "deepObject":
            names |= {f"{param['name']}[{prop}]" for prop in schema.get("properties", {})}
        else:
            names.add(param["name"])
    return names


@pytest.mark.parametrize("operation_id", sorted(LIST_PARAMS))
def test_list_params_are_the_spec_query_parameters(operation_id: str) -> None:
    assert set(LIST_PARAMS[operation_id]) == spec_query_names(operation_id)
