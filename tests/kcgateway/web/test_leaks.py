"""Leak scan (SECURITY.md section 6): canary secrets never reach logs, responses or the database."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import httpx
import pytest

from tests.helpers.gateway import auth, gateway_stack, order_body, warm_risk
from tests.helpers.leakscan import LeakScanner


async def test_no_secret_in_logs_responses_or_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret, passphrase = secrets.token_hex(16), secrets.token_hex(8)
    scanner = LeakScanner({"secret": secret, "passphrase": passphrase})
    scanner.add_passphrase_hmac("passphrase_hmac", secret=secret, passphrase=passphrase)
    seen: list[tuple[str, bytes]] = []

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items()).encode()
        seen.append((str(response.request.url), headers + b"\n" + response.content))

    data_dir = tmp_path / "data"
    async with gateway_stack(data_dir, timeout_s=0.3, grace_s=0.5) as stack:
        tenant = await stack.add_tenant("t1")
        await warm_risk(stack, tenant.id, tenant.account_id)  # 0.3 s exchange timeout
        admin_secret = tenant.admin_key.split("_")[2]
        scanner.add("gateway_key_secret", admin_secret)
        transport = httpx.ASGITransport(app=stack.app, client=("127.0.0.1", 1))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", event_hooks={"response": [keep]}
        ) as http:
            h = auth(tenant.admin_key)
            key = stack.sim.create_account(
                {"secret": secret, "passphrase": passphrase, "permissions": ["General", "Spot"],
                 "balances": {"USDT": "10000"}}
            )  # fmt: skip
            body = {"name": "canary", "apiKey": key["apiKey"], "secret": secret,
                    "passphrase": passphrase}  # fmt: skip
            assert (await http.post("/v1/accounts", json=body, headers=h)).status_code == 201
            assert (await http.post("/v1/accounts", json=body, headers=h)).status_code == 409
            bad = {**body, "name": "x", "keyVersion": 7}
            assert (await http.post("/v1/accounts", json=bad, headers=h)).status_code == 422
            await stack.sim_admin(
                "POST", "/_sim/faults",
                {"kind": "lose_response", "pathPrefix": "/api/v1/hf/orders", "method": "POST",
                 "count": 2},
            )  # fmt: skip
            for _ in range(4):
                await http.post("/v1/orders", json=order_body("canary"), headers=h)
            await http.get("/v1/orders", headers=h)
            await http.get("/v1/balances?account=canary", headers=h)
            await http.get("/v1/keys", headers=h)
            await http.get("/v1/orders", headers=auth(tenant.admin_key[:-2] + "zz"))
            await http.get("/metrics")
            await stack.services.orders.reconcile()
    assert len(seen) >= 12
    assert (data_dir / "kcgateway.db").exists(), "the database file is part of the scan"
    assert scanner.scan_text(f"x{secret}x", "self-check"), "the scanner finds a planted canary"
    hits = scanner.scan_text(caplog.text, "logs")
    for url, blob in seen:
        hits += scanner.scan_bytes(blob, f"response {url}")
    hits += scanner.scan_paths([data_dir])
    LeakScanner.assert_clean(hits)
