from __future__ import annotations

import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcgateway.errors import ValidationError
from kcgateway.gateway import apikeys
from kcgateway.gateway.apikeys import KeyLifetime, Scope
from kcgateway.secret import Secret

DAY = apikeys.DAY_MS


@pytest.fixture
def pepper() -> Secret:
    return Secret(secrets.token_hex(32))


def test_issued_key_parses_and_verifies(pepper: Secret) -> None:
    issued = apikeys.issue_key(pepper)
    full = issued.full.reveal()
    assert full.startswith("kgw_")
    assert full.endswith(issued.last4)
    presented = apikeys.parse_key(full)
    assert presented is not None
    assert presented.key_id == issued.key_id
    assert apikeys.secret_matches(pepper, presented, issued.secret_hash)
    assert not apikeys.secret_matches(Secret("other-pepper"), presented, issued.secret_hash)
    assert full not in repr(issued)


def test_issue_is_deterministic_with_injected_randomness(pepper: Secret) -> None:
    a = apikeys.issue_key(pepper, rand=lambda n: b"\x01" * n)
    b = apikeys.issue_key(pepper, rand=lambda n: b"\x01" * n)
    assert a.full == b.full


@given(st.integers(min_value=0, max_value=200), st.sampled_from(apikeys.ALPHABET))
def test_any_single_character_change_fails_the_checksum(pos: int, ch: str) -> None:
    full = apikeys.issue_key(Secret("p"), rand=lambda n: bytes(range(n))).full.reveal()
    pos %= len(full)
    if full[pos] == ch or full[pos] == "_" or pos < 4:
        return
    mutated = full[:pos] + ch + full[pos + 1 :]
    assert apikeys.parse_key(mutated) is None


@pytest.mark.parametrize(
    "text",
    ["", "kgw_", "Bearer x", "kgw_abc_def_ghi", "xyz_" + "a" * 12 + "_" + "b" * 43 + "_cccccc"],
)
def test_look_alikes_are_rejected_without_lookup(text: str) -> None:
    assert apikeys.parse_key(text) is None


def test_base62_overflow_is_an_error() -> None:
    with pytest.raises(ValueError, match="base62"):
        apikeys.base62(b"\xff" * 8, 2)


def test_parse_scopes() -> None:
    assert apikeys.parse_scopes(["read", "trade:spot"]) == {Scope.READ, Scope.TRADE_SPOT}
    with pytest.raises(ValidationError, match="valid scopes"):
        apikeys.parse_scopes(["withdraw"])


@pytest.mark.parametrize(
    ("scopes", "allowlist", "idle_days"),
    [
        ({Scope.TRADE_SPOT}, False, 14),
        ({Scope.TRADE_FUTURES, Scope.READ}, False, 14),
        ({Scope.TRADE_SPOT}, True, 90),
        ({Scope.READ}, False, 90),
        ({Scope.ADMIN}, True, 90),
    ],
)
def test_idle_expiry(scopes: set[Scope], allowlist: bool, idle_days: int) -> None:
    key = KeyLifetime(0, 10 * DAY, frozenset(scopes), allowlist)
    assert apikeys.is_usable(key, 10 * DAY + idle_days * DAY - 1)
    assert not apikeys.is_usable(key, 10 * DAY + idle_days * DAY)


def test_no_key_lives_past_365_days_even_if_used() -> None:
    key = KeyLifetime(0, 364 * DAY, frozenset({Scope.READ}), True)
    assert apikeys.expires_at_ms(key) == 365 * DAY


def test_unused_key_idles_from_creation_and_explicit_expiry_wins() -> None:
    key = KeyLifetime(5, None, frozenset({Scope.READ}), False, expires_ms=DAY)
    assert apikeys.expires_at_ms(key) == DAY
    assert apikeys.expires_at_ms(KeyLifetime(5, None, frozenset(), False)) == 5 + 90 * DAY


def test_revoked_key_is_unusable_from_revocation() -> None:
    key = KeyLifetime(0, None, frozenset({Scope.READ}), True, revoked_ms=100)
    assert apikeys.is_usable(key, 99)
    assert not apikeys.is_usable(key, 100)


def test_ip_allowlist() -> None:
    assert apikeys.ip_allowed("203.0.113.7", [])
    assert apikeys.ip_allowed("10.1.2.3", ["10.0.0.0/8"])
    assert apikeys.ip_allowed("2001:db8::1", ["2001:db8::/32"])
    assert not apikeys.ip_allowed("192.0.2.1", ["10.0.0.0/8", "203.0.113.7"])
    assert not apikeys.ip_allowed("not-an-ip", ["10.0.0.0/8"])
    with pytest.raises(ValidationError, match="CIDR"):
        apikeys.parse_allowlist(["10.0.0.0/33"])


def test_forwarded_for_is_trusted_only_from_trusted_proxies() -> None:
    # Spoofed header from a direct client: ignored.
    assert apikeys.client_ip("198.51.100.9", "10.0.0.1", ["127.0.0.1"]) == "198.51.100.9"
    # Through a trusted proxy: the right-most untrusted hop is the client.
    assert (
        apikeys.client_ip("127.0.0.1", "10.0.0.1, 198.51.100.9", ["127.0.0.1/32"]) == "198.51.100.9"
    )
    # All hops trusted: fall back to the peer.
    assert apikeys.client_ip("127.0.0.1", "127.0.0.1", ["127.0.0.0/8"]) == "127.0.0.1"
    assert apikeys.client_ip("127.0.0.1", None, ["127.0.0.1"]) == "127.0.0.1"


@pytest.mark.parametrize("fill", [b"\x00", b"\xff"])
def test_extreme_random_bytes_still_make_valid_keys(fill: bytes) -> None:
    issued = apikeys.issue_key(Secret("p"), rand=lambda n: fill * n)
    assert apikeys.parse_key(issued.full.reveal()) is not None
