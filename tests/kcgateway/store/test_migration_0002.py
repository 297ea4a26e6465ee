"""0002_intent_market: intents stored before it stay spot, and it downgrades cleanly."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from kcgateway.store.database import Database
from kcgateway.store.migrate import current_revision, downgrade, head_revision, upgrade

NOW = {"now": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)}


async def test_existing_intents_become_spot_with_every_flag_false(db: Database) -> None:
    await downgrade(db.engine, "0001")
    async with db.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO tenants (id, name, created_at) VALUES ('t', 'x', :now)"), NOW
        )
        await conn.execute(
            text(
                "INSERT INTO exchange_accounts (id, tenant_id, name, exchange, created_at) "
                "VALUES ('a', 't', 'main', 'kucoin', :now)"
            ),
            NOW,
        )
        await conn.execute(
            text(
                "INSERT INTO order_intents (id, account_id, client_oid, symbol, side, order_type,"
                " price, size, state, created_at, updated_at) VALUES ('i', 'a', 'oid1',"
                " 'BTC-USDT', 'buy', 'limit', 60000, 0.001, 'open', :now, :now)"
            ),
            NOW,
        )
    await upgrade(db.engine)
    assert await current_revision(db.engine) == head_revision()
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT market, margin_mode, leverage, reduce_only, close_order, auto_borrow,"
                    " auto_repay, client_oid FROM order_intents WHERE id = 'i'"
                )
            )
        ).one()
    assert row.market == "spot" and row.client_oid == "oid1"
    assert row.margin_mode is None and row.leverage is None
    assert not any((row.reduce_only, row.close_order, row.auto_borrow, row.auto_repay))
    await downgrade(db.engine, "0001")  # and back: the row survives without the columns
    async with db.engine.connect() as conn:
        oids = (await conn.execute(text("SELECT client_oid FROM order_intents"))).scalars().all()
    assert oids == ["oid1"]
    await upgrade(db.engine)
