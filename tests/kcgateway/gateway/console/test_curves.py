"""A bot's equity and drawdown curves, and their SVG chart numbers (pure)."""

from __future__ import annotations

from decimal import Decimal

from kcgateway.gateway.bots.performance import BotFill
from kcgateway.gateway.console.curves import Point, drawdown, equity_curve
from kcgateway.web.console.charts import HEIGHT, PAD, WIDTH, line_chart

D = Decimal


def test_equity_is_the_cumulative_realized_pnl_after_each_fill_across_symbols() -> None:
    fills = [
        BotFill("X-Y", "sell", D(120), D(2), D(0), "Y", 3),  # given out of order
        BotFill("X-Y", "buy", D(100), D(2), D(0), "Y", 1),
        BotFill("A-Y", "buy", D(10), D(1), D(0), "Y", 2),
        BotFill("A-Y", "sell", D(5), D(1), D(0), "Y", 4),  # -5
        BotFill("X-Y", "buy", D(130), D(1), D(0), "Y", 5),
        BotFill("X-Y", "sell", D(100), D(1), D(0), "Y", 6),  # -30
    ]
    curve = equity_curve(fills)
    assert [(p.at_ms, p.value) for p in curve] == [
        (1, D(0)), (2, D(0)), (3, D(40)), (4, D(35)), (5, D(35)), (6, D(5)),
    ]  # fmt: skip
    assert [p.value for p in drawdown(curve)] == [D(0), D(0), D(0), D(-5), D(-5), D(-35)]


def test_drawdown_counts_from_zero_when_the_bot_starts_losing() -> None:
    assert [p.value for p in drawdown([Point(1, D(-3)), Point(2, D(2))])] == [D(-3), D(0)]


def test_chart_maps_the_range_into_the_view_box_with_the_zero_line() -> None:
    chart = line_chart("Equity", [Point(1000, D(-10)), Point(2000, D(30)), Point(3000, D(0))])
    assert chart is not None
    xs = [float(p.split(",")[0]) for p in chart.points.split()]
    ys = [float(p.split(",")[1]) for p in chart.points.split()]
    assert xs == [PAD, WIDTH / 2, WIDTH - PAD]
    assert ys[1] == PAD and ys[0] == HEIGHT - PAD  # the highest on top, the lowest at the bottom
    assert chart.zero_y == ys[2] and (chart.low, chart.high, chart.final) == (D(-10), D(30), D(0))
    assert line_chart("Equity", []) is None


def test_chart_of_fills_in_one_millisecond_spreads_them() -> None:
    chart = line_chart("Equity", [Point(5, D(1)), Point(5, D(2)), Point(5, D(3))])
    assert chart is not None and chart.zero_y is None
    assert [float(p.split(",")[0]) for p in chart.points.split()] == [PAD, WIDTH / 2, WIDTH - PAD]
