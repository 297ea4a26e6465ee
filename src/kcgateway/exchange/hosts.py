"""The exchange's three REST hosts as the settings name them, and their /readyz probe.

Spot is ``KCGW_EXCHANGE_URL``; futures and broker are ``KCGW_EXCHANGE_FUTURES_URL`` and
``KCGW_EXCHANGE_BROKER_URL``. With KuCoin's spot host the other two default to KuCoin's; with
any other spot URL (a ``kcgateway sim``) the broker host defaults to the spot URL (the
simulator serves both on one port) and futures to :data:`UNSET_FUTURES`: its calls fail at
once, where they used to reach KuCoin's real futures host with a paper account's keys.
"""

from __future__ import annotations

from kcgateway.exchange.reach import HostProbe
from kcgateway.exchange.rest import Hosts
from kcgateway.settings import Settings

#: where the CLI's services would call the exchange when none is configured (never contacted
#: except by `accounts add`, which asks for KCGW_EXCHANGE_URL first)
NO_EXCHANGE = "http://exchange-not-configured.invalid"

#: KuCoin's own REST hosts
KUCOIN = Hosts()
#: where futures calls go when no futures host is configured: they fail at once, never reaching
#: KuCoin's real futures host with a paper account's keys
UNSET_FUTURES = "http://futures-host-not-configured.invalid"


def same_host(url: str, other: str) -> bool:
    """True when two base URLs name the same host (case and a trailing slash aside)."""
    return url.rstrip("/").lower() == other.rstrip("/").lower()


def exchange_hosts(settings: Settings) -> Hosts:
    """The three REST hosts the settings name (defaults: the module docstring)."""
    spot = settings.exchange_url or NO_EXCHANGE
    kucoin = same_host(spot, KUCOIN.spot)
    futures = settings.exchange_futures_url or (KUCOIN.futures if kucoin else UNSET_FUTURES)
    broker = settings.exchange_broker_url or (KUCOIN.broker if kucoin else spot)
    return Hosts(spot=spot, futures=futures, broker=broker)


def host_probe(hosts: Hosts) -> HostProbe:
    """The /readyz probe of ``hosts`` (a host nobody configured is reported, not probed)."""
    named = {"spot": hosts.spot, "futures": hosts.futures, "broker": hosts.broker}
    unset = (NO_EXCHANGE, UNSET_FUTURES)
    return HostProbe({k: None if v in unset else v for k, v in named.items()})


def host_lines(hosts: Hosts) -> list[str]:
    """What the start prints about the exchange hosts."""
    futures = hosts.futures
    if futures == UNSET_FUTURES:
        futures = "not configured: set KCGW_EXCHANGE_FUTURES_URL (futures calls fail until then)"
    return [f"exchange: spot {hosts.spot}", f"          futures {futures}",
            f"          broker {hosts.broker}"]  # fmt: skip
