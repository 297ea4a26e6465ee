"""Key administration over HTTP (issue 12, findings 1, 3, 4 and 9).

The rules live in KeyService (tests/kcgateway/gateway/test_keys_admin.py has the full matrix);
here: the exploit of finding 1 fails with a 403 that names the scope, a few matrix pairs through
HTTP, the allow-list and expiry bounds, ``Cache-Control: no-store`` on the answers that carry a
new key, printable owner names, and the suspension routes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from kcgateway.gateway import apikeys
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.failures import FailureTracker
from kcgateway.gateway.keys import Operator
from tests.helpers import leaksuite
from tests.helpers.gateway import Stack, auth, gateway_stack


def _id(key: str) -> str:
    presented = apikeys.parse_key(key)
    assert presented is not None
    return presented.key_id


def _new_key(resp: httpx.Response) -> str:
    key: str = resp.json()["key"]
    leaksuite.register_gateway_key(key)
    return key


async def test_a_keys_manage_key_cannot_take_over_the_admin_key(tmp_path: Path) -> None:
    """Finding 1: on the old main this rotate answered 201 with a new admin key."""
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        manager = await stack.key(tenant, Scope.KEYS_MANAGE)
        admin_id = _id(tenant.admin_key)
        resp = await stack.http.post(
            f"/v1/keys/{admin_id}/rotate", json={"overlapSeconds": 0}, headers=auth(manager)
        )
        assert resp.status_code == 403, resp.text
        body = resp.json()
        assert body["error"] == "forbidden" and body["field"] == "scopes"
        assert "only an admin key can rotate an admin key" in body["message"]
        assert "key" not in body
        resp = await stack.http.delete(f"/v1/keys/{admin_id}", headers=auth(manager))
        assert resp.status_code == 403, resp.text
        # the admin key still works and nothing new was issued
        listed = await stack.http.get("/v1/keys", headers=auth(tenant.admin_key))
        assert listed.status_code == 200
        assert len(listed.json()) == 2
        assert all(k["revokedAt"] is None and k["expiresAt"] is None for k in listed.json())


@pytest.mark.parametrize(
    ("actor", "target", "status"),
    [
        ((Scope.KEYS_MANAGE,), (Scope.KEYS_MANAGE,), 201),
        ((Scope.KEYS_MANAGE,), (Scope.TRADE_SPOT,), 403),
        ((Scope.KEYS_MANAGE, Scope.TRADE_SPOT), (Scope.TRADE_SPOT,), 201),
        ((Scope.KEYS_MANAGE, Scope.TRADE_SPOT), (Scope.TRADE_SPOT, Scope.READ), 403),
        ((Scope.ADMIN,), (Scope.ADMIN,), 201),
        ((Scope.KEYS_MANAGE, Scope.ACCOUNTS_MANAGE), (Scope.ADMIN,), 403),
    ],
)
async def test_rotate_and_revoke_pairs_through_http(
    tmp_path: Path, actor: tuple[Scope, ...], target: tuple[Scope, ...], status: int
) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        actor_key = await stack.key(tenant, *actor)
        rotated = await stack.key(tenant, *target)
        revoked = await stack.key(tenant, *target)
        resp = await stack.http.post(
            f"/v1/keys/{_id(rotated)}/rotate", json={"overlapSeconds": 0}, headers=auth(actor_key)
        )
        assert resp.status_code == status, resp.text
        if status == 201:
            _new_key(resp)
        resp = await stack.http.delete(f"/v1/keys/{_id(revoked)}", headers=auth(actor_key))
        assert resp.status_code == (204 if status == 201 else 403), resp.text
        resp = await stack.http.post(
            "/v1/keys",
            json={"owner": "x", "scopes": [s.value for s in target]},
            headers=auth(actor_key),
        )
        assert resp.status_code == status, resp.text
        if status == 201:
            _new_key(resp)
        else:
            assert resp.json()["field"] == "scopes"
        # a refused target still works
        if status == 403:
            assert (await stack.http.get("/v1/keys", headers=auth(tenant.admin_key))).is_success
            listed = {k["keyId"]: k for k in (await stack.http.get(
                "/v1/keys", headers=auth(tenant.admin_key))).json()}  # fmt: skip
            assert listed[_id(rotated)]["expiresAt"] is None
            assert listed[_id(revoked)]["revokedAt"] is None


async def test_issued_keys_stay_inside_the_issuers_ips_and_lifetime(tmp_path: Path) -> None:
    """Finding 4: on the old main both requests below answered 201."""
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        ends = datetime.now(UTC) + timedelta(days=3)
        fenced = await stack.key(
            tenant, Scope.KEYS_MANAGE, Scope.READ, ip_allowlist=["10.0.0.0/8"], expires_at=ends
        )
        async with stack.client("10.9.8.7") as http:
            resp = await http.post(
                "/v1/keys", json={"owner": "x", "scopes": ["read"]}, headers=auth(fenced)
            )
            assert resp.status_code == 403, resp.text
            assert resp.json()["field"] == "ipAllowlist"
            assert "outside this key's own IP allow-list (10.0.0.0/8)" in resp.json()["message"]
            later = (ends + timedelta(days=1)).isoformat()
            body = {"owner": "x", "scopes": ["read"], "ipAllowlist": ["10.1.0.0/16"]}
            resp = await http.post(
                "/v1/keys", json={**body, "expiresAt": later}, headers=auth(fenced)
            )
            assert resp.status_code == 403, resp.text
            assert resp.json()["field"] == "expiresAt"
            resp = await http.post("/v1/keys", json=body, headers=auth(fenced))
            assert resp.status_code == 201, resp.text
            _new_key(resp)
            created = resp.json()
            assert created["ipAllowlist"] == ["10.1.0.0/16"]
            assert datetime.fromisoformat(created["expiresAt"].replace("Z", "+00:00")) == ends


async def test_answers_that_carry_a_key_are_never_cached(tmp_path: Path) -> None:
    """Finding 9: the old main sent no Cache-Control on these answers."""
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        resp = await stack.http.post(
            "/v1/keys", json={"owner": "x", "scopes": ["read"]}, headers=auth(tenant.admin_key)
        )
        assert resp.status_code == 201
        assert resp.headers["cache-control"] == "no-store"
        key_id = resp.json()["keyId"]
        _new_key(resp)
        resp = await stack.http.post(
            f"/v1/keys/{key_id}/rotate", json={"overlapSeconds": 0}, headers=auth(tenant.admin_key)
        )
        assert resp.status_code == 201
        assert resp.headers["cache-control"] == "no-store"
        _new_key(resp)


@pytest.mark.parametrize("owner", ["bot\nadmin", "bot\x1b[2J", "bot\u202e", "\t"])
async def test_owner_names_with_control_characters_are_a_422(tmp_path: Path, owner: str) -> None:
    """Finding 9: the old main stored these owners as given."""
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        resp = await stack.http.post(
            "/v1/keys", json={"owner": owner, "scopes": ["read"]}, headers=auth(tenant.admin_key)
        )
        assert resp.status_code == 422, resp.text
        [problem] = resp.json()["problems"]
        assert problem["field"] == "body.owner"
        assert "printable" in problem["message"] or "empty" in problem["message"]


async def _forge(stack: Stack, key: str, ip: str, times: int) -> None:
    presented = apikeys.parse_key(key)
    assert presented is not None
    other = apikeys.base62(b"\x02" * 32, apikeys.SECRET_LEN)
    body = f"kgw_{presented.key_id}_{other}"
    forged = f"{body}_{apikeys.checksum(body)}"
    async with stack.client(ip) as http:
        for _ in range(times):
            assert (await http.get("/v1/orders", headers=auth(forged))).status_code == 401


async def test_forgeries_never_lock_out_the_correct_secret(tmp_path: Path) -> None:
    """Finding 3: on the old main 20 forgeries for a key id suspended the key everywhere."""
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        stack.services.keys.tracker = FailureTracker(base_ms=60_000)
        victim = await stack.key(tenant, Scope.READ)
        # from many addresses, each forging until its own backoff
        for n in range(10):
            await _forge(stack, victim, f"198.51.100.{n}", 5)
        async with stack.client("203.0.113.5") as http:
            assert (await http.get("/v1/orders", headers=auth(victim))).status_code == 200
        # an address that forges while resetting its own counter with another valid key: the
        # (key id, address) pair is suspended, yet the victim's own secret still works there
        stack.services.keys.tracker = FailureTracker(backoff_after=3, suspend_after=6)
        mine = await stack.key(tenant, Scope.READ)
        for _ in range(6):
            await _forge(stack, victim, "192.0.2.50", 1)
            async with stack.client("192.0.2.50") as http:
                assert (await http.get("/v1/orders", headers=auth(mine))).status_code == 200
        async with stack.client("192.0.2.50") as http:
            assert (await http.get("/v1/orders", headers=auth(victim))).status_code == 200
        listed = await stack.http.get("/v1/keys/suspensions", headers=auth(tenant.admin_key))
        assert listed.status_code == 200
        [row] = listed.json()
        assert row["suspension"] == f"{_id(victim)}@192.0.2.50"
        assert row["keyId"] == _id(victim) and row["address"] == "192.0.2.50"


async def test_suspension_routes_list_and_lift_only_the_tenants_own(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        t1 = await stack.add_tenant("t1")
        t2 = await stack.add_tenant("t2")
        stack.services.keys.tracker = FailureTracker(backoff_after=10**6, suspend_after=3)
        await _forge(stack, t1.admin_key, "192.0.2.60", 3)  # address and pair: both suspended
        admin = auth(t1.admin_key)
        [row] = (await stack.http.get("/v1/keys/suspensions", headers=admin)).json()
        assert row["suspension"] == f"{_id(t1.admin_key)}@192.0.2.60"
        assert (
            await stack.http.get("/v1/keys/suspensions", headers=auth(t2.admin_key))
        ).json() == []
        # another tenant cannot see or lift it; nobody lifts an address over HTTP
        lift = {"suspension": row["suspension"], "reason": "false alarm"}
        resp = await stack.http.post(
            "/v1/keys/suspensions/lift", json=lift, headers=auth(t2.admin_key)
        )
        assert resp.status_code == 404, resp.text
        resp = await stack.http.post(
            "/v1/keys/suspensions/lift",
            json={"suspension": "192.0.2.60", "reason": "x"},
            headers=admin,
        )
        assert resp.status_code == 403 and "kcgateway keys unsuspend 192.0.2.60" in resp.text
        # a keys:manage key cannot lift what concerns an admin key
        manager = await stack.key(t1, Scope.KEYS_MANAGE)
        resp = await stack.http.post("/v1/keys/suspensions/lift", json=lift, headers=auth(manager))
        assert resp.status_code == 403 and json.loads(resp.content)["field"] == "scopes"
        resp = await stack.http.post("/v1/keys/suspensions/lift", json=lift, headers=admin)
        assert resp.status_code == 200, resp.text
        assert resp.json()["suspension"] == row["suspension"]
        assert (await stack.http.get("/v1/keys/suspensions", headers=admin)).json() == []
        # the address is still suspended: the operator lifts it
        async with stack.client("192.0.2.60") as http:
            assert (await http.get("/v1/orders", headers=admin)).status_code == 401
        await stack.services.keys.unsuspend("192.0.2.60", actor=Operator("test"), reason="ok")
        async with stack.client("192.0.2.60") as http:
            assert (await http.get("/v1/orders", headers=admin)).status_code == 200
