"""Several real ``kcgateway serve`` processes, each in its own network namespace, on one database.

:class:`Cluster` starts, for one test or script run:

- ``kcgateway sim`` as its own process, listening on every host address (its control API
  answers loopback callers only; the instances reach it at the bridge address, from theirs);
- N gateway instances in production mode (``KCGW_MODE=prod``: explicit PostgreSQL URL, a KEK,
  pepper and audit key generated for the run, exchange keys only with an IP whitelist, no
  migration of their own), each in its own namespace (:mod:`tests.helpers.netns`) at its own
  address, all on port 8140 there, with ``KCGW_INSTANCE_ID=gw-<n>`` and ``KCGW_REDIS_URL``;
- PostgreSQL (the caller's fresh database, migrated here with ``kcgateway db upgrade``) and
  Redis reached through relays on the bridge (:mod:`tests.helpers.relay`): the shared
  127.0.0.1:6379, or a private ``redis-server`` on a port of its own that the run may stop and
  restart (never stop the shared one: other tests use it).

The simulator's accounts whitelist exactly the instances' addresses, so every exchange call
really comes from an instance's own address. Clients run on the host and bind extra addresses
of the bridge (:meth:`Cluster.client_session`), so the instances see distinct sources.
:meth:`Cluster.stop` always removes the processes, relays, namespaces and links.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
from scripts.exactly_once import (
    LOAD_LIMITS,
    Process,
    _admin_key,
    _json,
    free_port,
    kcgateway_command,
    wait_http,
)
from sqlalchemy.engine import make_url

from tests.helpers import netns
from tests.helpers.relay import Relays

GATEWAY_PORT = 8140
SYMBOL = "BTC-USDT"


def unavailable() -> str | None:
    """Why a cluster cannot run here (None: it can)."""
    reason = netns.unavailable()
    if reason is None and shutil.which("redis-server") is None:
        reason = "redis-server is not installed (apt-get install redis-server)"
    return reason


@dataclass(frozen=True)
class ClusterSpec:
    """What to start."""

    database_url: str  # an empty PostgreSQL database, postgresql+asyncpg://user@host:port/name
    workdir: Path
    instances: int = 3
    accounts: int = 3
    clients: int = 2
    private_redis: bool = False
    exchange_timeout_s: float = 2.0
    grace_s: float = 5.0
    reconcile_every_s: float = 0.5
    seed: int = 1
    funds: str = "10000000"
    #: the simulator's market-maker tick (0: quote once; a benchmark needs fresh prices, or the
    #: risk engine refuses orders on a last price older than its 5 s bound)
    sim_tick_ms: int = 0


async def redis_ping(host: str, port: int) -> bool:
    """True when a Redis server answers PING at ``host:port``."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(b"PING\r\n")
        return (await asyncio.wait_for(reader.readline(), 2)).startswith(b"+PONG")
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


class Cluster:
    """The processes, addresses and chaos levers of one multi-instance run."""

    def __init__(self, spec: ClusterSpec, session: aiohttp.ClientSession) -> None:
        self.spec = spec
        self.session = session
        self.net = netns.Netns(spec.instances, spec.clients)
        self.relays = Relays()
        self.work = spec.workdir
        self.gateways: list[Process] = []
        self.redis: Process | None = None
        self.redis_port = 0
        self.sim: Process | None = None
        self.sim_url = ""
        self.key = ""
        self.accounts: list[str] = []
        self.env: dict[str, str] = {}

    # ----------------------------------------------------------------- addresses and URLs
    def base(self, i: int) -> str:
        """Instance ``i``'s API base URL (its own address)."""
        return f"http://{self.net.address(i)}:{GATEWAY_PORT}"

    def instance_id(self, i: int) -> str:
        """Instance ``i``'s KCGW_INSTANCE_ID."""
        return f"gw-{i}"

    @property
    def headers(self) -> dict[str, str]:
        """The admin key's Authorization header."""
        return {"Authorization": f"Bearer {self.key}"}

    def client_session(self, j: int, limit: int = 100) -> aiohttp.ClientSession:
        """A session whose connections come from client address ``j`` (close it yourself).

        Idle connections are dropped after 1 s, before uvicorn's 5 s keep-alive closes them
        under a request being written (a loaded machine wakes the client late).
        """
        connector = aiohttp.TCPConnector(
            limit=limit, local_addr=(self.net.client_address(j), 0), keepalive_timeout=1.0
        )
        return aiohttp.ClientSession(connector=connector)

    # ----------------------------------------------------------------- start and stop
    async def start(self) -> None:
        """Namespaces, relays, simulator, Redis, secrets, the first instance, accounts, the rest."""
        self.work.mkdir(parents=True, exist_ok=True)
        self.net.create()
        host = self.net.host_address
        await self._start_sim(host)
        await self._start_redis(host)
        self._write_secrets()
        await self._cli("db", "upgrade")
        await self._cli("audit", "init-key", "--key-file", self.env["KCGW_AUDIT_KEY_FILE"])
        self.key = await _admin_key(self.host_env(), self.work / "cli.log")
        for i in range(self.spec.instances):
            self.gateways.append(self._gateway(i))
        await self.start_instance(0)
        for n in range(self.spec.accounts):
            await self._connect_account(n)
        limits = {"level": "gateway", "reason": "cluster load", "limits": LOAD_LIMITS}
        await _json(
            self.session, "PUT", f"{self.base(0)}/v1/risk/limits", json=limits,
            headers=self.headers,
        )  # fmt: skip
        await asyncio.gather(*(self.start_instance(i) for i in range(1, self.spec.instances)))

    async def _start_sim(self, host: str) -> None:
        spot, futures = free_port(), free_port()
        config = self.work / "sim.toml"
        config.write_text(f"tick_ms = {self.spec.sim_tick_ms}\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("KCGW_")}
        self.sim = Process(
            "simulator",
            [*kcgateway_command(), "sim", "--host", "0.0.0.0", "--spot-port", str(spot),  # noqa: S104
             "--futures-port", str(futures), "--seed", str(self.spec.seed), "--config",
             str(config)],
            env, self.work / "sim.log",
        )  # fmt: skip
        self.sim.start()
        self.sim_url = f"http://127.0.0.1:{spot}"  # its control API answers loopback only
        self._exchange_url = f"http://{host}:{spot}"  # the instances' way in
        self._futures_url = f"http://{host}:{futures}"
        await wait_http(self.session, f"{self.sim_url}/api/v1/timestamp", self.sim)
        price = {"symbol": SYMBOL, "price": "65000"}  # the risk engine prices against it
        await _json(self.session, "POST", f"{self.sim_url}/_sim/prices", json=price)

    async def _start_redis(self, host: str) -> None:
        if not self.spec.private_redis:
            port = self.relays.listen("redis", host, ("127.0.0.1", 6379))
            self._redis_url = f"redis://{host}:{port}/0"
            return
        self.redis_port = free_port()
        self.redis = Process(
            "redis",
            ["redis-server", "--port", str(self.redis_port), "--bind", host, "127.0.0.1",
             "--protected-mode", "no",  # the instances connect from the test bridge
             "--save", "", "--appendonly", "no", "--dir", str(self.work)],
            dict(os.environ), self.work / "redis.log",
        )  # fmt: skip
        await self.start_redis()
        self._redis_url = f"redis://{host}:{self.redis_port}/0"

    async def start_redis(self) -> None:
        """(Re)start the private Redis and wait for its PONG."""
        assert self.redis is not None, "only the private Redis is started and stopped"
        self.redis.start()
        for _ in range(300):
            if await redis_ping("127.0.0.1", self.redis_port):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("the private redis-server did not answer PING within 30 s")

    def stop_redis(self) -> None:
        """SIGKILL the private Redis (the shared one is never stopped)."""
        if self.redis is None:
            raise RuntimeError(
                "refusing to stop the shared Redis: use ClusterSpec(private_redis=True)"
            )
        self.redis.kill()

    def _write_secrets(self) -> None:
        """A KEK, a pepper and (later, by the CLI) an audit key shared by every instance."""
        pepper = self.work / "pepper.key"
        fd = os.open(pepper, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32))
        config = self.work / "gateway.toml"
        config.write_text(
            f"exchange_timeout_s = {self.spec.exchange_timeout_s}\n"
            f"reconcile_every_s = {self.spec.reconcile_every_s}\n",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("KCGW_")}
        env.update({
            "KCGW_MODE": "prod", "KCGW_DATABASE_URL": self.spec.database_url,
            "KCGW_KEK": base64.b64encode(secrets.token_bytes(32)).decode(),
            "KCGW_PEPPER_FILE": str(pepper),
            "KCGW_AUDIT_KEY_FILE": str(self.work / "audit.keys"),
            "KCGW_EXCHANGE_URL": self._exchange_url, "KCGW_EXCHANGE_FUTURES_URL": self._futures_url,
            "KCGW_RECONCILE_GRACE_S": str(self.spec.grace_s), "KCGW_CONFIG": str(config),
            "KCGW_DATA_DIR": str(self.work / "cli-data"),
        })  # fmt: skip
        self.env = env

    def host_env(self) -> dict[str, str]:
        """The environment of CLI commands run on the host (the database's own address)."""
        return dict(self.env)

    def instance_env(self, i: int) -> dict[str, str]:
        """Instance ``i``'s environment: its address, data dir, relayed database and Redis."""
        url = make_url(self.spec.database_url)
        pg_port = self.relays.listen(
            f"pg-{i}", self.net.host_address, (url.host or "127.0.0.1", url.port or 5432)
        )
        relayed = url.set(host=self.net.host_address, port=pg_port)
        return {
            **self.env,
            "KCGW_HOST": self.net.address(i), "KCGW_PORT": str(GATEWAY_PORT),
            "KCGW_DATA_DIR": str(self.work / f"gw-{i}"),
            "KCGW_DATABASE_URL": relayed.render_as_string(hide_password=False),
            "KCGW_INSTANCE_ID": self.instance_id(i), "KCGW_REDIS_URL": self._redis_url,
        }  # fmt: skip

    def _gateway(self, i: int) -> Process:
        args = [*self.net.exec_prefix(i), *kcgateway_command(), "serve"]
        return Process(f"gateway {i}", args, self.instance_env(i), self.work / f"gw-{i}.log")

    async def start_instance(self, i: int) -> None:
        """(Re)start instance ``i`` and wait until its /readyz answers 200."""
        self.gateways[i].start()
        await wait_http(self.session, f"{self.base(i)}/readyz", self.gateways[i], timeout_s=90)

    async def _cli(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            *kcgateway_command(), *args, env=self.host_env(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"kcgateway {' '.join(args)} failed: {err.decode()[-2000:]}")
        return out.decode()

    async def _connect_account(self, n: int) -> None:
        whitelist = [self.net.address(i) for i in range(self.spec.instances)]
        account = await _json(self.session, "POST", f"{self.sim_url}/_sim/accounts", json={
            "hf": True, "balances": {"USDT": self.spec.funds},
            "secret": secrets.token_hex(16), "passphrase": secrets.token_hex(8),
            "permissions": ["General", "Spot"], "ipWhitelist": whitelist,
        })  # fmt: skip
        name = f"acct{n}"
        connect = {
            "name": name, "apiKey": account["apiKey"], "secret": account["secret"],
            "passphrase": account["passphrase"],
        }  # fmt: skip
        await _json(
            self.session, "POST", f"{self.base(0)}/v1/accounts", json=connect,
            headers=self.headers,
        )  # fmt: skip
        self.accounts.append(name)

    def stop(self) -> None:
        """Stop every process, the relays and the namespaces (always safe to call)."""
        for gateway in self.gateways:
            with contextlib.suppress(Exception):
                if gateway.proc is not None and gateway.alive():
                    gateway.proc.send_signal(signal.SIGCONT)  # a paused one cannot exit
                gateway.stop()
        for proc in (self.sim, self.redis):
            if proc is not None:
                with contextlib.suppress(Exception):
                    proc.stop()
        self.relays.close()
        self.net.destroy()

    # ----------------------------------------------------------------- chaos levers
    def kill(self, i: int) -> None:
        """``kill -9`` instance ``i``."""
        self.gateways[i].kill()

    def pause(self, i: int) -> None:
        """SIGSTOP instance ``i`` (it keeps its sockets and connections, answering nothing)."""
        proc = self.gateways[i].proc
        assert proc is not None
        proc.send_signal(signal.SIGSTOP)

    def resume(self, i: int) -> None:
        """SIGCONT instance ``i``."""
        proc = self.gateways[i].proc
        assert proc is not None
        proc.send_signal(signal.SIGCONT)

    async def cut_database(self, i: int) -> int:
        """Terminate instance ``i``'s PostgreSQL backends (then close its relay's connections)."""
        ports = sorted(self.relays.upstream_ports(f"pg-{i}"))
        terminated = 0
        if ports:
            conn = await self.admin_connection()
            try:
                terminated = int(await conn.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND client_port = ANY($1::int[])",
                    ports,
                ))  # fmt: skip
            finally:
                await conn.close()
        return terminated + self.relays.cut(f"pg-{i}")

    async def admin_connection(self) -> Any:
        """A direct asyncpg connection to the run's database (close it yourself)."""
        url = make_url(self.spec.database_url)
        return await asyncpg.connect(
            host=url.host, port=url.port or 5432, user=url.username, database=url.database
        )

    async def metrics(self, i: int) -> str:
        """Instance ``i``'s /metrics text."""
        async with self.session.get(
            f"{self.base(i)}/metrics", timeout=aiohttp.ClientTimeout(total=10)
        ) as resp:
            return await resp.text()
