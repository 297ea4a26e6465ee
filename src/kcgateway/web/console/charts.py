"""Line charts as server-side SVG: no script, no library, nothing for the CSP to allow.

:func:`line_chart` turns a curve (:class:`~kcgateway.gateway.console.curves.Point`) into the
numbers a template draws: the polyline's points in a fixed view box, and the axis labels
(first and last time, lowest and highest value). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from kcgateway.gateway.console.curves import Point

WIDTH = 600
HEIGHT = 160
PAD = 4


@dataclass(frozen=True, slots=True)
class Chart:
    """What a template needs to draw one curve."""

    title: str
    points: str  # "x,y x,y ..." in a WIDTH x HEIGHT view box
    zero_y: float | None  # where the value 0 is, when it is inside the range
    low: Decimal
    high: Decimal
    first: datetime
    last: datetime
    count: int
    final: Decimal
    width: int = WIDTH
    height: int = HEIGHT


def line_chart(title: str, curve: Sequence[Point], *, with_zero: bool = True) -> Chart | None:
    """The chart of ``curve`` (None when it has no point: the page then says so).

    ``with_zero``: the value range always includes 0 (P&L, drawdown); without it the range is
    the curve's own (an equity of a million that moves by a hundred stays readable).
    """
    if not curve:
        return None
    values = [p.value for p in curve]
    floor = (Decimal(0),) if with_zero else ()
    low, high = min([*values, *floor]), max([*values, *floor])
    start, end = curve[0].at_ms, curve[-1].at_ms
    span_x = max(end - start, 1)
    span_y = high - low or Decimal(1)

    def y_of(value: Decimal) -> float:
        if high == low:  # a flat curve runs through the middle
            return HEIGHT / 2
        return round(PAD + float((high - value) / span_y) * (HEIGHT - 2 * PAD), 1)

    coords = []
    for i, point in enumerate(curve):
        if len(curve) == 1:
            x = WIDTH / 2
        elif end == start:  # every fill in the same millisecond: spread them evenly
            x = PAD + i * (WIDTH - 2 * PAD) / (len(curve) - 1)
        else:
            x = PAD + (point.at_ms - start) / span_x * (WIDTH - 2 * PAD)
        coords.append(f"{round(x, 1)},{y_of(point.value)}")
    return Chart(
        title=title,
        points=" ".join(coords),
        zero_y=y_of(Decimal(0)) if low < 0 < high else None,
        low=low,
        high=high,
        first=_when(start),
        last=_when(end),
        count=len(curve),
        final=values[-1],
    )


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
