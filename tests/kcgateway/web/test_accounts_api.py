"""Connecting a KuCoin key: checked at the exchange first, refused when it can move funds."""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path
from typing import Any

import pytest

from kcgateway.gateway.accounts import refusal
from kcgateway.kucoin import models as m
from tests.helpers.gateway import Stack, auth, gateway_stack


def info(permission: str, whitelist: str | None = None) -> m.ApiKeyInfo:
    return m.ApiKeyInfo(
        api_key="k", api_version=3, permission=permission, ip_whitelist=whitelist,
        created_at=0, uid=1,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("permission", "whitelist", "prod", "refused"),
    [
        ("General,Spot", None, False, None),
        ("General,Spot,Transfer", "1.2.3.4", False, "Transfer"),
        ("General,Withdrawal", "1.2.3.4", False, "Withdrawal"),
        ("General,Spot,InnerTransfer", "1.2.3.4", True, "'InnerTransfer'"),
        ("General,Spot,Earn", "1.2.3.4", False, "'Earn'"),
        ("general,spot,margin,futures", "1.2.3.4", True, None),
        ("General,Spot,FlexTransfer,Withdrawal", "1.2.3.4", False, "'FlexTransfer', 'Withdrawal'"),
        ("General,Spot", None, True, "IP whitelist"),
        ("General,Spot", "203.0.113.7", True, None),
    ],
)
def test_refusal(permission: str, whitelist: str | None, prod: bool, refused: str | None) -> None:
    reason = refusal(info(permission, whitelist), require_ip_whitelist=prod)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason


def _sim_key(stack: Stack, **spec: Any) -> dict[str, Any]:
    return stack.sim.create_account(
        {"secret": secrets.token_hex(16), "passphrase": secrets.token_hex(8), **spec}
    )


def _body(name: str, key: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "apiKey": key["apiKey"],
        "secret": key["secret"],
        "passphrase": key["passphrase"],
    }


async def test_connect_then_trade_and_refusals(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        h = auth(tenant.admin_key)
        good = _sim_key(stack, permissions=["General", "Spot"], balances={"USDT": "100"})
        resp = await stack.http.post("/v1/accounts", json=_body("second", good), headers=h)
        assert resp.status_code == 201, resp.text
        assert good["secret"] not in resp.text and good["passphrase"] not in resp.text
        assert resp.json()["permissions"] == ["General", "Spot"]
        balances = await stack.http.get("/v1/balances?account=second", headers=h)
        assert balances.status_code == 200
        names = [a["name"] for a in (await stack.http.get("/v1/accounts", headers=h)).json()]
        assert sorted(names) == ["main", "second"]

        resp = await stack.http.post("/v1/accounts", json=_body("second", good), headers=h)
        assert resp.status_code == 409
        assert resp.json()["error"] == "account_name_taken"

        risky = _sim_key(stack, permissions=["General", "Spot", "Transfer"])
        resp = await stack.http.post("/v1/accounts", json=_body("risky", risky), headers=h)
        assert resp.status_code == 422
        assert resp.json()["error"] == "exchange_key_refused"
        assert "Transfer" in resp.json()["message"]

        wrong = {**_body("wrong", good), "secret": secrets.token_hex(16)}
        resp = await stack.http.post("/v1/accounts", json=wrong, headers=h)
        # the caller typed the key: a 4xx to fix, not an exchange failure (found by schemathesis)
        assert resp.status_code == 422
        assert resp.json()["error"] == "exchange_auth_failed"
        assert "check apiKey, secret" in resp.json()["message"]

        # values that cannot travel in an HTTP header are refused before the exchange is asked
        for field, value in (("apiKey", "abc\ndef"), ("passphrase", "pass\x0eword")):
            resp = await stack.http.post(
                "/v1/accounts", json={**_body("ctl", good), field: value}, headers=h
            )
            assert resp.status_code == 422, resp.text
            assert resp.json()["problems"][0]["field"] == f"body.{field}"
        assert wrong["secret"] not in resp.text

        # a malformed body is refused without echoing any of it back
        bad = {**_body("bad", good), "keyVersion": 9}
        resp = await stack.http.post("/v1/accounts", json=bad, headers=h)
        assert resp.status_code == 422
        assert good["secret"] not in resp.text and good["passphrase"] not in resp.text

        # an allow-list, not a deny-list: InnerTransfer and names we do not know are refused
        inner = _sim_key(stack, permissions=["General", "Spot", "InnerTransfer"])
        resp = await stack.http.post("/v1/accounts", json=_body("inner", inner), headers=h)
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"] == "exchange_key_refused"
        assert "'InnerTransfer'" in resp.json()["message"]
        # the simulator only creates keys with the permissions it knows: give one a name KuCoin
        # might add tomorrow through its state (what /api/v1/user/api-key then answers)
        novel = _sim_key(stack, permissions=["General", "Spot"])
        sim_keys = stack.sim.state.keys
        sim_keys[novel["apiKey"]] = dataclasses.replace(
            sim_keys[novel["apiKey"]], permissions=frozenset({"General", "Spot", "LeadTrade"})
        )
        resp = await stack.http.post("/v1/accounts", json=_body("novel", novel), headers=h)
        assert resp.status_code == 422, resp.text
        assert "'LeadTrade'" in resp.json()["message"]
        assert "allowed: Futures, General, Margin, Spot" in resp.json()["message"]
        names = [a["name"] for a in (await stack.http.get("/v1/accounts", headers=h)).json()]
        assert "inner" not in names and "novel" not in names

        stack.services.accounts.require_ip_whitelist = True
        open_key = _sim_key(stack, permissions=["General", "Spot"])
        resp = await stack.http.post("/v1/accounts", json=_body("open", open_key), headers=h)
        assert resp.status_code == 422 and "whitelist" in resp.json()["message"]
