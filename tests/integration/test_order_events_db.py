"""Stream-driven intent moves on SQLite and on PostgreSQL (``fresh_db_url`` covers both)."""

from __future__ import annotations

from pathlib import Path

from kcgateway.store.database import open_database
from kcgateway.store.types import OrderState
from tests.helpers.gateway import gateway_stack
from tests.kcgateway.gateway.test_events import (
    _counter_account,
    _direct,
    _place,
    _reaches,
    _sell_through,
    _streaming,
)


async def test_stream_fill_and_cancel_on_each_database(tmp_path: Path, fresh_db_url: str) -> None:
    db = open_database(fresh_db_url)
    async with gateway_stack(tmp_path, db=db) as stack:
        tenant = await stack.add_tenant("t1")
        stream = await _streaming(stack, tenant)
        filled = await _place(stack, tenant, price="60000", size="0.002")
        resting = await _place(stack, tenant, price="59000", size="0.001")
        await _reaches(stack, tenant, filled["id"], OrderState.OPEN)
        await _reaches(stack, tenant, resting["id"], OrderState.OPEN)
        async with _direct(stack, _counter_account(stack)) as other:
            await other.spot.hf.place_order(_sell_through(stack, "60000", "0.002"))
        await _reaches(stack, tenant, filled["id"], OrderState.FILLED)
        async with _direct(stack, tenant.sim_account) as own:
            await own.spot.hf.cancel_by_client_oid(resting["clientOid"], "BTC-USDT")
        await _reaches(stack, tenant, resting["id"], OrderState.CANCELLED)
        assert stream.applied["moved"] >= 4
        assert stack.services._reconciler is None
