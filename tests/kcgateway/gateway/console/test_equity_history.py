"""Equity samples: the risk engine's marks stored over time, read back as curves, pruned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kcgateway.gateway.console.curves import Point
from kcgateway.gateway.console.equity_history import EquityHistory
from kcgateway.store.database import Database
from kcgateway.store.repositories import AccountRepository, TenantRepository
from kcgateway.web.console.charts import HEIGHT, WIDTH, line_chart

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
D = Decimal


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


async def test_samples_only_known_marks_and_reads_them_back_oldest_first(db: Database) -> None:
    async with db.write() as session:
        tenant = await TenantRepository(session).add("t1", now=START)
        a = await AccountRepository(session).add(tenant, "a", now=START)
        b = await AccountRepository(session).add(tenant, "b", now=START)
    marks: dict[str, Decimal | None] = {a: D("1000.5"), b: None}  # b: not priced yet
    clock = Clock()
    history = EquityHistory(db, lambda: marks, now=clock, keep=timedelta(days=1))
    assert await history.sample() == 1
    clock.now += timedelta(minutes=1)
    marks[a], marks[b] = D("990.25"), D(7)
    assert await history.sample() == 2
    curves = await history.curves([a, b], since=START)
    assert [p.value for p in curves[a]] == [D("1000.5"), D("990.25")]
    assert curves[a][1].at_ms - curves[a][0].at_ms == 60_000
    assert [p.value for p in curves[b]] == [D(7)]
    later = await history.curves([a], since=START + timedelta(seconds=30))
    assert [p.value for p in later[a]] == [D("990.25")]

    clock.now += timedelta(days=1, seconds=1)  # the first two rounds are now older than a day
    await history.sample()
    [kept] = (await history.curves([a], since=START))[a]
    assert kept.at_ms == int(clock.now.timestamp() * 1000)


def test_an_equity_chart_spans_its_own_range_without_zero() -> None:
    history = [(1, D(1_000_000)), (2, D(1_000_100))]

    chart = line_chart("Equity", [Point(t, v) for t, v in history], with_zero=False)
    assert chart is not None and (chart.low, chart.high) == (D(1_000_000), D(1_000_100))
    single = line_chart("Equity", [Point(5, D(3))], with_zero=False)
    assert single is not None and single.low == single.high == D(3)
    assert single.points == f"{WIDTH / 2},{HEIGHT / 2}"  # a flat curve: the middle
