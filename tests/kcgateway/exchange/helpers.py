"""Shared helpers for the exchange tests: generated credentials, a scripted exchange, and an
independent signature check (written from PROTOCOL.md, not from kcgateway.kucoin.signing)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from kcgateway.clock import FakeClock
from kcgateway.exchange.rest import Hosts, KuCoinClient
from kcgateway.exchange.testing import MockTransport, SentRequest, envelope
from kcgateway.exchange.transport import RawResponse
from kcgateway.kucoin.signing import BrokerCredentials, Credentials
from kcgateway.secret import Secret

SPOT = "https://spot.test"
FUTURES = "https://futures.test"
BROKER = "https://broker.test"
HOSTS = Hosts(spot=SPOT, futures=FUTURES, broker=BROKER)
SERVER_NOW = 1_700_000_000_000


@dataclass(frozen=True)
class Keys:
    api_key: str
    secret: str
    passphrase: str

    def creds(self) -> Credentials:
        return Credentials(self.api_key, Secret(self.secret), Secret(self.passphrase))


def new_keys() -> Keys:
    return Keys(secrets.token_hex(12), secrets.token_hex(16), secrets.token_hex(8))


def new_broker() -> tuple[BrokerCredentials, str]:
    key = secrets.token_hex(16)
    return BrokerCredentials("partner-" + secrets.token_hex(3), "bname", Secret(key)), key


def b64hmac(key: str, msg: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), msg.encode(), hashlib.sha256).digest()).decode()


def assert_signed(req: SentRequest, keys: Keys) -> None:
    """Check KC-API-* headers of ``req`` from first principles."""
    h = req.headers
    ts = h["KC-API-TIMESTAMP"]
    prehash = ts + req.method + req.signed_path + req.body.decode()
    assert h["KC-API-KEY"] == keys.api_key
    assert h["KC-API-SIGN"] == b64hmac(keys.secret, prehash)
    assert h["KC-API-PASSPHRASE"] == b64hmac(keys.secret, keys.passphrase)
    assert h["KC-API-KEY-VERSION"] == "3"


def assert_partner(req: SentRequest, broker: BrokerCredentials, broker_key: str) -> None:
    h = req.headers
    msg = h["KC-API-TIMESTAMP"] + broker.partner + h["KC-API-KEY"]
    assert h["KC-API-PARTNER"] == broker.partner
    assert h["KC-API-PARTNER-SIGN"] == b64hmac(broker_key, msg)
    assert h["KC-BROKER-NAME"] == broker.name
    assert h["KC-API-PARTNER-VERIFY"] == "true"


Route = Callable[[SentRequest], RawResponse]


class Exchange:
    """A scripted exchange: routes by (method, path); answers the server time itself."""

    def __init__(self, clock: FakeClock | None = None, server_skew_ms: int = 0) -> None:
        self.clock = clock or FakeClock(SERVER_NOW)
        self.server_skew_ms = server_skew_ms
        self.routes: dict[tuple[str, str], Route | list[Route]] = {}
        self.transport = MockTransport(self.handle)

    def on(self, method: str, path: str, *replies: Route | RawResponse | object) -> None:
        """Reply with each reply in turn (the last one repeats); plain objects are envelopes."""
        routes = [_as_route(r) for r in replies]
        self.routes[(method, path)] = routes

    def handle(self, req: SentRequest) -> RawResponse:
        if req.path == "/api/v1/timestamp":
            return envelope(self.clock.now_ms() + self.server_skew_ms)
        routes = self.routes.get((req.method, req.path))
        if routes is None:
            raise AssertionError(f"unexpected request {req.method} {req.path}")
        assert isinstance(routes, list)
        route = routes.pop(0) if len(routes) > 1 else routes[0]
        return route(req)

    @property
    def calls(self) -> list[SentRequest]:
        return [r for r in self.transport.sent if r.path != "/api/v1/timestamp"]

    def client(self, keys: Keys | None = None, **kwargs: object) -> KuCoinClient:
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)
            self.clock.advance(int(seconds * 1000))

        self.slept = slept
        kwargs.setdefault("sleep", sleep)
        kwargs.setdefault("rand", lambda: 0.5)
        return KuCoinClient(
            keys.creds() if keys else None,
            transport=self.transport,
            hosts=HOSTS,
            clock=self.clock,
            **kwargs,  # type: ignore[arg-type]
        )


def _as_route(reply: Route | RawResponse | object) -> Route:
    if isinstance(reply, RawResponse):
        return lambda _req: reply
    if callable(reply):
        return reply  # type: ignore[return-value]
    return lambda _req: envelope(reply)
