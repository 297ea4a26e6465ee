"""Order intents written straight into the store, for the console's paging tests and bench.

They look like intents the gateway made (every state, a few symbols, one per second going
back from ``start``) but were never sent: pages read them, nothing trades them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert

from kcgateway.store.database import Database
from kcgateway.store.tables import OrderIntent
from kcgateway.store.types import OrderState

SYMBOLS = ("BTC-USDT", "ETH-USDT", "KCS-USDT")
#: the states seeded, in turn (live ones included: the overview counts them)
STATES = (OrderState.FILLED, OrderState.CANCELLED, OrderState.OPEN, OrderState.REJECTED)


async def seed_orders(
    db: Database, account_id: str, count: int, *, start: datetime | None = None
) -> None:
    """``count`` intents of ``account_id``: symbol i % 3, state i % 4, i seconds before start."""
    start = start or datetime.now(UTC)
    rows = []
    for i in range(count):
        at = start - timedelta(seconds=i)
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "account_id": account_id,
                "client_oid": f"seed{i:07d}{uuid.uuid4().hex[:8]}",
                "symbol": SYMBOLS[i % len(SYMBOLS)],
                "side": "buy" if i % 2 else "sell",
                "order_type": "limit",
                "price": Decimal("20000") + i % 100,
                "size": Decimal("0.001"),
                "funds": None,
                "state": STATES[i % len(STATES)],
                "exchange_order_id": f"x{i}",
                "created_at": at,
                "updated_at": at,
                "market": "spot",
            }
        )
    async with db.write() as session:
        for chunk in range(0, len(rows), 2000):
            await session.execute(insert(OrderIntent), rows[chunk : chunk + 2000])
