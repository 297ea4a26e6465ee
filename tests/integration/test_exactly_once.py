"""Exactly one exchange order per intent, through the HTTP API, against a faulty simulator.

Faults on order placement: responses lost after the order executed, 5xx without executing,
and delays past the client timeout (the order lands after the client gave up). Clients retry
every unanswered or "unknown" reply with the same Idempotency-Key. After the faults stop, the
reconciler must settle every intent, and the simulator (counting by clientOid through its
control API) must hold exactly the orders the gateway says it placed: no duplicates, no losses.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from kcgateway.store.database import open_database
from kcgateway.store.ledger import OrderIntentRepository
from kcgateway.store.types import OrderState
from tests.helpers.gateway import Stack, auth, gateway_stack, order_body, warm_risk

N = int(os.environ.get("KCGW_EXACTLY_ONCE_N", "200"))
PLACED = {OrderState.ACKED, OrderState.OPEN, OrderState.FILLED, OrderState.CANCELLED}
NOT_PLACED = {OrderState.NOT_PLACED, OrderState.REJECTED}
FAULTS: list[dict[str, Any]] = [
    {"kind": "lose_response", "probability": 0.12},
    {"kind": "error_5xx", "probability": 0.12, "status": 503},
    {"kind": "latency", "probability": 0.05, "latencyMs": 900},
]


async def _faults(stack: Stack) -> None:
    for prefix in ("/api/v1/hf/orders", "/api/v1/orders"):
        for fault in FAULTS:
            await stack.sim_admin(
                "POST", "/_sim/faults", {**fault, "pathPrefix": prefix, "method": "POST"}
            )


async def _submit(stack: Stack, key: str, i: int, sem: asyncio.Semaphore) -> None:
    account = "hf" if i % 2 else "classic"
    body = order_body(account, price=str(60000 - i % 50))
    if i % 3 == 0:
        body["clientOid"] = f"caller-{i}"
    headers = {**auth(key), "Idempotency-Key": f"order-{i}"}
    async with sem:
        for _attempt in range(3):  # a client retrying whatever did not come back settled
            resp = await stack.http.post("/v1/orders", json=body, headers=headers)
            if resp.status_code not in (202, 503):
                break
    assert resp.status_code in (200, 201, 202, 422, 503), resp.text


async def _settle(stack: Stack, deadline_s: float) -> int:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    pending = await stack.services.orders.reconcile()
    while pending and loop.time() < end:
        await asyncio.sleep(0.3)
        pending = await stack.services.orders.reconcile()
    return pending


@pytest.mark.slow
async def test_no_duplicate_and_no_lost_orders_under_faults(
    tmp_path: Path, fresh_db_url: str
) -> None:
    """On SQLite and on PostgreSQL (``fresh_db_url`` is parametrized over both engines)."""
    db = open_database(fresh_db_url)
    async with gateway_stack(tmp_path, timeout_s=0.4, grace_s=1.5, db=db) as stack:
        tenant = await stack.add_tenant("t1", hf=True)
        classic = stack.sim.create_account(
            {"hf": False, "balances": {"USDT": "1000000"}, "secret": os.urandom(8).hex()}
        )
        from kcgateway.gateway.accounts import ConnectRequest
        from kcgateway.secret import Secret

        for name, acct in (("hf", tenant.sim_account), ("classic", classic)):
            view = await stack.services.accounts.connect(
                tenant.id,
                "test",
                ConnectRequest(
                    name, acct["apiKey"], Secret(acct["secret"]), Secret(acct["passphrase"])
                ),
            )
            # the first risk load waits 3 s at most on the order path, with a 0.4 s exchange
            # timeout here: under CI load it missed, and orders were refused as stale (422, no
            # intent), which is not what this test is about
            await warm_risk(stack, tenant.id, view.id)
        await _faults(stack)
        sem = asyncio.Semaphore(8)
        await asyncio.gather(*(_submit(stack, tenant.admin_key, i, sem) for i in range(N)))
        await stack.sim_admin("DELETE", "/_sim/faults")
        await asyncio.sleep(1.0)  # delayed orders land
        assert await _settle(stack, 20.0) == 0, "unresolved intents after the faults stopped"

        async with stack.services.db.read() as session:
            intents = await OrderIntentRepository(session).in_states(list(OrderState))
        assert len(intents) == N, "one intent per client order, retries included"
        states: dict[str, int] = {}
        for intent in intents:
            states[intent.state.value] = states.get(intent.state.value, 0) + 1
            found = await stack.sim_admin("GET", f"/_sim/orders?clientOid={intent.client_oid}")
            accepted = found["accepted"]
            assert accepted <= 1, f"duplicate exchange orders for {intent.client_oid}"
            if intent.state in PLACED:
                assert accepted == 1, f"{intent.client_oid} is {intent.state} but not at the sim"
            else:
                assert intent.state in NOT_PLACED, intent.state
                assert accepted == 0, f"{intent.client_oid} is {intent.state} but exists"
        sim_state = await stack.sim_admin("GET", "/_sim/state")
        placed = sum(1 for i in intents if i.state in PLACED)
        assert sim_state["acceptedOrders"] == placed
        # (the simulator counts a client that hung up mid-request as an "unexpected error",
        # so its unexpectedErrors counter is not asserted here; reported to the sim owner)
        # the faults really happened: some intents went through unknown and were reconciled
        audit_unknown = await _count_unknown_transitions(stack)
        assert audit_unknown > 0, states
        print(f"exactly-once: N={N} states={states} went_unknown={audit_unknown}")


async def _count_unknown_transitions(stack: Stack) -> int:
    from kcgateway.store.ledger import AuditRepository

    async with stack.services.db.read() as session:
        records = await AuditRepository(session).all()
    return sum(1 for r in records if r.action == "order.state" and r.detail.get("to") == "unknown")
