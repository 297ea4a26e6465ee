"""Every refusal says why: one table, one row per kind, each answer checked for its reason.

Kinds: request validation (the schema), the gateway's own checks (order shape, the symbol's
tick and minimum), each exchange rejection the simulator produces on an order (funds on HF and
classic accounts, a missing key permission, trading suspended, a bad parameter), risk, scope,
not found and conflict. A refused order's intent keeps its reason: the POST answer, the order
read back and the list all show it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from kcgateway.gateway.apikeys import Scope
from tests.helpers.gateway import Stack, Tenant, auth, gateway_stack, order_body

Send = Callable[[Stack, Tenant], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Case:
    """One refusal: how to provoke it and what its answer must say."""

    name: str
    send: Send
    status: int
    code: str
    field: str | None = None
    exchange_code: str | None = None
    #: the account the case's tenant gets from the simulator
    account: dict[str, Any] = dataclasses.field(default_factory=dict)


def _post(path: str, **over: Any) -> Send:
    async def send(stack: Stack, tenant: Tenant) -> httpx.Response:
        body = order_body("main", **over)
        return await stack.http.post(path, json=body, headers=auth(tenant.admin_key))

    return send


def _suspended(stack_send: Send) -> Send:
    async def send(stack: Stack, tenant: Tenant) -> httpx.Response:
        await stack.sim_admin("POST", "/_sim/status", {"status": "cancelonly"})
        try:
            return await stack_send(stack, tenant)
        finally:
            await stack.sim_admin("POST", "/_sim/status", {"status": "open"})

    return send


async def _read_only(stack: Stack, tenant: Tenant) -> httpx.Response:
    key = await stack.key(tenant, Scope.READ)
    return await stack.http.post("/v1/orders", json=order_body("main"), headers=auth(key))


async def _missing(stack: Stack, tenant: Tenant) -> httpx.Response:
    return await stack.http.get("/v1/orders/no-such-order", headers=auth(tenant.admin_key))


async def _cancel_twice(stack: Stack, tenant: Tenant) -> httpx.Response:
    headers = auth(tenant.admin_key)
    placed = await stack.http.post("/v1/orders", json=order_body("main"), headers=headers)
    order_id = placed.json()["id"]
    await stack.http.delete(f"/v1/orders/{order_id}", headers=headers)
    return await stack.http.delete(f"/v1/orders/{order_id}", headers=headers)


async def _oid_twice(stack: Stack, tenant: Tenant) -> httpx.Response:
    body, headers = order_body("main", clientOid="twice-1"), auth(tenant.admin_key)
    await stack.http.post("/v1/orders", json=body, headers=headers)
    return await stack.http.post("/v1/orders", json=body, headers=headers)


POOR = {"balances": {"USDT": "1", "BTC": "0"}}
CASES = (
    Case("schema", _post("/v1/orders", side="hold"), 422, "invalid_request", "body.side"),
    Case("shape", _post("/v1/orders", price=None), 400, "invalid_request", "price"),
    Case("tick", _post("/v1/orders", price="60000.123456789"), 422, "invalid_request", "price"),
    Case("minimum", _post("/v1/orders", size="0.0000001"), 422, "invalid_request", "size"),
    Case("funds hf", _post("/v1/orders"), 422, "exchange_rejected", None, "126013", POOR),
    Case("funds classic", _post("/v1/orders"), 422, "exchange_rejected", None, "200004",
         {**POOR, "hf": False}),
    Case("permission", _post("/v1/margin/orders"), 422, "exchange_auth_failed", None, "400007",
         {"permissions": ["General", "Spot"]}),
    Case("suspended", _suspended(_post("/v1/orders")), 422, "exchange_rejected", None, "200001"),
    Case("parameter", _post("/v1/margin/orders", autoBorrow=True), 422, "exchange_rejected",
         None, "400100"),
    Case("risk", _post("/v1/orders", size="40"), 422, "risk_rejected"),
    Case("unknown symbol", _post("/v1/orders", symbol="NOPE-USDT"), 422, "risk_rejected"),
    Case("scope", _read_only, 403, "forbidden"),
    Case("not found", _missing, 404, "not_found"),
    Case("conflict", _cancel_twice, 409, "not_cancellable"),
    Case("clientOid taken", _oid_twice, 409, "client_oid_taken"),
)  # fmt: skip


def _reason(answer: dict[str, Any]) -> dict[str, Any]:
    """The reason as the answer carries it: an intent's ``reason``, or the error body itself."""
    if "error" not in answer:
        assert answer["state"] == "rejected", answer
        reason = answer["reason"]
        assert reason is not None, answer
        return dict(reason)
    return {**answer, "code": answer["error"]}


def _check(case: Case, resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == case.status, (case.name, resp.text)
    reason = _reason(resp.json())
    assert reason["code"] == case.code, (case.name, reason)
    assert reason["message"], case.name
    assert reason["hint"], (case.name, reason)  # what to do, always
    if case.field is not None:
        fields = [p["field"] for p in reason.get("problems", ())] or [reason.get("field")]
        assert case.field in fields, (case.name, reason)
    if case.exchange_code is not None:
        assert reason["exchangeCode"] == case.exchange_code, (case.name, reason)
        assert reason["exchangeMessage"], (case.name, reason)
    if case.code == "risk_rejected":
        assert all(f["code"].startswith("risk.") for f in reason["failures"]), reason
    if case.name == "unknown symbol":  # one reason that names the fix, not eight stale figures
        assert [f["code"] for f in reason["failures"]] == ["risk.unknown_symbol"], reason
    return reason


async def test_every_refusal_says_why(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        for i, case in enumerate(CASES):
            tenant = await stack.add_tenant(f"t{i}", **case.account)
            resp = await case.send(stack, tenant)
            reason = _check(case, resp)
            if "error" in resp.json():
                continue
            # the intent keeps its reason: read back one by one and in the list
            headers = auth(tenant.admin_key)
            order = resp.json()
            path = "/v1/margin/orders" if order["market"] == "margin" else "/v1/orders"
            got = (await stack.http.get(f"{path}/{order['id']}", headers=headers)).json()
            assert got["reason"] == reason, case.name
            listed = (await stack.http.get(path, headers=headers)).json()
            assert [o["reason"] for o in listed] == [reason], case.name
