"""The clients and the chaos of a multi-instance run (used by scripts/cluster_chaos.py).

:class:`FailoverClient` is a bot behind a load balancer: order ``i`` goes first to instance
``i mod N`` from client address ``i mod clients``; when that instance does not answer
(connection error, timeout, 5xx) the SAME Idempotency-Key is retried on the next instance.
:class:`Driver` runs the chaos at points spread over the orders and the allow-list and halt
checks, appending what it did to ``events``, what it could not judge to ``notes`` and what
broke to ``violations``. The time goals (halt within 1 s, leases within 15 s) are violations
with ``strict`` timing (the full-size script) and notes otherwise (the reduced run in the test
suite, which must stay robust on a loaded machine); either way the halt must reach every
instance and every lease must be owned again within 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp
from scripts.exactly_once import RISK_REFUSED, Client, _json

from tests.helpers import cluster_checks as checks
from tests.helpers.netcluster import Cluster

HALT_BOUND_S = 1.0
LEASE_BOUND_S = 15.0
EVENTUAL_S = 30.0  # what must happen at all, however loaded the machine
ORDER_TIMEOUT_S = 8.0


class FailoverClient(Client):
    """Orders spread over the instances, retried elsewhere on failure.

    One bot host: every order comes from client address 0. The gateway key is one key, and a
    key that trades from a second address is what the stolen-key detector halts
    (``risk.detector.new_ip``, as it must: once halts reach every instance, the second address
    halted the whole run). Distinct sources are tested by :meth:`Driver.allowlist`.
    """

    def __init__(self, cluster: Cluster, seed: int, concurrency: int) -> None:
        self.sessions = [cluster.client_session(0, limit=concurrency)]
        super().__init__(self.sessions[0], "", cluster.key, seed)
        self.cluster = cluster
        self.concurrency = concurrency
        self.acked: set[str] = set()
        self.sent = 0
        self.probes = 0
        self.failovers = 0
        self.answered_by: Counter[str] = Counter()
        self.risk_codes: Counter[str] = Counter()

    def order(self, i: int) -> dict[str, Any]:
        """Order ``i`` (exactly_once's body) on account ``i mod accounts``."""
        body = self.body(i)
        body["account"] = self.cluster.accounts[i % len(self.cluster.accounts)]
        return body

    async def post(self, k: int, j: int, body: dict[str, Any], key: str) -> tuple[int, bytes]:
        """One POST /v1/orders to instance ``k`` from client address ``j``."""
        headers = {**self.headers, "Idempotency-Key": key}
        async with self.sessions[j].post(
            f"{self.cluster.base(k)}/v1/orders", json=body, headers=headers,
            timeout=aiohttp.ClientTimeout(total=ORDER_TIMEOUT_S),
        ) as resp:  # fmt: skip
            return resp.status, await resp.read()

    async def submit(self, i: int, max_s: float = 240.0) -> None:
        """Send order ``i`` until a final answer, failing over to the next instance."""
        n = self.cluster.spec.instances
        k, j, body = i % n, i % len(self.sessions), self.order(i)
        key, end, unknown_retries, answer = f"ch-{self.seed}-{i}", time.monotonic() + max_s, 0, ""
        status, raw = 0, b""
        self.sent += 1
        while time.monotonic() < end:
            try:
                status, raw = await self.post(k, j, body, key)
            except (TimeoutError, aiohttp.ClientError, OSError):
                answer, self.retries, self.failovers = (
                    "connection-error",
                    self.retries + 1,
                    self.failovers + 1,
                )
                k = (k + 1) % n
                await asyncio.sleep(0.1)
                continue
            answer = RISK_REFUSED if status == 422 and b'"risk_rejected"' in raw else str(status)
            delay = self.retry_delay(status, unknown_retries)
            if delay is None:
                break
            if status != 202:  # 5xx or 409: ask another instance
                k = (k + 1) % n
            unknown_retries += status == 202
            self.retries += 1
            await asyncio.sleep(delay)
        self._record(answer, status, raw, k)

    @staticmethod
    def retry_delay(status: int, unknown_retries: int) -> float | None:
        """exactly_once's rule, and 409 (the same key still running elsewhere) is retried too."""
        return 0.2 if status == 409 else Client.retry_delay(status, unknown_retries)

    def _record(self, answer: str, status: int, raw: bytes, k: int) -> None:
        self.replies[answer or "unanswered"] += 1
        if answer == RISK_REFUSED:  # which checks refused: a run that tested too little says why
            with contextlib.suppress(ValueError, TypeError, KeyError):
                for failure in json.loads(raw)["failures"]:
                    self.risk_codes[str(failure["code"])] += 1
        code = answer.split(":", 1)[0]
        self.unanswered += not code.isdigit() or int(code) >= 500
        self.done += 1
        if status in (200, 201, 202):
            self.acked.add(str(json.loads(raw)["id"]))
            self.answered_by[self.cluster.instance_id(k)] += 1

    def figures(self) -> dict[str, Any]:
        """What the clients saw."""
        return {
            "replies": dict(self.replies), "client_retries": self.retries,
            "failovers": self.failovers, "unanswered": self.unanswered,
            "acked_by_instance": dict(self.answered_by), "probes": self.probes,
            "risk_codes": dict(self.risk_codes),
        }  # fmt: skip

    async def aclose(self) -> None:
        """Close the client sessions."""
        for session in self.sessions:
            await session.close()


class Driver:
    """Chaos, allow-list and halt checks against one cluster."""

    def __init__(
        self, cluster: Cluster, events: list[str], notes: list[str], violations: list[str],
        say: Callable[[str], None], *, strict: bool = True,
    ) -> None:  # fmt: skip
        self.cluster = cluster
        self.strict = strict
        self.events, self.notes, self.violations, self.say = events, notes, violations, say
        self.figures: dict[str, Any] = {}

    def event(self, text: str) -> None:
        """Record and print one chaos event."""
        self.events.append(text)
        self.say(text)

    def timed(self, text: str) -> None:
        """A missed time goal: a violation with strict timing, a note otherwise."""
        (self.violations if self.strict else self.notes).append(text)

    async def allowlist(self) -> dict[str, list[int]]:
        """A read key allowed from client address 0 only, tried from addresses 0 and 1 on each."""
        c = self.cluster
        body = {"owner": "allowlist", "scopes": ["read"], "ipAllowlist": [c.net.client_address(0)]}
        created = await _json(c.session, "POST", f"{c.base(0)}/v1/keys", json=body,
                              headers=c.headers)  # fmt: skip
        headers = {"Authorization": f"Bearer {created['key']}"}
        seen: dict[str, list[int]] = {"allowed_source": [], "other_source": []}
        sessions = [c.client_session(0), c.client_session(1)]
        try:
            for i in range(c.spec.instances):
                for name, session in zip(seen, sessions, strict=True):
                    async with session.get(f"{c.base(i)}/v1/accounts", headers=headers) as resp:
                        seen[name].append(resp.status)
        finally:
            for session in sessions:
                await session.close()
        if set(seen["allowed_source"]) != {200} or set(seen["other_source"]) != {401}:
            self.violations.append(f"IP allow-list not enforced by source address: {seen}")
        return seen

    async def orders_under_chaos(
        self, client: FailoverClient, n: int, pause_s: float, redis_down_s: float
    ) -> None:
        """Send ``n`` orders while the chaos runs; both end before this returns."""
        sem = asyncio.Semaphore(client.concurrency)

        async def one(i: int) -> None:
            async with sem:
                await client.submit(i)

        started = time.monotonic()
        chaos = asyncio.create_task(self.chaos(client, n, pause_s, redis_down_s))
        try:
            await asyncio.gather(*(one(i) for i in range(n)))
            self.figures["orders_seconds"] = round(time.monotonic() - started, 1)
            await chaos
        finally:
            chaos.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await chaos

    async def chaos(self, client: FailoverClient, n: int, pause_s: float, down_s: float) -> None:
        """kill -9, SIGSTOP, Redis down, database connections cut: at 15/35/55/75% of the run."""
        c = self.cluster

        async def at(share: float) -> None:
            while client.done < share * n:
                await asyncio.sleep(0.05)

        conn = await c.admin_connection()
        try:
            leased = await checks.lease_table_present(conn)
            if not leased:
                self.notes.append("account_leases/gateway_instances absent: lease checks "
                                  "skipped (the leases part is not merged)")  # fmt: skip
            await at(0.15)
            await self.kill_and_restart(conn, leased)
            await at(0.35)
            await self.pause(conn, leased, pause_s)
            await at(0.55)
            await self.redis_outage(down_s)
            await at(0.75)
            cut = await c.cut_database(0)
            self.figures["db_connections_cut"] = cut
            self.event(f"cut {cut} database connections of {c.instance_id(0)}")
        finally:
            await conn.close()

    async def _lease_wait(self, conn: Any, excluded: set[str], what: str) -> None:
        seconds, left = await checks.wait_owned(conn, excluded, EVENTUAL_S)
        self.figures.setdefault("lease_takeover_seconds", []).append(round(seconds, 2))
        if left:
            self.violations.append(
                f"leases not owned again {EVENTUAL_S} s after {what}: {left[:3]}"
            )
        elif seconds > LEASE_BOUND_S:
            self.timed(f"leases owned again {seconds:.1f} s after {what} (goal {LEASE_BOUND_S} s)")

    async def kill_and_restart(self, conn: Any, leased: bool) -> None:
        """kill -9 instance 1; with leases, wait for the others to take its leases first."""
        c, victim = self.cluster, 1
        c.kill(victim)
        self.event(f"kill -9 {c.instance_id(victim)}")
        if leased:
            await self._lease_wait(conn, {c.instance_id(victim)}, "the kill")
        started = time.monotonic()
        await c.start_instance(victim)
        self.figures["restart_seconds"] = round(time.monotonic() - started, 1)
        self.event(f"restarted {c.instance_id(victim)}")

    async def pause(self, conn: Any, leased: bool, pause_s: float) -> None:
        """SIGSTOP the instance holding the most leases for ``pause_s`` (and until leases moved)."""
        c = self.cluster
        ids = [c.instance_id(i) for i in range(c.spec.instances)]
        victim = 2
        if leased:
            victim = ids.index(checks.most_leases(await checks.leases(conn), ids))
        else:
            self.notes.append("paused gw-2 (no lease table to find the instance with most leases)")
        c.pause(victim)
        started = time.monotonic()
        self.event(f"SIGSTOP {ids[victim]}")
        try:
            if leased:
                await self._lease_wait(conn, {ids[victim]}, "the SIGSTOP")
            await asyncio.sleep(max(0.0, pause_s - (time.monotonic() - started)))
        finally:
            c.resume(victim)
        self.event(f"SIGCONT {ids[victim]} after {time.monotonic() - started:.1f} s")

    async def redis_outage(self, down_s: float) -> None:
        """Stop the private Redis for ``down_s``; note what /readyz says meanwhile."""
        c = self.cluster
        c.stop_redis()
        self.event("Redis stopped")
        await asyncio.sleep(down_s)
        async with c.session.get(f"{c.base(0)}/readyz") as resp:
            ready = await resp.json()
        if "redis" in ready:
            self.figures["readyz_redis_while_down"] = ready["redis"]
            if ready["redis"] != "down":
                self.violations.append(f"/readyz said redis={ready['redis']!r} with Redis stopped")
        else:
            self.notes.append("/readyz has no 'redis' key yet (the budget part is not merged)")
        await c.start_redis()
        self.event(f"Redis restarted after {down_s:.1f} s")

    async def halt_reaches_all(self, client: FailoverClient) -> dict[str, float | None]:
        """Halt one account through instance 0; seconds until each instance refuses its orders."""
        c = self.cluster
        account = c.accounts[0]
        halt = {"level": "account", "target": account, "reason": "chaos: halt propagation"}
        await _json(c.session, "POST", f"{c.base(0)}/v1/risk/halt", json=halt, headers=c.headers)
        started = time.monotonic()
        seconds = await asyncio.gather(
            *(self._until_refused(client, i, account, started) for i in range(c.spec.instances))
        )
        resume = {"level": "account", "target": account, "reason": "chaos: done"}
        await _json(
            c.session, "POST", f"{c.base(0)}/v1/risk/resume", json=resume, headers=c.headers
        )
        found = {c.instance_id(i): s for i, s in enumerate(seconds)}
        never = [k for k, v in found.items() if v is None]
        late = {k: v for k, v in found.items() if v is not None and v > HALT_BOUND_S}
        if never:
            self.violations.append(f"the halt never reached {never} ({EVENTUAL_S} s)")
        if late:
            self.timed(f"halt reached {late} later than {HALT_BOUND_S} s (seconds to a refusal)")
        return found

    async def _until_refused(
        self, client: FailoverClient, i: int, account: str, started: float
    ) -> float | None:
        """Probe orders to instance ``i`` until the risk engine refuses them (None: 30 s passed)."""
        while time.monotonic() - started < EVENTUAL_S:
            client.probes += 1
            body = {**client.order(client.probes), "account": account}
            body["clientOid"] = f"probe-{client.seed}-{client.probes}"
            status, raw = await client.post(i, 0, body, f"probe-{client.seed}-{client.probes}")
            elapsed = time.monotonic() - started
            if status == 422 and b'"risk_rejected"' in raw:
                return round(elapsed, 3)
            if status in (200, 201, 202):
                client.acked.add(str(json.loads(raw)["id"]))
            await asyncio.sleep(0.05)
        return None
