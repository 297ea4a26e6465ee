"""Can the gateway reach each exchange host? For ``/readyz``, which reports every host.

:class:`HostProbe` sends one unsigned ``GET <host>/api/v1/timestamp`` per configured host (spot,
futures, broker) and counts ANY HTTP answer as reachable: the question is the network path (a
wrong URL, DNS, a firewall, the host down), not the endpoint. A host set to None is "not
configured" and not probed. Answers are kept for ``ttl_s`` so frequent readiness probes do not
spend the exchange's public rate budget.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

PATH = "/api/v1/timestamp"


@dataclass(frozen=True, slots=True)
class HostReach:
    """One host: its URL (None: not configured), reachable or not, and why not."""

    url: str | None
    reachable: bool
    detail: str = ""


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, (aiohttp.ClientConnectorDNSError, socket.gaierror)):
        return "the host name does not resolve"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or 'refused'})"
    return f"request failed ({type(exc).__name__})"


class HostProbe:
    """Reachability of the exchange hosts, cached for ``ttl_s``."""

    def __init__(
        self, hosts: Mapping[str, str | None], *, timeout_s: float = 2.0, ttl_s: float = 10.0
    ) -> None:
        self._hosts = dict(hosts)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._ttl = ttl_s
        self._cached: tuple[float, dict[str, HostReach]] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def check(self) -> dict[str, HostReach]:
        """Each host's reachability (probed at most once per ``ttl_s``)."""
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < self._ttl:
            return self._cached[1]
        names = list(self._hosts)
        found = await asyncio.gather(*(self._probe(self._hosts[n]) for n in names))
        result = dict(zip(names, found, strict=True))
        self._cached = (now, result)
        return result

    async def _probe(self, url: str | None) -> HostReach:
        if url is None:
            return HostReach(None, reachable=False, detail="not configured")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.get(url.rstrip("/") + PATH) as resp:
                await resp.read()
                return HostReach(url, reachable=True, detail=f"HTTP {resp.status}")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return HostReach(url, reachable=False, detail=_why(exc))

    async def aclose(self) -> None:
        """Close the probe's connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None
