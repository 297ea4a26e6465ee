"""What the chaos run reads from the database and the instances to judge a multi-instance run.

Lease checks need the ``account_leases`` and ``gateway_instances`` tables (issue 19's leases
part adds them): without them :func:`lease_table_present` is False and the run says so in its
notes instead of judging leases. The stale-epoch metric (``kcgw_stale_epoch_writes_total``)
counts stale writes the fence REFUSED; a stale write that was ACCEPTED would show in the
database as a second move out of one state of an intent (two writers that both believed they
owned it), which :func:`forked_moves` finds from the audit chain on any version.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

STALE_METRIC = "kcgw_stale_epoch_writes_total"
LIVE_WITHIN_S = 15.0


async def table_present(conn: Any, name: str) -> bool:
    """True when the run's database has table ``name``."""
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name))


async def lease_table_present(conn: Any) -> bool:
    """True when the leases part (account_leases, gateway_instances) is in the schema."""
    return await table_present(conn, "account_leases") and await table_present(
        conn, "gateway_instances"
    )


@dataclass(frozen=True)
class Lease:
    """One account's lease row."""

    owner: str
    epoch: int
    expires_at: datetime


async def leases(conn: Any) -> dict[str, Lease]:
    """Every lease row, by account id."""
    rows = await conn.fetch(
        "SELECT account_id, owner_instance_id, epoch, expires_at FROM account_leases"
    )
    return {
        str(r["account_id"]): Lease(str(r["owner_instance_id"]), int(r["epoch"]), _utc(r[3]))
        for r in rows
    }


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def live_instances(conn: Any) -> set[str]:
    """Instances whose heartbeat is at most 15 s old (CLUSTER.md's definition of live)."""
    rows = await conn.fetch(
        "SELECT instance_id FROM gateway_instances "
        "WHERE heartbeat_at > now() - make_interval(secs => $1)",
        LIVE_WITHIN_S,
    )
    return {str(r["instance_id"]) for r in rows}


async def account_ids(conn: Any) -> set[str]:
    """Every connected exchange account."""
    return {str(r["id"]) for r in await conn.fetch("SELECT id FROM exchange_accounts")}


def most_leases(held: dict[str, Lease], instance_ids: list[str]) -> str:
    """The instance holding the most leases (the first one on a tie or with no leases)."""
    counts = {i: 0 for i in instance_ids}
    for lease in held.values():
        if lease.owner in counts:
            counts[lease.owner] += 1
    return max(instance_ids, key=lambda i: (counts[i], -instance_ids.index(i)))


async def unowned(conn: Any, excluded: set[str]) -> list[str]:
    """Accounts whose lease is missing, expired, or held by a dead or ``excluded`` instance."""
    now = datetime.now(UTC)
    live = await live_instances(conn) - excluded
    held = await leases(conn)
    return sorted(
        a
        for a in await account_ids(conn)
        if a not in held or held[a].expires_at <= now or held[a].owner not in live
    )


async def wait_owned(conn: Any, excluded: set[str], bound_s: float) -> tuple[float, list[str]]:
    """Seconds until every account's lease is held by a live, not excluded instance.

    Polls every 0.2 s up to ``bound_s``; returns (seconds, accounts still unowned at the end).
    """
    started = time.monotonic()
    left = await unowned(conn, excluded)
    while left and time.monotonic() - started < bound_s:
        await asyncio.sleep(0.2)
        left = await unowned(conn, excluded)
    return time.monotonic() - started, left


def metric_total(text: str, name: str) -> float | None:
    """The sum of every series of metric ``name`` in a Prometheus text page (None: absent)."""
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{[^}}]*\}})?\s+(\S+)$", re.MULTILINE)
    found = pattern.findall(text)
    return sum(float(v) for v in found) if found else None


async def forked_moves(conn: Any) -> list[str]:
    """Intents that were moved twice out of one state (a second, stale writer won a write).

    Every intent move is a compare-and-set audited as ``order.state`` {from, to}; a correct run
    has at most one move out of each state per intent.
    """
    rows = await conn.fetch(
        "SELECT subject, detail FROM audit_records WHERE action = 'order.state' ORDER BY seq"
    )
    moves: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        detail = row["detail"]
        detail = json.loads(detail) if isinstance(detail, str) else detail
        moves[(str(row["subject"]), str(detail.get("from")))] += 1
    return sorted({subject for (subject, _), n in moves.items() if n > 1})


async def intent_rows(conn: Any) -> dict[str, tuple[str, str]]:
    """Every order intent: id -> (clientOid, state)."""
    rows = await conn.fetch("SELECT id, client_oid, state FROM order_intents")
    return {str(r["id"]): (str(r["client_oid"]), str(r["state"])) for r in rows}
