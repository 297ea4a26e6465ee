"""Symbol rules for spot orders, enforced with KuCoin's codes and messages.

All rule failures are ``400100`` (parameter error) with KuCoin's wording ("Price increment
invalid.", "Order size increment invalid.", "Order size below the minimum requirement.", ...),
except an unknown symbol (``900001``, raised by the exchange) and a symbol whose trading is
disabled (``400600``). ``600100``/``600101`` appear in KuCoin's table for funds/size below the
minimum on the old endpoints; the server may translate, the engine keeps one code per rule.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from kucoin_sim.engine.types import (
    Codes,
    EngineError,
    Liquidity,
    Order,
    OrderRequest,
    OrderType,
    SymbolSpec,
    TimeInForce,
)


def fee_rate(maker: Decimal, taker: Decimal, order: Order, liquidity: Liquidity) -> Decimal:
    """The fee rate of one fill.

    KuCoin charges hidden and iceberg orders the taker rate even when they rest (API docs,
    "Handling Fees").
    """
    if liquidity is Liquidity.TAKER or order.hidden or order.iceberg:
        return taker
    return maker


def param_error(message: str) -> EngineError:
    """A ``400100`` parameter error."""
    return EngineError(Codes.PARAM, message)


LIMIT = Decimal("1E+20")
NUMERIC_FIELDS = {
    "price": "price",
    "size": "size",
    "funds": "funds",
    "visible_size": "visibleSize",
    "stop_price": "stopPrice",
    "leverage": "leverage",
    "qty": "qty",
    "value_qty": "valueQty",
}


def check_amount(value: Decimal, name: str) -> Decimal:
    """A finite number of sane magnitude (NaN, infinities and 1E+20 or more are refused)."""
    if not value.is_finite() or abs(value) >= LIMIT:
        raise param_error(f"{name} invalid")
    return value


def check_numbers(req: OrderRequest) -> None:
    """Every numeric field of ``req`` is finite and of sane magnitude (``400100`` otherwise).

    Run first, so no later comparison can raise on a NaN (Decimal comparisons signal).
    """
    for field, wire in NUMERIC_FIELDS.items():
        value = getattr(req, field)
        if value is not None:
            check_amount(value, wire)


def is_multiple(value: Decimal, increment: Decimal) -> bool:
    """Whether ``value`` is a whole number of ``increment`` (False when not computable)."""
    try:
        return (value % increment) == 0
    except InvalidOperation:
        return False


def floor_to(value: Decimal, increment: Decimal) -> Decimal:
    """``value`` rounded down to a multiple of ``increment``."""
    return (value / increment).to_integral_value(rounding=ROUND_FLOOR) * increment


def check_price(price: Decimal | None, increment: Decimal, name: str = "price") -> Decimal:
    """A positive price on the tick grid."""
    if price is None:
        raise param_error(f"{name} is required")
    if price <= 0:
        raise param_error(f"{name} must be positive")
    if not is_multiple(price, increment):
        raise param_error("Price increment invalid.")
    return price


def check_size(size: Decimal, spec: SymbolSpec) -> None:
    """Size within [baseMinSize, baseMaxSize] and on the baseIncrement grid."""
    if size <= 0 or size < spec.base_min_size:
        raise param_error("Order size below the minimum requirement.")
    if size > spec.base_max_size:
        raise param_error("Order size above the maximum requirement.")
    if not is_multiple(size, spec.base_increment):
        raise param_error("Order size increment invalid.")


def check_funds(funds: Decimal, spec: SymbolSpec) -> None:
    """Funds within [max(quoteMinSize, minFunds), quoteMaxSize] on the quoteIncrement grid."""
    if funds <= 0 or funds < spec.quote_min_size or funds < spec.min_funds:
        raise param_error("Order funds below the minimum requirement.")
    if funds > spec.quote_max_size:
        raise param_error("Order funds above the maximum requirement.")
    if not is_multiple(funds, spec.quote_increment):
        raise param_error("Order funds increment invalid.")


def check_limit(req: OrderRequest, spec: SymbolSpec) -> None:
    """Rules of a limit order (price, size, minimum funds)."""
    price = check_price(req.price, spec.price_increment)
    if req.size is None:
        raise param_error("size is required")
    check_size(req.size, spec)
    if price * req.size < spec.min_funds:
        raise param_error("Order funds below the minimum requirement.")


def check_market(req: OrderRequest) -> None:
    """A market order gives exactly one of size and funds (rules checked by the caller)."""
    if (req.size is None) == (req.funds is None):
        raise param_error("Exactly one of size and funds is required for a market order")


def check_display(req: OrderRequest, spec: SymbolSpec) -> None:
    """Hidden/iceberg flags: not both; an iceberg needs a valid visibleSize <= size."""
    if req.hidden and req.iceberg:
        raise param_error("An order cannot be both hidden and iceberg")
    if not req.iceberg:
        return
    visible = req.visible_size
    if visible is None or visible <= 0 or not is_multiple(visible, spec.base_increment):
        raise param_error("visibleSize invalid")
    if req.size is not None and visible > req.size:
        raise param_error("visibleSize must not exceed size")


def check_spot(req: OrderRequest, spec: SymbolSpec) -> None:
    """Every spot rule of ``req`` against ``spec``; raises :class:`EngineError`."""
    if not spec.enable_trading:
        raise EngineError(Codes.NOT_TRADABLE, "validation.createOrder.symbolNotAvailable")
    if req.type is OrderType.LIMIT:
        check_limit(req, spec)
        check_display(req, spec)
    else:
        check_market(req)
        if req.size is not None:
            check_size(req.size, spec)
        if req.funds is not None:
            check_funds(req.funds, spec)
    if req.stop is not None:
        check_price(req.stop_price, spec.price_increment, "stopPrice")
    if req.tif is TimeInForce.GTT and (req.cancel_after_s is None or req.cancel_after_s <= 0):
        raise param_error("cancelAfter must be positive for GTT orders")
