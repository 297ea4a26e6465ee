"""Forged, replayed, expired, oversized, wrong-IP and unknown-bot signals are all refused alike.

Every refusal is the same 401 body; the reason is in the bot's signal log (and the log line),
no order is placed, and a good signal still goes through; a rotated secret loses no signal.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from kcgateway.gateway.apikeys import Scope
from tests.helpers.gateway import Stack, auth, gateway_stack
from tests.helpers.signals import (
    TV_IP,
    add_paper_account,
    create_bot,
    send_standard,
    send_tradingview,
    standard_request,
    threecommas_body,
    tradingview_body,
)

BUY = {"action": "buy", "symbol": "BTC-USDT"}
WHSEC_OTHER = "whsec_" + "QUJD" * 11  # a well-formed key that is not the bot's


async def _setup(stack: Stack) -> str:
    tenant = await stack.add_tenant("t1")
    await add_paper_account(stack, tenant)
    return await stack.key(tenant, Scope.BOTS_MANAGE, Scope.READ)


async def _log(stack: Stack, key: str, bot: dict[str, Any]) -> list[dict[str, Any]]:
    resp = await stack.http.get(f"/v1/signals?bot={bot['id']}&limit=500", headers=auth(key))
    assert resp.status_code == 200, resp.text
    rows: list[dict[str, Any]] = resp.json()
    return rows


def _assert_refused(responses: list[httpx.Response]) -> None:
    assert {r.status_code for r in responses} == {401}, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1, "every refusal must look the same"


async def test_standard_refusals_and_rotation(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        key = await _setup(stack)
        bot = await create_bot(stack, key, "standard")
        url = f"/v1/signals/{bot['id']}"
        raw, headers = standard_request(bot["secret"], BUY)
        stale, stale_headers = standard_request(
            bot["secret"], BUY, at=datetime.now(UTC) - timedelta(seconds=400)
        )
        future, future_headers = standard_request(
            bot["secret"], BUY, at=datetime.now(UTC) + timedelta(seconds=400)
        )
        forged, forged_headers = standard_request(WHSEC_OTHER, BUY)
        tampered = raw.replace(b"buy", b"sell")
        big = json.dumps({**BUY, "pad": "x" * 21_000}).encode()
        _, big_headers = standard_request(bot["secret"], {})
        missing = {k: v for k, v in headers.items() if k != "webhook-signature"}
        assert (await stack.http.post(url, content=raw, headers=headers)).status_code == 202
        refusals = [
            await stack.http.post(url, content=raw, headers=headers),  # replayed id
            await stack.http.post(url, content=stale, headers=stale_headers),
            await stack.http.post(url, content=future, headers=future_headers),
            await stack.http.post(url, content=forged, headers=forged_headers),
            await stack.http.post(url, content=tampered, headers=headers),
            await stack.http.post(url, content=big, headers=big_headers),
            await stack.http.post(url, content=raw, headers=missing),
            await stack.http.post(f"/v1/signals/{uuid.uuid4()}", content=raw, headers=headers),
        ]
        _assert_refused(refusals)
        # rotation with overlap: the old and the new secret both work, then only the new one
        rotated = await stack.http.post(
            f"/v1/bots/{bot['id']}/rotate-secret", json={"overlapSeconds": 60}, headers=auth(key)
        )
        assert rotated.status_code == 200
        new = {**bot, "secret": rotated.json()["secret"]}
        old_ok = await send_standard(stack.http, bot, BUY)
        new_ok = await send_standard(stack.http, new, BUY)
        both = standard_request(bot["secret"], BUY)[0]
        assert (old_ok.status_code, new_ok.status_code) == (202, 202)
        # the sender signs with both secrets during the overlap (the list form)
        msg = f"msg_{uuid.uuid4().hex}"
        _, h_old = standard_request(bot["secret"], BUY, msg_id=msg)
        raw2, h_new = standard_request(new["secret"], BUY, msg_id=msg)
        assert both
        pair = {
            **h_new,
            "webhook-signature": f"{h_old['webhook-signature']} {h_new['webhook-signature']}",
        }
        assert (await stack.http.post(url, content=raw2, headers=pair)).status_code == 202
        await stack.http.post(
            f"/v1/bots/{bot['id']}/rotate-secret", json={"overlapSeconds": 0}, headers=auth(key)
        )
        _assert_refused([await send_standard(stack.http, new, BUY), refusals[0]])
        assert stack.services.signals is not None
        await stack.services.signals.executor.drain()
        log = await _log(stack, key, bot)
        reasons = sorted(s["reason"] for s in log if s["status"] == "refused")
        assert reasons == sorted(
            ["replayed id", "stale or future timestamp", "stale or future timestamp",
             "bad signature", "bad signature", "body over 20 KB",
             "missing webhook-id, webhook-timestamp or webhook-signature", "bad signature"]
        ), reasons  # fmt: skip
        assert [s["status"] for s in log if s["status"] != "refused"] == ["done"] * 4


async def test_tradingview_refusals(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        key = await _setup(stack)
        bot = await create_bot(stack, key, "tradingview")
        tv = stack.client(TV_IP)
        good = tradingview_body(bot["secret"], "buy")
        assert (await send_tradingview(tv, bot, good)).status_code == 202
        old = (datetime.now(UTC) - timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
        refusals = [
            await send_tradingview(tv, bot, good),  # replayed body
            await send_tradingview(stack.http, bot, tradingview_body(bot["secret"], "buy")),  # IP
            await send_tradingview(tv, bot, tradingview_body(bot["secret"], "buy"), token="x" * 43),
            await send_tradingview(tv, bot, tradingview_body("y" * 43, "buy")),
            await send_tradingview(tv, bot, tradingview_body(bot["secret"], "buy", timestamp=old)),
            await send_tradingview(tv, bot, {k: v for k, v in good.items() if k != "secret"}),
            await tv.post(f"/v1/signals/{bot['id']}?token={bot['urlToken']}", content=b"[1]"),
        ]
        _assert_refused(refusals)
        await tv.aclose()
        reasons = {s["reason"] for s in await _log(stack, key, bot) if s["status"] == "refused"}
        assert reasons == {
            "replayed id", "address not in the bot's allow-list", "bad URL token", "bad secret",
            "stale or future timestamp", "body is not a JSON object",
        }  # fmt: skip


async def test_threecommas_refusals_and_max_lag(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        key = await _setup(stack)
        bot = await create_bot(stack, key, "3commas")
        other = await create_bot(stack, key, "3commas")
        url = f"/v1/signals/{bot['id']}"
        good = threecommas_body(bot["secret"], bot["id"], "enter_long")
        assert (await stack.http.post(url, json=good)).status_code == 202
        lagged = (datetime.now(UTC) - timedelta(seconds=20)).isoformat()
        refusals = [
            await stack.http.post(url, json=good),
            await stack.http.post(url, json={**good, "timestamp": lagged, "max_lag": "10"}),
            await stack.http.post(url, json={**good, "bot_uuid": other["id"], "nonce": 1}),
            await stack.http.post(url, json={**good, "secret": other["secret"], "nonce": 2}),
            await stack.http.post(url, json={**good, "timestamp": "soon", "nonce": 3}),
        ]
        _assert_refused(refusals)
        fine = await stack.http.post(url, json={**good, "timestamp": lagged, "max_lag": "60"})
        assert fine.status_code == 202
        bad_action = await stack.http.post(url, json={**good, "action": "moon", "nonce": 4})
        assert bad_action.status_code == 400 and "enter_long" in bad_action.text
