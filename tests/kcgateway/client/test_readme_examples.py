"""The README's JavaScript bot (plain fetch) places an order and follows events across a drop.

Runs the README's own code block with Node (skipped where Node is not installed), pointed at a
served gateway behind a proxy that cuts the connection once.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import pytest

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.event_feed import filter_for
from tests.helpers.gateway import auth, gateway_stack, order_body
from tests.helpers.served import CuttingProxy, served

README = Path(__file__).resolve().parents[3] / "README.md"
NODE = shutil.which("node")
WAIT_S = 60.0  # hang protection only


def _js_example() -> str:
    section = README.read_text().split("### JavaScript, with plain `fetch`", 1)[1]
    match = re.search(r"```js\n(.*?)```", section, re.S)
    assert match, "the README's JavaScript example"
    return match.group(1)


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
async def test_the_readme_javascript_bot_follows_events_across_a_drop(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack, served(stack.app) as base:
        tenant = await stack.add_tenant("t1")
        proxy = CuttingProxy(int(base.rsplit(":", 1)[1]))
        url = await proxy.start()
        code = _js_example().replace('"http://127.0.0.1:8140"', json.dumps(url))
        code = code.replace('"kgw_..."', json.dumps(tenant.admin_key)).replace('"paper"', '"main"')
        script = tmp_path / "bot.mjs"
        script.write_text(code)
        assert NODE is not None
        node = await asyncio.create_subprocess_exec(
            NODE, str(script), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        assert node.stdout is not None
        feed = stack.services.event_feed
        assert feed is not None
        ids: list[int] = []
        try:
            async with asyncio.timeout(WAIT_S):
                while not feed.hub.followers:  # the bot placed its order and follows
                    await asyncio.sleep(0.02)
                for n in range(2):
                    body = order_body("main", price=str(59000 - n))
                    resp = await stack.http.post(
                        "/v1/orders", json=body, headers=auth(tenant.admin_key)
                    )
                    assert resp.status_code == 201, resp.text
                    if n == 0:
                        line = await node.stdout.readline()
                        ids.append(int(line.split()[0]))
                        proxy.cut()  # the bot reconnects with Last-Event-ID
                while len(ids) < 4:  # two events per placement: sent, then acked
                    line = await node.stdout.readline()
                    assert line, "the bot stopped"
                    ids.append(int(line.split()[0]))
        finally:
            node.kill()
            await node.wait()
            await proxy.aclose()
        which = filter_for(tenant.id, {Scope.ADMIN})
        stored = [e.id for e in await feed.page(which, after=ids[0] - 1, limit=100)]
        assert ids == stored, "each event once, in order, none missed across the drop"
        assert proxy.cuts >= 1
