"""Engine objects -> KuCoin JSON shapes (spot: numbers as strings; futures: JSON numbers).

Samples (classic order, abridged)::

    {"id": "6566...", "symbol": "BTC-USDT", "opType": "DEAL", "type": "limit", "side": "buy",
     "price": "20000", "size": "0.001", "funds": "0", "dealFunds": "0", "dealSize": "0",
     "fee": "0", "feeCurrency": "USDT", "isActive": true, "cancelExist": false, ...}
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kucoin_sim.engine import Balance, DoneReason, Fill, Order, OrderStatus

if TYPE_CHECKING:
    from kucoin_sim.state import SimState

ZERO = Decimal(0)


def num(value: Decimal | None) -> str:
    """A decimal as KuCoin prints it: plain notation, no trailing zeros ("0" for None)."""
    if value is None or not value:
        return "0"
    text = format(value.normalize(), "f")
    return text


def fnum(value: Decimal | None) -> float | int:
    """A decimal as a JSON number (futures)."""
    if value is None:
        return 0
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def opt(value: Decimal | None) -> str | None:
    """A decimal string, or None when absent."""
    return None if value is None else num(value)


def paginate(items: Sequence[Any], page: int, size: int) -> dict[str, Any]:
    """KuCoin's page envelope."""
    total = len(items)
    return {
        "currentPage": page,
        "pageSize": size,
        "totalNum": total,
        "totalPage": (total + size - 1) // size,
        "items": list(items[(page - 1) * size : page * size]),
    }


def _common(o: Order) -> dict[str, Any]:
    return {
        "id": o.id,
        "symbol": o.symbol,
        "opType": "DEAL",
        "type": o.type.value,
        "side": o.side.value,
        "price": num(o.price),
        "size": num(o.size),
        "funds": num(o.funds),
        "dealFunds": num(o.deal_funds),
        "dealSize": num(o.deal_size),
        "fee": num(o.fee),
        "feeCurrency": o.fee_currency or o.symbol.split("-")[-1],
        "stp": o.stp.value if o.stp else "",
        "timeInForce": o.tif.value,
        "postOnly": o.post_only,
        "hidden": o.hidden,
        "iceberg": o.iceberg,
        "visibleSize": num(o.visible_size),
        "cancelAfter": o.cancel_after_s or 0,
        "channel": "API",
        "clientOid": o.client_oid or "",
        "remark": o.remark,
        "tags": o.tags or "",
        "cancelExist": o.cancel_exist or o.done_reason is DoneReason.CANCELED,
        "createdAt": o.created_at_ms,
        "tradeType": "MARGIN_TRADE" if o.account_type.value == "margin" else "TRADE",
        "tax": "0",
        "taxRate": "0",
        "taxCurrency": "USDT",
    }


def classic_order(o: Order) -> dict[str, Any]:
    """``GET /api/v1/orders/{id}`` shape."""
    return {
        **_common(o),
        "stop": o.stop.value if o.stop else "",
        "stopTriggered": o.stop_triggered,
        "stopPrice": num(o.stop_price),
        "isActive": o.active,
    }


def hf_order(o: Order) -> dict[str, Any]:
    """``GET /api/v1/hf/orders/{id}`` shape."""
    remain = o.remaining if o.active else ZERO
    return {
        **_common(o),
        "stp": o.stp.value if o.stp else None,  # HF: null, not "" (the SDK's enum refuses "")
        "remainSize": num(remain),
        "remainFunds": num(o.remaining_funds if o.active else ZERO),
        "cancelledSize": num(o.cancelled_size),
        "cancelledFunds": num(o.cancelled_funds),
        "inOrderBook": o.in_book,
        "active": o.active,
        "lastUpdatedAt": o.last_updated_ms,
    }


def stop_order(o: Order) -> dict[str, Any]:
    """Stop order item (``/api/v1/stop-order``)."""
    return {
        **_common(o),
        "userId": o.uid,
        "status": "NEW" if o.status is OrderStatus.NEW else "TRIGGERED",
        "orderTime": o.created_at_ms * 1_000_000,
        "domainId": "kucoin",
        "tradeSource": "USER",
        "takerFeeRate": "0.001",
        "makerFeeRate": "0.001",
        "stop": o.stop.value if o.stop else "",
        "stopTriggerTime": None,
        "stopPrice": num(o.stop_price),
    }


def fill(f: Fill) -> dict[str, Any]:
    """Classic fill item; HF adds an integer ``id``."""
    return {
        "id": int(f.trade_id) if f.trade_id.isdigit() else 0,
        "symbol": f.symbol,
        "tradeId": f.trade_id,
        "orderId": f.order_id,
        "counterOrderId": f.counter_order_id,
        "side": f.side.value,
        "liquidity": f.liquidity.value,
        "forceTaker": False,
        "price": num(f.price),
        "size": num(f.size),
        "funds": num(f.funds),
        "fee": num(f.fee),
        "feeRate": num(f.fee_rate),
        "feeCurrency": f.fee_currency,
        "stop": f.stop.value if f.stop else "",
        "tradeType": "TRADE",
        "type": f.order_type.value,
        "createdAt": f.created_at_ms,
        "taxRate": "0",
        "tax": "0",
    }


def account(b: Balance) -> dict[str, Any]:
    """``/api/v1/accounts`` item."""
    return {
        "id": b.id,
        "currency": b.currency,
        "type": b.type.value,
        "balance": num(b.balance),
        "available": num(b.available),
        "holds": num(b.holds),
    }


def balances(state: SimState, uid: str) -> list[dict[str, Any]]:
    """Every account of a user (control API)."""
    return [account(b) for b in state.exchange.balances(uid)]


def orders_by_client_oid(state: SimState, client_oid: str, uid: str | None) -> list[Any]:
    """Every order (any user, or ``uid``) with this clientOid, newest first (control API)."""
    uids = [uid] if uid else list(state.users)
    found = [
        o
        for u in uids
        if u in state.users
        for o in state.exchange.orders(u)
        if o.client_oid == client_oid
    ]
    return [hf_order(o) for o in found]


def fills_of(state: SimState, uid: str, symbol: str | None) -> list[Any]:
    """A user's fills (control API)."""
    return [fill(f) for f in state.exchange.fills(uid, symbol=symbol)]
