"""The cluster harness's parts: namespaces cleaned up, relays that can be cut, the checks."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest

from tests.conftest import services_required
from tests.helpers import cluster_checks, netns
from tests.helpers.relay import Relays


def _root_or_skip() -> None:
    reason = netns.unavailable()
    if reason is not None:
        if services_required():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


def _namespaces() -> str:
    return subprocess.run(
        ["ip", "netns", "list"],  # noqa: S607 - iproute2 on PATH
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_namespaces_get_distinct_addresses_and_are_removed() -> None:
    """Two runs at once never share names or subnets; destroy leaves nothing behind."""
    _root_or_skip()
    first, second = netns.Netns(2, 1).create(), netns.Netns(2, 1).create()
    try:
        assert first.namespace(0) in _namespaces() and second.namespace(1) in _namespaces()
        assert first.prefix != second.prefix and first.tag != second.tag
        assert first.address(0) != first.address(1) != first.client_address(0)
        # the namespace really has its own address and reaches the host's bridge address
        probe = subprocess.run(  # noqa: S603 - fixed arguments
            [*first.exec_prefix(0), "ip", "-o", "addr", "show"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert f"{first.address(0)}/24" in probe.stdout
    finally:
        first.destroy()
        second.destroy()
    left = _namespaces()
    assert first.namespace(0) not in left and second.namespace(1) not in left


async def _echo_server() -> tuple[asyncio.Server, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(100):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_a_relay_forwards_and_cuts_its_connections() -> None:
    """What the chaos run uses to find and cut one instance's database connections."""
    server, port = await _echo_server()
    relays = Relays()
    try:
        relay_port = relays.listen("db", "127.0.0.1", ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection("127.0.0.1", relay_port)
        writer.write(b"ping")
        assert await reader.read(4) == b"ping"
        assert len(relays.upstream_ports("db")) == 1
        assert relays.cut("db") == 1
        assert await asyncio.wait_for(reader.read(4), 10) == b""  # closed under the client
        assert relays.upstream_ports("db") == set()
        writer.close()
    finally:
        relays.close()
        server.close()


def test_metric_total_sums_every_series_and_tells_absent_from_zero() -> None:
    page = (
        "# TYPE kcgw_stale_epoch_writes_total counter\n"
        'kcgw_stale_epoch_writes_total{kind="reconcile"} 2.0\n'
        'kcgw_stale_epoch_writes_total{kind="stream"} 1.0\n'
        "kcgw_stale_epoch_writes_totalx 9\n"
    )
    assert cluster_checks.metric_total(page, cluster_checks.STALE_METRIC) == 3.0
    assert cluster_checks.metric_total("kcgw_other 1\n", cluster_checks.STALE_METRIC) is None


def test_most_leases_picks_the_busiest_instance() -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    held = {
        "a": cluster_checks.Lease("gw-1", 3, now),
        "b": cluster_checks.Lease("gw-1", 1, now),
        "c": cluster_checks.Lease("gw-0", 2, now),
    }
    assert cluster_checks.most_leases(held, ["gw-0", "gw-1", "gw-2"]) == "gw-1"
    assert cluster_checks.most_leases({}, ["gw-0", "gw-1"]) == "gw-0"


@pytest.mark.postgres
async def test_forked_moves_finds_an_intent_moved_twice_out_of_one_state() -> None:
    """The stale-write check can fail: two moves out of ``sent`` for one intent are reported."""
    import asyncpg  # type: ignore[import-untyped]

    from tests.helpers.databases import PG_HOST, PG_PORT, postgres_user_or_skip

    user = postgres_user_or_skip()
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=user, database="test")
    try:  # a temporary table shadows any audit_records of the database, for this session only
        await conn.execute(
            "CREATE TEMP TABLE audit_records (seq serial, action text, subject text, detail json)"
        )
        moves = [
            ("i1", "persisted", "sent"), ("i1", "sent", "acked"), ("i1", "acked", "open"),
            ("i2", "persisted", "sent"), ("i2", "sent", "unknown"), ("i2", "sent", "acked"),
        ]  # fmt: skip
        insert = "INSERT INTO audit_records (action, subject, detail) VALUES ($1, $2, $3)"
        for subject, src, dst in moves:
            await conn.execute(insert, "order.state", subject, json.dumps({"from": src, "to": dst}))
        await conn.execute(
            "INSERT INTO audit_records (action, subject, detail) VALUES ('key.created', 'i1', '{}')"
        )
        assert await cluster_checks.forked_moves(conn) == ["i2"]
    finally:
        await conn.close()
