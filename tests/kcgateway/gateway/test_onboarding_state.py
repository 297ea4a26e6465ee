"""The signed OAuth state: tampering, expiry and the browser binding are each refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kcgateway.errors import OnboardingRefused
from kcgateway.gateway.onboarding_state import (
    StateClaims,
    check_claims,
    make_state,
    new_binding,
    read_state,
    state_key,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
KEY = state_key("pepper-for-tests-0123456789abcdef")


def _claims(bound: str) -> StateClaims:
    return StateClaims("ab" * 16, "tenant-1", "alice", NOW + timedelta(minutes=10), bound)


def test_round_trip_and_binding() -> None:
    cookie, bound = new_binding()
    state = make_state(KEY, _claims(bound))
    assert cookie not in state and bound in str(read_state(KEY, state))
    claims = read_state(KEY, state)
    assert claims == _claims(bound)
    check_claims(claims, cookie, NOW + timedelta(minutes=10))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s + "x",
        lambda s: "e30" + s[3:],
        lambda s: s.split(".")[0],
        lambda s: "",
        lambda s: make_state(state_key("another pepper for another gateway"), _claims("b")),
    ],
)
def test_tampered_states_are_refused(mangle: object) -> None:
    state = make_state(KEY, _claims("b"))
    with pytest.raises(OnboardingRefused) as refused:
        read_state(KEY, mangle(state))  # type: ignore[operator]
    assert refused.value.reason == "state_invalid"


def test_expired_state_and_wrong_cookie() -> None:
    cookie, bound = new_binding()
    claims = read_state(KEY, make_state(KEY, _claims(bound)))
    with pytest.raises(OnboardingRefused) as late:
        check_claims(claims, cookie, NOW + timedelta(minutes=10, seconds=1))
    assert late.value.reason == "state_expired"
    for other in (None, "", new_binding()[0]):
        with pytest.raises(OnboardingRefused) as foreign:
            check_claims(claims, other, NOW)
        assert foreign.value.reason == "cookie_mismatch"
