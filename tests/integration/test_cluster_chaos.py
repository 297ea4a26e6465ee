"""Issue 19's chaos run, reduced: three real instances in their own network namespaces.

``scripts/cluster_chaos.py`` starts the simulator, three production-mode ``kcgateway serve``
processes (each in its own network namespace, at its own address), one fresh PostgreSQL
database and a private Redis; checks a key's IP allow-list from two real source addresses;
sends orders spread over the instances while it kills one (-9), SIGSTOPs one, stops Redis and
terminates one instance's database connections; halts an account through one instance and
probes the others; then checks by clientOid at the simulator and in the database: no duplicate,
no stray, no lost or unresolved intent, no intent moved twice out of one state. Here: 200
orders, a 3 s pause, Redis down 2 s, the time goals as notes (a loaded CI machine). The full size
(10,000 orders, 60 s pause) is the command in the script's docstring.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from scripts.exactly_once import RISK_REFUSED

from tests.conftest import REPO_ROOT, services_required
from tests.helpers.databases import postgres_user_or_skip
from tests.helpers.netcluster import unavailable

ORDERS = int(os.environ.get("KCGW_CLUSTER_CHAOS_N", "200"))


def _needs_cluster() -> None:
    reason = unavailable()
    if reason is not None:
        if services_required():
            pytest.fail(f"the cluster test must run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    postgres_user_or_skip()


@pytest.mark.slow
@pytest.mark.postgres
def test_three_instances_survive_kill_pause_redis_and_database_cuts() -> None:
    """0 duplicates, 0 lost intents, 0 stale writes; the halt reaches every instance."""
    _needs_cluster()
    args = [
        "--orders", str(ORDERS), "--concurrency", "12", "--accounts", "3", "--pause-s", "3",
        "--redis-down-s", "2", "--settle-s", "60", "--seed", "11", "--no-strict-timing",
    ]  # fmt: skip
    proc = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(REPO_ROOT / "scripts" / "cluster_chaos.py"), *args],
        capture_output=True, text=True, timeout=1500, cwd=REPO_ROOT, check=False,
    )  # fmt: skip
    print(proc.stdout[-6000:])
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line; stderr:\n{proc.stderr[-3000:]}"
    result = json.loads(lines[-1])
    assert result["violations"] == [] and proc.returncode == 0, result
    events = " | ".join(result["events"])
    for happened in ("kill -9", "SIGSTOP", "SIGCONT", "Redis stopped", "Redis restarted", "cut"):
        assert happened in events, f"chaos event {happened!r} missing: {events}"
    assert result["db_connections_cut"] > 0, "the instance had database connections to cut"
    # every instance answered orders, and retries crossed instances under the same key
    assert set(result["acked_by_instance"]) == {"gw-0", "gw-1", "gw-2"}
    assert result["failovers"] > 0
    assert result["allowlist"] == {"allowed_source": [200] * 3, "other_source": [401] * 3}
    assert result["duplicates"] == result["strays"] == result["lost"] == 0
    assert result["unresolved"] == result["forked_moves"] == result["unanswered"] == 0
    assert all(s is not None for s in result["halt_seconds"].values()), result["halt_seconds"]
    refused = int(result["replies"].get(RISK_REFUSED, 0))
    assert result["intents"] >= ORDERS - refused, "an intent per accepted order"
