"""The change bus: messages carry ids only, reach the OTHER buses, survive a cut listener."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from kcgateway.gateway.cluster.bus import (
    Change,
    LocalBus,
    LocalHub,
    PgBus,
    Topic,
    change_bus,
    decode,
    encode,
)
from kcgateway.store.database import Database, open_database

WITHIN_S = 30.0


class Heard:
    """What one subscriber was told, and how often it re-read."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.resyncs = 0
        self.arrived = asyncio.Event()

    async def handler(self, ident: str) -> None:
        self.ids.append(ident)
        self.arrived.set()

    async def resync(self) -> None:
        self.resyncs += 1
        self.arrived.set()

    async def next(self) -> None:
        await asyncio.wait_for(self.arrived.wait(), WITHIN_S)
        self.arrived.clear()


def test_a_payload_names_topic_origin_and_id_and_nothing_else() -> None:
    change = Change(Topic.KEY, "k_1234")
    assert encode(change, "a1") == "key:a1:k_1234"
    assert decode("key:a1:k_1234") == (change, "a1")
    assert decode("events:a1:") == (Change(Topic.EVENTS), "a1")


@pytest.mark.parametrize("payload", ["", "key", "key:a1", "nonsense:a1:x", ":a1:x"])
def test_a_payload_this_version_cannot_read_is_ignored(payload: str) -> None:
    assert decode(payload) is None


async def test_local_buses_of_one_hub_tell_each_other_but_not_themselves() -> None:
    hub = LocalHub()
    a, b = LocalBus(hub), LocalBus(hub)
    heard_a, heard_b = Heard(), Heard()
    a.subscribe(Topic.ACCOUNT, heard_a.handler)
    b.subscribe(Topic.ACCOUNT, heard_b.handler)
    a.publish(Topic.ACCOUNT, "acc_1")
    await heard_b.next()
    assert heard_b.ids == ["acc_1"] and heard_a.ids == []
    await a.aclose()
    b.publish(Topic.ACCOUNT, "acc_2")  # a left the hub
    await asyncio.sleep(0.05)
    assert heard_a.ids == [] and hub.buses == [b]
    await b.aclose()


async def test_every_subscriber_rereads_periodically_and_a_failure_stops_nothing() -> None:
    bus = LocalBus(resync_s=0.01)
    heard = Heard()

    async def broken() -> None:
        raise RuntimeError("database away")

    bus.subscribe(Topic.RISK, heard.handler, broken)
    bus.subscribe(Topic.KEY, heard.handler, heard.resync)
    bus.start()
    for _ in range(3):
        await heard.next()
    assert heard.resyncs >= 3
    await bus.aclose()


async def test_a_failing_handler_is_logged_and_the_next_message_still_arrives() -> None:
    hub = LocalHub()
    a, b = LocalBus(hub), LocalBus(hub)
    heard = Heard()
    calls = 0

    async def flaky(ident: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("first one fails")
        await heard.handler(ident)

    b.subscribe(Topic.KEY, flaky)
    a.publish(Topic.KEY, "k1")
    a.publish(Topic.KEY, "k2")
    await heard.next()
    assert heard.ids == ["k2"] and b.received == 2
    await a.aclose()
    await b.aclose()


def test_the_bus_follows_the_database(db: Database) -> None:
    assert isinstance(change_bus(db), LocalBus if db.is_sqlite else PgBus)


# ---- PostgreSQL LISTEN/NOTIFY -------------------------------------------------------------


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[Database]:
    database = open_database(pg_url)
    yield database
    await database.aclose()


def _pair(db: Database, **kw: float) -> tuple[PgBus, PgBus]:
    channel = f"kcgw_test_{secrets.token_hex(4)}"  # tests share the session's database
    return PgBus(db, channel=channel, **kw), PgBus(db, channel=channel, **kw)


@pytest.mark.postgres
async def test_notifications_reach_the_other_instance_batched_and_never_the_sender(
    pg: Database,
) -> None:
    a, b = _pair(pg)
    heard_a, heard_b = Heard(), Heard()
    a.subscribe(Topic.KEY, heard_a.handler)
    b.subscribe(Topic.KEY, heard_b.handler)
    for bus in (a, b):
        bus.start()
        await asyncio.wait_for(bus.wait_listening(), WITHIN_S)
    for ident in ("k1", "k2", "k1"):  # one batch: k1 once
        a.publish(Topic.KEY, ident)
    while len(heard_b.ids) < 2:
        await heard_b.next()
    await asyncio.sleep(0.1)
    assert sorted(heard_b.ids) == ["k1", "k2"] and heard_a.ids == []
    await a.aclose()
    await b.aclose()


@pytest.mark.postgres
async def test_closing_sends_what_was_still_waiting(pg: Database) -> None:
    """The CLI publishes and exits at once: its aclose must still send."""
    cli, gateway = _pair(pg)
    heard = Heard()
    gateway.subscribe(Topic.BROKER, heard.handler)
    gateway.start()
    await asyncio.wait_for(gateway.wait_listening(), WITHIN_S)
    cli.publish(Topic.BROKER)  # never started: only the sender runs
    await cli.aclose()
    await heard.next()
    assert heard.ids == [""]
    await gateway.aclose()


@pytest.mark.postgres
async def test_a_cut_listener_reconnects_and_rereads_everything(pg: Database) -> None:
    a, b = _pair(pg, resync_s=3600.0)
    heard = Heard()
    b.subscribe(Topic.RISK, heard.handler, heard.resync)
    b.start()
    await asyncio.wait_for(b.wait_listening(), WITHIN_S)
    pid = b.listener_pid
    async with pg.engine.begin() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await heard.next()  # the re-read after reconnecting (what was sent meanwhile is lost)
    assert heard.resyncs == 1 and b.connects == 2
    await asyncio.wait_for(b.wait_listening(), WITHIN_S)
    assert b.listener_pid != pid
    a.publish(Topic.RISK, "7")
    await heard.next()
    assert heard.ids == ["7"]
    await a.aclose()
    await b.aclose()


@pytest.mark.postgres
async def test_the_listener_takes_the_engines_connection_options_but_not_the_dialects(
    pg_url: str,
) -> None:
    """``prepared_statement_cache_size`` is SQLAlchemy's option: asyncpg would refuse it."""
    db = open_database(f"{pg_url}?prepared_statement_cache_size=0")
    bus = PgBus(db, channel=f"kcgw_test_{secrets.token_hex(4)}")
    bus.start()
    await asyncio.wait_for(bus.wait_listening(), WITHIN_S)
    assert bus.listening and bus.listener_pid is not None
    await bus.aclose()
    await db.aclose()


@pytest.mark.postgres
async def test_a_database_outage_is_logged_once_and_sending_resumes_after_it(
    pg: Database, caplog: pytest.LogCaptureFixture
) -> None:
    cli, gateway = _pair(pg)
    heard = Heard()
    gateway.subscribe(Topic.KEY, heard.handler)
    gateway.start()
    await asyncio.wait_for(gateway.wait_listening(), WITHIN_S)
    cli.channel = "x" * 100  # longer than PostgreSQL's identifiers: every NOTIFY fails
    for n in range(3):
        cli.publish(Topic.KEY, f"k{n}")
        await cli.flush()
    assert cli.send_failing
    assert sum("sending change notifications failed" in r.message for r in caplog.records) == 1
    cli.channel = gateway.channel
    cli.publish(Topic.KEY, "k9")
    await cli.flush()
    await heard.next()
    assert heard.ids == ["k9"] and not cli.send_failing
    await cli.aclose()
    await gateway.aclose()
