"""Shared builders for the engine tests."""

from __future__ import annotations

from decimal import Decimal

from kucoin_sim.engine import (
    AccountType,
    Exchange,
    Limits,
    Order,
    OrderRequest,
    OrderType,
    Side,
    SymbolSpec,
    TimeInForce,
)

D = Decimal
T0 = 1_700_000_000_000

SPEC = SymbolSpec(
    symbol="BTC-USDT",
    base="BTC",
    quote="USDT",
    base_min_size=D("0.001"),
    base_max_size=D(1000),
    base_increment=D("0.001"),
    quote_min_size=D(1),
    quote_max_size=D(1_000_000),
    quote_increment=D("0.01"),
    price_increment=D("0.1"),
    min_funds=D(1),
    maker_fee_rate=D("0.001"),
    taker_fee_rate=D("0.002"),
)


def exchange(seed: int = 1, limits: Limits | None = None) -> Exchange:
    return Exchange([SPEC], seed=seed, limits=limits)


def user(
    ex: Exchange, usdt: str = "100000", btc: str = "10", acct: AccountType = AccountType.TRADE
) -> str:
    uid = ex.create_user()
    ex.fund(uid, acct, "USDT", D(usdt), T0)
    ex.fund(uid, acct, "BTC", D(btc), T0)
    return uid


def limit(
    ex: Exchange,
    uid: str,
    side: Side,
    price: str,
    size: str,
    now: int = T0,
    **kw: object,
) -> Order:
    req = OrderRequest(uid, "BTC-USDT", side, OrderType.LIMIT, price=D(price), size=D(size), **kw)  # type: ignore[arg-type]
    return ex.place(req, now)


def market(
    ex: Exchange,
    uid: str,
    side: Side,
    *,
    size: str | None = None,
    funds: str | None = None,
    **kw: object,
) -> Order:
    req = OrderRequest(
        uid,
        "BTC-USDT",
        side,
        OrderType.MARKET,
        size=None if size is None else D(size),
        funds=None if funds is None else D(funds),
        tif=TimeInForce.GTC,
        **kw,  # type: ignore[arg-type]
    )
    return ex.place(req, T0)


def bal(
    ex: Exchange, uid: str, currency: str, acct: AccountType = AccountType.TRADE
) -> tuple[Decimal, Decimal]:
    (b,) = ex.balances(uid, acct, currency)
    return b.balance, b.holds


def assert_conserved(ex: Exchange) -> None:
    """Sum of balances + the exchange's book == funded, per currency (in the engine's context)."""
    from collections import Counter
    from decimal import localcontext

    from kucoin_sim.engine.types import ENGINE_CONTEXT

    with localcontext(ENGINE_CONTEXT):
        totals: Counter[str] = Counter()
        for acct in ex.ledger.all_accounts():
            totals[acct.currency] += acct.balance
        for cur, funded in ex.ledger.funded.items():
            assert totals[cur] + ex.ledger.fees.get(cur, D(0)) == funded, cur
