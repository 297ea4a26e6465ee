"""Accepted signals that arrive together share a commit; replays in the batch are refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.bots import group_commit
from kcgateway.gateway.bots.group_commit import GroupCommit
from kcgateway.store.fastsql import Runner
from tests.helpers.gateway import auth, gateway_stack
from tests.helpers.signals import add_paper_account, create_bot, standard_request


async def test_concurrent_signals_share_commits_and_only_the_replays_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits: list[int] = []
    real = group_commit.queue_signals

    async def counted(runner: Runner, seen: Any, rows: Any) -> None:
        commits.append(len(rows))
        await real(runner, seen, rows)

    monkeypatch.setattr(group_commit, "queue_signals", counted)
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        await add_paper_account(stack, tenant)
        key = await stack.key(tenant, Scope.BOTS_MANAGE, Scope.READ)
        bot = await create_bot(stack, key, "standard", maxPosition="1")
        assert stack.services.signals is not None
        stack.services.signals.executor.running = False  # the queue only
        sends = [standard_request(bot["secret"], {"action": "buy"}) for _ in range(20)]
        sends += [sends[3], sends[3]]  # the same message id twice more, in the same burst
        answers = await asyncio.gather(*(
            stack.http.post(f"/v1/signals/{bot['id']}", content=raw, headers=headers)
            for raw, headers in sends
        ))  # fmt: skip
        codes = [a.status_code for a in answers]
        assert codes.count(202) == 20 and codes.count(401) == 2
        assert max(commits) > 1  # several signals in one commit (a refused batch: one by one)
        log = (await stack.http.get(f"/v1/signals?bot={bot['id']}", headers=auth(key))).json()
        queued = {s["id"] for s in log if s["status"] == "queued"}
        assert queued == {a.json()["signalId"] for a in answers if a.status_code == 202}


class _Broken:
    @asynccontextmanager
    async def hot_write(self, **_: Any) -> AsyncIterator[None]:
        raise OSError("disk full")
        yield


async def test_a_failed_commit_fails_every_signal_of_the_batch() -> None:
    commits = GroupCommit(_Broken())  # type: ignore[arg-type]
    now = datetime.now(UTC)
    rows = [({"message_id": uuid.uuid4().hex}, {"received_at": now}) for _ in range(3)]
    results = await asyncio.gather(*(commits.add(s, r) for s, r in rows), return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
