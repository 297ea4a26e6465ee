"""KuCoinClient: the async request pipeline every typed service goes through.

One call: endpoint (from the core table) -> rate budget (cancels first) -> sign with the
server-corrected timestamp -> send through the injected transport -> feed the budget the
``gw-ratelimit-*`` headers -> decode the envelope -> map the code to the exception tree -> act
on the core retry policy's decision.

Retry rules, in one place:

- Idempotent calls (GET, DELETE by id, settings) retry transient failures with capped,
  jittered backoff (``RetryPolicy``).
- 400002 (clock skew) resyncs the server clock and retries once, for every call: the
  exchange refused the request before acting on it.
- 429000 means the request was refused, not executed: the budget blocks the pool until the
  reset the headers give and the *same* request is sent again, orders included (same
  clientOid, same body, new signature). Never a new clientOid.
- A placement (``client_oid`` given) that times out, is reset, gets a 5xx or an unknown code
  raises :class:`~kcgateway.errors.OutcomeUnknown` carrying the clientOid: call the service's
  ``resolve`` to learn whether it exists. A connection that could not even be opened (nothing
  was sent) is retried with the same bytes.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Protocol, Self

import msgspec

from kcgateway.clock import Clock, SystemClock
from kcgateway.errors import (
    ConfigError,
    ExchangeError,
    OutcomeUnknown,
    ProtocolError,
    RateLimited,
)
from kcgateway.exchange.budget import Budget, LocalBudget, ratelimit_headers, reset_ms_from
from kcgateway.exchange.rules import SymbolRulesCache
from kcgateway.exchange.server_clock import ServerClock
from kcgateway.exchange.services.account import AccountService
from kcgateway.exchange.services.broker import BrokerService
from kcgateway.exchange.services.futures import FuturesService
from kcgateway.exchange.services.margin import MarginService
from kcgateway.exchange.services.market import MarketService
from kcgateway.exchange.services.spot import SpotService
from kcgateway.exchange.services.ws import WsTokenService
from kcgateway.exchange.transport import AiohttpTransport, RawResponse, Transport, TransportError
from kcgateway.kucoin.endpoints import ENDPOINTS, Endpoint, Host, build_query, render_path
from kcgateway.kucoin.models import parse_envelope, parse_server_time
from kcgateway.kucoin.retry import Decision, RetryPolicy, classify
from kcgateway.kucoin.signing import BrokerCredentials, Credentials, sign_request

log = logging.getLogger("kcgateway.exchange")

Sleep = Callable[[float], Awaitable[None]]

_ENCODER = msgspec.json.Encoder(decimal_format="string")
_JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Hosts:
    """Base URLs of the three KuCoin REST hosts (point them at ``kucoin_sim`` in tests)."""

    spot: str = Host.SPOT.value
    futures: str = Host.FUTURES.value
    broker: str = Host.BROKER.value

    def base(self, host: Host) -> str:
        """The base URL (no trailing slash) for ``host``."""
        if host is Host.SPOT:
            return self.spot.rstrip("/")
        if host is Host.FUTURES:
            return self.futures.rstrip("/")
        return self.broker.rstrip("/")


class RequestSigner(Protocol):
    """Signs one request without handing out secrets (the vault's Signer, bound to a credential).

    Given instead of ``credentials``, it produces every ``KC-API-*`` header (broker partner
    headers included, when the stored credential carries them).
    """

    async def sign(
        self, *, method: str, path: str, body: bytes, timestamp_ms: int
    ) -> dict[str, str]:
        """The KuCoin headers for one request."""
        ...


class CallObserver(Protocol):
    """Told about every attempt the client sends (wire it to metrics; ``None`` turns it off).

    It sees the endpoint (its template, never the rendered path or query), the HTTP status
    (0 when no reply came), the KuCoin code (``200000`` on success, ``network_*`` for a
    transport failure, ``unparseable`` for a garbled reply) and the ``gw-ratelimit-*`` numbers
    ``(limit, remaining, reset_ms)`` of the reply when it carried them. Never a body or a header.
    """

    def on_call(
        self,
        endpoint: Endpoint,
        *,
        http_status: int,
        code: str,
        ratelimit: tuple[int, int, int] | None,
    ) -> None:
        """One attempt is done (successful or not)."""
        ...


#: the code an observer is given for a successful reply
SUCCESS_CODE = "200000"


class _Prepared:
    """A request ready to sign and send (the same bytes on every attempt).

    A plain slotted class, not a frozen dataclass: one is built per call, and a frozen
    dataclass pays ``object.__setattr__`` per field. Nothing mutates it after ``prepare``.
    """

    __slots__ = ("body", "endpoint", "method", "signed_path", "url")

    def __init__(self, endpoint: Endpoint, url: str, signed_path: str, body: bytes) -> None:
        self.endpoint = endpoint
        self.method = endpoint.method.value  # read once: an Enum's .value is a Python call
        self.url = url
        self.signed_path = signed_path
        self.body = body


def encode_body(body: Mapping[str, object]) -> bytes:
    """Compact JSON in insertion order, Decimals as strings, ``None`` values dropped."""
    return _ENCODER.encode({k: v for k, v in body.items() if v is not None})


class KuCoinClient:
    """An async KuCoin REST client. The constructor does no I/O; use ``async with``.

    ``credentials`` may be None for public data only; ``signer`` replaces them when the secrets
    must stay in a vault (they are then never in this process's client objects). ``broker`` makes
    the client a broker:
    ND-broker calls always carry the partner headers with VERIFY true, and every other signed
    call carries them too. ``budget`` defaults to an in-process :class:`LocalBudget`.
    """

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        transport: Transport | None = None,
        hosts: Hosts | None = None,
        clock: Clock | None = None,
        broker: BrokerCredentials | None = None,
        budget: Budget | None = None,
        retry: RetryPolicy | None = None,
        rand: Callable[[], float] = random.random,
        sleep: Sleep = asyncio.sleep,
        timeout: float | None = None,
        clock_refresh_s: float = 300.0,
        validate_orders: bool = True,
        signer: RequestSigner | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        if signer is not None and credentials is not None:
            raise ConfigError("give the client credentials or a signer, not both")
        self._creds = credentials
        self._signer = signer
        self.observer = observer
        self._broker = broker
        self._transport: Transport = transport if transport is not None else AiohttpTransport()
        self.hosts = hosts if hosts is not None else Hosts()
        self._bases_of: Hosts | None = None
        self._bases: dict[Host, str] = {}
        local = clock if clock is not None else SystemClock()
        self.clock = ServerClock(local, refresh_s=clock_refresh_s)
        self.budget: Budget = budget if budget is not None else LocalBudget(local, sleep=sleep)
        self.retry_policy = retry if retry is not None else RetryPolicy()
        self._rand = rand
        self._sleep = sleep
        self._timeout = timeout
        self._ids = itertools.count(1)
        self._id_prefix = secrets.token_hex(3)
        self.rules = SymbolRulesCache(self, enabled=validate_orders)
        self.market = MarketService(self)
        self.account = AccountService(self)
        self.spot = SpotService(self)
        self.margin = MarginService(self)
        self.futures = FuturesService(self)
        self.broker = BrokerService(self)
        self.ws = WsTokenService(self)

    @property
    def is_broker(self) -> bool:
        """True when the client was given broker credentials."""
        return self._broker is not None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the transport (its pooled connections)."""
        await self._transport.aclose()

    async def server_time(self) -> int:
        """The exchange's time in ms (``GET /api/v1/timestamp``, unsigned)."""
        return parse_server_time(await self.call("market.timestamp"))

    async def sync_clock(self) -> int:
        """Measure the server clock offset now; returns it in ms."""
        return await self.clock.resync(self.server_time)

    def prepare(
        self,
        name: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, object] | None = None,
        body: Mapping[str, object] | None = None,
    ) -> _Prepared:
        """Build the URL, the signed path and the body bytes once, before any attempt."""
        ep = ENDPOINTS[name]
        # render_path validates placeholders; a path without any needs no work
        params = path_params or {}
        path = render_path(ep, **params) if params or "{" in ep.path else ep.path
        wire, signed = build_query(query) if query else ("", "")
        url = self._base_url(ep.host) + path
        if wire:
            url, path = f"{url}?{wire}", f"{path}?{signed}"
        return _Prepared(ep, url, path, encode_body(body) if body is not None else b"")

    def _base_url(self, host: Host) -> str:
        hosts = self.hosts
        if hosts is not self._bases_of:  # ``hosts`` is public: follow a reassignment
            self._bases = {h: hosts.base(h) for h in Host}
            self._bases_of = hosts
        return self._bases[host]

    async def call(
        self,
        name: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, object] | None = None,
        body: Mapping[str, object] | None = None,
        client_oid: str | None = None,
    ) -> msgspec.Raw:
        """Call endpoint ``name`` and return the envelope's raw ``data`` (JSON bytes).

        The typed services parse it with the core model parsers (one typed decode, numbers
        never pass through float).

        Pass ``client_oid`` for order placements: failures whose outcome is unknown then raise
        :class:`OutcomeUnknown` instead of the transport or exchange error.
        """
        req = self.prepare(name, path_params=path_params, query=query, body=body)
        # the retry loop lives here, not in a helper coroutine: one coroutine fewer per call
        attempt = 0
        resynced = False
        while True:
            attempt += 1
            try:
                return await self._attempt(req)
            except (ExchangeError, ProtocolError) as exc:
                # a garbled reply to an order is an unknown outcome too (classify: RECONCILE)
                decision = self._decide(exc, req.endpoint, attempt, resynced)
                if decision is Decision.STOP:
                    raise
                if decision is Decision.RECONCILE:
                    if client_oid is None:
                        raise
                    reason = exc.code if isinstance(exc, ExchangeError) else "unparseable reply"
                    raise OutcomeUnknown(
                        client_oid, reason=reason, request_path=req.endpoint.path
                    ) from exc
                resynced = (
                    await self._before_retry(decision, exc, req.endpoint, attempt) or resynced
                )

    def _decide(
        self, exc: ExchangeError | ProtocolError, ep: Endpoint, attempt: int, resynced: bool
    ) -> Decision:
        if isinstance(exc, TransportError) and not exc.sent:
            # nothing left this process: resending the same bytes cannot duplicate anything
            if attempt < self.retry_policy.max_attempts:
                return Decision.RETRY
            return Decision.STOP
        decision = classify(
            exc, idempotent=ep.idempotent, attempt=attempt, policy=self.retry_policy
        )
        if decision is Decision.RESYNC_CLOCK and resynced:
            return Decision.STOP
        if decision is Decision.WAIT_RATE_LIMIT and attempt >= self.retry_policy.max_attempts:
            return Decision.STOP
        return decision

    async def _before_retry(
        self, decision: Decision, exc: ExchangeError | ProtocolError, ep: Endpoint, attempt: int
    ) -> bool:
        """Do what ``decision`` asks before the next attempt; True if the clock was resynced."""
        if decision is Decision.RESYNC_CLOCK:
            await self.sync_clock()
            return True
        if decision is Decision.WAIT_RATE_LIMIT:
            reset = exc.reset_ms if isinstance(exc, RateLimited) else None
            self.budget.on_rate_limited(ep.pool, reset)
            return False
        await self._sleep(self.retry_policy.backoff_ms(attempt, self._rand) / 1000)
        return False

    @staticmethod
    async def _vault_headers(
        signer: RequestSigner, req: _Prepared, timestamp_ms: int
    ) -> dict[str, str]:
        """Headers from the injected signer (a private endpoint; the vault signs)."""
        headers = await signer.sign(
            method=req.method,
            path=req.signed_path,
            body=req.body,
            timestamp_ms=timestamp_ms,
        )
        if req.body:
            headers["Content-Type"] = _JSON
        return headers

    def _headers(self, req: _Prepared, timestamp_ms: int) -> dict[str, str]:
        ep = req.endpoint
        if not ep.private:
            headers: dict[str, str] = {}
        else:
            creds = self._creds if self._creds is not None else self._require_creds(ep)
            headers = sign_request(
                creds,
                method=req.method,
                path=req.signed_path,
                body=req.body,
                timestamp_ms=timestamp_ms,
                broker=self._broker if not ep.broker else self._broker_for(ep),
            )
        if req.body:
            headers["Content-Type"] = _JSON
        return headers

    def _require_creds(self, ep: Endpoint) -> Credentials:
        if self._creds is None:
            raise ConfigError(f"{ep.name} is a private endpoint: the client needs credentials")
        return self._creds

    def _broker_for(self, ep: Endpoint) -> BrokerCredentials | None:
        broker = self._broker
        if ep.broker:
            if broker is None:
                raise ConfigError(f"{ep.name} is a broker endpoint: the client needs broker=")
            return broker if broker.verify else replace(broker, verify=True)
        return broker

    async def _attempt(self, req: _Prepared) -> msgspec.Raw:
        ep = req.endpoint
        clock = self.clock
        budget = self.budget
        if not budget.try_acquire(ep.pool, ep.weight, priority=ep.cancel):
            await budget.acquire(ep.pool, ep.weight, priority=ep.cancel)
        if ep.private and clock.stale():
            await clock.ensure_fresh(self.server_time)
        signer = self._signer
        if signer is None or not ep.private:  # signing in place needs no coroutine
            headers = self._headers(req, clock.now_ms())
        else:
            headers = await self._vault_headers(signer, req, clock.now_ms())
        rid = f"{self._id_prefix}-{next(self._ids)}"
        debug = log.isEnabledFor(logging.DEBUG)
        started = clock.monotonic() if debug else 0.0
        status = 0
        code = "error"
        limits: tuple[int, int, int] | None = None
        try:
            resp = await self._transport.request(
                req.method, req.url, headers, req.body, self._timeout
            )
            status = resp.status
            limits = ratelimit_headers(resp.headers)  # parsed once, for the budget and errors
            if limits is not None:
                self.budget.observe(ep.pool, resp.headers)
            raw = self._decode(resp, ep, rid, limits)
            code = SUCCESS_CODE
            return raw
        except ExchangeError as exc:
            code = exc.code
            raise
        except ProtocolError:
            code = "unparseable"
            raise
        finally:
            if debug:
                _log_request(rid, ep, status, (clock.monotonic() - started) * 1000)
            if self.observer is not None:
                self.observer.on_call(ep, http_status=status, code=code, ratelimit=limits)

    @staticmethod
    def _decode(
        resp: RawResponse, ep: Endpoint, rid: str, limits: tuple[int, int, int] | None
    ) -> msgspec.Raw:
        reset = max(0, limits[2]) if limits is not None else reset_ms_from(resp.headers)
        return parse_envelope(
            resp.body,
            http_status=resp.status,
            request_path=ep.path,
            request_id=rid,
            reset_ms=reset,
        )


def _log_request(rid: str, ep: Endpoint, status: int, latency_ms: float) -> None:
    """One structured line per request: ids, endpoint, pool, status, latency. No values."""
    log.debug(
        "kucoin request id=%s endpoint=%s pool=%s status=%s latency_ms=%.1f",
        rid,
        ep.name,
        ep.pool.value,
        status,
        latency_ms,
        extra={
            "request_id": rid,
            "endpoint": ep.name,
            "pool": ep.pool.value,
            "status": status,
            "latency_ms": round(latency_ms, 1),
        },
    )
