"""Network namespaces for the multi-instance tests: one bridge, one namespace per instance.

Each run makes a bridge ``kso<tag>`` on the host with a private /24 of its own (chosen at random
among 10.200-249.x.0/24 and checked against the host's addresses and routes) and, per instance,
a namespace ``kso<tag>-<n>`` joined to the bridge by a veth pair, with the address ``.11+n``
and a default route through the bridge's ``.1``. Clients stay on the host but bind extra
addresses of the bridge (``.2``, ``.3``, ...), so an instance sees each client's own source
address: a key's IP allow-list is tested with real, distinct sources. Everything the host
serves to the instances (the simulator, the relays to PostgreSQL and Redis) listens on ``.1``.

Names carry a random tag (parallel runs never collide) and :meth:`Netns.destroy` removes every
namespace and link it made, also after a failed setup. Needs root and iproute2's ``ip``.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field

PREFIX = "kso"  # kcgateway scale-out: every name this module makes starts with it
FIRST_INSTANCE = 11
FIRST_CLIENT = 2


def unavailable() -> str | None:
    """Why namespaces cannot be made here (None: they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add): run as root, as CI does"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed (apt-get install iproute2)"
    return None


def _ip(*args: str) -> str:
    proc = subprocess.run(  # noqa: S603 - fixed iproute2 arguments
        ["ip", *args], capture_output=True, text=True, check=False  # noqa: S607 - on PATH
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def _free_subnet() -> str:
    """A 10.x.y prefix no address or route of the host uses."""
    used = _ip("-o", "addr") + _ip("route")
    rng = random.SystemRandom()
    for _ in range(200):
        prefix = f"10.{rng.randint(200, 249)}.{rng.randint(0, 255)}"
        if f"{prefix}." not in used:
            return prefix
    raise RuntimeError("no free 10.200-249.x.0/24 subnet found for the test bridge")


@dataclass
class Netns:
    """A bridge and one namespace per instance; addresses by index."""

    instances: int
    clients: int
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    prefix: str = ""
    made: list[tuple[str, str]] = field(default_factory=list)  # ("netns"|"link", name)

    @property
    def bridge(self) -> str:
        """The host's bridge interface."""
        return f"{PREFIX}{self.tag}"

    @property
    def host_address(self) -> str:
        """The host's address on the bridge: what the instances reach the host's services at."""
        return f"{self.prefix}.1"

    def namespace(self, i: int) -> str:
        """Instance ``i``'s namespace."""
        return f"{PREFIX}{self.tag}-{i}"

    def address(self, i: int) -> str:
        """Instance ``i``'s own address."""
        return f"{self.prefix}.{FIRST_INSTANCE + i}"

    def client_address(self, j: int) -> str:
        """Client ``j``'s source address (on the host's bridge)."""
        return f"{self.prefix}.{FIRST_CLIENT + j}"

    def exec_prefix(self, i: int) -> list[str]:
        """The argv prefix that runs a command inside instance ``i``'s namespace."""
        return ["ip", "netns", "exec", self.namespace(i)]

    def create(self) -> Netns:
        """Make the bridge, the client addresses and the namespaces; undo all on failure."""
        try:
            self.prefix = _free_subnet()
            _ip("link", "add", self.bridge, "type", "bridge")
            self.made.append(("link", self.bridge))
            _ip("addr", "add", f"{self.host_address}/24", "dev", self.bridge)
            for j in range(self.clients):
                _ip("addr", "add", f"{self.client_address(j)}/32", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for i in range(self.instances):
                self._add_namespace(i)
        except BaseException:
            self.destroy()
            raise
        return self

    def _add_namespace(self, i: int) -> None:
        ns, host_end, ns_end = self.namespace(i), f"{self.bridge}h{i}", f"{self.bridge}n{i}"
        _ip("netns", "add", ns)
        self.made.append(("netns", ns))
        _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        self.made.append(("link", host_end))  # deleting one end deletes the pair
        _ip("link", "set", host_end, "master", self.bridge, "up")
        _ip("link", "set", ns_end, "netns", ns)
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "addr", "add", f"{self.address(i)}/24", "dev", ns_end)
        _ip("-n", ns, "link", "set", ns_end, "up")
        _ip("-n", ns, "route", "add", "default", "via", self.host_address)

    def destroy(self) -> None:
        """Remove every namespace and link made here (those already gone are skipped)."""
        for kind, name in reversed(self.made):
            try:
                _ip("netns", "del", name) if kind == "netns" else _ip("link", "del", name)
            except RuntimeError:
                continue
        self.made.clear()
