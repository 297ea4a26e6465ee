"""The simulator's Fast API OAuth server: consent page, codes, tokens, key creation, controls."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from kucoin_sim.rest.oauth import MAX_KEYS_PER_USER
from tests.kucoin_sim.harness import Sim, running_sim

REDIRECT = "https://broker.example/v1/onboarding/kucoin/callback"
ADD = "/_oauth/resource/ucenter/outer/api-key/add"


async def _client(sim: Sim, **spec: Any) -> dict[str, Any]:
    body = {"redirectUris": [REDIRECT], "name": "testbroker", **spec}
    return await sim.admin("POST", "/_sim/oauth/clients", body)  # type: ignore[no-any-return]


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def _code(sim: Sim, client: dict[str, Any], uid: str, **kw: Any) -> str:
    body = {"clientId": client["clientId"], "redirectUri": REDIRECT, "uid": uid, **kw}
    return str((await sim.admin("POST", "/_sim/oauth/approve", body))["code"])


async def _tokens(http: httpx.AsyncClient, client: dict[str, Any], code: str) -> httpx.Response:
    params = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": client["clientId"],
    }
    return await http.get("/_oauth/access-token", params=params)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"bearer {token}"}


async def test_consent_page_login_approve_and_deny() -> None:
    async with running_sim() as sim, httpx.AsyncClient(base_url=sim.spot) as http:
        client = await _client(sim)
        user = await sim.account()
        params = {
            "response_type": "code",
            "client_id": client["clientId"],
            "redirect_uri": REDIRECT,
            "scope": "OAUTH_CREATE_API",
            "state": "s-123",
        }
        page = await http.get("/oauth", params=params)
        assert page.status_code == 200 and "Approve" in page.text and "API_SPOT" in page.text
        form = {k: params[k] for k in ("client_id", "redirect_uri", "state", "scope")}
        denied = await http.post("/oauth", data={**form, "decision": "deny"})
        assert denied.status_code == 302
        assert _query(denied.headers["location"]) == {
            "error": "access_denied",
            "error_description": "denied",
            "state": "s-123",
        }
        wrong = {**form, "decision": "approve", "login": user["apiKey"], "password": "nope"}
        refused = await http.post("/oauth", data=wrong)
        assert refused.status_code == 401 and "Wrong API key" in refused.text
        assert user["secret"] not in refused.text and "nope" not in refused.text
        ok = {**wrong, "password": user["secret"], "authGroup": ["API_SPOT", "API_FUTURES"]}
        approved = await http.post("/oauth", data=ok)
        assert approved.status_code == 302
        location = approved.headers["location"]
        assert location.startswith(REDIRECT + "?")
        answer = _query(location)
        assert answer["state"] == "s-123" and re.fullmatch(r"[0-9a-f]{32}", answer["code"])
        tokens = (await _tokens(http, client, answer["code"])).json()
        key = (await http.post(ADD, headers=_bearer(tokens["access_token"]))).json()["data"]
        assert key["authGroup"] == "API_COMMON,API_FUTURES,API_SPOT"


async def test_unregistered_redirect_is_never_followed_and_bad_scope_is_redirected() -> None:
    async with running_sim() as sim, httpx.AsyncClient(base_url=sim.spot) as http:
        client = await _client(sim)
        base = {"response_type": "code", "client_id": client["clientId"], "state": "x"}
        evil = await http.get("/oauth", params={**base, "redirect_uri": "https://evil.example/"})
        assert evil.status_code == 400 and "location" not in evil.headers
        unknown = await http.get("/oauth", params={**base, "client_id": "nobody"})
        assert unknown.status_code == 400
        scoped = await http.get("/oauth", params={**base, "redirect_uri": REDIRECT, "scope": "X"})
        assert scoped.status_code == 302
        assert _query(scoped.headers["location"]) == {"error": "invalid_scope", "state": "x"}


async def test_code_is_single_use_and_a_replay_revokes_its_tokens() -> None:
    async with running_sim() as sim, httpx.AsyncClient(base_url=sim.spot) as http:
        client = await _client(sim)
        user = await sim.account()
        code = await _code(sim, client, user["uid"])
        first = await _tokens(http, client, code)
        assert first.status_code == 200
        pair = first.json()
        assert pair["token_type"] == "bearer" and pair["expires_in"] == 3600
        assert pair["scope"] == ["OAUTH_CREATE_API"]
        again = await _tokens(http, client, code)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        revoked = await http.post(ADD, headers=_bearer(pair["access_token"]))
        assert revoked.status_code == 401 and revoked.json()["success"] is False


async def test_code_checks_redirect_client_and_expiry() -> None:
    async with running_sim() as sim, httpx.AsyncClient(base_url=sim.spot) as http:
        client = await _client(sim, redirectUris=[REDIRECT, REDIRECT + "2"])
        other = await _client(sim)
        user = await sim.account()
        code = await _code(sim, client, user["uid"])
        params = {"grant_type": "authorization_code", "code": code, "client_id": client["clientId"]}
        moved = await http.get(
            "/_oauth/access-token", params={**params, "redirect_uri": REDIRECT + "2"}
        )
        assert moved.json()["error"] == "invalid_grant"
        stolen = await _tokens(http, other, await _code(sim, client, user["uid"]))
        assert stolen.json()["error"] == "invalid_grant"
        late = await _code(sim, client, user["uid"])
        await sim.admin("POST", "/_sim/clock", {"offsetMs": 6 * 60_000})
        expired = await _tokens(http, client, late)
        assert expired.status_code == 400
        assert expired.json() == {
            "error": "invalid_grant",
            "error_description": "the code has expired",
        }


async def test_refresh_rotates_the_pair() -> None:
    async with running_sim() as sim, httpx.AsyncClient(base_url=sim.spot) as http:
        client = await _client(sim)
        user = await sim.account()
        pair = (await _tokens(http, client, await _code(sim, client, user["uid"]))).json()
        form = {"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}
        new = await http.post("/_oauth/refresh-token", data=form)
        assert new.status_code == 200
        fresh = new.json()
        assert fresh["refresh_token"] != pair["refresh_token"]
        stale = await http.post("/_oauth/refresh-token", data=form)
        assert stale.json()["error"] == "invalid_grant"
        old = await http.post(ADD, headers=_bearer(pair["access_token"]))
        assert old.status_code == 401
        await sim.admin("POST", "/_sim/clock", {"offsetMs": 3_600_001})
        late = await http.post(ADD, headers=_bearer(fresh["access_token"]))
        assert late.json()["msg"] == "access token expired"
        await sim.admin("POST", "/_sim/clock", {"offsetMs": 3 * 86_400_000 + 1})
        dead = {"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]}
        assert (await http.post("/_oauth/refresh-token", data=dead)).json()[
            "error"
        ] == "invalid_grant"


async def test_created_key_trades_as_a_normal_v3_key_from_the_trading_ips() -> None:
    async with running_sim() as sim, httpx.AsyncClient(base_url=sim.spot) as http:
        client = await _client(sim, tradingIps=["127.0.0.1"])
        user = await sim.account()
        code = await _code(sim, client, user["uid"], authGroups=["API_SPOT", "API_TRANSFER"])
        pair = (await _tokens(http, client, code)).json()
        resp = await http.post(ADD, headers=_bearer(pair["access_token"]))
        body = resp.json()
        assert body["success"] is True and body["code"] == "200"
        key = body["data"]
        assert key["brokerId"] == "testbroker" and key["ipWhiteList"] == "127.0.0.1"
        info = await sim.ok(key, "GET", "/api/v1/user/api-key")
        assert info["permission"] == "General,InnerTransfer,Spot"
        assert info["ipWhitelist"] == "127.0.0.1" and str(info["uid"]) == user["uid"]
        again = (await http.post(ADD, headers=_bearer(pair["access_token"]))).json()
        assert again["success"] is False and "already exists" in again["msg"]
        named = await http.post(ADD, headers=_bearer(pair["access_token"]), json={"apiName": "b2"})
        assert named.json()["data"]["apiName"] == "b2"
        state = await sim.admin("GET", "/_sim/oauth/state")
        assert state["fastApiKeys"] == 2 and state["accessTokens"] == 1


async def test_key_limit_and_request_ips() -> None:
    async with running_sim() as sim, httpx.AsyncClient(base_url=sim.spot) as http:
        client = await _client(sim)
        user = await sim.account()
        for _ in range(MAX_KEYS_PER_USER - 1):
            await sim.admin("POST", f"/_sim/accounts/{user['uid']}/keys", {})
        pair = (await _tokens(http, client, await _code(sim, client, user["uid"]))).json()
        full = (await http.post(ADD, headers=_bearer(pair["access_token"]))).json()
        assert full["success"] is False and "maximum" in full["msg"]
        fenced = await _client(sim, requestIps=["192.0.2.1"])
        denied = await _tokens(http, fenced, await _code(sim, fenced, user["uid"]))
        assert denied.status_code == 403 and denied.json()["error"] == "access_denied"


@pytest.mark.parametrize(
    "spec",
    [{"redirectUris": []}, {"redirectUris": "x"}, {"name": ""}, {"clientId": 5}],
)
async def test_client_registration_is_validated(spec: dict[str, Any]) -> None:
    async with running_sim() as sim:
        body = {"redirectUris": [REDIRECT], **spec}
        async with sim.session.post(sim.spot + "/_sim/oauth/clients", json=body) as resp:
            assert resp.status == 400


async def test_faults_apply_to_the_token_endpoint() -> None:
    async with running_sim() as sim, httpx.AsyncClient(base_url=sim.spot) as http:
        client = await _client(sim)
        user = await sim.account()
        fault = {"kind": "error_5xx", "pathPrefix": "/_oauth/access-token", "count": 1}
        await sim.admin("POST", "/_sim/faults", fault)
        code = await _code(sim, client, user["uid"])
        assert (await _tokens(http, client, code)).status_code == 503
        assert (await _tokens(http, client, code)).status_code == 200  # not executed the first time
