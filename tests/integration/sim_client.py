"""Helpers: kcgateway clients wired to a kucoin_sim running on real loopback sockets."""

from __future__ import annotations

from typing import Any

from kcgateway.clock import Clock
from kcgateway.exchange.rest import Hosts, KuCoinClient
from kcgateway.kucoin.signing import BrokerCredentials, Credentials
from kcgateway.secret import Secret
from tests.helpers import leaksuite
from tests.kucoin_sim.harness import Sim


def hosts(sim: Sim) -> Hosts:
    """The simulator serves spot, the ND broker paths and /_sim on one host."""
    return Hosts(spot=sim.spot, futures=sim.futures, broker=sim.spot)


def creds(account: dict[str, Any]) -> Credentials:
    leaksuite.register_exchange_key(account["apiKey"], account["secret"], account["passphrase"])
    return Credentials(account["apiKey"], Secret(account["secret"]), Secret(account["passphrase"]))


def broker_creds(account: dict[str, Any]) -> BrokerCredentials:
    leaksuite.register(f"broker key {account['brokerName']}", account["brokerKey"])
    return BrokerCredentials(
        account["partner"], account["brokerName"], Secret(account["brokerKey"])
    )


def client(
    sim: Sim,
    account: dict[str, Any] | None,
    *,
    clock: Clock | None = None,
    broker: dict[str, Any] | None = None,
    **kwargs: Any,
) -> KuCoinClient:
    return KuCoinClient(
        creds(account) if account else None,
        hosts=hosts(sim),
        clock=clock,
        broker=broker_creds(broker) if broker else None,
        **kwargs,
    )


async def accepted(sim: Sim, uid: str, client_oid: str) -> int:
    """How many orders the simulator accepted with this clientOid (control API)."""
    data = await sim.admin("GET", f"/_sim/orders?clientOid={client_oid}&uid={uid}")
    return int(data["accepted"])
