"""/readyz reports each exchange host, and is not ready while a configured one cannot be reached.

Before: only ``KCGW_EXCHANGE_URL`` (spot) could be set; against a separate ``kcgateway sim``,
futures calls went to KuCoin's real host and failed with "network connect" while /readyz said
ready.
"""

from __future__ import annotations

import socket
from pathlib import Path

from kcgateway.exchange.hosts import UNSET_FUTURES, exchange_hosts, host_probe
from kcgateway.exchange.rest import Hosts
from kcgateway.settings import load_settings
from tests.helpers.gateway import gateway_stack


def test_every_exchange_host_has_a_setting_and_a_safe_default() -> None:
    env = {"KCGW_EXCHANGE_URL": "https://api.kucoin.com"}
    assert exchange_hosts(load_settings(env)) == Hosts()  # KuCoin's three hosts
    sim = {"KCGW_EXCHANGE_URL": "http://127.0.0.1:8130"}
    hosts = exchange_hosts(load_settings(sim))
    assert (hosts.spot, hosts.broker) == ("http://127.0.0.1:8130", "http://127.0.0.1:8130")
    assert hosts.futures == UNSET_FUTURES  # never KuCoin's real futures host
    both = {**sim, "KCGW_EXCHANGE_FUTURES_URL": "http://127.0.0.1:8131",
            "KCGW_EXCHANGE_BROKER_URL": "http://127.0.0.1:8132"}  # fmt: skip
    assert exchange_hosts(load_settings(both)) == Hosts(
        "http://127.0.0.1:8130", "http://127.0.0.1:8131", "http://127.0.0.1:8132"
    )


async def test_readyz_reports_each_host(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        stack.services.start()
        resp = await stack.http.get("/readyz")
        assert resp.status_code == 200, resp.text
        hosts = resp.json()["exchange"]
        assert set(hosts) == {"spot", "futures", "broker"}
        assert all(h["reachable"] for h in hosts.values()), hosts
        assert hosts["futures"]["url"] == stack.sim.futures_url
        # no KCGW_REDIS_URL: every budget stays in this process, as before #19
        assert (resp.json()["redis"], resp.json()["rate_budget"]) == ("unused", "local")

        with socket.socket() as closed:  # bound, not listening: connections are refused
            closed.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
            await stack.services.exchange_hosts.aclose()  # type: ignore[union-attr]
            stack.services.exchange_hosts = host_probe(
                Hosts(stack.sim.spot_url, dead, UNSET_FUTURES)
            )
            resp = await stack.http.get("/readyz")
        assert resp.status_code == 503, resp.text
        hosts = resp.json()["exchange"]
        assert hosts["spot"]["reachable"] is True
        assert hosts["futures"] == {"url": dead, "reachable": False,
                                    "detail": hosts["futures"]["detail"]}  # fmt: skip
        assert "cannot connect" in hosts["futures"]["detail"]
        assert hosts["broker"] == {"url": None, "reachable": False, "detail": "not configured"}
