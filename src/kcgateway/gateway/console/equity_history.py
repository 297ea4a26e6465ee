"""Each account's equity over time, for the console's equity chart.

The risk engine already marks every followed account's equity to market (balances at last
prices plus futures equity, ``gateway/risk_inputs.py``); :class:`EquityHistory` samples those
marks every ``every_s`` (a minute) into ``equity_samples`` and deletes samples older than
``keep`` (30 days). An account whose equity is unknown (a holding without a price, not loaded
yet) gets no sample: the chart shows only marks the engine made, never a guess.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, select

from kcgateway.gateway.console.curves import Point
from kcgateway.gateway.risk_inputs import AccountData
from kcgateway.store.database import Database
from kcgateway.store.tables import EquitySample
from kcgateway.tasks import stop_task

log = logging.getLogger("kcgateway.gateway.console")
Now = Callable[[], datetime]
#: the marked equity of each account the engine follows (None: not known now)
Marks = Callable[[], Mapping[str, Decimal | None]]
#: the most samples one chart reads (a minute apart: a day)
MAX_POINTS = 1440


def engine_marks(data: AccountData, owns: Callable[[str], bool] = lambda _: True) -> Marks:
    """The risk engine's current equity of each account it follows (and ``owns`` says to)."""

    def marks() -> dict[str, Decimal | None]:
        found = {a: data.view(a).equity for a in list(data.accounts) if owns(a)}
        return {a: (e.value if e is not None else None) for a, e in found.items()}

    return marks


class EquityHistory:
    """Samples the engine's equity marks and reads them back as curves."""

    def __init__(
        self,
        db: Database,
        marks: Marks,
        *,
        now: Now,
        every_s: float = 60.0,
        keep: timedelta = timedelta(days=30),
    ) -> None:
        self._db = db
        self._marks = marks
        self._now = now
        self.every_s = every_s
        self.keep = keep
        self._task: asyncio.Task[None] | None = None

    async def sample(self) -> int:
        """Store one sample per account with a known equity now; how many were stored."""
        now = self._now()
        known = {a: e for a, e in self._marks().items() if e is not None}
        async with self._db.write() as session:
            await session.execute(delete(EquitySample).where(EquitySample.at < now - self.keep))
            for account_id, equity in known.items():
                await session.merge(EquitySample(account_id=account_id, at=now, equity=equity))
        return len(known)

    async def curves(self, account_ids: Sequence[str], since: datetime) -> dict[str, list[Point]]:
        """Each account's samples since ``since``, oldest first (the newest MAX_POINTS)."""
        out: dict[str, list[Point]] = {}
        async with self._db.read() as session:
            for account_id in account_ids:
                query = (
                    select(EquitySample)
                    .where(EquitySample.account_id == account_id, EquitySample.at >= since)
                    .order_by(EquitySample.at.desc())
                    .limit(MAX_POINTS)
                )
                rows = (await session.scalars(query)).all()
                out[account_id] = [
                    Point(int(r.at.timestamp() * 1000), r.equity) for r in reversed(rows)
                ]
        return out

    def start(self) -> None:
        """Sample every ``every_s`` in the background."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._forever())

    async def _forever(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception:  # a failed round leaves a gap in the chart; the next one retries
                log.exception("equity sample failed")
            await asyncio.sleep(self.every_s)

    async def aclose(self) -> None:
        """Stop sampling."""
        task, self._task = self._task, None
        await stop_task(task)
