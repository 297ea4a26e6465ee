"""Signal-bot test helpers: a paper account, bots made over HTTP, and signed signals."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from kcgateway.gateway.accounts import ConnectRequest
from kcgateway.secret import Secret
from kcgateway.vault.webhook import signed_headers
from tests.helpers.gateway import Stack, Tenant, auth, warm_risk

TV_IP = "52.89.214.238"  # one of TradingView's published sender addresses


async def add_paper_account(stack: Stack, tenant: Tenant, name: str = "paper") -> str:
    """Connect a second funded simulator account named ``paper``; its id."""
    account = stack.sim.create_account(
        {
            "hf": True,
            "balances": {"USDT": "1000000", "BTC": "50", "ETH": "500"},
            "secret": secrets.token_hex(16),
            "passphrase": secrets.token_hex(8),
        }
    )
    view = await stack.services.accounts.connect(
        tenant.id,
        "test",
        ConnectRequest(
            name, account["apiKey"], Secret(account["secret"]), Secret(account["passphrase"])
        ),
    )
    await warm_risk(stack, tenant.id, view.id)
    await warm_risk(stack, tenant.id, tenant.account_id)
    return view.id


def bot_body(profile: str, **over: Any) -> dict[str, Any]:
    """A bot: BTC-USDT, fixed size 0.001, market orders, max position 0.01."""
    body: dict[str, Any] = {
        "name": f"bot-{uuid.uuid4().hex[:8]}",
        "account": "main",
        "symbols": ["BTC-USDT"],
        "sizing": "size",
        "sizingValue": "0.001",
        "maxPosition": "0.01",
        "profile": profile,
    }
    body.update(over)
    return body


async def create_bot(stack: Stack, key: str, profile: str, **over: Any) -> dict[str, Any]:
    """Create a bot over HTTP (the leak canary registers its secret from the answer)."""
    resp = await stack.http.post("/v1/bots", json=bot_body(profile, **over), headers=auth(key))
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


def standard_request(
    secret: str, body: dict[str, Any], *, at: datetime | None = None, msg_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """A Standard Webhooks request: (body bytes, headers)."""
    raw = json.dumps(body).encode()
    headers = signed_headers(
        Secret(secret), msg_id or f"msg_{uuid.uuid4().hex}", at or datetime.now(UTC), raw
    )
    return raw, headers


def tradingview_body(secret: str, action: str, **over: Any) -> dict[str, Any]:
    """A TradingView alert message as the README shows it."""
    body: dict[str, Any] = {
        "secret": secret,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "symbol": "BTCUSDT",
        "action": action,
        "nonce": uuid.uuid4().hex,
    }
    body.update(over)
    return body


def threecommas_body(secret: str, bot_id: str, action: str, **over: Any) -> dict[str, Any]:
    """A 3Commas custom signal."""
    body: dict[str, Any] = {
        "secret": secret,
        "max_lag": "300",
        "timestamp": datetime.now(UTC).isoformat(),
        "trigger_price": "60000",
        "tv_exchange": "KUCOIN",
        "tv_instrument": "BTCUSDT",
        "action": action,
        "bot_uuid": bot_id,
        "order": {"amount": "0.001", "currency_type": "base", "order_type": "market"},
    }
    body.update(over)
    return body


async def send_standard(
    client: httpx.AsyncClient, bot: dict[str, Any], body: dict[str, Any], **kw: Any
) -> httpx.Response:
    raw, headers = standard_request(bot["secret"], body, **kw)
    return await client.post(f"/v1/signals/{bot['id']}", content=raw, headers=headers)


async def send_tradingview(
    client: httpx.AsyncClient, bot: dict[str, Any], body: dict[str, Any], token: str | None = None
) -> httpx.Response:
    url = f"/v1/signals/{bot['id']}?token={token if token is not None else bot['urlToken']}"
    return await client.post(url, content=json.dumps(body).encode())
