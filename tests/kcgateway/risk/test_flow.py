"""Check 6 (rates, daily caps) and check 7 (duplicate guard)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kcgateway.risk import Limits, OrderType, RecentOrder, Side
from kcgateway.risk.flow import in_window
from tests.kcgateway.risk.builders import NOW, activity, check, order

D = Decimal


def test_in_window_counts_the_half_open_interval() -> None:
    stamps = (NOW - 2000, NOW - 1000, NOW - 999, NOW - 1, NOW)
    assert in_window(stamps, NOW, 1000) == 3  # (now - 1 s, now]
    assert in_window((), NOW, 1000) == 0


@pytest.mark.parametrize(
    ("field", "limit_name", "window", "who", "unit"),
    [
        ("key_submissions_ms", "key_orders_per_second", 1000, "key k1", "second"),
        ("key_submissions_ms", "key_orders_per_minute", 60_000, "key k1", "minute"),
        ("account_submissions_ms", "account_orders_per_second", 1000, "account acc1", "second"),
        ("account_submissions_ms", "account_orders_per_minute", 60_000, "account acc1", "minute"),
    ],
)
def test_rates_deny_at_the_limit(
    field: str, limit_name: str, window: int, who: str, unit: str
) -> None:
    stamps = tuple(NOW - window + 1 + i for i in range(3))
    limits = Limits(**{limit_name: 3})
    d = check(act=activity(**{field: stamps}), limits=limits)
    assert d.codes == ("risk.rate",)
    assert d.explain() == (
        f"risk.rate: {who} sent 3 orders in the last {unit}; the limit is 3 per {unit}"
    )
    assert check(act=activity(**{field: stamps}), limits=Limits(**{limit_name: 4})).allowed
    older = tuple(s - 1 for s in stamps)[:1] + stamps[1:]  # one falls out of the window
    assert check(act=activity(**{field: older}), limits=limits).allowed


def test_daily_order_count() -> None:
    d = check(act=activity(daily_order_count=100), limits=Limits(daily_orders=100))
    assert d.explain() == (
        "risk.daily_orders: account acc1 sent 100 orders today; the limit is 100 a day"
    )


def test_daily_turnover() -> None:
    d = check(act=activity(daily_turnover=D(995_000)), limits=Limits(daily_turnover=D(1_000_000)))
    assert d.explain() == (
        "risk.daily_turnover: today's turnover of account acc1 would reach 1,001,695; the "
        "limit is 1,000,000 a day"
    )


def test_rates_off() -> None:
    limits = Limits(check_rates=False, key_orders_per_second=0, daily_orders=0)
    assert check(limits=limits).allowed


def recent(at: int, **kw: object) -> RecentOrder:
    base: dict[str, object] = {
        "tenant_id": "t1", "account_id": "acc1", "key_id": "k1", "symbol": "BTC-USDT",
        "side": Side.BUY, "order_type": OrderType.LIMIT, "price": D(66950), "size": D("0.1"),
        "funds": None, "notional": D(6695), "at_ms": at,
    }  # fmt: skip
    base.update(kw)
    return RecentOrder(**base)  # type: ignore[arg-type]


def test_duplicate_within_the_window() -> None:
    d = check(act=activity(recent_orders=(recent(NOW - 400),)))
    assert d.explain() == (
        "risk.duplicate: the same buy of 0.1 BTC-USDT at 66,950 came from key k1 0.4 s ago; the "
        "window is 2.0 s: change the order or wait"
    )


def test_duplicate_market_by_funds_sentence() -> None:
    o = order(order_type=OrderType.MARKET, price=None, size=None, funds=D(500))
    r = recent(NOW - 100, order_type=OrderType.MARKET, price=None, size=None, funds=D(500))
    d = check(o, act=activity(recent_orders=(r,)))
    assert "the same buy of BTC-USDT came from key k1 0.1 s ago" in d.explain()


@pytest.mark.parametrize(
    "other",
    [
        {"at": NOW - 2000},  # just outside the window
        {"key_id": "k2"},
        {"symbol": "ETH-USDT"},
        {"side": Side.SELL},
        {"price": D(66951)},
        {"size": D("0.2")},
        {"order_type": OrderType.MARKET},
    ],
)
def test_not_a_duplicate(other: dict[str, object]) -> None:
    at = other.pop("at", NOW - 100)
    rec = recent(at, **other)  # type: ignore[arg-type]
    assert check(act=activity(recent_orders=(recent(NOW - 5000), rec))).allowed


def test_duplicates_off() -> None:
    act = activity(recent_orders=(recent(NOW - 100),))
    assert check(act=act, limits=Limits(check_duplicates=False)).allowed
