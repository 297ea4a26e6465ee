"""The client signs through an injected RequestSigner (the vault) instead of credentials."""

from __future__ import annotations

import pytest

from kcgateway.clock import FakeClock
from kcgateway.errors import ConfigError
from kcgateway.exchange.rest import KuCoinClient
from kcgateway.exchange.testing import MockTransport, SentRequest, envelope
from kcgateway.exchange.transport import RawResponse
from kcgateway.kucoin.signing import sign_request
from tests.kcgateway.exchange.helpers import HOSTS, SERVER_NOW, assert_signed, new_keys


class RecordingSigner:
    """Signs like the vault would, and records what it was asked to sign."""

    def __init__(self) -> None:
        self.keys = new_keys()
        self.calls: list[tuple[str, str, bytes, int]] = []

    async def sign(
        self, *, method: str, path: str, body: bytes, timestamp_ms: int
    ) -> dict[str, str]:
        self.calls.append((method, path, body, timestamp_ms))
        return sign_request(
            self.keys.creds(), method=method, path=path, body=body, timestamp_ms=timestamp_ms
        )


def _handler(req: SentRequest) -> RawResponse:
    if req.path == "/api/v1/timestamp":
        return envelope(SERVER_NOW)
    if req.path == "/api/v1/hf/accounts/opened":
        return envelope(True)
    return envelope({"orderId": "o1", "clientOid": "c1"})


async def test_private_calls_are_signed_by_the_signer() -> None:
    signer = RecordingSigner()
    transport = MockTransport(_handler)
    client = KuCoinClient(
        signer=signer, transport=transport, hosts=HOSTS, clock=FakeClock(SERVER_NOW)
    )
    async with client:
        assert await client.account.is_hf() is True
        await client.call("spot.hf.place", body={"clientOid": "c1", "symbol": "BTC-USDT"})
    private = [r for r in transport.sent if r.path != "/api/v1/timestamp"]
    assert [c[1] for c in signer.calls] == [r.signed_path for r in private]
    for req in private:
        assert_signed(req, signer.keys)
    assert private[1].headers["Content-Type"] == "application/json"
    assert signer.calls[1][2] == private[1].body


def test_credentials_and_signer_are_exclusive() -> None:
    with pytest.raises(ConfigError, match="not both"):
        KuCoinClient(new_keys().creds(), signer=RecordingSigner())
