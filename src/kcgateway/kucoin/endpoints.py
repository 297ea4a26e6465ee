"""Every KuCoin REST endpoint the client calls, in one table, plus path and query builders.

Each :class:`Endpoint` says where it lives (:class:`Host`), how it is signed (``private``),
which rate-limit :class:`Pool` it debits and by what ``weight`` (PROTOCOL.md section 4, from the
universal SDK's per-endpoint tables), and how a retry must treat it:

- ``idempotent``: sending the identical request twice has the effect of sending it once (reads,
  cancels by id, "set X to Y" settings). A non-idempotent call (placing an order, a transfer,
  a partial cancel) is never resent blindly; after an unknown outcome it is reconciled.
- ``cancel``: a cancel request, which the rate limiter admits from the reserved headroom so that
  cancels are never starved by order placement.
- ``broker``: needs the ND-broker partner headers (KC-API-PARTNER...).

Paths are templates (``/api/v1/hf/orders/{orderId}``) filled by :func:`render_path`; query
strings come from :func:`build_query`, which returns both the wire form and the decoded form
that KuCoin signs (``currencies=BTC%2CETH`` is sent, ``currencies=BTC,ETH`` is signed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import NamedTuple
from urllib.parse import quote

from kcgateway.errors import ValidationError


class Host(Enum):
    """A KuCoin REST host; the value is the production base URL."""

    SPOT = "https://api.kucoin.com"
    FUTURES = "https://api-futures.kucoin.com"
    BROKER = "https://api-broker.kucoin.com"


class Pool(Enum):
    """A rate-limit resource pool (quota per 30 s window, per UID; PUBLIC is per IP)."""

    SPOT = "spot"
    FUTURES = "futures"
    MANAGEMENT = "management"
    PUBLIC = "public"
    BROKER = "broker"
    EARN = "earn"


class Method(StrEnum):
    """An HTTP method used by the KuCoin REST API."""

    GET = "GET"
    POST = "POST"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One REST endpoint: where it is, how it is signed, what it costs, how to retry it."""

    name: str
    method: Method
    host: Host
    path: str
    private: bool
    pool: Pool
    weight: int
    idempotent: bool
    cancel: bool = False
    broker: bool = False

    @property
    def path_params(self) -> tuple[str, ...]:
        """Names of the ``{placeholders}`` in :attr:`path`, in order."""
        return tuple(_PLACEHOLDER.findall(self.path))


_PLACEHOLDER = re.compile(r"\{([A-Za-z]+)\}")

_G, _P, _D = Method.GET, Method.POST, Method.DELETE
_S, _F, _B = Host.SPOT, Host.FUTURES, Host.BROKER


def _pub(name: str, host: Host, path: str, weight: int, method: Method = _G) -> Endpoint:
    """A public (unsigned) endpoint in the PUBLIC pool; always safe to repeat."""
    return Endpoint(name, method, host, path, False, Pool.PUBLIC, weight, idempotent=True)


def _read(name: str, host: Host, pool: Pool, path: str, weight: int) -> Endpoint:
    """A private GET: signed, safe to repeat."""
    return Endpoint(name, _G, host, path, True, pool, weight, idempotent=True)


def _write(name: str, host: Host, pool: Pool, path: str, weight: int) -> Endpoint:
    """A private POST that changes state and must not be resent blindly."""
    return Endpoint(name, _P, host, path, True, pool, weight, idempotent=False)


def _setting(name: str, host: Host, pool: Pool, path: str, weight: int) -> Endpoint:
    """A private POST that sets a value: repeating it sets the same value again."""
    return Endpoint(name, _P, host, path, True, pool, weight, idempotent=True)


def _cancel(name: str, host: Host, pool: Pool, path: str, weight: int) -> Endpoint:
    """A cancel: idempotent (a second cancel finds the order already gone) and prioritised."""
    return Endpoint(name, _D, host, path, True, pool, weight, idempotent=True, cancel=True)


def _nd(name: str, method: Method, path: str, weight: int, *, idempotent: bool) -> Endpoint:
    """An ND-broker endpoint: broker host, BROKER pool, broker partner headers."""
    return Endpoint(name, method, _B, path, True, Pool.BROKER, weight, idempotent, broker=True)


_SPOT_MARKET = (
    _pub("market.timestamp", _S, "/api/v1/timestamp", 3),
    _pub("market.status", _S, "/api/v1/status", 3),
    _pub("market.symbols", _S, "/api/v2/symbols", 4),
    _pub("market.symbol", _S, "/api/v2/symbols/{symbol}", 4),
    _pub("market.currencies", _S, "/api/v3/currencies", 3),
    _pub("market.currency", _S, "/api/v3/currencies/{currency}", 3),
    _pub("market.ticker", _S, "/api/v1/market/orderbook/level1", 2),
    _pub("market.all_tickers", _S, "/api/v1/market/allTickers", 15),
    _pub("market.stats", _S, "/api/v1/market/stats", 15),
    _pub("market.level2_20", _S, "/api/v1/market/orderbook/level2_20", 2),
    _pub("market.level2_100", _S, "/api/v1/market/orderbook/level2_100", 2),
    _read("market.level2_full", _S, Pool.SPOT, "/api/v3/market/orderbook/level2", 3),
    _pub("market.candles", _S, "/api/v1/market/candles", 3),
    _pub("market.histories", _S, "/api/v1/market/histories", 3),
    _pub("market.fiat_prices", _S, "/api/v1/prices", 3),
)

_M = Pool.MANAGEMENT
_ACCOUNT = (
    _read("account.list", _S, _M, "/api/v1/accounts", 5),
    _read("account.get", _S, _M, "/api/v1/accounts/{accountId}", 5),
    _read("account.ledgers", _S, _M, "/api/v1/accounts/ledgers", 2),
    _read("account.api_key_info", _S, _M, "/api/v1/user/api-key", 20),
    _read("account.hf_opened", _S, Pool.SPOT, "/api/v1/hf/accounts/opened", 30),
    _read("account.ua_mode", _S, _M, "/api/ua/v1/account/mode", 30),
    _write("account.inner_transfer", _S, _M, "/api/v2/accounts/inner-transfer", 10),
    _write("account.universal_transfer", _S, _M, "/api/v3/accounts/universal-transfer", 4),
)

_SP = Pool.SPOT
_HF = "/api/v1/hf/orders"
_SPOT_HF = (
    _write("spot.hf.place", _S, _SP, _HF, 1),
    _write("spot.hf.place_sync", _S, _SP, f"{_HF}/sync", 1),
    Endpoint("spot.hf.test", _P, _S, f"{_HF}/test", True, _SP, 1, idempotent=True),
    _write("spot.hf.batch", _S, _SP, f"{_HF}/multi", 1),
    _write("spot.hf.batch_sync", _S, _SP, f"{_HF}/multi/sync", 1),
    _write("spot.hf.modify", _S, _SP, f"{_HF}/alter", 1),
    _cancel("spot.hf.cancel_by_id", _S, _SP, f"{_HF}/{{orderId}}", 1),
    _cancel("spot.hf.cancel_by_id_sync", _S, _SP, f"{_HF}/sync/{{orderId}}", 1),
    _cancel("spot.hf.cancel_by_client_oid", _S, _SP, f"{_HF}/client-order/{{clientOid}}", 1),
    _cancel(
        "spot.hf.cancel_by_client_oid_sync", _S, _SP, f"{_HF}/sync/client-order/{{clientOid}}", 1
    ),
    # a partial cancel takes cancelSize off again on every resend: not idempotent
    Endpoint(
        "spot.hf.cancel_partial",
        _D,
        _S,
        f"{_HF}/cancel/{{orderId}}",
        True,
        _SP,
        2,
        idempotent=False,
        cancel=True,
    ),
    _cancel("spot.hf.cancel_all_by_symbol", _S, _SP, _HF, 2),
    _cancel("spot.hf.cancel_all", _S, _SP, f"{_HF}/cancelAll", 30),
    _read("spot.hf.get_by_id", _S, _SP, f"{_HF}/{{orderId}}", 2),
    _read("spot.hf.get_by_client_oid", _S, _SP, f"{_HF}/client-order/{{clientOid}}", 2),
    _read("spot.hf.active", _S, _SP, f"{_HF}/active", 2),
    _read("spot.hf.active_page", _S, _SP, f"{_HF}/active/page", 2),
    _read("spot.hf.active_symbols", _S, _SP, f"{_HF}/active/symbols", 2),
    _read("spot.hf.done", _S, _SP, f"{_HF}/done", 2),
    _read("spot.hf.fills", _S, _SP, "/api/v1/hf/fills", 2),
)

_SPOT_CLASSIC = (
    _write("spot.classic.place", _S, _SP, "/api/v1/orders", 2),
    Endpoint("spot.classic.test", _P, _S, "/api/v1/orders/test", True, _SP, 2, idempotent=True),
    _write("spot.classic.batch", _S, _SP, "/api/v1/orders/multi", 3),
    _cancel("spot.classic.cancel_by_id", _S, _SP, "/api/v1/orders/{orderId}", 3),
    _cancel(
        "spot.classic.cancel_by_client_oid", _S, _SP, "/api/v1/order/client-order/{clientOid}", 3
    ),
    _cancel("spot.classic.cancel_all", _S, _SP, "/api/v1/orders", 20),
    _read("spot.classic.list", _S, _SP, "/api/v1/orders", 2),
    _read("spot.classic.recent", _S, _SP, "/api/v1/limit/orders", 3),
    _read("spot.classic.get_by_id", _S, _SP, "/api/v1/orders/{orderId}", 2),
    _read("spot.classic.get_by_client_oid", _S, _SP, "/api/v1/order/client-order/{clientOid}", 3),
    _read("spot.classic.fills", _S, _SP, "/api/v1/fills", 10),
    _read("spot.classic.recent_fills", _S, _SP, "/api/v1/limit/fills", 20),
)

_STOP = "/api/v1/stop-order"
_SPOT_STOP = (
    _write("spot.stop.place", _S, _SP, _STOP, 1),
    _read("spot.stop.list", _S, _SP, _STOP, 8),
    _read("spot.stop.get_by_id", _S, _SP, f"{_STOP}/{{orderId}}", 3),
    _read("spot.stop.get_by_client_oid", _S, _SP, f"{_STOP}/queryOrderByClientOid", 3),
    _cancel("spot.stop.cancel_by_id", _S, _SP, f"{_STOP}/{{orderId}}", 3),
    _cancel("spot.stop.cancel_by_client_oid", _S, _SP, f"{_STOP}/cancelOrderByClientOid", 5),
    _cancel("spot.stop.cancel_batch", _S, _SP, f"{_STOP}/cancel", 3),
)

_MHF = "/api/v3/hf/margin"
_MARGIN = (
    _write("margin.hf.place", _S, _SP, f"{_MHF}/order", 2),
    Endpoint("margin.hf.test", _P, _S, f"{_MHF}/order/test", True, _SP, 2, idempotent=True),
    _cancel("margin.hf.cancel_by_id", _S, _SP, f"{_MHF}/orders/{{orderId}}", 2),
    _cancel(
        "margin.hf.cancel_by_client_oid", _S, _SP, f"{_MHF}/orders/client-order/{{clientOid}}", 2
    ),
    _cancel("margin.hf.cancel_all_by_symbol", _S, _SP, f"{_MHF}/orders", 5),
    _read("margin.hf.get_by_id", _S, _SP, f"{_MHF}/orders/{{orderId}}", 5),
    _read("margin.hf.get_by_client_oid", _S, _SP, f"{_MHF}/orders/client-order/{{clientOid}}", 5),
    _read("margin.hf.active", _S, _SP, f"{_MHF}/orders/active", 4),
    _read("margin.hf.done", _S, _SP, f"{_MHF}/orders/done", 10),
    _read("margin.hf.fills", _S, _SP, f"{_MHF}/fills", 5),
    _write("margin.borrow", _S, _SP, "/api/v3/margin/borrow", 15),
    _write("margin.repay", _S, _SP, "/api/v3/margin/repay", 10),
    _read("margin.cross_account", _S, _SP, "/api/v3/margin/accounts", 15),
    _read("margin.isolated_account", _S, _SP, "/api/v3/isolated/accounts", 15),
    # public in the SDK's tables although ccxt signs them; signing a public call is harmless
    _pub("margin.cross_symbols", _S, "/api/v3/margin/symbols", 3),
    _pub("margin.isolated_symbols", _S, "/api/v1/isolated/symbols", 3),
)

_FP = Pool.FUTURES
_FUTURES_MARKET = (
    _pub("futures.timestamp", _F, "/api/v1/timestamp", 2),
    _pub("futures.status", _F, "/api/v1/status", 4),
    _pub("futures.contracts_active", _F, "/api/v1/contracts/active", 3),
    _pub("futures.contract", _F, "/api/v1/contracts/{symbol}", 3),
    _pub("futures.ticker", _F, "/api/v1/ticker", 2),
    _pub("futures.level2_snapshot", _F, "/api/v1/level2/snapshot", 3),
    _pub("futures.level2_depth20", _F, "/api/v1/level2/depth20", 5),
    _pub("futures.level2_depth100", _F, "/api/v1/level2/depth100", 5),
    _pub("futures.kline", _F, "/api/v1/kline/query", 3),
)

_FUTURES_TRADE = (
    _write("futures.place", _F, _FP, "/api/v1/orders", 2),
    Endpoint("futures.test", _P, _F, "/api/v1/orders/test", True, _FP, 2, idempotent=True),
    _write("futures.batch", _F, _FP, "/api/v1/orders/multi", 20),
    _write("futures.place_tpsl", _F, _FP, "/api/v1/st-orders", 2),
    _cancel("futures.cancel_by_id", _F, _FP, "/api/v1/orders/{orderId}", 1),
    _cancel("futures.cancel_by_client_oid", _F, _FP, "/api/v1/orders/client-order/{clientOid}", 1),
    _cancel("futures.cancel_batch", _F, _FP, "/api/v1/orders/multi-cancel", 20),
    _cancel("futures.cancel_all", _F, _FP, "/api/v3/orders", 10),
    _cancel("futures.cancel_all_stops", _F, _FP, "/api/v1/stopOrders", 15),
    _read("futures.get_by_id", _F, _FP, "/api/v1/orders/{orderId}", 5),
    _read("futures.get_by_client_oid", _F, _FP, "/api/v1/orders/byClientOid", 5),
    _read("futures.list", _F, _FP, "/api/v1/orders", 2),
    _read("futures.recent_done", _F, _FP, "/api/v1/recentDoneOrders", 5),
    _read("futures.stop_orders", _F, _FP, "/api/v1/stopOrders", 6),
    _read("futures.fills", _F, _FP, "/api/v1/fills", 5),
    _read("futures.position", _F, _FP, "/api/v1/position", 2),
    _read("futures.positions", _F, _FP, "/api/v1/positions", 2),
    _read("futures.positions_history", _F, _FP, "/api/v1/history-positions", 2),
    _read("futures.margin_mode", _F, _FP, "/api/v2/position/getMarginMode", 2),
    _setting("futures.change_margin_mode", _F, _FP, "/api/v2/position/changeMarginMode", 2),
    _read("futures.cross_leverage", _F, _FP, "/api/v2/getCrossUserLeverage", 2),
    _setting("futures.change_cross_leverage", _F, _FP, "/api/v2/changeCrossUserLeverage", 2),
    _read("futures.account_overview", _F, _FP, "/api/v1/account-overview", 5),
    _write("futures.add_margin", _F, _FP, "/api/v1/position/margin/deposit-margin", 4),
    _setting("futures.change_risk_limit", _F, _FP, "/api/v1/position/risk-limit-level/change", 5),
)

_ND = "/api/v1/broker/nd"
_KYC = "/api/kyc/ndBroker/proxyClient"
_BROKER = (
    _nd("broker.nd.info", _G, f"{_ND}/info", 2, idempotent=True),
    _nd("broker.nd.create_subaccount", _P, f"{_ND}/account", 3, idempotent=False),
    _nd("broker.nd.list_subaccounts", _G, f"{_ND}/account", 2, idempotent=True),
    _nd("broker.nd.create_subaccount_key", _P, f"{_ND}/account/apikey", 3, idempotent=False),
    _nd("broker.nd.list_subaccount_keys", _G, f"{_ND}/account/apikey", 2, idempotent=True),
    _nd("broker.nd.modify_subaccount_key", _P, f"{_ND}/account/update-apikey", 3, idempotent=True),
    _nd("broker.nd.delete_subaccount_key", _D, f"{_ND}/account/apikey", 3, idempotent=True),
    _nd("broker.nd.transfer", _P, f"{_ND}/transfer", 1, idempotent=False),
    _nd("broker.nd.transfer_detail", _G, "/api/v3/broker/nd/transfer/detail", 1, idempotent=True),
    _nd("broker.nd.rebate_download", _G, f"{_ND}/rebase/download", 3, idempotent=True),
    _nd("broker.nd.deposit_list", _G, "/api/v1/asset/ndbroker/deposit/list", 10, idempotent=True),
    _nd("broker.nd.deposit_detail", _G, "/api/v3/broker/nd/deposit/detail", 1, idempotent=True),
    _nd("broker.nd.withdraw_detail", _G, "/api/v3/broker/nd/withdraw/detail", 1, idempotent=True),
    # KYC weights are not documented (PROTOCOL.md: "-"); 3 is a conservative guess
    _nd("broker.nd.kyc_submit", _P, f"{_KYC}/submit", 3, idempotent=False),
    _nd("broker.nd.kyc_status_list", _G, f"{_KYC}/status/list", 3, idempotent=True),
    _nd("broker.nd.kyc_status_page", _G, f"{_KYC}/status/page", 3, idempotent=True),
    Endpoint(
        "broker.api.rebate_download",
        _G,
        _S,
        "/api/v1/broker/api/rebase/download",
        True,
        Pool.MANAGEMENT,
        3,
        idempotent=True,
        broker=True,
    ),
)

_WS = (
    _pub("ws.bullet_public", _S, "/api/v1/bullet-public", 10, _P),
    Endpoint("ws.bullet_private", _P, _S, "/api/v1/bullet-private", True, _SP, 10, True),
    _pub("ws.futures_bullet_public", _F, "/api/v1/bullet-public", 10, _P),
    Endpoint("ws.futures_bullet_private", _P, _F, "/api/v1/bullet-private", True, _FP, 10, True),
)


def _index(groups: Iterable[tuple[Endpoint, ...]]) -> Mapping[str, Endpoint]:
    table: dict[str, Endpoint] = {}
    for group in groups:
        for ep in group:
            if ep.name in table:
                raise ValueError(f"duplicate endpoint name {ep.name}")
            table[ep.name] = ep
    return MappingProxyType(table)


ENDPOINTS: Mapping[str, Endpoint] = _index(
    (
        _SPOT_MARKET,
        _ACCOUNT,
        _SPOT_HF,
        _SPOT_CLASSIC,
        _SPOT_STOP,
        _MARGIN,
        _FUTURES_MARKET,
        _FUTURES_TRADE,
        _BROKER,
        _WS,
    )
)
"""Every REST endpoint the client calls, keyed by its dotted name (read-only)."""


def endpoint(name: str) -> Endpoint:
    """The endpoint called ``name``; :class:`KeyError` names the bad key when it is unknown."""
    return ENDPOINTS[name]


def render_path(ep: Endpoint, **params: str) -> str:
    """Fill ``ep.path``'s placeholders with URL-quoted values.

    >>> render_path(ENDPOINTS["spot.hf.cancel_by_id"], orderId="order-5c35c027")
    '/api/v1/hf/orders/order-5c35c027'

    A missing, empty or unexpected parameter raises :class:`ValidationError` (nothing is sent).
    """
    wanted = set(ep.path_params)
    extra = sorted(set(params) - wanted)
    if extra:
        raise ValidationError(f"{ep.name} takes no path parameter {extra[0]}", field=extra[0])
    for name in ep.path_params:
        if not params.get(name):
            raise ValidationError(f"{ep.name} needs a non-empty {name}", field=name)
    return _PLACEHOLDER.sub(lambda m: quote(params[m.group(1)], safe=""), ep.path)


def _query_text(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValidationError(f"query parameter {key} is not a finite number", field=key)
        return format(value, "f")
    if isinstance(value, str | int):
        return str(value)
    raise ValidationError(
        f"query parameter {key} has unsupported type {type(value).__name__}", field=key
    )


def _pairs(params: Mapping[str, object]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            pairs.extend((key, _query_text(key, item)) for item in value if item is not None)
        else:
            pairs.append((key, _query_text(key, value)))
    return pairs


class RequestTarget(NamedTuple):
    """Where a request goes: ``wire`` is sent, ``signed`` goes into the prehash."""

    wire: str
    signed: str


def request_target(
    ep: Endpoint, query: Mapping[str, object] | None = None, **path_params: str
) -> RequestTarget:
    """Path plus query of one call, in the wire form and in the form KuCoin signs.

    >>> request_target(ENDPOINTS["spot.classic.list"], {"status": "active", "symbol": "BTC-USDT"})
    RequestTarget(wire='/api/v1/orders?status=active&symbol=BTC-USDT', \
signed='/api/v1/orders?status=active&symbol=BTC-USDT')
    """
    path = render_path(ep, **path_params)
    wire_query, signed_query = build_query(query or {})
    if not wire_query:
        return RequestTarget(path, path)
    return RequestTarget(f"{path}?{wire_query}", f"{path}?{signed_query}")


def build_query(params: Mapping[str, object]) -> tuple[str, str]:
    """Return ``(wire_query, signed_query)`` without the leading ``?``, in insertion order.

    ``None`` values are dropped, booleans become ``true``/``false``, Decimals are written without
    an exponent, lists repeat the key. The wire form is percent-encoded; the signed form is the
    same text decoded, which is what KuCoin puts in the prehash::

        >>> build_query({"base": "USD", "currencies": "BTC,ETH", "page": None})
        ('base=USD&currencies=BTC%2CETH', 'base=USD&currencies=BTC,ETH')
    """
    pairs = _pairs(params)
    wire = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    signed = "&".join(f"{k}={v}" for k, v in pairs)
    return wire, signed
