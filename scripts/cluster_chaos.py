"""Chaos over three gateway instances: issue 19's multi-instance check, full size or reduced.

Starts a cluster (``tests/helpers/netcluster.py``: the simulator, three production-mode
``kcgateway serve`` processes each in its own network namespace and address, one PostgreSQL
database, a private Redis), checks a key's IP allow-list from two real source addresses on
every instance, then sends N orders (each with its own Idempotency-Key, a third with their own
clientOid) spread over the instances and two client addresses. A client whose instance does not
answer (connection error, timeout, 5xx) retries the SAME key on the next instance, as a bot
behind a load balancer does. Meanwhile, at points spread over the run:

1. ``kill -9`` of an instance, restarted at once;
2. SIGSTOP of the instance holding the most leases (``--pause-s``), SIGCONT after;
3. the Redis server stopped (``--redis-down-s``) and restarted;
4. one instance's PostgreSQL backends terminated (``pg_terminate_backend`` on exactly its
   connections) and its relay's connections cut.

Then a halt is set through the risk API on one instance and every other instance is polled
with a probe order until it refuses it (the halt reached it). After the run settles it checks,
from the database and the simulator (``GET /_sim/orders/counts`` by clientOid):

- 0 duplicate orders at the exchange, no exchange order without an intent (strays);
- 0 lost intents: every acknowledged reply's intent exists and reached a final or open state
  that matches the simulator; no intent left pending;
- 0 stale writes accepted: no intent moved twice out of one state (audit chain); the
  ``kcgw_stale_epoch_writes_total`` metric (refused stale writes) is reported when present;
- every lease owned again within 15 s after the kill and during the pause (only when the
  ``account_leases`` table exists: the run's notes say when it does not);
- the halt reached every instance within 1 s (seconds from the halt's answer to the first
  refused probe, so a loaded machine's request latency counts too).

With ``--no-strict-timing`` (the reduced run in the test suite, on a loaded machine) the two
time goals are reported as notes; the halt must still reach every instance and every lease be
owned again within 30 s.

It prints a summary and one JSON line, and exits 1 on any violation. Full size::

    .venv/bin/python scripts/cluster_chaos.py --orders 10000 --pause-s 60 --redis-down-s 10

(root, iproute2 and redis-server needed; ``--database-url`` uses an existing empty PostgreSQL
database, otherwise a fresh one is created on 127.0.0.1:5432 and dropped at the end; ``--workdir
DIR`` keeps the logs). ``make test`` runs it reduced in tests/integration/test_cluster_chaos.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

if __package__ in (None, ""):  # run as a file: make the repository's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import cluster_checks as checks
from tests.helpers.cluster_driver import Driver, FailoverClient
from tests.helpers.netcluster import Cluster, ClusterSpec, unavailable

from kcgateway.store.types import OrderState
from scripts.exactly_once import (
    RISK_REFUSED,
    Outcome,
    _judge,
    _pg_admin,
    _pg_users,
    cancelled_on_signal,
)


@dataclass(frozen=True)
class Options:
    """What one run does."""

    orders: int = 10000
    concurrency: int = 24
    accounts: int = 6
    pause_s: float = 60.0
    redis_down_s: float = 10.0
    settle_s: float = 90.0
    seed: int = 1
    database_url: str | None = None
    workdir: Path | None = None
    strict_timing: bool = True


@dataclass
class Report:
    """What the run saw; ``violations`` empty means every goal held."""

    orders: int
    events: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def line(self) -> dict[str, Any]:
        """The JSON line."""
        return {
            "check": "cluster_chaos", "orders": self.orders, **self.figures,
            "events": self.events, "notes": self.notes, "violations": self.violations,
            "ok": not self.violations,
        }  # fmt: skip


_T0 = time.monotonic()


def say(text: str) -> None:
    """A timestamped progress line."""
    print(f"[{time.monotonic() - _T0:6.1f}s] {text}", flush=True)


@contextlib.asynccontextmanager
async def database(opts: Options, report: Report) -> AsyncIterator[str]:
    """The run's PostgreSQL database: the given one, or a fresh one dropped afterwards."""
    if opts.database_url:
        yield opts.database_url
        return
    user = await _pg_users("127.0.0.1", 5432)
    name = f"kcgw_chaos_{secrets.token_hex(6)}"
    await _pg_admin("127.0.0.1", 5432, user, f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://{user}@127.0.0.1:5432/{name}"
    finally:
        if report.violations:
            say(f"database {name} kept for inspection")
        else:
            await _pg_admin(
                "127.0.0.1", 5432, user, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            )


async def judge(cluster: Cluster, client: FailoverClient, report: Report, opts: Options) -> None:
    """Settle, then the exactly-once, lost-intent and stale-write checks."""
    conn = await cluster.admin_connection()
    try:
        started = time.monotonic()
        pending = {s.value for s in (OrderState.PERSISTED, OrderState.SENT, OrderState.UNKNOWN,
                                     OrderState.ACKED)}  # fmt: skip
        rows = await checks.intent_rows(conn)
        while time.monotonic() - started < opts.settle_s:
            if not any(state in pending for _, state in rows.values()):
                break
            await asyncio.sleep(1.0)
            rows = await checks.intent_rows(conn)
        report.figures["settle_seconds"] = round(time.monotonic() - started, 1)
        async with cluster.session.get(f"{cluster.sim_url}/_sim/orders/counts") as resp:
            counts = (await resp.json())["accepted"]
        out = Outcome(client.sent + client.probes, 0, "postgres")
        intents = [(oid, OrderState(state)) for oid, state in rows.values()]
        _judge(out, intents, counts, client)
        report.violations += out.violations
        missing = sorted(i for i in client.acked if i not in rows)
        if missing:
            report.violations.append(f"{len(missing)} acknowledged intents missing: {missing[:3]}")
        forked = await checks.forked_moves(conn)
        if forked:
            report.violations.append(f"{len(forked)} intents moved twice out of one state "
                                     f"(a stale write accepted): {forked[:3]}")  # fmt: skip
        report.figures.update({
            "intents": len(rows), "states": dict(Counter(s for _, s in rows.values())),
            "sim_orders": out.sim_orders, "duplicates": len(out.duplicates),
            "strays": len(out.strays), "lost": len(out.lost) + len(missing),
            "unresolved": len(out.unresolved), "forked_moves": len(forked),
        })  # fmt: skip
    finally:
        await conn.close()
    await stale_metric(cluster, report)


async def stale_metric(cluster: Cluster, report: Report) -> None:
    """Sum ``kcgw_stale_epoch_writes_total`` (refused stale writes) over the instances."""
    total: float | None = None
    for i in range(cluster.spec.instances):
        found = checks.metric_total(await cluster.metrics(i), checks.STALE_METRIC)
        if found is not None:
            total = (total or 0.0) + found
    report.figures["stale_epoch_writes_refused"] = total
    if total is None:
        report.notes.append(f"{checks.STALE_METRIC} not exported (leases part not merged)")


async def run(opts: Options) -> Report:
    """One whole run."""
    report = Report(opts.orders)
    work = opts.workdir or Path(tempfile.mkdtemp(prefix="kcgw-chaos-"))
    async with database(opts, report) as url, aiohttp.ClientSession() as session:
        spec = ClusterSpec(url, work, accounts=opts.accounts, private_redis=True, seed=opts.seed)
        cluster = Cluster(spec, session)
        try:
            await cluster.start()
            say(f"cluster up: {[cluster.base(i) for i in range(spec.instances)]}")
            driver = Driver(cluster, report.events, report.notes, report.violations, say,
                            strict=opts.strict_timing)  # fmt: skip
            report.figures["allowlist"] = await driver.allowlist()
            client = FailoverClient(cluster, opts.seed, opts.concurrency)
            try:
                await driver.orders_under_chaos(client, opts.orders, opts.pause_s,
                                                opts.redis_down_s)  # fmt: skip
                report.figures["halt_seconds"] = await driver.halt_reaches_all(client)
                await judge(cluster, client, report, opts)
            finally:
                await client.aclose()
            report.figures.update(client.figures())
            report.figures.update(driver.figures)
            refused = client.replies.get(RISK_REFUSED, 0)
            if refused > opts.orders // 10:
                report.violations.append(f"{refused} risk refusals: the run tested too little")
        finally:
            cluster.stop()
    if report.violations or opts.workdir is not None:
        say(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return report


def parse(argv: Sequence[str] | None = None) -> Options:
    """Command-line options."""
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--orders", type=int, default=10000)
    p.add_argument("--concurrency", type=int, default=24)
    p.add_argument("--accounts", type=int, default=6)
    p.add_argument("--pause-s", type=float, default=60.0)
    p.add_argument("--redis-down-s", type=float, default=10.0)
    p.add_argument("--settle-s", type=float, default=90.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--database-url", default=None, help="an existing, empty PostgreSQL database")
    p.add_argument("--workdir", type=Path, default=None, help="keep logs here")
    p.add_argument(
        "--no-strict-timing",
        dest="strict",
        action="store_false",
        help="missed time goals (halt 1 s, leases 15 s) are notes, not violations",
    )
    a = p.parse_args(argv)
    return Options(
        orders=a.orders, concurrency=a.concurrency, accounts=a.accounts, pause_s=a.pause_s,
        redis_down_s=a.redis_down_s, settle_s=a.settle_s, seed=a.seed,
        database_url=a.database_url, workdir=a.workdir, strict_timing=a.strict,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run once; print violations, notes and the JSON line; 1 on any violation."""
    reason = unavailable()
    if reason is not None:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(cancelled_on_signal(run(parse(argv))))
    except asyncio.CancelledError:
        say("interrupted: processes, namespaces and database cleaned up")
        return 2
    for note in report.notes:
        say(f"note: {note}")
    for violation in report.violations:
        say(f"VIOLATION: {violation}")
    print(json.dumps(report.line()), flush=True)
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
