"""Connect with KuCoin end to end: gateway -> simulator consent page -> callback -> sealed key.

A real client keeps cookies and follows redirects across the gateway (ASGI) and the simulator
(loopback HTTP). Every failure path leaves no account and says what happened; the leak scan
covers the codes, tokens and created secrets (tests/helpers/onboarding.py registers them).
"""

from __future__ import annotations

import html
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kcgateway.gateway.alerts import AlertFilter
from kcgateway.gateway.apikeys import Scope
from kcgateway.store.tables import AuditRecord, CredentialRow
from tests.helpers.gateway import Stack, Tenant, auth, gateway_stack, order_body
from tests.helpers.onboarding import (
    START,
    approved_callback,
    browser,
    configure,
    consent_page,
    decide,
    oauth_server,
    quiet_client_logs,
    started_state,
)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with gateway_stack(tmp_path) as stack:
        yield stack


def _text(page: httpx.Response) -> str:
    return html.unescape(page.text)


def _user(stack: Stack, **spec: Any) -> dict[str, Any]:
    """A KuCoin user who will log in on the consent page."""
    return stack.sim.create_account(
        {"secret": secrets.token_hex(16), "passphrase": secrets.token_hex(8), "hf": True,
         "balances": {"USDT": "100000"}, **spec}
    )  # fmt: skip


async def _accounts(stack: Stack, tenant: Tenant) -> dict[str, str | None]:
    views = await stack.services.accounts.list(tenant.id)
    return {v.name: v.uid for v in views}


async def _attempt(stack: Stack, tenant: Tenant) -> Any:
    assert stack.services.onboarding is not None
    return (await stack.services.onboarding.attempts(tenant.id))[0]


async def test_connect_with_kucoin_then_trade_and_a_replayed_callback_is_refused(
    stack: Stack,
) -> None:
    tenant = await stack.add_tenant("acme")
    await configure(stack)
    user = _user(stack)
    async with browser(stack) as client:
        page = await consent_page(client, tenant.admin_key, "alice")
        cookie = client.cookies["kcgw_onboarding"]
        done = await decide(client, page, user)
        assert done.status_code == 200, done.text
        assert "KuCoin account connected" in done.text and "'alice'" in _text(done)
        assert "kcgw_onboarding=" in done.headers["set-cookie"]  # the cookie is cleared
        reload = await client.get(str(done.url))
        assert reload.status_code == 400 and "did not start this connection" in reload.text
    callback = f"{done.url.path}?{done.url.query.decode()}"
    with quiet_client_logs():
        replay = await stack.http.get(callback, headers={"Cookie": f"kcgw_onboarding={cookie}"})
    assert replay.status_code == 400 and "already used" in replay.text
    assert (await _accounts(stack, tenant))["alice"] == user["uid"]
    attempt = await _attempt(stack, tenant)
    assert attempt.status == "connected" and attempt.api_key is not None
    created = stack.sim.state.keys[attempt.api_key]
    assert created.uid == user["uid"] and created.ip_whitelist == ("127.0.0.1",)
    async with stack.services.db.read() as session:
        sealed = (await session.scalars(select(CredentialRow.api_key))).all()
        actions = (await session.scalars(select(AuditRecord.action))).all()
    assert attempt.api_key in sealed and "account.connected" in actions
    resp = await stack.http.post(
        "/v1/orders", json=order_body("alice"), headers=auth(tenant.admin_key)
    )
    assert resp.status_code == 201, resp.text
    query = f"clientOid={resp.json()['clientOid']}&uid={user['uid']}"
    orders = await stack.sim_admin("GET", f"/_sim/orders?{query}")
    assert orders["accepted"] == 1 and len(orders["orders"]) == 1  # placed as the KuCoin user
    assert len(oauth_server(stack).key_clients) == 1  # the replay created nothing


async def test_state_or_cookie_mismatch_consumes_nothing(stack: Stack) -> None:
    tenant = await stack.add_tenant("acme")
    await configure(stack)
    user = _user(stack)
    async with browser(stack) as owner, browser(stack) as stranger:
        state = await started_state(owner, tenant.admin_key, "carol")
        url = await approved_callback(stack, state, user["uid"])
        foreign = await stranger.get(url)
        assert foreign.status_code == 400 and "did not start this connection" in foreign.text
        forged = await owner.get(url.replace("state=", "state=x"))
        assert forged.status_code == 400 and "not one this gateway asked for" in forged.text
        assert (await _attempt(stack, tenant)).status == "started"
        done = await owner.get(url)
        assert done.status_code == 200, done.text
    assert "carol" in await _accounts(stack, tenant)


async def test_denied_expired_code_and_token_endpoint_down(stack: Stack) -> None:
    tenant = await stack.add_tenant("acme")
    await configure(stack)
    user = _user(stack)
    async with browser(stack) as client:
        done = await decide(client, await consent_page(client, tenant.admin_key, "bob"), None)
        assert done.status_code == 400 and "declined at KuCoin" in done.text
        assert (await _attempt(stack, tenant)).status == "denied"

        url = await approved_callback(
            stack, await started_state(client, tenant.admin_key, "dave"), user["uid"]
        )
        await stack.sim_admin("POST", "/_sim/clock", {"offsetMs": 6 * 60_000})
        done = await client.get(url)
        await stack.sim_admin("POST", "/_sim/clock", {"offsetMs": 0})
        assert done.status_code == 422 and "the code has expired" in done.text
        attempt = await _attempt(stack, tenant)
        assert attempt.status == "failed" and "invalid_grant" in attempt.reason

        fault = {"kind": "error_5xx", "pathPrefix": "/_oauth/access-token", "count": 1}
        await stack.sim_admin("POST", "/_sim/faults", fault)
        done = await decide(client, await consent_page(client, tenant.admin_key, "erin"), user)
        assert done.status_code == 503 and "token endpoint failed" in done.text
        assert (await _attempt(stack, tenant)).status == "failed"
    assert set(await _accounts(stack, tenant)) == {"main"}  # nothing half-made
    assert not oauth_server(stack).key_clients


async def test_token_endpoint_slow_then_key_creation_times_out(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path, timeout_s=0.3) as stack:
        tenant = await stack.add_tenant("acme")
        await configure(stack)
        user = _user(stack)
        fault = {"kind": "latency", "pathPrefix": "/_oauth/access-token", "latencyMs": 600}
        await stack.sim_admin("POST", "/_sim/faults", fault)
        async with browser(stack) as client:
            done = await decide(client, await consent_page(client, tenant.admin_key, "fay"), user)
            assert done.status_code == 503 and "did not answer" in done.text
            assert (await _attempt(stack, tenant)).status == "failed"
            assert not oauth_server(stack).key_clients

            fault = {"kind": "latency", "pathPrefix": "/_oauth/resource/", "latencyMs": 600}
            await stack.sim_admin("POST", "/_sim/faults", fault)
            done = await decide(client, await consent_page(client, tenant.admin_key, "gus"), user)
            assert done.status_code == 503 and "may have been created" in done.text
        assert (await _attempt(stack, tenant)).status == "key_possibly_created"
        assert set(await _accounts(stack, tenant)) == {"main"}
        assert stack.services.alerts is not None
        kinds = [a.kind for a in await stack.services.alerts.find(AlertFilter())]
        assert "onboarding.key_possibly_created" in kinds


async def test_key_creation_refused_duplicate_name_and_key_limit(stack: Stack) -> None:
    tenant = await stack.add_tenant("acme")
    await configure(stack)
    user = _user(stack)
    async with browser(stack) as client:
        first = await decide(client, await consent_page(client, tenant.admin_key, "hal"), user)
        assert first.status_code == 200, first.text
        again = await decide(client, await consent_page(client, tenant.admin_key, "hal2"), user)
        assert again.status_code == 422 and "already exists" in again.text
        full = _user(stack)
        for _ in range(19):
            await stack.sim_admin("POST", f"/_sim/accounts/{full['uid']}/keys", {})
        limit = await decide(client, await consent_page(client, tenant.admin_key, "ivy"), full)
        assert limit.status_code == 422 and "maximum" in limit.text
    assert set(await _accounts(stack, tenant)) == {"main", "hal"}


async def test_transfer_refused_unless_the_policy_allows_it(stack: Stack) -> None:
    tenant = await stack.add_tenant("acme")
    await configure(stack)
    with_transfer = [*_TRADING_GROUPS, "API_TRANSFER"]
    async with browser(stack) as client:
        page = await consent_page(client, tenant.admin_key, "jo")
        done = await decide(client, page, _user(stack), groups=with_transfer)
        assert done.status_code == 400 and "'InnerTransfer'" in _text(done)
        assert "delete it in KuCoin's API management" in _text(done)
        orphan = await _attempt(stack, tenant)
        assert orphan.status == "key_orphaned" and orphan.api_key in done.text
        assert stack.services.onboarding is not None
        settings = await stack.services.onboarding.settings()
        assert settings is not None
        await stack.services.onboarding.configure(
            client_id=settings.client_id, redirect_url=settings.redirect_url,
            base_url=settings.base_url, allow_transfer=True, actor="test",
        )  # fmt: skip
        page = await consent_page(client, tenant.admin_key, "jo")
        done = await decide(client, page, _user(stack), groups=with_transfer)
        assert done.status_code == 200 and "InnerTransfer" in done.text
        page = await consent_page(client, tenant.admin_key, "kim")
        done = await decide(client, page, _user(stack), groups=["API_SPOT", "API_EARN"])
        assert done.status_code == 400 and "'Earn'" in _text(done)  # never allowed by policy


_TRADING_GROUPS = ["API_COMMON", "API_SPOT"]


async def test_start_needs_scope_configuration_and_a_free_name(stack: Stack) -> None:
    tenant = await stack.add_tenant("acme")
    unconfigured = await stack.http.get(
        START, params={"account": "x"}, headers=auth(tenant.admin_key)
    )
    assert unconfigured.status_code == 409
    assert unconfigured.json()["error"] == "onboarding_not_configured"
    await configure(stack)
    reader = await stack.key(tenant, Scope.READ)
    denied = await stack.http.get(START, params={"account": "x"}, headers=auth(reader))
    assert denied.status_code == 403
    taken = await stack.http.get(START, params={"account": "main"}, headers=auth(tenant.admin_key))
    assert taken.status_code == 409 and taken.json()["error"] == "account_name_taken"
    manager = await stack.key(tenant, Scope.ACCOUNTS_MANAGE)
    ok = await stack.http.get(START, params={"account": "x"}, headers=auth(manager))
    assert ok.status_code == 303 and "state=" in ok.headers["location"]
    cookie = ok.headers["set-cookie"].lower()
    assert (
        "httponly" in cookie and "samesite=lax" in cookie and "path=/v1/onboarding/kucoin" in cookie
    )
