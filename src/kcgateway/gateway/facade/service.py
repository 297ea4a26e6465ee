"""The KuCoin facade's use case: one KuCoin-shaped request in, the ``data`` of its answer out.

:meth:`FacadeService.handle` resolves the route (``routes.py``), authenticates a private call
(``credentials.py``: KuCoin's header checks, the vault's signature check, the gateway key's
expiry and IP allow-list), checks the route's scope, then:

- public data is forwarded unsigned to the exchange, behind a cache of ``public_ttl_s``;
- private reads are forwarded to the bound account's client, which signs them with the
  account's real credentials (the facade credential never reaches the exchange, and the real
  secret never reaches the client);
- orders go through the same :class:`~kcgateway.gateway.orders.router.OrderRouter` as ``/v1``:
  risk engine, exactly-once placement under the client's clientOid, audit records.

Every metered request is first debited from the facade's own rate budgets (``ratelimit.py``:
the facade key's spot or futures pool, the client address's public pool); an empty pool is
KuCoin's ``429000``. :meth:`FacadeService.serve` answers the JSON text of KuCoin's ``data`` or
the error (from the :mod:`kcgateway.errors` tree, shaped into KuCoin's envelope by the
facade's front end), with the ``gw-ratelimit-*`` headers of the pool the request was debited
from.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, unquote

from sqlalchemy import or_, select

from kcgateway.errors import FacadeRefused, KcgatewayError, NoSuchObject, ValidationError
from kcgateway.exchange.rest import KuCoinClient
from kcgateway.gateway.event_feed import EventFeed
from kcgateway.gateway.facade import batch
from kcgateway.gateway.facade.credentials import FacadeCredentials, FacadePrincipal, signed_call
from kcgateway.gateway.facade.orders import futures_request, order_request, placed_answer
from kcgateway.gateway.facade.ratelimit import FacadeLimits, RateState
from kcgateway.gateway.facade.routes import FacadeRoute, Kind, Resolved, denied, resolve
from kcgateway.gateway.facade.stream import FacadeStream
from kcgateway.gateway.orders.markets import FUTURES, SPOT
from kcgateway.gateway.orders.model import IntentView
from kcgateway.gateway.orders.router import OrderRouter
from kcgateway.gateway.venue import Venues
from kcgateway.store.database import Database
from kcgateway.store.tables import OrderIntent
from kcgateway.store.types import OrderState

Now = Callable[[], datetime]
#: (HTTP status, KuCoin code, message) of an exception: the front end's table
Explain = Callable[[BaseException], tuple[int, str, str]]
log = logging.getLogger("kcgateway.gateway.facade")
#: the most public answers kept at once (one per endpoint and query)
CACHE_ENTRIES = 2_000
PERMISSION = "Access denied, require more permission."
#: the intent states cancel-by-symbol settles (the orders the exchange holds open)
_OPEN = (OrderState.ACKED, OrderState.OPEN)
TOO_MANY = "Too Many Requests: the facade key's rate limit is used up; wait for gw-ratelimit-reset"


@dataclass(frozen=True, slots=True)
class FacadeAnswer:
    """KuCoin's ``data`` (JSON text), or the failure, and the rate-limit headers to send."""

    data: bytes
    error: Exception | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FacadeRequest:
    """One HTTP request as the facade's front end received it.

    ``raw_query`` is the query string as it travelled (URL-encoded, no ``?``); ``headers`` must
    look names up case-insensitively; ``ip`` is the client address by the ``/v1`` rule.
    """

    method: str
    path: str
    raw_query: str
    body: bytes = field(repr=False)
    headers: Mapping[str, str] = field(repr=False)
    ip: str
    #: the request came to the futures listener (KuCoin's futures host)
    futures: bool = False
    #: the URL of the facade's private WebSocket as this client reaches it (bullet-private)
    ws_endpoint: str = ""


@dataclass
class _PublicCache:
    """Public answers by (endpoint, path values, query), each kept ``ttl_s``."""

    ttl_s: float
    clock: Callable[[], float]
    entries: dict[tuple[object, ...], tuple[float, bytes]] = field(default_factory=dict)

    def get(self, key: tuple[object, ...]) -> bytes | None:
        found = self.entries.get(key)
        if found is None or found[0] < self.clock():
            return None
        return found[1]

    def put(self, key: tuple[object, ...], data: bytes) -> None:
        if len(self.entries) >= CACHE_ENTRIES:
            self.entries.clear()
        self.entries[key] = (self.clock() + self.ttl_s, data)


class FacadeService:
    """Serves KuCoin's spot API to bots holding facade credentials."""

    def __init__(
        self,
        db: Database,
        credentials: FacadeCredentials,
        orders: OrderRouter,
        venues: Venues,
        market: KuCoinClient,
        *,
        now: Now = lambda: datetime.now(UTC),
        public_ttl_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        events: EventFeed | None = None,
        limits: FacadeLimits | None = None,
        explain: Explain | None = None,
    ) -> None:
        self._db = db
        self.credentials = credentials
        self._orders = orders
        self._venues = venues
        self._market = market
        self._now = now
        self._cache = _PublicCache(public_ttl_s, monotonic)
        #: the per-key (and per-address, public) rate budgets
        self.limits = limits or FacadeLimits()
        #: a batch order's failMsg (the front end's error table; a plain one without it)
        self._explain = explain or _plain
        #: the private WebSocket (None without an event log to relay)
        self.stream = None if events is None else FacadeStream(db, events, venues, now=now)

    def __repr__(self) -> str:
        return "FacadeService()"

    async def serve(self, request: FacadeRequest) -> FacadeAnswer:
        """KuCoin's answer to ``request``: its data or its failure, with rate-limit headers."""
        rate: list[RateState] = []
        try:
            data = await self.handle(request, rate)
        except Exception as exc:  # the front end shapes every failure into KuCoin's envelope
            return FacadeAnswer(b"", exc, rate[-1].headers() if rate else {})
        return FacadeAnswer(data, None, rate[-1].headers() if rate else {})

    async def handle(self, request: FacadeRequest, rate: list[RateState] | None = None) -> bytes:
        """The JSON ``data`` of KuCoin's answer to ``request`` (errors raise).

        The pool figures of the budget debited are appended to ``rate``.
        """
        found = resolve(request.method, request.path, futures=request.futures)
        if found is None:
            if denied(request.path):
                await self._authenticate(request)
                raise FacadeRefused("400007", PERMISSION, http_status=403)
            raise FacadeRefused("404000", "Not Found", http_status=404)
        kind = found.route.kind
        if kind is Kind.TIME:
            return str(int(self._now().timestamp() * 1000)).encode()
        if kind is Kind.FIXED:
            return found.route.answer.encode()
        query = dict(parse_qsl(request.raw_query, keep_blank_values=True))
        if kind is Kind.PUBLIC:
            self._meter(f"ip:{request.ip}", found.route, rate)
            return await self._public(found, query)
        principal = await self._authenticate(request)
        if kind is Kind.UNSUPPORTED:
            raise FacadeRefused("400100", found.route.answer, http_status=400)
        scope = found.route.scope
        if scope is not None:
            principal.require(scope)
        self._meter(principal.key_id, found.route, rate)
        if kind is Kind.READ:
            return await self._read(principal, found, query)
        if kind is Kind.BULLET:
            return self._bullet(principal, request)
        return await self._trade(principal, found, query, request.body)

    def _meter(self, who: str, route: FacadeRoute, rate: list[RateState] | None) -> None:
        """Debit ``route``'s cost from ``who``'s budget; 429000 when it does not fit."""
        cost = route.metered
        if cost is None:
            return
        state = self.limits.charge(who, cost[0], cost[1], int(self._now().timestamp() * 1000))
        if rate is not None:
            rate.append(state)
        if not state.admitted:
            raise FacadeRefused("429000", TOO_MANY, http_status=429)

    async def _authenticate(self, request: FacadeRequest) -> FacadePrincipal:
        path = request.path
        signed, wire = path, None
        if request.raw_query:
            signed = f"{path}?{unquote(request.raw_query)}"
            wire = f"{path}?{request.raw_query}"
        call = signed_call(request.headers, request.method, signed, request.body, wire)
        return await self.credentials.authenticate(call, request.ip)

    def _bullet(self, principal: FacadePrincipal, request: FacadeRequest) -> bytes:
        if self.stream is None or not request.ws_endpoint:
            raise FacadeRefused("404000", "Not Found", http_status=404)
        api_key = request.headers.get("KC-API-KEY") or ""
        return _json(self.stream.bullet(principal, api_key, request.ws_endpoint))

    async def _public(self, found: Resolved, query: dict[str, str]) -> bytes:
        name = found.route.endpoint or ""
        if found.route.method != "GET":  # a token: each caller gets its own
            return bytes(await self._market.call(name))
        key = (name, tuple(sorted(found.params.items())), tuple(query.items()))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        raw = await self._market.call(name, path_params=found.params or None, query=query or None)
        data = bytes(raw)
        self._cache.put(key, data)
        return data

    async def _read(
        self, principal: FacadePrincipal, found: Resolved, query: dict[str, str]
    ) -> bytes:
        venue = await self._venues.for_account(principal.account_id)
        raw = await venue.client.call(
            found.route.endpoint or "", path_params=found.params or None, query=query or None
        )
        return bytes(raw)

    async def _trade(
        self, principal: FacadePrincipal, found: Resolved, query: dict[str, str], body: bytes
    ) -> bytes:
        route = found.route
        market = FUTURES if route.futures else SPOT
        hf = route.hf or route.futures  # the answers that carry the clientOid
        tenant, key_id = principal.tenant_id, principal.key_id
        if route.kind is Kind.BATCH:
            return _json(await self._batch(principal, found.route, body))
        if route.kind is Kind.PLACE:
            parse = futures_request if route.futures else order_request
            req = parse(body, principal.account_id)
            view = await self._orders.place(
                tenant, key_id, req, key_id=key_id, source_ip=principal.ip
            )
            return _json(placed_answer(view, hf=hf))
        if route.kind is Kind.CANCEL_ID:
            order_id = found.params["orderId"]
            intent_id = await self._intent_of(principal.account_id, order_id, market)
            await self._orders.cancel(tenant, intent_id, key_id, market)
            return _json({"orderId": order_id} if route.hf else {"cancelledOrderIds": [order_id]})
        if route.kind is Kind.CANCEL_OID:
            oid = found.params["clientOid"]
            view = await self._orders.cancel_by_client_oid(
                tenant, oid, key_id, market, principal.account_id
            )
            if hf:
                return _json({"clientOid": oid})
            return _json({"cancelledOrderId": view.exchange_order_id, "clientOid": oid})
        symbol = query.get("symbol")
        if route.kind is Kind.CANCEL_ALL:
            return _json(await self._cancel_all(principal, market))
        if not symbol and route.hf:  # KuCoin's HF cancel-by-symbol needs one (cancelAll not)
            raise ValidationError("symbol is required to cancel orders here", field="symbol")
        symbols = [symbol] if symbol else await self._open_symbols(principal.account_id, market)
        views: list[IntentView] = []  # no symbol (classic, futures): every symbol's orders
        for one in symbols:
            views += await self._orders.cancel_symbol(
                tenant, principal.account_id, one, key_id, market
            )
        if route.hf:
            return _json("success")
        return _json({"cancelledOrderIds": [v.exchange_order_id for v in views]})

    async def _cancel_all(self, principal: FacadePrincipal, market: str) -> dict[str, object]:
        """KuCoin's HF cancelAll: each symbol with open orders, its failure named per symbol."""
        done: list[str] = []
        failed: list[dict[str, str]] = []
        for symbol in await self._open_symbols(principal.account_id, market):
            try:
                await self._orders.cancel_symbol(
                    principal.tenant_id, principal.account_id, symbol, principal.key_id, market
                )
            except Exception as exc:  # that symbol's answer; the others still go
                failed.append({"symbol": symbol, "error": self._explain(exc)[2]})
                continue
            done.append(symbol)
        return {"succeedSymbols": done, "failedSymbols": failed}

    async def _open_symbols(self, account_id: str, market: str) -> list[str]:
        """The symbols where the account has orders the gateway holds open."""
        query = (
            select(OrderIntent.symbol)
            .where(
                OrderIntent.account_id == account_id,
                OrderIntent.market == market,
                OrderIntent.state.in_(_OPEN),
            )
            .distinct()
        )
        async with self._db.read() as session:
            return sorted(str(s) for s in (await session.scalars(query)).all())

    async def _batch(self, principal: FacadePrincipal, route: FacadeRoute, body: bytes) -> object:
        """Each order of a batch through the router in turn; one's refusal is its failMsg."""
        shape = batch.Shape.FUTURES if route.futures else (
            batch.Shape.HF if route.hf else batch.Shape.CLASSIC)  # fmt: skip
        parse = futures_request if route.futures else order_request
        entries = []
        for item in batch.batch_items(body, shape):
            try:
                req = parse(_json(item), principal.account_id)
                view = await self._orders.place(
                    principal.tenant_id, principal.key_id, req,
                    key_id=principal.key_id, source_ip=principal.ip,
                )  # fmt: skip
                done = placed_answer(view, hf=True)
            except Exception as exc:  # that order's answer; the others still go
                _, code, message = self._explain(exc)
                entries.append(batch.failed(shape, item, code, message))
                continue
            entries.append(batch.placed(shape, item, done["orderId"], done["clientOid"]))
        return batch.answer(shape, entries)

    async def _intent_of(self, account_id: str, order_id: str, market: str) -> str:
        """The account's intent in ``market`` with this exchange order id (or gateway id)."""
        query = select(OrderIntent.id).where(
            OrderIntent.account_id == account_id,
            OrderIntent.market == market,
            or_(OrderIntent.exchange_order_id == order_id, OrderIntent.id == order_id),
        )
        async with self._db.read() as session:
            intent_id = await session.scalar(query)
        if intent_id is None:
            raise NoSuchObject("order")
        return str(intent_id)


def _plain(exc: BaseException) -> tuple[int, str, str]:
    if not isinstance(exc, KcgatewayError):
        log.exception("facade batch order failed", exc_info=exc)
    return 400, "400100", "the gateway refused the order"


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
