"""Accounts, bots, broker and live orders in a real Chromium against a served gateway.

Each test makes its own tenant (the module shares one gateway and one browser), so what one
test changes no other sees.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.broker import BrokerService
from kcgateway.secret import Secret
from kcgateway.store.broker_store import SqlBrokerStore
from kcgateway.vault.broker import BrokerVault
from tests.helpers.gateway import Tenant, auth, order_body, warm_risk
from tests.helpers.signals import add_paper_account, create_bot, send_standard
from tests.kcgateway.web.console.conftest import Browsing, Served
from tests.kcgateway.web.console.test_console_browser import AXE, AXE_RUN


def _tenant(served: Served, name: str) -> Tenant:
    tenant = served.run(served.stack.add_tenant(f"{name}-{secrets.token_hex(3)}"))
    served.run(warm_risk(served.stack, tenant.id, tenant.account_id))
    return tenant


def _key(served: Served, tenant: Tenant, *scopes: Scope) -> str:
    return served.run(served.stack.key(tenant, *scopes))


def test_accounts_connect_refuse_a_wrong_secret_and_remove(
    browsing: Browsing, served: Served
) -> None:
    tenant = _tenant(served, "acc")
    made = served.stack.sim.create_account({"hf": True, "balances": {"USDT": "10"}})
    page = browsing.sign_in(tenant.admin_key)
    page.click("nav >> text=Accounts")
    browsing.shot(page, "accounts")
    page.fill("#a-name", "second")
    page.fill("#a-key", made["apiKey"])
    page.fill("#a-secret", made["secret"][:-2] + "00")
    page.fill("#a-passphrase", made["passphrase"])
    page.click("#connect-account")
    assert page.inner_text("h1") == "Refused"
    alert = page.inner_text("[role=alert]")
    assert "exchange_auth_failed" in alert and "check apiKey, secret" in alert
    assert made["secret"][:-2] not in page.content()
    browsing.shot(page, "accounts-refused")

    page.goto(served.url("/ui/accounts"))
    page.fill("#a-name", "second")
    page.fill("#a-key", made["apiKey"])
    page.fill("#a-secret", made["secret"])
    page.fill("#a-passphrase", made["passphrase"])
    page.click("#connect-account")
    page.wait_for_url(served.url("/ui/accounts"))
    row = page.locator("tr[data-account=second]")
    assert row.count() == 1 and made["secret"] not in page.content()
    names = [a.name for a in served.run(served.stack.services.accounts.list(tenant.id))]
    assert sorted(names) == ["main", "second"]

    row.locator("button:has-text('Remove')").click()
    assert "Remove account second" in page.inner_text("h1")
    page.click("#confirm-remove")
    page.wait_for_url(served.url("/ui/accounts"))
    assert page.locator("tr[data-account=second]").count() == 0
    names = [a.name for a in served.run(served.stack.services.accounts.list(tenant.id))]
    assert names == ["main"]


def test_a_key_without_accounts_manage_sees_no_accounts_page_and_cannot_post(
    browsing: Browsing, served: Served
) -> None:
    tenant = _tenant(served, "acc-read")
    page = browsing.sign_in(_key(served, tenant, Scope.READ, Scope.TRADE_SPOT))
    nav = page.inner_text("nav")
    assert "Accounts" not in nav and "Bots" not in nav and "Broker" not in nav
    pages = {"/ui/accounts": "accounts:manage", "/ui/bots": "bots:manage", "/ui/broker": "admin"}
    for path, scope in pages.items():
        answer = page.goto(served.url(path))
        assert answer.status == 403, path
        assert f"lacks the {scope} scope" in page.inner_text("[role=alert]"), path
    page.goto(served.url("/ui/orders"))
    csrf = page.get_attribute("input[name=csrf]", "value")
    answer = page.request.post(
        served.url(f"/ui/accounts/{tenant.account_id}/remove"),
        form={"csrf": csrf, "confirm": "yes"},
    )
    assert answer.status == 403 and "accounts:manage" in answer.text()
    assert [a.name for a in served.run(served.stack.services.accounts.list(tenant.id))] == ["main"]


def _bot_with_fills(served: Served, tenant: Tenant) -> dict[str, Any]:
    stack = served.stack
    served.run(add_paper_account(stack, tenant))
    key = _key(served, tenant, Scope.BOTS_MANAGE, Scope.READ)
    bot = served.run(create_bot(stack, key, "standard", maxPosition="1"))
    for action in ("buy", "buy", "sell", "sell"):
        body = {"action": action, "symbol": "BTC-USDT"}
        answer = served.run(send_standard(stack.http, bot, body))
        assert answer.status_code == 202, answer.text
    assert stack.services.signals is not None
    served.run(stack.services.signals.executor.drain())
    return bot


def test_bots_page_shows_mode_signals_and_charts_and_acts(
    browsing: Browsing, served: Served
) -> None:
    tenant = _tenant(served, "bots")
    bot = _bot_with_fills(served, tenant)
    page = browsing.sign_in(tenant.admin_key)
    page.click("nav >> text=Bots")
    row = page.locator(f"tr[data-bot='{bot['name']}']")
    assert "paper" in row.locator(".mode").inner_text()
    assert page.locator("table.signals tr[data-verdict=done]").count() == 4
    browsing.shot(page, "bots")

    row.locator("button:has-text('Promote to live')").click()  # the box is not ticked
    assert page.inner_text("h1") == "Refused"
    assert "tick the confirmation box" in page.inner_text("[role=alert]")
    page.goto(served.url("/ui/bots?verdict=maybe"))
    assert "verdict must be one of" in page.inner_text("[role=alert]")

    page.goto(served.url("/ui/bots"))
    row.locator("button:has-text('Pause')").click()
    page.wait_for_url(served.url("/ui/bots"))
    assert row.locator(".state").inner_text() == "paused"
    row.locator("button:has-text('Resume')").click()
    page.wait_for_url(served.url("/ui/bots"))
    assert row.locator(".state").inner_text() == "active"

    row.locator("a").click()
    page.wait_for_url(f"**/ui/bots/{bot['id']}")
    perf = page.inner_text("table.performance")
    assert "BTC-USDT" in perf and "No fill" not in perf
    assert page.locator("#charts svg polyline").count() == 2
    points = page.get_attribute("#charts svg polyline >> nth=0", "points")
    assert points is not None and len(points.split()) == 4  # one point per fill
    browsing.shot(page, "bot")

    page.goto(served.url("/ui/bots"))
    row.locator("input[name=confirm]").check()
    row.locator("button:has-text('Promote to live')").click()
    page.wait_for_url(served.url("/ui/bots"))
    assert row.locator(".mode").inner_text() == "live"
    assert row.locator("button:has-text('Promote')").count() == 0


def test_broker_page_shows_settings_but_never_the_key(browsing: Browsing, served: Served) -> None:
    tenant = _tenant(served, "broker")
    page = browsing.sign_in(tenant.admin_key)
    page.click("nav >> text=Broker")
    assert "No broker configured" in page.inner_text("#broker-settings")
    db, ring = served.stack.services.db, served.stack.ring
    assert ring is not None
    store = SqlBrokerStore(db)
    broker = BrokerService(db, BrokerVault(store, ring), store)
    broker_key = "brk-" + secrets.token_hex(12)
    served.run(
        broker.set(partner="partner-7", name="Example", broker_key=Secret(broker_key), actor="t")
    )
    try:
        page.reload()
        shown = page.inner_text("#broker-settings")
        assert "partner-7" in shown and "Example" in shown and "never shown" in shown
        assert broker_key not in page.content()
        browsing.shot(page, "broker")
    finally:
        served.run(broker.clear(actor="t"))


def test_the_orders_table_updates_live_from_the_event_stream(
    browsing: Browsing, served: Served
) -> None:
    tenant = _tenant(served, "live")
    page = browsing.sign_in(tenant.admin_key)
    page.goto(served.url("/ui/orders"))
    page.wait_for_selector("#live[data-state=on]", timeout=30_000)
    assert page.locator("#orders-table tr[data-state]").count() == 0
    body = order_body("main", price="20000", clientOid=f"live-{secrets.token_hex(4)}")
    with httpx.Client(base_url=served.base, timeout=30) as http:
        answer = http.post("/v1/orders", json=body, headers=auth(tenant.admin_key))
    assert answer.status_code in (200, 201), answer.text
    # no reload and no polling: the stream's order.state event makes htmx fetch the table
    page.wait_for_selector(f"#orders-table a:has-text('{body['clientOid']}')", timeout=30_000)
    browsing.shot(page, "orders-live")


def test_new_pages_have_no_serious_accessibility_violation(browser: Any, served: Served) -> None:
    tenant = _tenant(served, "axe")
    bot = _bot_with_fills(served, tenant)
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(served.url("/ui/login"))
        page.fill("#key", tenant.admin_key)
        page.click("#sign-in")
        page.wait_for_url(served.url("/ui"))
        pages = (
            "/ui/accounts",
            "/ui/bots",
            f"/ui/bots/{bot['id']}",
            "/ui/broker",
            "/ui/audit/verify",
        )
        for path in pages:
            answer = page.goto(served.url(path))
            assert answer.status == 200, path
            assert page.locator("script:not([src])").count() == 0, path
            assert page.locator("[style]").count() == 0, path
            page.add_script_tag(path=str(AXE))
            assert page.evaluate(AXE_RUN) == [], path
    finally:
        context.close()


def test_a_one_time_link_signs_in_once_and_leaves_no_token_in_the_url(
    browsing: Browsing, served: Served
) -> None:
    tenant = _tenant(served, "link")
    key = _key(served, tenant, Scope.READ)
    sessions = served.stack.services.console
    assert sessions is not None
    link = served.run(sessions.issue_link(key.split("_")[1])).reveal()
    page = browsing.page()
    answer = page.goto(served.url(f"/ui/login/link?t={link}"))
    assert page.url == served.url("/ui") and link not in page.url
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert page.inner_text("h1") == "Overview"
    assert "Orders" in page.inner_text("nav") and "Keys" not in page.inner_text("nav")  # read
    assert link not in str(browsing.context.cookies())

    other = browsing.context.new_page()
    answer = other.goto(served.url(f"/ui/login/link?t={link}"))
    assert answer.status == 401
    assert "already used" in other.inner_text("[role=alert]")
    browsing.shot(other, "login-link-spent")
    other.close()


def test_the_overview_charts_each_accounts_sampled_equity(
    browsing: Browsing, served: Served
) -> None:
    tenant = _tenant(served, "equity")
    history = served.stack.services.equity_history
    assert history is not None
    page = browsing.sign_in(tenant.admin_key)
    main = page.locator(".equity[data-account=main]")
    assert "No equity sample yet" in main.inner_text()
    for _ in range(2):  # two rounds of the sampler over the risk engine's marks
        served.run(history.sample())
    page.reload()
    assert main.locator("svg polyline").count() == 1
    points = main.locator("svg polyline").get_attribute("points")
    assert points is not None and len(points.split()) == 2
    assert "Equity of main (USDT)" in main.inner_text()
    browsing.shot(page, "overview-equity")
