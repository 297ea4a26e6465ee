"""The Idempotency-Key is claimed before its request runs: concurrent retries wait and replay.

Concurrent first attempts used to run the request each; the clientOid collision kept the
order single, but a retry the risk engine refused as a duplicate of the first could be stored,
and replayed, as the key's answer while the first attempt's order was live.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from kcgateway.errors import IdempotencyConflict, IdempotencyInProgress
from kcgateway.gateway.idempotency import Idempotency, Reply
from kcgateway.store.database import Database
from kcgateway.store.ledger import PENDING, IdempotencyRepository


async def test_concurrent_retries_wait_for_the_first_answer_and_replay_it(db: Database) -> None:
    keys = Idempotency(db, poll_s=0.01)
    runs: list[int] = []
    release = asyncio.Event()

    async def handler() -> Reply:
        runs.append(len(runs))
        if len(runs) == 1:
            await release.wait()  # the first attempt is slow: the others arrive meanwhile
            return Reply(201, '{"placed":1}')
        return Reply(422, '{"error":"risk.duplicate"}')  # what a second run would answer

    tasks = [asyncio.create_task(keys.run("t:POST /v1/orders", "k", "f", handler))
             for _ in range(5)]  # fmt: skip
    await asyncio.sleep(0.2)
    release.set()
    replies = await asyncio.gather(*tasks)
    assert runs == [0], "the request ran once"
    assert {(r.status, r.body) for r in replies} == {(201, '{"placed":1}')}
    assert sum(r.replayed for r in replies) == 4


async def test_another_body_under_a_pending_key_is_a_conflict(db: Database) -> None:
    keys = Idempotency(db, poll_s=0.01)
    release = asyncio.Event()

    async def slow() -> Reply:
        await release.wait()
        return Reply(201, "{}")

    first = asyncio.create_task(keys.run("s", "k", "f1", slow))
    await asyncio.sleep(0.1)
    with pytest.raises(IdempotencyConflict):
        await keys.run("s", "k", "f2", slow)
    release.set()
    assert (await first).status == 201


async def test_a_retry_that_waits_too_long_is_told_to_retry(db: Database) -> None:
    keys = Idempotency(db, poll_s=0.01, wait_s=0.2)
    release = asyncio.Event()

    async def slow() -> Reply:
        await release.wait()
        return Reply(201, "{}")

    first = asyncio.create_task(keys.run("s", "k", "f", slow))
    await asyncio.sleep(0.05)
    with pytest.raises(IdempotencyInProgress, match="retry it in a few seconds"):
        await keys.run("s", "k", "f", slow)
    release.set()
    await first
    assert (await keys.run("s", "k", "f", slow)).replayed  # answered now: replayed


async def test_a_failed_or_5xx_first_attempt_releases_the_key(db: Database) -> None:
    keys = Idempotency(db)

    async def boom() -> Reply:
        raise RuntimeError("the handler failed")

    async def unavailable() -> Reply:
        return Reply(503, "{}")

    async def ok() -> Reply:
        return Reply(201, '{"ok":1}')

    with pytest.raises(RuntimeError):
        await keys.run("s", "k", "f", boom)
    assert (await keys.run("s", "k", "f", unavailable)).status == 503
    reply = await keys.run("s", "k", "f", ok)  # neither left a claim behind
    assert (reply.status, reply.replayed) == (201, False)


async def test_a_claim_left_by_a_dead_process_is_taken_over(db: Database) -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    async with db.write() as session:  # a process claimed the key and died 3 minutes ago
        claimed = await IdempotencyRepository(session).claim(
            "s", "k", request_hash="f", now=now - timedelta(minutes=3)
        )
    assert claimed is None
    keys = Idempotency(db, now=lambda: now, poll_s=0.01)

    async def ok() -> Reply:
        return Reply(201, '{"ok":1}')

    reply = await keys.run("s", "k", "f", ok)
    assert (reply.status, reply.replayed) == (201, False)
    async with db.read() as session:
        stored = await IdempotencyRepository(session).get("s", "k")
    assert stored is not None and stored.status == 201 and stored.status != PENDING
