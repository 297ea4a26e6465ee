"""Connect with KuCoin from the console: a CSRF-checked form, then KuCoin's consent page.

The console answers a page linking to the consent page (a link: the CSP's form-action keeps
forms on this origin, redirects included) and sets the same browser-binding cookie as
``/v1/onboarding/kucoin/start``; the callback then connects the account.
"""

from __future__ import annotations

import html
import re
import secrets
from pathlib import Path

from tests.helpers.gateway import gateway_stack
from tests.helpers.onboarding import GATEWAY, browser, configure, decide


async def test_connect_with_kucoin_from_the_console(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("acme")
        user = stack.sim.create_account(
            {"secret": secrets.token_hex(16), "passphrase": secrets.token_hex(8), "hf": True}
        )
        async with browser(stack) as client:
            login = await client.get(f"{GATEWAY}/ui/login")
            nonce = re.search(r'name="nonce" value="([^"]+)"', login.text)
            assert nonce is not None
            signed = await client.post(
                f"{GATEWAY}/ui/login", data={"key": tenant.admin_key, "nonce": nonce.group(1)}
            )
            assert signed.status_code == 200 and "Overview" in signed.text
            accounts = await client.get(f"{GATEWAY}/ui/accounts")
            assert "connect-kucoin" not in accounts.text  # not configured: no button
            csrf = re.search(r'name="csrf" value="([^"]+)"', accounts.text)
            assert csrf is not None
            form = {"csrf": csrf.group(1), "name": "alice"}
            refused = await client.post(f"{GATEWAY}/ui/accounts/kucoin", data=form)
            assert refused.status_code == 409  # said plainly, with what the operator runs
            assert "onboarding configure" in html.unescape(refused.text)

            await configure(stack)
            assert "connect-kucoin" in (await client.get(f"{GATEWAY}/ui/accounts")).text
            forged = await client.post(f"{GATEWAY}/ui/accounts/kucoin", data={"name": "alice"})
            assert forged.status_code == 403  # no CSRF token
            started = await client.post(f"{GATEWAY}/ui/accounts/kucoin", data=form)
            assert started.status_code == 200, started.text
            assert "/v1/onboarding/kucoin" in started.headers["set-cookie"]
            href = re.search(r'<a href="([^"]+)" id="continue-kucoin"', started.text)
            assert href is not None
            consent = await client.get(html.unescape(href.group(1)))
            assert consent.status_code == 200 and "Approve" in consent.text
            done = await decide(client, consent, user)
            assert done.status_code == 200 and "KuCoin account connected" in done.text
        names = {v.name: v.uid for v in await stack.services.accounts.list(tenant.id)}
        assert names["alice"] == user["uid"]
