"""Tenant names are checked before anything is stored."""

from __future__ import annotations

import pytest

from kcgateway.gateway.tenants import InvalidTenantName, check_name


@pytest.mark.parametrize(
    ("name", "problem"),
    [("", "empty"), ("  ", "empty"), ("x" * 201, "longer than 200"), ("a\tb", "control")],
)
def test_bad_names_say_what_to_change(name: str, problem: str) -> None:
    with pytest.raises(InvalidTenantName, match=problem):
        check_name(name)


def test_a_good_name_is_stripped() -> None:
    assert check_name("  acme corp ") == "acme corp"
