"""The console in a real Chromium against a real served gateway over the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from kcgateway.gateway.console.sessions import token_id
from tests.kcgateway.web.console.conftest import Browsing, Served


def _cookie(browsing: Browsing) -> dict[str, Any]:
    [cookie] = [c for c in browsing.context.cookies() if c["name"] == "kcgw_console"]
    return cookie


def test_sign_in_then_sign_out_revokes_the_session_server_side(
    browsing: Browsing, served: Served
) -> None:
    page = browsing.sign_in(served.keys["admin"])
    assert page.inner_text("h1") == "Overview"
    assert "USDT" in page.inner_text("section[aria-labelledby=h-accounts]")
    browsing.shot(page, "overview")
    cookie = _cookie(browsing)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert served.keys["admin"] not in str(browsing.context.cookies())

    page.click("#sign-out")
    page.wait_for_url(served.url("/ui/login"))
    assert [c for c in browsing.context.cookies() if c["name"] == "kcgw_console"] == []
    # the old cookie, replayed by anyone who kept it, opens nothing: revoked in the database
    assert served.stack.services.console is not None
    assert served.run(served.stack.services.console.is_revoked(token_id(cookie["value"])))
    with httpx.Client(base_url=served.base, cookies={"kcgw_console": cookie["value"]}) as http:
        answer = http.get("/ui")
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/login"


def test_a_wrong_key_is_refused_with_one_message_and_no_session(
    browsing: Browsing, served: Served
) -> None:
    page = browsing.page()
    page.goto(served.url("/ui/login"))
    page.fill("#key", served.keys["admin"][:-3] + "AAA")
    page.click("#sign-in")
    assert "was not accepted" in page.inner_text("[role=alert]")
    assert [c for c in browsing.context.cookies() if c["name"] == "kcgw_console"] == []
    browsing.shot(page, "login-refused")


def _orders(served: Served, tenant: str) -> int:
    views = served.run(
        served.stack.services.orders.list(served.tenants[tenant].id, limit=1000, market=None)
    )
    return len(views)


def test_a_form_post_without_the_csrf_token_is_refused(browsing: Browsing, served: Served) -> None:
    page = browsing.sign_in(served.keys["admin"])
    before = _orders(served, "t1")
    form = {"account": "main", "symbol": "BTC-USDT", "side": "buy", "price": "20000",
            "size": "0.001"}  # fmt: skip
    answer = page.request.post(served.url("/ui/orders"), form=form)
    assert answer.status == 403 and "did not come from this console session" in answer.text()
    answer = page.request.post(served.url("/ui/orders"), form={**form, "csrf": "forged"})
    assert answer.status == 403
    assert _orders(served, "t1") == before


def test_a_read_only_key_sees_no_trade_button_and_a_forged_post_is_refused(
    browsing: Browsing, served: Served
) -> None:
    page = browsing.sign_in(served.keys["read"])
    nav = page.inner_text("nav")
    assert "Orders" in nav and "Keys" not in nav and "Risk" not in nav
    page.goto(served.url("/ui/orders"))
    assert page.locator("#place-form").count() == 0
    assert page.locator("button:has-text('Cancel')").count() == 0
    browsing.shot(page, "orders-read-only")
    csrf = page.get_attribute("input[name=csrf]", "value")
    before = _orders(served, "t1")
    form = {"csrf": csrf, "account": "main", "symbol": "BTC-USDT", "side": "buy",
            "price": "20000", "size": "0.001"}  # fmt: skip
    answer = page.request.post(served.url("/ui/orders"), form=form)
    assert answer.status == 403 and "trade:spot" in answer.text()
    assert _orders(served, "t1") == before
    for path in ("/ui/keys", "/ui/risk"):
        assert page.goto(served.url(path)).status == 403


def test_place_and_cancel_an_order_from_the_page(browsing: Browsing, served: Served) -> None:
    page = browsing.sign_in(served.keys["admin"])
    page.click("nav >> text=Orders")
    page.fill("#p-price", "20000")
    page.fill("#p-size", "0.001")
    page.click("#place")
    page.wait_for_url("**/ui/orders/*")
    assert page.inner_text("#order-state") in ("acked", "open")
    browsing.shot(page, "order-open")
    page.click("#cancel")
    page.wait_for_selector("#order-state:has-text('cancelled')")
    assert page.locator("#cancel").count() == 0
    history = page.inner_text("table.history")  # the audited steps, oldest first
    assert "order.intent" in history and "order.cancel" in history
    assert history.index("sent") < history.rindex("cancelled")
    browsing.shot(page, "order-cancelled")
    page.goto(served.url("/ui/orders"))
    assert page.locator("tr[data-state=cancelled]").count() >= 1
    browsing.shot(page, "orders")


def test_a_market_order_from_the_page_shows_up_in_fills(browsing: Browsing, served: Served) -> None:
    page = browsing.sign_in(served.keys["admin"])
    page.click("nav >> text=Orders")
    page.select_option("#p-type", "market")
    page.fill("#p-size", "0.001")
    page.click("#place")
    page.wait_for_url("**/ui/orders/*")
    exchange_id = page.inner_text("dd:below(dt:has-text('Exchange id')) >> nth=0")
    page.click("nav >> text=Fills and positions")
    page.wait_for_selector("table.fills tbody tr")
    assert exchange_id in page.inner_text("table.fills")
    assert "No open position." in page.inner_text("table.positions")
    browsing.shot(page, "fills")


def test_the_kill_switch_button_refuses_new_orders(browsing: Browsing, served: Served) -> None:
    page = browsing.sign_in(served.keys["admin2"])
    before = _orders(served, "t2")
    page.click("nav >> text=Risk")
    page.click("tr[data-level=tenant] button:has-text('Kill switch')")
    assert "Kill switch" in page.inner_text("h1")
    browsing.shot(page, "kill-switch-confirm")
    page.fill("#h-reason", "browser test")
    page.click("#confirm-halt")
    page.wait_for_url(served.url("/ui/risk"))
    assert page.inner_text("tr[data-level=tenant] .state") == "halted"
    browsing.shot(page, "risk")

    page.goto(served.url("/ui/orders"))
    page.fill("#p-price", "20000")
    page.fill("#p-size", "0.001")
    page.click("#place")
    assert page.inner_text("h1") == "Refused"
    assert "risk" in page.inner_text("[role=alert]")
    assert _orders(served, "t2") == before  # not even an intent

    page.goto(served.url("/ui/risk"))
    page.fill("tr[data-level=tenant] input[name=reason]", "test over")
    page.click("tr[data-level=tenant] button:has-text('Resume')")
    page.wait_for_url(served.url("/ui/risk"))
    assert page.inner_text("tr[data-level=tenant] .state") == "active"


def test_keys_are_created_shown_once_rotated_and_revoked(
    browsing: Browsing, served: Served
) -> None:
    page = browsing.sign_in(served.keys["admin"])
    page.click("nav >> text=Keys")
    browsing.shot(page, "keys")
    page.fill("#k-owner", "console-bot")
    page.fill("#k-ips", "127.0.0.1/32")
    page.click("#create-key")
    shown = page.inner_text("#new-key")
    assert shown.startswith("kgw_")
    key_id = shown.split("_")[1]
    page.click("text=Back to keys")
    row = page.locator(f"tr[data-key='{key_id}']")
    assert "console-bot" in row.inner_text() and shown not in page.content()
    row.locator("input[name=overlap_hours]").fill("0")
    row.locator("button:has-text('Rotate')").click()
    successor = page.inner_text("#new-key")
    assert successor.startswith("kgw_") and successor != shown
    page.click("text=Back to keys")
    assert "expired" in page.locator(f"tr[data-key='{key_id}']").inner_text()
    new_row = page.locator(f"tr[data-key='{successor.split('_')[1]}']")
    assert "console-bot" in new_row.inner_text()
    new_row.locator("button:has-text('Revoke')").click()
    page.wait_for_url(served.url("/ui/keys"))
    assert "revoked" in page.locator(f"tr[data-key='{successor.split('_')[1]}']").inner_text()


def test_every_page_sends_a_strict_content_security_policy(
    browsing: Browsing, served: Served
) -> None:
    page = browsing.sign_in(served.keys["admin"])
    paths = ("/ui", "/ui/orders", "/ui/fills", "/ui/keys", "/ui/risk", "/ui/audit", "/ui/login")
    for path in paths:
        answer = page.goto(served.url(path))
        headers = answer.headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe" not in csp, path
        assert "frame-ancestors 'none'" in csp and "style-src 'self'" in csp
        assert headers["cache-control"] == "no-store"
        assert page.locator("script:not([src])").count() == 0, path
        assert page.locator("[style]").count() == 0, path
        browsing.shot(page, "page" + path.replace("/", "-"))


def test_swagger_ui_at_docs_runs_from_local_files(browsing: Browsing, served: Served) -> None:
    page = browsing.page()
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(served.base) else outside.append(r.url))
    answer = page.goto(served.url("/docs"))
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    page.wait_for_selector("[data-path='/v1/orders']")
    assert "kcgateway" in page.inner_text(".info")
    browsing.shot(page, "docs")
    assert outside == []  # no CDN, no font or image from elsewhere


AXE = Path(__file__).with_name("assets") / "axe.min.js"  # axe-core 4.14.1 (MPL-2.0), unchanged
AXE_RUN = """async () => {
  const found = await axe.run(document, {
    resultTypes: ["violations"],
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
  });
  return found.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(" ")).join(", ")}`);
}"""


def test_no_serious_accessibility_violation_on_any_page(browser: Any, served: Served) -> None:
    """axe-core on every console page (its script is injected: this context bypasses the CSP)."""
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        for name, path in (("login", "/ui/login"),):
            page.goto(served.url(path))
            page.add_script_tag(path=str(AXE))
            assert page.evaluate(AXE_RUN) == [], name
        page.fill("#key", served.keys["admin"])
        page.click("#sign-in")
        page.wait_for_url(served.url("/ui"))
        order = served.run(
            served.stack.services.orders.list(served.tenants["t1"].id, limit=1, market=None)
        )
        pages = ["/ui", "/ui/orders", "/ui/fills", "/ui/keys", "/ui/risk", "/ui/audit"]
        pages += [f"/ui/orders/{v.id}" for v in order]
        for path in pages:
            page.goto(served.url(path))
            page.add_script_tag(path=str(AXE))
            assert page.evaluate(AXE_RUN) == [], path
    finally:
        context.close()
