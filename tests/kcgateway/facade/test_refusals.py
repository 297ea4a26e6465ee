"""The facade refuses as KuCoin does, with KuCoin's codes: bad signatures, old timestamps,
revoked keys, wrong addresses, missing scopes, withdrawals; a risk denial is a KuCoin error
envelope carrying the risk sentence; real exchange secrets never reach the client (issue 14)."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from kcgateway.facade.app import create_facade_app
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.keys import Operator
from kcgateway.kucoin.signing import Credentials, sign_request
from kcgateway.secret import Secret
from tests.helpers import leaksuite
from tests.helpers.facade import FacadeCreds, issue
from tests.helpers.gateway import Stack, gateway_stack

ORDER = {"symbol": "BTC-USDT", "side": "buy", "type": "limit", "price": "30000", "size": "0.001"}


class Bot:
    """A hand-signing KuCoin client of the facade app, from a chosen client address."""

    def __init__(self, stack: Stack, creds: FacadeCreds, ip: str = "127.0.0.1") -> None:
        assert stack.services.facade is not None
        app = leaksuite.capture_app(create_facade_app(stack.services.facade))
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        self.http = httpx.AsyncClient(transport=transport, base_url="http://facade")
        self.creds = creds

    def headers(
        self, method: str, path: str, body: bytes = b"", *, ts_ms: int | None = None,
        secret: str | None = None, version: int = 3,
    ) -> dict[str, str]:  # fmt: skip
        creds = Credentials(
            self.creds.api_key,
            Secret(secret or self.creds.secret),
            Secret(self.creds.passphrase),
            key_version=version,
        )
        ts = ts_ms if ts_ms is not None else int(time.time() * 1000)
        headers = sign_request(creds, method=method, path=path, body=body, timestamp_ms=ts)
        return {**headers, "Content-Type": "application/json"}

    async def call(
        self, method: str, path: str, payload: Any = None, **sign: Any
    ) -> tuple[int, dict[str, Any]]:
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        headers = {**self.headers(method, path, body), **sign.pop("headers", {})}
        if sign:
            headers = self.headers(method, path, body, **sign)
        resp = await self.http.request(method, path, content=body, headers=headers)
        return resp.status_code, resp.json()


def _code(answer: tuple[int, dict[str, Any]]) -> tuple[int, str]:
    return answer[0], answer[1]["code"]


async def test_each_refusal_gets_kucoins_code(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("bots")
        creds = await issue(stack, tenant, Scope.READ, Scope.TRADE_SPOT)
        bot = Bot(stack, creds)
        assert _code(await bot.call("GET", "/api/v1/accounts")) == (200, "200000")
        forged = base64.b64encode(os.urandom(32)).decode()
        refusals: list[tuple[dict[str, Any], tuple[int, str]]] = [
            ({"headers": {"KC-API-SIGN": forged}}, (401, "400005")),
            (
                {"headers": {"KC-API-SIGN": bot.headers("GET", "/x")["KC-API-SIGN"]}},
                (401, "400005"),
            ),
            ({"secret": str(uuid.uuid4())}, (401, "400004")),  # its passphrase HMAC fails first
            ({"ts_ms": int(time.time() * 1000) - 60_000}, (401, "400002")),
            ({"headers": {"KC-API-SIGN": ""}}, (401, "400001")),
            ({"headers": {"KC-API-KEY": "0" * 24}}, (401, "400003")),
            ({"headers": {"KC-API-PASSPHRASE": "not-the-passphrase"}}, (401, "400004")),
            ({"headers": {"KC-API-KEY-VERSION": "7"}}, (401, "400009")),
        ]
        for n, (sign, expected) in enumerate(refusals):  # each from its own address: the
            other = Bot(stack, creds, f"198.51.100.{n}")  # failures of one address are counted
            assert _code(await other.call("GET", "/api/v1/accounts", **sign)) == expected, sign
        withdrawal = {"currency": "USDT", "address": "x", "amount": "1"}
        assert _code(await bot.call("POST", "/api/v1/withdrawals", withdrawal)) == (403, "400007")
        assert _code(await bot.call("POST", "/api/v3/withdrawals", withdrawal)) == (403, "400007")
        assert _code(await bot.call("GET", "/api/v2/sub/user")) == (403, "400007")
        assert _code(await bot.call("GET", "/api/v1/user/api-key")) == (403, "400007")
        transfer = {"clientOid": "t1", "currency": "USDT", "amount": "1"}
        answer = await bot.call("POST", "/api/v3/accounts/universal-transfer", transfer)
        assert _code(answer) == (403, "400007")
        # python-kucoin's form: no version header, the passphrase in plain text
        assert _code(await bot.call("GET", "/api/v1/accounts", version=1)) == (200, "200000")


async def test_scope_ip_and_risk_refusals(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("bots")
        reader = Bot(stack, await issue(stack, tenant, Scope.READ))
        assert _code(await reader.call("GET", "/api/v1/accounts")) == (200, "200000")
        assert _code(await reader.call("POST", "/api/v1/hf/orders", ORDER)) == (403, "400007")
        fenced = await issue(stack, tenant, Scope.READ, ip_allowlist=["10.0.0.0/8"])
        status, answer = await Bot(stack, fenced).call("GET", "/api/v1/accounts")
        assert (status, answer["code"]) == (401, "400006")
        assert answer["msg"] == "Invalid request IP, the current client IP is: 127.0.0.1."
        inside = Bot(stack, fenced, ip="10.1.2.3")
        assert _code(await inside.call("GET", "/api/v1/accounts")) == (200, "200000")
        trader = Bot(stack, await issue(stack, tenant, Scope.READ, Scope.TRADE_SPOT))
        huge = {**ORDER, "price": "60000", "size": "10"}  # 600,000 USDT: over the 100,000 cap
        status, answer = await trader.call("POST", "/api/v1/hf/orders", huge)
        assert (status, answer["code"]) == (400, "400200")
        assert answer["msg"].startswith("Forbidden to place an order: ")
        assert "risk.max_notional" in answer["msg"] and "100,000" in answer["msg"]
        assert await stack.services.orders.list(tenant.id) == []
        forger = Bot(stack, trader.creds, ip="192.0.2.9")
        forged = {"KC-API-SIGN": base64.b64encode(os.urandom(32)).decode()}
        for _ in range(5):  # the address's failures are counted, as for /v1 keys
            assert (
                _code(await forger.call("GET", "/api/v1/accounts", headers=forged))[1] == "400005"
            )
        assert _code(await forger.call("GET", "/api/v1/accounts")) == (429, "429000")
        assert _code(await trader.call("GET", "/api/v1/accounts")) == (200, "200000")
        bad = {**ORDER, "postOnly": True}
        status, answer = await trader.call("POST", "/api/v1/hf/orders", bad)
        assert (status, answer["code"]) == (400, "400100") and "postOnly" in answer["msg"]


async def test_revoking_rotating_or_reissuing_the_key_revokes_its_credentials(
    tmp_path: Path,
) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("bots")
        keys, op = stack.services.keys, Operator("test")
        revoked = await issue(stack, tenant, Scope.READ)
        rotated = await issue(stack, tenant, Scope.READ)
        for creds in (revoked, rotated):
            assert _code(await Bot(stack, creds).call("GET", "/api/v1/accounts"))[1] == "200000"
        await keys.revoke(tenant.id, revoked.key_id, actor=op)
        await keys.rotate(tenant.id, rotated.key_id, overlap=timedelta(hours=1), actor=op)
        for creds in (revoked, rotated):
            answer = await Bot(stack, creds).call("GET", "/api/v1/accounts")
            assert _code(answer) == (401, "400003")
        first = await issue(stack, tenant, Scope.READ)
        facade = stack.services.facade
        assert facade is not None
        made, _ = await facade.credentials.issue(tenant.id, first.key_id, "main", actor=op)
        leaksuite.register("reissued facade secret", made.secret.reveal())
        assert _code(await Bot(stack, first).call("GET", "/api/v1/accounts")) == (401, "400003")


async def test_real_exchange_secrets_never_cross_the_facade(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("bots")
        bot = Bot(stack, await issue(stack, tenant, Scope.READ, Scope.TRADE_SPOT))
        seen = []
        for method, path, payload in (
            ("GET", "/api/v1/accounts", None),
            ("GET", "/api/v1/hf/accounts/opened", None),
            ("POST", "/api/v1/hf/orders", ORDER),
            ("GET", "/api/v1/hf/orders/active?symbol=BTC-USDT", None),
            ("GET", "/api/v1/user/api-key", None),
            ("POST", "/api/v1/bullet-public", None),
        ):
            seen.append(json.dumps(await bot.call(method, path, payload)))
        placed = json.loads(seen[2])[1]["data"]  # no clientOid sent: the gateway made one
        (view,) = await stack.services.orders.list(tenant.id)
        assert placed == {"orderId": view.exchange_order_id, "clientOid": view.client_oid}
        bullet = json.loads(seen[-1])[1]["data"]  # the exchange's own public WebSocket
        assert bullet["token"] and bullet["instanceServers"][0]["endpoint"].startswith("ws")
        real = tenant.sim_account
        for text in seen:
            assert real["secret"] not in text and real["passphrase"] not in text
            assert real["apiKey"] not in text
        # (the leak suite also scans every facade answer and log line for every form of them)
