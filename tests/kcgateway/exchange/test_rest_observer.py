"""The client's CallObserver hook: one report per attempt, with status, code and budget."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from kcgateway.errors import ProtocolError, Rejected
from kcgateway.exchange.rest import SUCCESS_CODE, Hosts, KuCoinClient
from kcgateway.exchange.testing import MockTransport, SentRequest, envelope, error_reply
from kcgateway.exchange.transport import RawResponse, TransportError
from kcgateway.kucoin.endpoints import Endpoint
from kcgateway.kucoin.retry import RetryPolicy

SPOT = "https://spot.test"
LIMITS = {"gw-ratelimit-limit": "2000", "gw-ratelimit-remaining": "1990", "gw-ratelimit-reset": "9"}


@dataclass
class Seen:
    calls: list[tuple[str, str, int, str, tuple[int, int, int] | None]] = field(
        default_factory=list
    )

    def on_call(
        self,
        endpoint: Endpoint,
        *,
        http_status: int,
        code: str,
        ratelimit: tuple[int, int, int] | None,
    ) -> None:
        self.calls.append((endpoint.path, endpoint.pool.value, http_status, code, ratelimit))


def _client(handler: object, seen: Seen, attempts: int = 1) -> KuCoinClient:
    return KuCoinClient(
        transport=MockTransport(handler),  # type: ignore[arg-type]
        hosts=Hosts(spot=SPOT),
        observer=seen,
        retry=RetryPolicy(max_attempts=attempts, base_ms=1, cap_ms=1),
        sleep=_no_sleep,
    )


async def _no_sleep(_seconds: float) -> None:
    return None


async def test_success_reports_the_template_code_and_budget() -> None:
    seen = Seen()
    async with _client(lambda _r: envelope(123, headers=LIMITS), seen) as client:
        await client.call("market.timestamp")
    assert seen.calls == [("/api/v1/timestamp", "public", 200, SUCCESS_CODE, (2000, 1990, 9))]


async def test_exchange_error_reports_its_code_and_status() -> None:
    seen = Seen()
    async with _client(lambda _r: error_reply("400100", "bad", status=400), seen) as client:
        with pytest.raises(Rejected):
            await client.call("market.timestamp")
    assert seen.calls == [("/api/v1/timestamp", "public", 400, "400100", None)]


async def test_garbled_reply_and_network_failure_are_reported() -> None:
    seen = Seen()
    garbled = RawResponse(200, {}, b"<html>")
    async with _client(lambda _r: garbled, seen) as client:
        with pytest.raises(ProtocolError):
            await client.call("market.timestamp")

    def timeout(_r: SentRequest) -> RawResponse:
        raise TransportError("timeout", sent=True)

    async with _client(timeout, seen, attempts=2) as client:
        with pytest.raises(TransportError):
            await client.call("market.timestamp")
    assert [(c[2], c[3]) for c in seen.calls] == [
        (200, "unparseable"),
        (0, "network_timeout"),
        (0, "network_timeout"),
    ], "one report per attempt, retries included"
