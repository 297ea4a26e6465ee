"""The audit chain detects an edited record, a deleted record and a truncated tail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, update
from typer.testing import CliRunner

from kcgateway.cli import app as cli
from kcgateway.gateway.audit import AuditAction, record, verify_chain
from kcgateway.store.database import Database, open_database
from kcgateway.store.migrate import upgrade
from kcgateway.store.tables import AuditRecord


async def _db(tmp_path: Path) -> tuple[Database, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    db = open_database(url)
    await upgrade(db.engine)
    async with db.write() as session:
        for i in range(5):
            await record(
                session,
                AuditAction.ORDER_STATE,
                actor="test",
                subject=f"intent-{i}",
                now=datetime.now(UTC),
                detail={"to": "open", "n": i},
            )
    return db, url


async def test_intact_chain_verifies(tmp_path: Path) -> None:
    db, _ = await _db(tmp_path)
    async with db:
        report = await verify_chain(db)
        assert report.ok and report.records == 5 and report.head is not None
        assert (await verify_chain(db, report.head)).ok


async def test_an_edit_is_detected(tmp_path: Path) -> None:
    db, _ = await _db(tmp_path)
    async with db:
        async with db.write() as session:
            await session.execute(
                update(AuditRecord).where(AuditRecord.seq == 3).values(detail={"to": "cancelled"})
            )
        report = await verify_chain(db)
        assert not report.ok and report.broken_at == 3


async def test_a_deletion_is_detected(tmp_path: Path) -> None:
    db, _ = await _db(tmp_path)
    async with db:
        async with db.write() as session:
            await session.execute(delete(AuditRecord).where(AuditRecord.seq == 2))
        report = await verify_chain(db)
        assert not report.ok and report.broken_at == 3


async def test_a_truncated_tail_is_detected_with_the_saved_head(tmp_path: Path) -> None:
    db, _ = await _db(tmp_path)
    async with db:
        head = (await verify_chain(db)).head
        async with db.write() as session:
            await session.execute(delete(AuditRecord).where(AuditRecord.seq == 5))
        assert (await verify_chain(db)).ok, "a cut tail alone looks intact"
        report = await verify_chain(db, head)
        assert not report.ok and not report.head_found


async def _head(tmp_path: Path) -> tuple[str, str]:
    db, url = await _db(tmp_path)
    async with db:
        return str((await verify_chain(db)).head), url


async def _edit(url: str) -> None:
    async with open_database(url) as db, db.write() as session:
        await session.execute(
            update(AuditRecord).where(AuditRecord.seq == 4).values(actor="mallory")
        )


def test_cli_audit_verify(tmp_path: Path) -> None:
    head, url = asyncio.run(_head(tmp_path))
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify", "--url", url, "--head", head])
    assert ok.exit_code == 0, ok.output
    assert "intact: 5 records" in ok.output
    asyncio.run(_edit(url))
    bad = runner.invoke(cli, ["audit", "verify", "--url", url])
    assert bad.exit_code == 1
    assert "BROKEN at record 4" in bad.output


async def test_a_long_chain_is_walked_in_batches_with_progress(tmp_path: Path) -> None:
    db, _ = await _db(tmp_path)
    async with db:
        whole = await verify_chain(db)
        seen: list[tuple[int, int]] = []
        batched = await verify_chain(
            db, whole.head, batch_size=2, on_progress=lambda d, t: seen.append((d, t))
        )
        assert batched == whole and batched.ok
        assert seen == [(2, 5), (4, 5), (5, 5)]
        async with db.write() as session:  # an edit in the middle of the second batch
            await session.execute(
                update(AuditRecord).where(AuditRecord.seq == 4).values(detail={"to": "x"})
            )
        report = await verify_chain(db, whole.head, batch_size=2)
        assert report.broken_at == 4 and report.records == 5 and report.head_found
