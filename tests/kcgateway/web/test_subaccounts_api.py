"""ND-broker sub-accounts: created under the broker's master, key sealed, the account trades."""

from __future__ import annotations

import secrets
from pathlib import Path

from kcgateway.gateway.accounts import ConnectRequest
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.broker import BrokerService
from kcgateway.secret import Secret
from kcgateway.store.broker_store import SqlBrokerStore
from kcgateway.vault.broker import BrokerVault
from tests.helpers import leaksuite
from tests.helpers.gateway import Stack, auth, gateway_stack, order_body

PARTNER = "KCGW_ND"


async def _broker(stack: Stack) -> None:
    """The ND partner at the simulator, its settings in the gateway, its master connected."""
    spec = {"partner": PARTNER, "name": "kcgw", "secret": secrets.token_hex(16),
            "passphrase": secrets.token_hex(8)}  # fmt: skip
    made = await stack.sim_admin("POST", "/_sim/partners", spec)
    leaksuite.register_exchange_key(made["apiKey"], made["secret"], made["passphrase"])
    leaksuite.register("broker key", made["brokerKey"])
    assert stack.ring is not None
    store = SqlBrokerStore(stack.services.db)
    await BrokerService(stack.services.db, BrokerVault(store, stack.ring), store).set(
        partner=PARTNER, name="kcgw", broker_key=Secret(made["brokerKey"]), actor="test"
    )
    stack.services.venues._signer._broker.invalidate()  # type: ignore[attr-defined]
    operator = await stack.add_tenant("operator")
    master = await stack.services.accounts.connect(
        operator.id, "test",
        ConnectRequest("nd-master", made["apiKey"], Secret(made["secret"]),
                       Secret(made["passphrase"])),
    )  # fmt: skip
    assert stack.services.subaccounts is not None
    await stack.services.subaccounts.set_master(master.id, actor="test")


def _register_sub_keys(stack: Stack, uid: str) -> None:
    for key in stack.sim.state.keys.values():
        if key.uid == uid:
            leaksuite.register_exchange_key(key.api_key, key.secret, key.passphrase)


async def test_subaccount_created_sealed_and_trading_under_the_partner(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("acme")
        before = await stack.http.post(
            "/v1/broker/subaccounts", json={"name": "s1"}, headers=auth(tenant.admin_key)
        )
        assert before.status_code == 409 and "master" in before.json()["message"]
        await _broker(stack)
        resp = await stack.http.post(
            "/v1/broker/subaccounts", json={"name": "sub1"}, headers=auth(tenant.admin_key)
        )
        assert resp.status_code == 201, resp.text
        made = resp.json()
        _register_sub_keys(stack, made["uid"])
        assert set(made) == {"accountId", "name", "uid", "kucoinName", "createdAt"}
        user = stack.sim.state.users[made["uid"]]
        assert user.parent_uid is not None and not user.is_master
        await stack.sim_admin(
            "POST", "/_sim/fund", {"uid": made["uid"], "balances": {"USDT": "1000"}}
        )
        placed = await stack.http.post(
            "/v1/orders", json=order_body("sub1"), headers=auth(tenant.admin_key)
        )
        assert placed.status_code == 201, placed.text
        order = stack.sim.state.exchange.registry.by_client_oid(
            made["uid"], placed.json()["clientOid"]
        )
        assert order is not None and order.tags == f"partner:{PARTNER}"
        listed = await stack.http.get("/v1/broker/subaccounts", headers=auth(tenant.admin_key))
        assert [s["name"] for s in listed.json()] == ["sub1"]
        other = await stack.add_tenant("other")
        mine = await stack.http.get("/v1/broker/subaccounts", headers=auth(other.admin_key))
        assert mine.json() == []
        taken = await stack.http.post(
            "/v1/broker/subaccounts", json={"name": "sub1"}, headers=auth(tenant.admin_key)
        )
        assert taken.status_code == 409
        wide = await stack.http.post(
            "/v1/broker/subaccounts", json={"name": "s2", "permissions": ["Transfer"]},
            headers=auth(tenant.admin_key),
        )  # fmt: skip
        assert wide.status_code == 400 and wide.json()["field"] == "permissions"
        reader = await stack.key(tenant, Scope.READ)
        denied = await stack.http.get("/v1/broker/subaccounts", headers=auth(reader))
        assert denied.status_code == 403
