"""Every route x every scope x every way a key can be unusable (SECURITY.md section 6)."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute

from kcgateway.gateway import apikeys, keys
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.failures import FailureTracker
from kcgateway.web.app import create_app
from kcgateway.web.auth import PUBLIC, ScopeGuard
from tests.helpers.gateway import Stack, auth, futures_body, gateway_stack, order_body

PUBLIC_PATHS = {
    "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/static/{name}",
    "/v1/signals/{bot_id}",  # authenticated by the bot's signal profile
    "/v1/onboarding/kucoin/callback",  # KuCoin's redirect: the signed state and its cookie
}  # fmt: skip
_LIFT = {"suspension": "nope@192.0.2.1", "reason": "matrix"}


def routes(account: str) -> list[tuple[str, str, Scope, Any]]:
    """(method, url, scope needed, json body) for every protected route."""
    return [
        ("POST", "/v1/orders", Scope.TRADE_SPOT, order_body(account)),
        ("GET", "/v1/orders", Scope.READ, None),
        ("GET", "/v1/orders/nope", Scope.READ, None),
        ("DELETE", "/v1/orders/nope", Scope.TRADE_SPOT, None),
        ("DELETE", "/v1/orders/by-client-oid/nope", Scope.TRADE_SPOT, None),
        ("GET", f"/v1/balances?account={account}", Scope.READ, None),
        ("GET", "/v1/symbols", Scope.READ, None),
        ("POST", "/v1/keys", Scope.KEYS_MANAGE, {"owner": "x", "scopes": ["keys:manage"]}),
        ("GET", "/v1/keys", Scope.KEYS_MANAGE, None),
        ("DELETE", "/v1/keys/nope", Scope.KEYS_MANAGE, None),
        ("POST", "/v1/keys/nope/rotate", Scope.KEYS_MANAGE, {"overlapSeconds": 60}),
        ("POST", "/v1/keys/nope/kucoin-credentials", Scope.KEYS_MANAGE, {"account": "main"}),
        ("GET", "/v1/keys/suspensions", Scope.KEYS_MANAGE, None),
        ("POST", "/v1/keys/suspensions/lift", Scope.KEYS_MANAGE, _LIFT),
        ("POST", "/v1/accounts", Scope.ACCOUNTS_MANAGE, _account_body()),
        ("GET", "/v1/accounts", Scope.READ, None),
        ("GET", "/v1/orderbook/nope", Scope.READ, None),
        ("GET", "/v1/futures/orderbook/nope", Scope.READ, None),
        ("DELETE", "/v1/accounts/nope", Scope.ACCOUNTS_MANAGE, None),
        ("GET", "/v1/onboarding/kucoin/start?account=new", Scope.ACCOUNTS_MANAGE, None),
        ("POST", "/v1/broker/subaccounts", Scope.ACCOUNTS_MANAGE, {"name": "sub1"}),
        ("GET", "/v1/broker/subaccounts", Scope.ACCOUNTS_MANAGE, None),
        ("GET", "/v1/alerts", Scope.RISK_MANAGE, None),
        ("POST", "/v1/alerts/retry", Scope.RISK_MANAGE, None),
        # a bad kind ends the endless stream with a 400 once the key passed (ASGI buffers)
        ("GET", "/v1/events?kinds=nope", Scope.READ, None),
        ("GET", "/v1/events/page", Scope.READ, None),
        *_risk_routes(),
        *_market_routes(account),
        *_bot_routes(account),
    ]


def _bot_routes(account: str) -> list[tuple[str, str, Scope, Any]]:
    """The signal-bot routes: bots:manage (the signal route itself is public)."""
    body = {
        "name": "matrix", "account": account, "symbols": ["BTC-USDT"], "sizing": "size",
        "sizingValue": "0.001", "maxPosition": "0.01", "profile": "standard",
    }  # fmt: skip
    out: list[tuple[str, str, Scope, Any]] = [
        ("POST", "/v1/bots", Scope.BOTS_MANAGE, body),
        ("GET", "/v1/bots", Scope.BOTS_MANAGE, None),
        ("GET", "/v1/bots/nope", Scope.BOTS_MANAGE, None),
        ("GET", "/v1/bots/nope/performance", Scope.BOTS_MANAGE, None),
        ("DELETE", "/v1/bots/nope", Scope.BOTS_MANAGE, None),
        ("GET", "/v1/signals", Scope.BOTS_MANAGE, None),
        ("POST", "/v1/bots/nope/rotate-secret", Scope.BOTS_MANAGE, {"overlapSeconds": 60}),
    ]
    out += [("POST", f"/v1/bots/nope/{verb}", Scope.BOTS_MANAGE, None)
            for verb in ("pause", "resume", "promote")]  # fmt: skip
    return out


def _risk_routes() -> list[tuple[str, str, Scope, Any]]:
    """The risk control routes: risk:manage, and admin for the gateway-wide block list."""
    target = {"level": "key", "target": "nope", "reason": "matrix"}
    return [
        ("POST", "/v1/risk/halt", Scope.RISK_MANAGE, target),
        ("POST", "/v1/risk/resume", Scope.RISK_MANAGE, target),
        ("GET", "/v1/risk/state", Scope.RISK_MANAGE, None),
        ("GET", "/v1/risk/limits?level=key&target=nope", Scope.RISK_MANAGE, None),
        ("PUT", "/v1/risk/limits", Scope.RISK_MANAGE, {**target, "limits": {}}),
        ("POST", "/v1/risk/blocked-symbols", Scope.ADMIN, {"symbol": "MX-USDT", "reason": "m"}),
    ]


def _market_routes(account: str) -> list[tuple[str, str, Scope, Any]]:
    """Spot extras, margin and futures: writes need the market's trade scope, reads need read."""
    q = f"account={account}&symbol=BTC-USDT"
    fq = f"account={account}&symbol=XBTUSDTM"
    out: list[tuple[str, str, Scope, Any]] = [
        ("DELETE", f"/v1/orders?{q}", Scope.TRADE_SPOT, None),
        ("GET", f"/v1/fills?{q}", Scope.READ, None),
        ("GET", f"/v1/margin/fills?{q}", Scope.READ, None),
        ("GET", f"/v1/margin/balances?account={account}", Scope.READ, None),
        ("GET", f"/v1/futures/fills?{fq}", Scope.READ, None),
        ("GET", f"/v1/futures/positions?account={account}", Scope.READ, None),
        ("GET", f"/v1/futures/balances?account={account}", Scope.READ, None),
        ("GET", "/v1/futures/symbols", Scope.READ, None),
    ]
    for market, scope, body, query in (
        ("margin", Scope.TRADE_MARGIN, order_body(account), q),
        ("futures", Scope.TRADE_FUTURES, futures_body(account), fq),
    ):
        base = f"/v1/{market}/orders"
        out += [
            ("POST", base, scope, body),
            ("GET", base, Scope.READ, None),
            ("GET", f"{base}/nope", Scope.READ, None),
            ("DELETE", f"{base}/nope", scope, None),
            ("DELETE", f"{base}/by-client-oid/nope", scope, None),
            ("DELETE", f"{base}?{query}", scope, None),
        ]
    return out


def _account_body() -> dict[str, Any]:
    fake = secrets.token_hex(8)
    return {"name": "other", "apiKey": fake, "secret": fake * 2, "passphrase": fake}


def _guards(route: APIRoute) -> list[ScopeGuard]:
    return [d.call for d in route.dependant.dependencies if isinstance(d.call, ScopeGuard)]


async def test_every_route_declares_exactly_one_scope(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        app = create_app(stack.services)
        seen = set()
        for route in app.routes:
            if isinstance(route, APIWebSocketRoute):  # authenticates in its handler:
                assert route.path == "/v1/events/ws"  # test_events_api checks 401 and 403
                continue
            assert isinstance(route, APIRoute), f"{route} is not an APIRoute with a scope"
            if route.path == "/ui" or route.path.startswith("/ui/"):
                continue  # the console: session routes, test_console_routes.py declares them
            guards = _guards(route)
            assert len(guards) == 1, f"{route.path} declares {len(guards)} scopes"
            if route.path in PUBLIC_PATHS:
                assert guards[0] is PUBLIC
            else:
                assert guards[0].scope is not None, f"{route.path} is public by accident"
                for method in route.methods:
                    seen.add((method, route.path))
        tested = {(m, u.split("?")[0].replace("/nope", "/{x}")) for m, u, _, _ in routes("a")}
        normalised = {
            (
                m,
                p.replace("{order_id}", "{x}")
                .replace("{client_oid}", "{x}")
                .replace("{key_id}", "{x}")
                .replace("{symbol}", "{x}")
                .replace("{account_id}", "{x}")
                .replace("{bot_id}", "{x}"),
            )
            for m, p in seen
        }
        assert normalised == tested, "the matrix below must cover every protected route"


async def _bad_keys(stack: Stack) -> dict[str, tuple[dict[str, str], str]]:
    tenant = stack.tenants["t1"]
    good = tenant.admin_key
    presented = apikeys.parse_key(good)
    assert presented is not None
    other_secret = apikeys.base62(b"\x01" * 32, apikeys.SECRET_LEN)
    body = f"kgw_{presented.key_id}_{other_secret}"
    wrong_secret = f"{body}_{apikeys.checksum(body)}"
    bad_crc = good[:-1] + ("A" if good[-1] != "A" else "B")
    expired = await stack.key(
        tenant, Scope.ADMIN, expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    revoked = await stack.key(tenant, Scope.ADMIN)
    revoked_id = apikeys.parse_key(revoked)
    assert revoked_id is not None
    await stack.services.keys.revoke(tenant.id, revoked_id.key_id, actor=keys.Operator("test"))
    fenced = await stack.key(tenant, Scope.ADMIN, ip_allowlist=["10.1.2.3/32"])
    unknown = apikeys.issue_key(apikeys.Secret("x" * 32)).full.reveal()
    return {
        "no key": ({}, "127.0.0.1"),
        "not bearer": ({"Authorization": f"Basic {good}"}, "127.0.0.1"),
        "garbage": (auth("kgw_nonsense"), "127.0.0.1"),
        "bad checksum": (auth(bad_crc), "127.0.0.1"),
        "unknown key": (auth(unknown), "127.0.0.1"),
        "wrong secret": (auth(wrong_secret), "127.0.0.1"),
        "expired": (auth(expired), "127.0.0.1"),
        "revoked": (auth(revoked), "127.0.0.1"),
        "wrong ip": (auth(fenced), "127.0.0.1"),
        "spoofed x-forwarded-for": (
            {**auth(fenced), "X-Forwarded-For": "10.1.2.3"},
            "127.0.0.1",
        ),
    }


async def test_unusable_keys_get_the_same_401_on_every_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = apikeys.secret_matches

    def counting(*args: Any) -> bool:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(keys.apikeys, "secret_matches", counting)
    async with gateway_stack(tmp_path) as stack:
        stack.services.keys.tracker = FailureTracker(backoff_after=10**6, suspend_after=10**7)
        await stack.add_tenant("t1")
        bad = await _bad_keys(stack)
        bodies = set()
        for method, url, _scope, body in routes("main"):
            for name, (headers, ip) in bad.items():
                calls.clear()
                async with stack.client(ip) as http:
                    resp = await http.request(method, url, headers=headers, json=body)
                assert resp.status_code == 401, (name, method, url, resp.text)
                assert resp.headers["www-authenticate"].startswith("Bearer")
                assert len(calls) == 1, f"{name}: {len(calls)} HMACs (equal work means one)"
                bodies.add(resp.content)
        assert len(bodies) == 1, "every failure must look the same"
        # the same fenced key works from its allowed address...
        fenced_headers = bad["wrong ip"][0]
        async with stack.client("10.1.2.3") as http:
            assert (await http.get("/v1/orders", headers=fenced_headers)).status_code == 200
        # ...and through a trusted proxy that forwards that address
        stack.services.trusted_proxies = ("127.0.0.1/32",)
        spoof = bad["spoofed x-forwarded-for"][0]
        assert (await stack.http.get("/v1/orders", headers=spoof)).status_code == 200


async def test_scope_matrix(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        by_scope = {s: await stack.key(tenant, s) for s in Scope}
        for method, url, needed, body in routes("main"):
            for scope, key in by_scope.items():
                resp = await stack.http.request(method, url, headers=auth(key), json=body)
                allowed = scope in (needed, Scope.ADMIN)
                if allowed:
                    assert resp.status_code not in (401, 403), (scope, method, url, resp.text)
                else:
                    assert resp.status_code == 403, (scope, method, url, resp.text)
                    assert json.loads(resp.content)["error"] == "forbidden"


async def test_public_routes_need_no_key(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        stack.services.start()
        assert (await stack.http.get("/healthz")).json() == {"status": "ok"}
        assert (await stack.http.get("/readyz")).status_code == 200
        assert "kcgateway_order_intents" in (await stack.http.get("/metrics")).text
        assert "/v1/orders" in (await stack.http.get("/openapi.json")).json()["paths"]


async def test_readyz_fails_without_the_reconciler(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        resp = await stack.http.get("/readyz")
        assert resp.status_code == 503


async def test_backoff_then_suspension_and_last_used(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        stack.services.keys.tracker = FailureTracker(base_ms=60_000)  # no race with the clock
        good = tenant.admin_key
        assert (await stack.http.get("/v1/keys", headers=auth(good))).status_code == 200
        listed = (await stack.http.get("/v1/keys", headers=auth(good))).json()
        assert any(k["lastUsedAt"] for k in listed)
        wrong = good[:20] + ("a" if good[20] != "a" else "b") + good[21:]
        async with stack.client("192.0.2.9") as http:
            for _ in range(5):
                resp = await http.get("/v1/orders", headers=auth(wrong))
                assert resp.status_code == 401
            resp = await http.get("/v1/orders", headers=auth(good))
            assert resp.status_code == 401, "the IP is in backoff: even a good key waits"
            assert int(resp.headers["retry-after"]) >= 1
        # another address is unaffected
        assert (await stack.http.get("/v1/orders", headers=auth(good))).status_code == 200
        # 20 failures in a row suspend the address (persisted): then even a good key is refused
        stack.services.keys.tracker = FailureTracker(backoff_after=10**6, suspend_after=20)
        async with stack.client("192.0.2.10") as http:
            for _ in range(20):
                assert (await http.get("/v1/orders", headers=auth(wrong))).status_code == 401
            resp = await http.get("/v1/orders", headers=auth(good))
        assert resp.status_code == 401
        assert resp.headers["retry-after"] == "3600"


async def test_metrics_count_requests_by_route_and_status(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        await stack.http.get("/v1/orders", headers=auth(tenant.admin_key))
        await stack.http.get("/v1/orders")
        await stack.http.post("/v1/orders", json=order_body("main"), headers=auth(tenant.admin_key))
        await stack.http.get("/nowhere")
        text = (await stack.http.get("/metrics")).text
        assert 'route="/v1/orders",status="200"} 1.0' in text
        assert 'route="/v1/orders",status="401"} 1.0' in text
        assert 'route="/v1/orders",status="201"} 1.0' in text
        assert 'route="unmatched",status="404"} 1.0' in text
        assert 'kcgateway_order_intents{state="acked"} 1.0' in text
