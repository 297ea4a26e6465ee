"""Which KuCoin spot paths the facade serves, how, and with which scope: one table.

Each :class:`FacadeRoute` says what a (method, path template) is:

- ``TIME``: the gateway's own clock (clients sign with the server time they read here, and the
  facade checks their timestamps against this clock);
- ``FIXED``: a constant answer (``answer``): the facade serves no margin, so it lists no margin
  symbols;
- ``PUBLIC``: public market data, forwarded unsigned to the exchange endpoint ``endpoint`` (a
  name in :data:`kcgateway.kucoin.endpoints.ENDPOINTS`) behind a short cache;
- ``READ``: a private read, forwarded to the bound account's endpoint ``endpoint`` and signed
  there with the account's real credentials (scope ``read``);
- ``BULLET``: the private WebSocket token, for the facade's own WebSocket (scope ``read``);
- ``CANCEL_ALL``: every symbol's orders (HF ``cancelAll``; classic and futures cancel-by-symbol
  without a symbol): cancel-by-symbol through the order router for each symbol where the
  account has open orders the gateway knows (strays are adopted as they are seen);
- ``BATCH``: batch orders (HF, classic or futures form: ``batch.py``), each order through the
  order router like a single one (the trade scope of the host);
- ``UNSUPPORTED``: a trading feature the facade does not serve yet (stop, OCO and margin
  orders, order amendment, leverage, margin mode, risk limit and position margin changes...):
  after authentication, KuCoin's parameter error ``400100`` with ``answer``, a sentence saying
  so and what to do instead; never forwarded to the exchange (it would skip the risk engine);
- ``PLACE``, ``CANCEL_ID``, ``CANCEL_OID``, ``CANCEL_SYMBOL``: orders, through the gateway's
  order router (risk engine, exactly-once placement, audit), answered in the HF or classic
  shape (``hf``) (scope ``trade:spot``).

``endpoint`` is the exchange endpoint the route stands for: its pool and weight are what the
route costs in the facade's own rate budgets (``ratelimit.py``); a route without one (the
clock, fixed answers) is not metered.

Paths under :data:`DENIED_PREFIXES` (withdrawals, deposits, transfers, sub-accounts, API-key
management, broker) are always refused with KuCoin's permission error, whatever the key: a
facade credential can trade and read, never move funds or manage keys. Anything else is
KuCoin's 404000.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from kcgateway.gateway.apikeys import Scope
from kcgateway.kucoin.endpoints import ENDPOINTS, Pool


class Kind(StrEnum):
    """What the facade does with a route."""

    TIME = "time"
    FIXED = "fixed"
    PUBLIC = "public"
    READ = "read"
    PLACE = "place"
    CANCEL_ID = "cancel_id"
    CANCEL_OID = "cancel_oid"
    CANCEL_SYMBOL = "cancel_symbol"
    BULLET = "bullet"
    BATCH = "batch"
    CANCEL_ALL = "cancel_all"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class FacadeRoute:
    """One served (method, path template)."""

    method: str
    template: str
    kind: Kind
    endpoint: str | None = None
    hf: bool = False
    #: a route of the futures host (its trades need ``trade:futures``)
    futures: bool = False
    #: the JSON ``data`` of a FIXED route
    answer: str = ""
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+):path\\\}", r"(?P<\1>.+)", re.escape(self.template))
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))

    @property
    def metered(self) -> tuple[Pool, int] | None:
        """(KuCoin pool, weight) a request of this route costs (None: not metered)."""
        if self.endpoint is None:
            return None
        found = ENDPOINTS[self.endpoint]
        return found.pool, found.weight

    @property
    def scope(self) -> Scope | None:
        """The gateway scope the route needs (None: public)."""
        if self.kind in (Kind.TIME, Kind.PUBLIC, Kind.FIXED, Kind.UNSUPPORTED):
            return None
        if self.kind in (Kind.READ, Kind.BULLET):
            return Scope.READ
        return Scope.TRADE_FUTURES if self.futures else Scope.TRADE_SPOT


def _pub(template: str, endpoint: str) -> FacadeRoute:
    return FacadeRoute("GET", template, Kind.PUBLIC, endpoint)


def _read(template: str, endpoint: str) -> FacadeRoute:
    return FacadeRoute("GET", template, Kind.READ, endpoint)


_HF = "/api/v1/hf/orders"


def _hf(method: str, rest: str, kind: Kind, endpoint: str) -> FacadeRoute:
    return FacadeRoute(method, f"{_HF}/{rest}", kind, f"spot.hf.{endpoint}", hf=True)


_STOP = (
    "stop orders are not supported by the KuCoin facade yet: the gateway cannot check a stop "
    "order's risk when it triggers; place a limit or market order when your price is reached"
)
_OCO = "OCO orders are not supported by the KuCoin facade yet: place the orders one by one"
_MARGIN = (
    "margin orders are not supported by the KuCoin facade yet: trade spot here, or margin "
    "through the gateway's /v1 API"
)
_FUTURES_SETTING = (
    "changing {what} is not supported by the KuCoin facade yet: give the leverage on each "
    "order (its leverage and marginMode fields); account settings are the gateway operator's"
)


def _no(method: str, template: str, why: str, *, futures: bool = False) -> FacadeRoute:
    return FacadeRoute(method, template, Kind.UNSUPPORTED, answer=why, futures=futures)


def _prefixes(
    methods: tuple[str, ...], prefixes: tuple[str, ...], why: str, *, futures: bool = False
) -> tuple[FacadeRoute, ...]:
    """UNSUPPORTED for each method on each prefix and everything under it."""
    return tuple(
        _no(m, t, why, futures=futures)
        for m in methods
        for p in prefixes
        for t in (p, f"{p}/{{rest:path}}")
    )


#: first match wins: fixed paths come before templates that would swallow them
ROUTES: tuple[FacadeRoute, ...] = (
    FacadeRoute("GET", "/api/v1/timestamp", Kind.TIME),
    _pub("/api/v1/status", "market.status"),
    _pub("/api/v2/symbols", "market.symbols"),
    _pub("/api/v2/symbols/{symbol}", "market.symbol"),
    _pub("/api/v3/currencies", "market.currencies"),
    _pub("/api/v3/currencies/{currency}", "market.currency"),
    _pub("/api/v1/market/orderbook/level1", "market.ticker"),
    _pub("/api/v1/market/allTickers", "market.all_tickers"),
    _pub("/api/v1/market/stats", "market.stats"),
    _pub("/api/v1/market/orderbook/level2_20", "market.level2_20"),
    _pub("/api/v1/market/orderbook/level2_100", "market.level2_100"),
    _pub("/api/v1/market/candles", "market.candles"),
    _pub("/api/v1/market/histories", "market.histories"),
    _pub("/api/v1/prices", "market.fiat_prices"),
    # the facade trades spot only: it lists no margin symbols (ccxt reads these while loading)
    FacadeRoute("GET", "/api/v3/margin/symbols", Kind.FIXED, answer='{"items":[]}'),
    FacadeRoute("GET", "/api/v1/isolated/symbols", Kind.FIXED, answer="[]"),
    # the public WebSocket token: the exchange's own public endpoint (never cached)
    FacadeRoute("POST", "/api/v1/bullet-public", Kind.PUBLIC, "ws.bullet_public"),
    # the private one: the facade's own WebSocket, relaying the bound account's events
    FacadeRoute("POST", "/api/v1/bullet-private", Kind.BULLET, "ws.bullet_private"),
    # ccxt's spot class also loads the futures contracts (its futures base URL is the same)
    _pub("/api/v1/contracts/active", "futures.contracts_active"),
    _pub("/api/v1/contracts/{symbol}", "futures.contract"),
    _read("/api/v3/market/orderbook/level2", "market.level2_full"),
    _read("/api/v1/accounts", "account.list"),
    _read("/api/v1/accounts/ledgers", "account.ledgers"),
    _read("/api/v1/accounts/{accountId}", "account.get"),
    _read("/api/v1/hf/accounts/opened", "account.hf_opened"),
    _read("/api/ua/v1/account/mode", "account.ua_mode"),
    # HF orders
    FacadeRoute("POST", _HF, Kind.PLACE, "spot.hf.place", hf=True),
    FacadeRoute("POST", f"{_HF}/sync", Kind.PLACE, "spot.hf.place_sync", hf=True),
    FacadeRoute("POST", f"{_HF}/multi", Kind.BATCH, "spot.hf.batch", hf=True),
    FacadeRoute("POST", f"{_HF}/multi/sync", Kind.BATCH, "spot.hf.batch_sync", hf=True),
    FacadeRoute("DELETE", _HF, Kind.CANCEL_SYMBOL, "spot.hf.cancel_all_by_symbol", hf=True),
    FacadeRoute("DELETE", f"{_HF}/cancelAll", Kind.CANCEL_ALL, "spot.hf.cancel_all", hf=True),
    _no(
        "POST",
        f"{_HF}/alter",
        "amending an order is not supported by the KuCoin facade yet: "
        "cancel it and place a new one",
    ),
    _hf("DELETE", "client-order/{clientOid}", Kind.CANCEL_OID, "cancel_by_client_oid"),
    _hf("DELETE", "sync/client-order/{clientOid}", Kind.CANCEL_OID, "cancel_by_client_oid_sync"),
    _hf("DELETE", "sync/{orderId}", Kind.CANCEL_ID, "cancel_by_id_sync"),
    _hf("DELETE", "{orderId}", Kind.CANCEL_ID, "cancel_by_id"),
    _read(f"{_HF}/active", "spot.hf.active"),
    _read(f"{_HF}/active/page", "spot.hf.active_page"),
    _read(f"{_HF}/active/symbols", "spot.hf.active_symbols"),
    _read(f"{_HF}/done", "spot.hf.done"),
    _read(f"{_HF}/client-order/{{clientOid}}", "spot.hf.get_by_client_oid"),
    _read(f"{_HF}/{{orderId}}", "spot.hf.get_by_id"),
    _read("/api/v1/hf/fills", "spot.hf.fills"),
    # classic orders
    FacadeRoute("POST", "/api/v1/orders", Kind.PLACE, "spot.classic.place"),
    FacadeRoute("POST", "/api/v1/orders/multi", Kind.BATCH, "spot.classic.batch"),
    FacadeRoute("DELETE", "/api/v1/orders", Kind.CANCEL_SYMBOL, "spot.classic.cancel_all"),
    FacadeRoute(
        "DELETE",
        "/api/v1/order/client-order/{clientOid}",
        Kind.CANCEL_OID,
        "spot.classic.cancel_by_client_oid",
    ),
    FacadeRoute("DELETE", "/api/v1/orders/{orderId}", Kind.CANCEL_ID, "spot.classic.cancel_by_id"),
    _read("/api/v1/orders", "spot.classic.list"),
    _read("/api/v1/limit/orders", "spot.classic.recent"),
    _read("/api/v1/order/client-order/{clientOid}", "spot.classic.get_by_client_oid"),
    _read("/api/v1/orders/{orderId}", "spot.classic.get_by_id"),
    _read("/api/v1/fills", "spot.classic.fills"),
    _read("/api/v1/limit/fills", "spot.classic.recent_fills"),
    # stop orders: reading them is harmless; placing or cancelling them is not served yet
    _read("/api/v1/stop-order", "spot.stop.list"),
    _read("/api/v1/stop-order/queryOrderByClientOid", "spot.stop.get_by_client_oid"),
    _read("/api/v1/stop-order/{orderId}", "spot.stop.get_by_id"),
    *_prefixes(("POST", "DELETE"), ("/api/v1/stop-order", "/api/v3/hf/stop-order"), _STOP),
    *_prefixes(("POST", "DELETE"), ("/api/v3/oco", "/api/v1/oco"), _OCO),
    *_prefixes(
        ("POST", "DELETE"),
        ("/api/v3/hf/margin", "/api/v1/margin/order", "/api/v3/margin/order"),
        _MARGIN,
    ),
)


def _fpub(template: str, endpoint: str) -> FacadeRoute:
    return FacadeRoute("GET", template, Kind.PUBLIC, endpoint, futures=True)


def _fread(template: str, endpoint: str) -> FacadeRoute:
    return FacadeRoute("GET", template, Kind.READ, endpoint, futures=True)


def _ftrade(method: str, template: str, kind: Kind, endpoint: str) -> FacadeRoute:
    return FacadeRoute(method, template, kind, endpoint, futures=True)


#: the futures host (``--kucoin-futures-port``): its paths collide with spot's, hence a host
FUTURES_ROUTES: tuple[FacadeRoute, ...] = (
    FacadeRoute("GET", "/api/v1/timestamp", Kind.TIME, futures=True),
    _fpub("/api/v1/status", "futures.status"),
    _fpub("/api/v1/contracts/active", "futures.contracts_active"),
    _fpub("/api/v1/contracts/{symbol}", "futures.contract"),
    _fpub("/api/v1/ticker", "futures.ticker"),
    _fpub("/api/v1/level2/snapshot", "futures.level2_snapshot"),
    _fpub("/api/v1/level2/depth20", "futures.level2_depth20"),
    _fpub("/api/v1/level2/depth100", "futures.level2_depth100"),
    _fpub("/api/v1/kline/query", "futures.kline"),
    FacadeRoute(
        "POST", "/api/v1/bullet-public", Kind.PUBLIC, "ws.futures_bullet_public", futures=True
    ),
    # the facade's own WebSocket (contract orders, positions, wallet of the bound account)
    FacadeRoute(
        "POST", "/api/v1/bullet-private", Kind.BULLET, "ws.futures_bullet_private", futures=True
    ),
    _fread("/api/v1/account-overview", "futures.account_overview"),
    _fread("/api/v1/positions", "futures.positions"),
    _fread("/api/v1/position", "futures.position"),
    _fread("/api/v1/history-positions", "futures.positions_history"),
    _fread("/api/v1/fills", "futures.fills"),
    _fread("/api/v2/position/getMarginMode", "futures.margin_mode"),
    _fread("/api/v2/getCrossUserLeverage", "futures.cross_leverage"),
    _ftrade("POST", "/api/v1/orders", Kind.PLACE, "futures.place"),
    _ftrade("POST", "/api/v1/orders/multi", Kind.BATCH, "futures.batch"),
    _no(
        "POST",
        "/api/v2/changeCrossUserLeverage",
        _FUTURES_SETTING.format(what="the leverage"),
        futures=True,
    ),
    _no(
        "POST",
        "/api/v2/position/changeMarginMode",
        _FUTURES_SETTING.format(what="the margin mode"),
        futures=True,
    ),
    _no(
        "POST",
        "/api/v1/position/switchPositionMode",
        _FUTURES_SETTING.format(what="the position mode"),
        futures=True,
    ),
    *_prefixes(
        ("POST",),
        ("/api/v1/position",),
        _FUTURES_SETTING.format(what="a position's margin or risk limit"),
        futures=True,
    ),
    _no("POST", "/api/v1/st-orders", _STOP, futures=True),
    *_prefixes(("DELETE",), ("/api/v1/stopOrders",), _STOP, futures=True),
    _no(
        "DELETE",
        "/api/v1/orders/multi-cancel",
        "cancelling a list of orders at once is not "
        "supported by the KuCoin facade yet: cancel them one by one or by symbol",
        futures=True,
    ),
    _ftrade("DELETE", "/api/v1/orders", Kind.CANCEL_SYMBOL, "futures.cancel_all"),
    _ftrade("DELETE", "/api/v3/orders", Kind.CANCEL_SYMBOL, "futures.cancel_all"),
    _ftrade(
        "DELETE",
        "/api/v1/orders/client-order/{clientOid}",
        Kind.CANCEL_OID,
        "futures.cancel_by_client_oid",
    ),
    _ftrade("DELETE", "/api/v1/orders/{orderId}", Kind.CANCEL_ID, "futures.cancel_by_id"),
    _fread("/api/v1/orders", "futures.list"),
    _fread("/api/v1/recentDoneOrders", "futures.recent_done"),
    _fread("/api/v1/orders/byClientOid", "futures.get_by_client_oid"),
    _fread("/api/v1/orders/{orderId}", "futures.get_by_id"),
    _fread("/api/v1/stopOrders", "futures.stop_orders"),
)

#: always KuCoin's permission error (400007): money movement, sub-accounts, key management
DENIED_PREFIXES: tuple[str, ...] = (
    "/api/v1/withdrawals",
    "/api/v3/withdrawals",
    "/api/v1/deposit-addresses",
    "/api/v2/deposit-addresses",
    "/api/v3/deposit-address",
    "/api/v1/deposits",
    "/api/v2/accounts/inner-transfer",
    "/api/v3/accounts/universal-transfer",
    "/api/v1/accounts/inner-transfer",
    "/api/v1/accounts/sub-transfer",
    "/api/v2/accounts/sub-transfer",
    "/api/v1/accounts/transferable",
    "/api/v1/accounts/transfer-out",
    "/api/v1/accounts/transfer-in",
    "/api/v3/accounts/transfer-out",
    "/api/v1/transfer-out",
    "/api/v1/transfer-in",
    "/api/v1/sub",
    "/api/v2/sub",
    "/api/v1/sub-accounts",
    "/api/v2/sub-accounts",
    "/api/v1/user/api-key",
    "/api/v1/user-info",
    "/api/v2/user-info",
    "/api/v1/broker",
    "/api/v3/broker",
    "/api/v1/asset/ndbroker",
    "/api/kyc",
    "/api/v3/margin/borrow",
    "/api/v3/margin/repay",
    "/api/v3/transfer-out",
    "/api/v1/withdrawal",
)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A request's route and the values of its path placeholders."""

    route: FacadeRoute
    params: dict[str, str]


def resolve(method: str, path: str, *, futures: bool = False) -> Resolved | None:
    """The served route for ``method path`` on the spot or futures host (None: not served)."""
    method = method.upper()
    for route in FUTURES_ROUTES if futures else ROUTES:
        if route.method != method:
            continue
        found = route.pattern.match(path)
        if found is not None:
            return Resolved(route, found.groupdict())
    return None


def denied(path: str) -> bool:
    """True for the paths a facade credential may never use (withdrawals, transfers...)."""
    return any(path == p or path.startswith((p + "/", p + "?")) for p in DENIED_PREFIXES)
