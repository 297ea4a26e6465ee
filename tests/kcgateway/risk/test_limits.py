"""Limits resolve gateway -> tenant -> account -> key, and the tightest value wins."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st_

from kcgateway.risk import LimitOverrides, Limits, resolve_limits

D = Decimal


def test_overrides_mirror_every_limit() -> None:
    assert [f.name for f in fields(Limits)] == [f.name for f in fields(LimitOverrides)]


def test_defaults_switch_every_check_on() -> None:
    limits = Limits()
    switches = [f.name for f in fields(Limits) if f.name.startswith("check_")]
    assert len(switches) == 9
    assert all(getattr(limits, name) for name in switches)


def test_no_overrides_is_the_gateway() -> None:
    gw = Limits(max_order_notional=D(5))
    assert resolve_limits(gw) == gw
    assert resolve_limits(gw, None, None, None) == gw


def test_maxima_take_the_smallest() -> None:
    gw = Limits(max_order_notional=D(1000), key_orders_per_second=10)
    r = resolve_limits(
        gw,
        LimitOverrides(max_order_notional=D(500)),
        LimitOverrides(max_order_notional=D(800), key_orders_per_second=3),
        LimitOverrides(max_order_notional=D(700)),
    )
    assert r.max_order_notional == D(500)  # a narrower level cannot loosen
    assert r.key_orders_per_second == 3


def test_floors_and_windows_take_the_largest() -> None:
    r = resolve_limits(
        Limits(),
        LimitOverrides(min_volume_24h=D(5_000_000), duplicate_window_ms=10_000),
        LimitOverrides(min_volume_24h=D(10), duplicate_window_ms=1, burst_window_ms=600_000),
    )
    assert r.min_volume_24h == D(5_000_000)
    assert r.duplicate_window_ms == 10_000
    assert r.burst_window_ms == 600_000


def test_checks_are_on_when_any_level_switches_them_on() -> None:
    gw = Limits(check_liquidity=False, check_rates=False)
    r = resolve_limits(gw, LimitOverrides(check_liquidity=True), LimitOverrides(check_rates=False))
    assert r.check_liquidity is True
    assert r.check_rates is False
    assert resolve_limits(Limits(), LimitOverrides(check_drawdown=False)).check_drawdown is True


def test_lists() -> None:
    r = resolve_limits(
        Limits(symbol_deny=frozenset({"A"}), thin_symbol_allow=frozenset({"X", "Y"})),
        LimitOverrides(symbol_allow=frozenset({"B", "C", "D"}), symbol_deny=frozenset({"B"})),
        LimitOverrides(symbol_allow=frozenset({"C", "D", "E"}), thin_symbol_allow=frozenset({"Y"})),
    )
    assert r.symbol_deny == frozenset({"A", "B"})
    assert r.symbol_allow == frozenset({"C", "D"})
    assert r.thin_symbol_allow == frozenset({"Y"})


def test_market_to_ioc_is_the_most_specific_preference() -> None:
    assert resolve_limits(Limits(), LimitOverrides(market_to_ioc=True)).market_to_ioc is True
    r = resolve_limits(
        Limits(market_to_ioc=True),
        LimitOverrides(market_to_ioc=True),
        LimitOverrides(market_to_ioc=False),
        LimitOverrides(),
    )
    assert r.market_to_ioc is False


@settings(deadline=None)  # no timing: this machine is shared
@given(
    gw=st_.integers(1, 10**6),
    levels=st_.lists(st_.one_of(st_.none(), st_.integers(1, 10**6)), max_size=3),
)
def test_property_resolved_is_never_looser_than_any_level(
    gw: int, levels: list[int | None]
) -> None:
    overrides = [LimitOverrides(max_order_notional=None if v is None else D(v)) for v in levels]
    r = resolve_limits(Limits(max_order_notional=D(gw)), *overrides)
    assert r.max_order_notional <= gw
    assert all(r.max_order_notional <= v for v in levels if v is not None)
