"""Any instance answers any request: retries and console sessions that move between instances.

Issue 19 ("instances are stateless otherwise"). Two gateways on one PostgreSQL database and one
simulator (:func:`~tests.helpers.cluster.instances`): an idempotent retry sent to the other
instance replays the first answer and never places twice, also when both tries race; a console
session opened on one instance works, with its CSRF token, on the other, and signing out on
one ends it on both; "Connect with KuCoin" started on one finishes on the other. (The event
stream across instances: ``test_propagation.py``.)
"""

from __future__ import annotations

import asyncio
import re
import secrets
from urllib.parse import urlsplit

import httpx
import pytest

from tests.helpers.gateway import Stack, Tenant, auth, order_body
from tests.helpers.onboarding import (
    approved_callback,
    browser,
    configure,
    quiet_client_logs,
    register_canaries,
    started_state,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("fresh_db_url", ["postgresql"], indirect=True),
]


def _orders_at_the_exchange(stack: Stack, tenant: Tenant) -> int:
    return len(stack.sim.state.exchange.orders(tenant.sim_account["uid"]))


async def test_a_retry_at_the_other_instance_replays_the_first_answer(
    instances: tuple[Stack, Stack, Tenant],
) -> None:
    a, b, tenant = instances
    headers = {**auth(tenant.admin_key), "Idempotency-Key": "order-1"}
    body = order_body("main", price="50001")
    first = await a.http.post("/v1/orders", json=body, headers=headers)
    assert first.status_code == 201, first.text
    retry = await b.http.post("/v1/orders", json=body, headers=headers)
    assert (retry.status_code, retry.content) == (201, first.content)
    assert retry.headers["idempotent-replayed"] == "true"
    assert _orders_at_the_exchange(a, tenant) == 1
    other = await b.http.post("/v1/orders", json={**body, "price": "50002"}, headers=headers)
    assert other.status_code == 409, other.text  # same key, another body: refused everywhere


async def test_racing_tries_at_two_instances_place_one_order(
    instances: tuple[Stack, Stack, Tenant],
) -> None:
    a, b, tenant = instances
    for i in range(5):
        headers = {**auth(tenant.admin_key), "Idempotency-Key": f"race-{i}"}
        body = order_body("main", price=str(50_010 + i))
        tries = await asyncio.gather(
            a.http.post("/v1/orders", json=body, headers=headers),
            b.http.post("/v1/orders", json=body, headers=headers),
        )
        # the loser replays (201), finds the order in flight (409) or the same order (200)
        assert {t.status_code for t in tries} <= {200, 201, 409}, [t.text for t in tries]
        assert _orders_at_the_exchange(a, tenant) == i + 1
        settled = await b.http.post("/v1/orders", json=body, headers=headers)  # a later retry
        ids = {t.json()["id"] for t in (*tries, settled) if t.status_code in (200, 201)}
        assert settled.status_code in (200, 201) and len(ids) == 1, settled.text


async def _sign_in(stack: Stack, key: str) -> tuple[httpx.AsyncClient, str]:
    page = await stack.http.get("/ui/login")
    nonce = page.cookies["kcgw_login"]
    browser = stack.client()
    browser.cookies.set("kcgw_login", nonce)
    answer = await browser.post("/ui/login", data={"key": key, "nonce": nonce})
    assert answer.status_code == 303, answer.text
    return browser, answer.cookies["kcgw_console"]


async def test_a_console_session_and_its_csrf_token_work_on_every_instance(
    instances: tuple[Stack, Stack, Tenant],
) -> None:
    a, b, tenant = instances
    on_a, session = await _sign_in(a, tenant.admin_key)
    on_b = b.client()
    on_b.cookies.set("kcgw_console", session)
    page = await on_b.get("/ui")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None, "the page carries no CSRF token"
    out = await on_a.post("/ui/logout", data={"csrf": found.group(1)})  # B's token, A's form
    assert (out.status_code, out.headers["location"]) == (303, "/ui/login"), out.text
    after = await on_b.get("/ui")  # signed out on A: ended on B too
    assert (after.status_code, after.headers["location"]) == (303, "/ui/login")
    await on_a.aclose()
    await on_b.aclose()


async def test_connect_with_kucoin_started_on_one_instance_finishes_on_the_other(
    instances: tuple[Stack, Stack, Tenant],
) -> None:
    """The OAuth state is signed with a key from the pepper and claimed in the database."""
    a, b, tenant = instances
    await configure(a)
    user = a.sim.create_account(
        {"secret": secrets.token_hex(16), "passphrase": secrets.token_hex(8), "hf": True,
         "balances": {"USDT": "1000"}}
    )  # fmt: skip
    async with browser(a) as client:
        state = await started_state(client, tenant.admin_key, "alice")
        cookie = client.cookies["kcgw_onboarding"]
    location = urlsplit(await approved_callback(a, state, user["uid"]))
    with quiet_client_logs():
        done = await b.http.get(
            f"{location.path}?{location.query}", headers={"Cookie": f"kcgw_onboarding={cookie}"}
        )
    register_canaries(a)
    assert done.status_code == 200 and "KuCoin account connected" in done.text, done.text
    names = {v.name for v in await b.services.accounts.list(tenant.id)}
    assert names == {"main", "alice"}
