"""Whose rate budget an account's client spends: its KuCoin UID, else its credential."""

from __future__ import annotations

from kcgateway.gateway.venue import BoundSigner


class _NoSigner:
    async def sign(
        self, credential_id: str, *, method: str, path: str, body: bytes, timestamp_ms: int
    ) -> dict[str, str]:
        raise AssertionError("not called")


def test_budget_key_is_the_uid_when_known_else_the_credential() -> None:
    assert BoundSigner(_NoSigner(), "cred-1", "1234567").budget_key == "uid:1234567"
    assert BoundSigner(_NoSigner(), "cred-1").budget_key == "credential:cred-1"
    assert BoundSigner(_NoSigner(), "cred-1", "").budget_key == "credential:cred-1"
