"""Exactly once under faults and process kills: issue #7's end-to-end check.

Starts ``kcgateway sim`` as its own process (it outlives the gateway), then ``kcgateway serve``
(dev mode with ``KCGW_EXCHANGE_URL`` pointing at that simulator, a temporary data directory, a
small reconcile grace), creates an admin key with ``kcgateway keys create-admin``, connects a
generated simulator account through ``POST /v1/accounts``, installs faults on order placement
(lost request, lost response after execution, delay past the gateway's exchange timeout, 5xx,
429, connection reset), and submits N orders through the HTTP API with some concurrency. Every
order has its own ``Idempotency-Key``; a client retries connection errors, 5xx and 202
("outcome unknown") with the SAME key, as a real bot does. Meanwhile the gateway is SIGKILLed
at random points spread over the run and restarted on the same data directory and port.

After the submissions end, the faults are cleared and the run waits (up to ``--settle-s``,
60 s by default) for the reconciler, then checks, reading the simulator's control API
(``GET /_sim/orders/counts``) and the gateway's database:

- no clientOid was accepted more than once by the simulator (no duplicate orders);
- every simulator order belongs to an intent (none placed behind the gateway's back);
- every intent in a placed state (acked/open/filled/cancelled) exists at the simulator once,
  every ``not_placed``/``rejected`` intent does not exist there;
- no intent is left in a non-final state (persisted/sent/unknown/acked).

It prints a summary and one JSON line, and exits 1 on any violation.

Full size (issue #7), from the repository root after ``make install``::

    .venv/bin/python scripts/exactly_once.py --submissions 10000 --kills 5 --database sqlite
    .venv/bin/python scripts/exactly_once.py --submissions 10000 --kills 5 --database postgres

``--database postgres`` creates a fresh database on ``--pg-host``/``--pg-port`` (user
``postgres`` or ``root``, trust auth, as in the test setup) and drops it afterwards; or pass
``--database-url`` to use an existing, empty one. CI runs a reduced size through
``tests/integration/test_exactly_once_kills.py`` (1,000 submissions, 2 kills, both engines).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import asyncpg  # type: ignore[import-untyped]

from kcgateway.store.database import open_database
from kcgateway.store.ledger import AuditRepository, OrderIntentRepository
from kcgateway.store.types import OrderState

S = OrderState
T = TypeVar("T")
PENDING = frozenset({S.PERSISTED, S.SENT, S.UNKNOWN, S.ACKED})
PLACED = frozenset({S.ACKED, S.OPEN, S.FILLED, S.CANCELLED})
NOT_PLACED = frozenset({S.NOT_PLACED, S.REJECTED})
ORDER_PATHS = ("/api/v1/hf/orders",)
PG_USERS = ("postgres", "root")
FAULT_KINDS = ("drop_request", "lose_response", "latency", "error_5xx", "rate_limit", "reset")


@dataclass(frozen=True)
class Options:
    """What one run does (the command-line options)."""

    submissions: int = 1000
    kills: int = 2
    database: str = "sqlite"
    database_url: str | None = None
    concurrency: int = 20
    seed: int = 1
    fault_probability: float = 0.03
    exchange_timeout_s: float = 1.0
    grace_s: float = 8.0
    settle_s: float = 60.0
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    workdir: Path | None = None
    quiet: bool = False
    faults: tuple[str, ...] = FAULT_KINDS


@dataclass
class Outcome:
    """What a run saw; ``violations`` empty means exactly once held."""

    submissions: int
    kills: int
    database: str
    intents: int = 0
    states: dict[str, int] = field(default_factory=dict)
    replies: dict[str, int] = field(default_factory=dict)
    client_retries: int = 0
    went_unknown: int = 0
    sim_orders: int = 0
    duplicates: list[str] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    phantoms: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    unanswered: int = 0
    settle_seconds: float = 0.0
    restart_seconds: list[float] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    violations: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The JSON line: counts, never whole lists."""
        return {
            "check": "exactly_once",
            "database": self.database,
            "submissions": self.submissions,
            "kills": self.kills,
            "intents": self.intents,
            "states": self.states,
            "replies": self.replies,
            "client_retries": self.client_retries,
            "went_unknown": self.went_unknown,
            "sim_orders": self.sim_orders,
            "duplicates": len(self.duplicates),
            "strays": len(self.strays),
            "lost": len(self.lost),
            "phantoms": len(self.phantoms),
            "unresolved": len(self.unresolved),
            "unanswered": self.unanswered,
            "settle_seconds": round(self.settle_seconds, 1),
            "restart_seconds": [round(s, 1) for s in self.restart_seconds],
            "elapsed_seconds": round(self.elapsed_seconds, 1),
            "violations": self.violations,
            "ok": not self.violations,
        }


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def kcgateway_command() -> list[str]:
    """The ``kcgateway`` console script of this interpreter's environment."""
    beside = Path(sys.executable).with_name("kcgateway")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("kcgateway")
    if found is None:
        raise SystemExit("kcgateway is not installed in this environment: run `make install`")
    return [found]


class Process:
    """A child process whose output goes to a log file; killed (by its own pid) on exit."""

    def __init__(self, name: str, args: Sequence[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.args = list(args)
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or restart) the process, appending to its log."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - our own console script, fixed args
                self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None


async def wait_http(
    session: aiohttp.ClientSession, url: str, proc: Process, timeout_s: float = 60.0
) -> None:
    """Poll ``url`` until it answers 200; fail with the process's log tail if it dies."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if not proc.alive():
            tail = proc.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{proc.name} exited during startup; log tail:\n{tail}")
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, OSError):
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer {url} within {timeout_s} s")


def fault_rules(opts: Options) -> list[dict[str, Any]]:
    """The injected faults, each on a share of order placements."""
    p = opts.fault_probability
    delay_ms = int(opts.exchange_timeout_s * 1000 * 1.5)  # past the gateway's exchange timeout
    rules: list[dict[str, Any]] = [
        {"kind": "drop_request", "probability": p},
        {"kind": "lose_response", "probability": p},
        {"kind": "latency", "probability": p, "latencyMs": delay_ms},
        {"kind": "error_5xx", "probability": p, "status": 503},
        {"kind": "rate_limit", "probability": p, "resetMs": 300},  # a short storm each time
        {"kind": "reset", "probability": p},
    ]
    return [
        {**rule, "pathPrefix": path, "method": "POST"}
        for path in ORDER_PATHS
        for rule in rules
        if rule["kind"] in opts.faults
    ]


async def _admin_key(env: dict[str, str], log: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        *kcgateway_command(), "keys", "create-admin", "--tenant", "exactly-once",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"keys create-admin failed: {err.decode(errors='replace')}")
    key = out.decode().strip().splitlines()[-1].strip()
    with log.open("a") as handle:
        handle.write("admin key created (not logged)\n")
    return key


async def _pg_users(host: str, port: int) -> str:
    for user in PG_USERS:
        try:
            conn = await asyncpg.connect(host=host, port=port, user=user, database="postgres")
        except (OSError, asyncpg.PostgresError):
            continue
        await conn.close()
        return user
    raise RuntimeError(f"PostgreSQL is not reachable at {host}:{port} as {PG_USERS}")


async def _pg_admin(host: str, port: int, user: str, sql: str) -> None:
    conn = await asyncpg.connect(host=host, port=port, user=user, database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def database_url(opts: Options, data_dir: Path, out: Outcome) -> AsyncIterator[str]:
    """The gateway's database: the SQLite file in the data dir, or a fresh PostgreSQL one."""
    if opts.database_url:
        yield opts.database_url
    elif opts.database == "sqlite":
        yield f"sqlite+aiosqlite:///{data_dir / 'kcgateway.db'}"
    else:
        user = await _pg_users(opts.pg_host, opts.pg_port)
        name = f"kcgw_eo_{secrets.token_hex(6)}"
        await _pg_admin(opts.pg_host, opts.pg_port, user, f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+asyncpg://{user}@{opts.pg_host}:{opts.pg_port}/{name}"
        finally:
            if out.violations:  # the evidence: intents and their audit trail
                _say(opts, f"PostgreSQL database {name} kept for inspection")
            else:
                drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                await _pg_admin(opts.pg_host, opts.pg_port, user, drop)


class Client:
    """A trading bot: one order per Idempotency-Key, retried with the same key until answered."""

    def __init__(self, session: aiohttp.ClientSession, base: str, key: str, seed: int) -> None:
        self.session = session
        self.base = base
        self.headers = {"Authorization": f"Bearer {key}"}
        self.seed = seed
        self.replies: Counter[str] = Counter()
        self.retries = 0
        self.unanswered = 0
        self.done = 0

    def body(self, i: int) -> dict[str, Any]:
        """Order ``i``: a limit buy far below the book; a third carry their own clientOid.

        Most are IOC, so they end ``cancelled`` at once and the exchange would accept a second
        order with the same clientOid (a duplicate is visible). One in 64 is GTC and rests
        (``open``), staying under the exchange's 200 active orders per symbol at full size.
        """
        body: dict[str, Any] = {
            "account": "sim", "symbol": "BTC-USDT", "side": "buy", "type": "limit",
            "price": str(20000 - i % 500), "size": "0.001",
            "timeInForce": "GTC" if i % 64 == 0 else "IOC",
        }  # fmt: skip
        if i % 3 == 0:
            body["clientOid"] = f"eo{self.seed}-{i}"
        return body

    @staticmethod
    def retry_delay(status: int, unknown_retries: int) -> float | None:
        """Seconds to wait before asking again with the same key (None: a final answer)."""
        if status >= 500:
            return 0.2
        if status == 202 and unknown_retries < 3:  # outcome unknown: ask again, same key
            return 0.5
        return None

    async def submit(self, i: int, max_s: float = 120.0) -> None:
        """Send order ``i`` until a final answer (or ``max_s``), always with the same key."""
        headers = {**self.headers, "Idempotency-Key": f"eo-{self.seed}-{i}"}
        body = self.body(i)
        end = time.monotonic() + max_s
        unknown_retries = 0
        answer = "unanswered"
        while time.monotonic() < end:
            try:
                async with self.session.post(
                    f"{self.base}/v1/orders", json=body, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=15),
                ) as resp:  # fmt: skip
                    status = resp.status
                    raw = await resp.read()
            except (TimeoutError, aiohttp.ClientError, OSError):
                answer = "connection-error"
                self.retries += 1
                await asyncio.sleep(0.2)
                continue
            answer = str(status)
            if status == 422 and b'"error":"risk_rejected"' in raw:
                # the risk engine refused it (e.g. fail-closed on an account's figures right
                # after a restart): a final answer with nothing stored and nothing sent
                answer = RISK_REFUSED
            delay = self.retry_delay(status, unknown_retries)
            if status == 409 and b'"idempotency_in_progress"' in raw:
                delay = 0.5  # the first try under this key is still running (or died): again
            if delay is None:
                break
            unknown_retries += status == 202
            self.retries += 1
            await asyncio.sleep(delay)
        self.replies[answer] += 1
        code = answer.split(":", 1)[0]  # "422:risk_rejected" is a final answer too
        self.unanswered += not code.isdigit() or int(code) >= 500
        self.done += 1


async def _read_intents(url: str) -> list[tuple[str, OrderState]]:
    db = open_database(url)
    try:
        async with db.read() as session:
            rows = await OrderIntentRepository(session).in_states(list(OrderState))
        return [(r.client_oid, r.state) for r in rows]
    finally:
        await db.aclose()


async def _unknown_transitions(url: str) -> int:
    db = open_database(url)
    try:
        async with db.read() as session:
            records = await AuditRepository(session).all()
        return sum(
            1 for r in records if r.action == "order.state" and r.detail.get("to") == "unknown"
        )
    finally:
        await db.aclose()


async def _json(session: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> Any:
    async with session.request(method, url, **kw) as resp:
        data = await resp.json()
        if resp.status not in (200, 201):
            raise RuntimeError(f"{method} {url} answered {resp.status}: {data}")
        return data


def _gateway_env(opts: Options, db_url: str, data_dir: Path, port: int, sim: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCGW_")}
    config = data_dir.parent / "gateway.toml"
    config.write_text(
        f"exchange_timeout_s = {opts.exchange_timeout_s}\nreconcile_every_s = 0.5\n",
        encoding="utf-8",
    )
    env.update({
        "KCGW_MODE": "dev", "KCGW_DATA_DIR": str(data_dir), "KCGW_PORT": str(port),
        "KCGW_EXCHANGE_URL": sim, "KCGW_RECONCILE_GRACE_S": str(opts.grace_s),
        "KCGW_DATABASE_URL": db_url, "KCGW_CONFIG": str(config),
    })  # fmt: skip
    return env


#: the reply key of a submission the risk engine refused (422 risk_rejected: no intent)
RISK_REFUSED = "422:risk_rejected"
#: gateway-level risk limits for the run's one key at full speed (the defaults would refuse it
#: as a runaway bot: 10 orders/s per key, 20 per account); the checks all stay on
LOAD_LIMITS = {
    "keyOrdersPerSecond": 1_000_000,
    "keyOrdersPerMinute": 10_000_000,
    "accountOrdersPerSecond": 1_000_000,
    "accountOrdersPerMinute": 10_000_000,
    "dailyOrders": 10_000_000,
    "duplicateWindowMs": 1,
}

_T0 = time.monotonic()


def _say(opts: Options, text: str) -> None:
    if not opts.quiet:
        print(f"[{time.monotonic() - _T0:6.1f}s] {text}", flush=True)


@dataclass
class Harness:
    """The processes and URLs of one run."""

    opts: Options
    work: Path
    session: aiohttp.ClientSession
    db_url: str
    out: Outcome
    sim: Process
    sim_url: str
    base: str
    gateway: Process | None = None
    key: str = ""

    async def start(self, gw_port: int) -> None:
        """Simulator, admin key, gateway, a funded account connected through the API, faults."""
        opts = self.opts
        self.sim.start()
        await wait_http(self.session, f"{self.sim_url}/api/v1/timestamp", self.sim)
        # one print at the mid before the gateway starts: the risk engine refuses a symbol with
        # no last price, and takes its baseline price from the tickers it reads at start
        price = {"symbol": "BTC-USDT", "price": "65000"}
        await _json(self.session, "POST", f"{self.sim_url}/_sim/prices", json=price)
        env = _gateway_env(opts, self.db_url, self.work / "data", gw_port, self.sim_url)
        self.key = await _admin_key(env, self.work / "gateway.log")
        _say(opts, "simulator up, admin key created")
        self.gateway = Process(
            "gateway", [*kcgateway_command(), "serve"], env, self.work / "gateway.log"
        )
        self.gateway.start()
        await wait_http(self.session, f"{self.base}/readyz", self.gateway)
        _say(opts, "gateway up")
        account = await _json(self.session, "POST", f"{self.sim_url}/_sim/accounts", json={
            "hf": True, "balances": {"USDT": str(30 * opts.submissions + 1000)},
            "secret": secrets.token_hex(16), "passphrase": secrets.token_hex(8),
            "permissions": ["General", "Spot"],
        })  # fmt: skip
        connect = {
            "name": "sim", "apiKey": account["apiKey"], "secret": account["secret"],
            "passphrase": account["passphrase"],
        }  # fmt: skip
        headers = {"Authorization": f"Bearer {self.key}"}
        await _json(self.session, "POST", f"{self.base}/v1/accounts", json=connect, headers=headers)
        # the risk limits an operator gives one bot firing this fast; every check stays on
        limits = {"level": "gateway", "reason": "exactly-once load", "limits": LOAD_LIMITS}
        await _json(
            self.session, "PUT", f"{self.base}/v1/risk/limits", json=limits, headers=headers
        )
        for rule in fault_rules(opts):
            await _json(self.session, "POST", f"{self.sim_url}/_sim/faults", json=rule)

    async def submit_all(self) -> Client:
        """Every submission, with the gateway killed and restarted along the way."""
        opts = self.opts
        _say(opts, f"submitting {opts.submissions} orders, {opts.kills} kills, {opts.database}")
        client = Client(self.session, self.base, self.key, opts.seed)
        sem = asyncio.Semaphore(opts.concurrency)

        async def one(i: int) -> None:
            async with sem:
                await client.submit(i)

        killer = asyncio.create_task(self.killer(client))
        try:
            await asyncio.gather(*(one(i) for i in range(opts.submissions)))
            await killer
        finally:
            killer.cancel()
        await _json(self.session, "DELETE", f"{self.sim_url}/_sim/faults")
        _say(opts, "submissions done, faults cleared; waiting for the reconciler")
        return client

    async def killer(self, client: Client) -> None:
        """SIGKILL the gateway at random points spread over the run, restart it on the same dir."""
        assert self.gateway is not None  # noqa: S101 - started first
        n, k = self.opts.submissions, self.opts.kills
        rng = random.Random(self.opts.seed)  # noqa: S311 - kill points, not secrets
        points = sorted(int(n * (j + rng.uniform(0.3, 0.9)) / (k + 1)) for j in range(k))
        for point in points:
            while client.done < point:
                await asyncio.sleep(0.05)
            self.gateway.kill()
            started = time.monotonic()
            self.gateway.start()  # same data dir and port (the listener sets SO_REUSEADDR)
            await wait_http(self.session, f"{self.base}/readyz", self.gateway)
            self.out.restart_seconds.append(time.monotonic() - started)
            self.out.kills += 1
            _say(self.opts, f"killed and restarted the gateway at {client.done}/{n} submissions")

    async def settle_and_judge(self, client: Client) -> None:
        """Wait for every intent to settle (up to ``settle_s``), then check exactly once."""
        started = time.monotonic()
        intents = await _read_intents(self.db_url)
        while time.monotonic() - started < self.opts.settle_s:
            if not any(state in PENDING for _, state in intents):
                break
            await asyncio.sleep(1.0)
            intents = await _read_intents(self.db_url)
        self.out.settle_seconds = time.monotonic() - started
        counts = await _json(self.session, "GET", f"{self.sim_url}/_sim/orders/counts")
        self.out.went_unknown = await _unknown_transitions(self.db_url)
        _judge(self.out, intents, counts["accepted"], client)
        state = await _json(self.session, "GET", f"{self.sim_url}/_sim/state")
        if state["unexpectedErrors"]:
            _say(self.opts, f"note: simulator unexpectedErrors={state['unexpectedErrors']}")

    def stop(self) -> None:
        """Stop both processes."""
        if self.gateway is not None:
            self.gateway.stop()
        self.sim.stop()


async def run(opts: Options) -> Outcome:
    """One whole run; returns what it saw (``violations`` lists what broke)."""
    started = time.monotonic()
    out = Outcome(opts.submissions, 0, opts.database)
    work = opts.workdir or Path(tempfile.mkdtemp(prefix="kcgw-exactly-once-"))
    work.mkdir(parents=True, exist_ok=True)
    sim_port, fut_port, gw_port = free_port(), free_port(), free_port()
    sim_cfg = work / "sim.toml"
    # the default market makers quote once (no ticks): the risk engine needs a book to price
    # against; the orders (limit buys far below it) never trade with them
    sim_cfg.write_text("tick_ms = 0\n", encoding="utf-8")
    sim = Process(
        "simulator",
        [*kcgateway_command(), "sim", "--spot-port", str(sim_port), "--futures-port",
         str(fut_port), "--seed", str(opts.seed), "--config", str(sim_cfg)],
        {k: v for k, v in os.environ.items() if not k.startswith("KCGW_")}, work / "sim.log",
    )  # fmt: skip
    connector = aiohttp.TCPConnector(limit=opts.concurrency + 10)
    harness: Harness | None = None
    try:
        async with (
            database_url(opts, work / "data", out) as db_url,
            aiohttp.ClientSession(connector=connector) as session,
        ):
            harness = Harness(
                opts, work, session, db_url, out, sim,
                f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{gw_port}",
            )  # fmt: skip
            try:
                await harness.start(gw_port)
                client = await harness.submit_all()
                await harness.settle_and_judge(client)
            finally:
                harness.stop()
    finally:
        sim.stop()
        if out.violations or opts.workdir is not None:
            _say(opts, f"logs and data kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    out.elapsed_seconds = time.monotonic() - started
    return out


def _judge(
    out: Outcome, intents: list[tuple[str, OrderState]], counts: dict[str, int], client: Client
) -> None:
    """Fill the outcome's findings and violations."""
    out.intents = len(intents)
    out.states = dict(Counter(state.value for _, state in intents))
    out.replies = dict(client.replies)
    out.client_retries = client.retries
    out.unanswered = client.unanswered
    out.sim_orders = sum(counts.values())
    known = {oid for oid, _ in intents}
    out.duplicates = sorted(oid for oid, n in counts.items() if n > 1)
    out.strays = sorted(oid for oid in counts if oid not in known)
    for oid, state in intents:
        accepted = counts.get(oid, 0)
        if state in PENDING:
            out.unresolved.append(oid)
        if state in PLACED and state is not S.ACKED and accepted == 0:
            out.lost.append(oid)
        if state in NOT_PLACED and accepted > 0:
            out.phantoms.append(oid)
    checks = (
        (out.duplicates, "clientOids accepted more than once by the simulator"),
        (out.strays, "simulator orders no intent knows"),
        (out.lost, "intents in a placed state the simulator never accepted"),
        (out.phantoms, "intents marked not placed/rejected that exist at the simulator"),
        (out.unresolved, "intents still pending after the settle time"),
    )
    for found, what in checks:
        if found:
            out.violations.append(f"{len(found)} {what}, e.g. {found[:3]}")
    if out.intents > out.submissions:
        out.violations.append(f"{out.intents} intents for {out.submissions} submissions")


def parse(argv: Sequence[str] | None = None) -> Options:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--submissions", type=int, default=10000)
    p.add_argument("--kills", type=int, default=5)
    p.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--database-url", default=None, help="an existing, empty database instead")
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--fault-probability", type=float, default=0.03, help="per fault kind")
    p.add_argument("--exchange-timeout-s", type=float, default=1.0)
    p.add_argument("--grace-s", type=float, default=8.0, help="KCGW_RECONCILE_GRACE_S")
    p.add_argument("--settle-s", type=float, default=60.0)
    p.add_argument("--pg-host", default="127.0.0.1")
    p.add_argument("--pg-port", type=int, default=5432)
    p.add_argument("--workdir", type=Path, default=None, help="keep logs and data here")
    p.add_argument("--faults", default=",".join(FAULT_KINDS), help="comma-separated kinds")
    a = p.parse_args(argv)
    return Options(
        submissions=a.submissions, kills=a.kills, database=a.database,
        database_url=a.database_url, concurrency=a.concurrency, seed=a.seed,
        fault_probability=a.fault_probability, exchange_timeout_s=a.exchange_timeout_s,
        grace_s=a.grace_s, settle_s=a.settle_s, pg_host=a.pg_host, pg_port=a.pg_port,
        workdir=a.workdir, faults=tuple(k for k in a.faults.split(",") if k),
    )  # fmt: skip


async def cancelled_on_signal(work: Awaitable[T]) -> T:
    """``work``, cancelled on SIGINT/SIGTERM (so its processes and database are cleaned up)."""
    task = asyncio.current_task()
    assert task is not None  # noqa: S101 - inside asyncio.run
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    return await work


async def _run_stoppable(opts: Options) -> Outcome:
    """:func:`run`, cancelled (so its processes and database are cleaned up) on SIGINT/SIGTERM."""
    return await cancelled_on_signal(run(opts))


def main(argv: Sequence[str] | None = None) -> int:
    """Run once, print the summary and one JSON line; 1 on any violation (2: interrupted)."""
    opts = parse(argv)
    try:
        out = asyncio.run(_run_stoppable(opts))
    except asyncio.CancelledError:
        _say(opts, "interrupted: simulator and gateway stopped")
        return 2
    for violation in out.violations:
        _say(opts, f"VIOLATION: {violation}")
    _say(opts, f"states={out.states} replies={out.replies} kills={out.kills}")
    print(json.dumps(out.summary()), flush=True)  # the machine-readable line
    return 1 if out.violations else 0


if __name__ == "__main__":
    sys.exit(main())
