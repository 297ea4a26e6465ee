"""``kcgateway vault``: create the key-encryption key, rotate it, and see which KEK wraps what."""

from __future__ import annotations

import asyncio
import functools
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kcgateway.errors import KcgatewayError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from kcgateway.store.database import Database
    from kcgateway.vault.kek import KekProvider

app = typer.Typer(help="Key-encryption key (KEK) management.", no_args_is_help=True)

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: $KCGW_DATABASE_URL or the SQLite file)."),
]


def _fail(exc: KcgatewayError) -> typer.Exit:
    typer.secho(str(exc), err=True, fg="red")
    return typer.Exit(1)


@app.command("init-kek")
def init_kek(
    path: Annotated[
        Path | None,
        typer.Option(help="Where to write the key (default: $KCGW_KEK_FILE or ~/.config)."),
    ] = None,
) -> None:
    """Write a new random 256-bit KEK to a 0600 file and print where (never the key)."""
    from kcgateway.vault.kek import default_kek_path, init_kek_file

    target = path or default_kek_path(os.environ)
    try:
        kek = init_kek_file(target)
    except KcgatewayError as exc:
        raise _fail(exc) from None
    typer.echo(f"wrote a new KEK to {target} (mode 0600), id {kek.kek_id}")
    typer.echo(f"use it with: export KCGW_KEK_FILE={target}")
    typer.echo("back this file up apart from the database: without it no credential decrypts")


def _advance(bar: Progress, task: TaskID, done: int, total: int) -> None:
    bar.update(task, completed=done, total=total)


def _close(*providers: KekProvider) -> None:
    for provider in providers:
        close = getattr(provider, "close", None)
        if close is not None:
            close()


async def _roll_audit_key(db: Database, path: Path) -> str:
    """Append a fresh audit key and chain one record with it (it seals every earlier record)."""
    from kcgateway.gateway.audit import AuditAction, record
    from kcgateway.vault.audit_keys import load_audit_keys, roll_audit_key

    previous = load_audit_keys(path).active.key_id
    keys = roll_audit_key(path, now=datetime.now(UTC))
    db.use_audit_key(keys.active)
    async with db.write() as session:
        await record(
            session, AuditAction.AUDIT_KEY_ROLLED, actor="cli", subject=keys.active.key_id,
            now=datetime.now(UTC), detail={"previous": previous},
        )  # fmt: skip
    return f"audit key rolled: new records are chained with {keys.active.key_id}"


async def _rotate(
    url: str | None, new_spec: str, old_specs: list[str], batch: int, audit_keys: Path | None
) -> str:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from kcgateway.store.broker_store import SqlBrokerStore
    from kcgateway.store.credential_store import SqlCredentialStore
    from kcgateway.store.database import open_database
    from kcgateway.store.facade_store import SqlFacadeStore
    from kcgateway.store.migrate import ensure_migrated
    from kcgateway.vault.config import configured_kek, kek_from_spec
    from kcgateway.vault.kek import KeyRing
    from kcgateway.vault.rotation import rotate_kek

    old = [kek_from_spec(s, os.environ) for s in old_specs] or [configured_kek()]
    new = kek_from_spec(new_spec, os.environ)
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        async with open_database(url) as db:
            await ensure_migrated(db.engine)
            results = []
            with Progress(*columns) as bar:
                for label, store in (
                    ("credentials", SqlCredentialStore(db)),
                    ("broker settings", SqlBrokerStore(db)),
                    ("facade credentials", SqlFacadeStore(db)),
                ):
                    task = bar.add_task(f"rewrapping {label} to {new.kek_id}", total=None)
                    results.append(
                        await rotate_kek(
                            store,
                            KeyRing(new, *old),
                            new,
                            now=lambda: datetime.now(UTC),
                            batch_size=batch,
                            on_progress=functools.partial(_advance, bar, task),
                        )
                    )
            rolled = "" if audit_keys is None else "\n" + await _roll_audit_key(db, audit_keys)
    finally:
        _close(new, *old)
    done, total = sum(r.rewrapped for r in results), sum(r.total for r in results)
    return f"{done} of {total} data keys rewrapped; all on {new.kek_id}{rolled}"


@app.command("rotate-kek")
def rotate_kek_command(  # noqa: PLR0917 - typer passes options positionally
    new: Annotated[
        str, typer.Option("--new", help="The new KEK: file:PATH, env:VAR or vault:MOUNT/KEY.")
    ],
    old: Annotated[
        list[str] | None,
        typer.Option("--old", help="Current KEK spec(s) (default: the configured KEK)."),
    ] = None,
    url: UrlOption = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per transaction.")] = 100,
    roll_audit_key: Annotated[
        bool,
        typer.Option(
            "--roll-audit-key/--keep-audit-key",
            help="Also add a fresh audit key to the audit key file (older keys are kept to "
            "verify older records).",
        ),
    ] = True,
    audit_key_file: Annotated[
        Path | None,
        typer.Option(help="The audit key file (default: $KCGW_AUDIT_KEY_FILE or the data dir)."),
    ] = None,
) -> None:
    """Rewrap every data key under a new KEK, and roll the audit key. Safe to run again."""
    from kcgateway.vault.audit_keys import default_audit_key_path

    audit_keys = audit_key_file or default_audit_key_path(os.environ)
    if roll_audit_key and not audit_keys.exists():
        typer.echo(f"no audit key file at {audit_keys}: no audit key to roll")
    roll = audit_keys if roll_audit_key and audit_keys.exists() else None
    try:
        typer.echo(asyncio.run(_rotate(url, new, old or [], batch_size, roll)))
    except KcgatewayError as exc:
        raise _fail(exc) from None
    typer.echo("then point KCGW_KEK_FILE / KCGW_KEK_SPEC at the new KEK; the old one is unused.")
    if roll is not None:
        typer.echo("restart the gateway so that it chains new audit records with the new key.")


async def _status(url: str | None) -> dict[str, int]:
    from kcgateway.store.broker_store import SqlBrokerStore
    from kcgateway.store.credential_store import SqlCredentialStore
    from kcgateway.store.database import open_database
    from kcgateway.store.facade_store import SqlFacadeStore
    from kcgateway.store.migrate import ensure_migrated

    async with open_database(url) as db:
        await ensure_migrated(db.engine)
        counts = await SqlCredentialStore(db).count_by_kek()
        for other in (SqlBrokerStore(db), SqlFacadeStore(db)):
            for kek_id, count in (await other.count_by_kek()).items():
                counts[kek_id] = counts.get(kek_id, 0) + count
        return counts


@app.command()
def status(url: UrlOption = None) -> None:
    """How many stored credentials each KEK wraps."""
    try:
        counts = asyncio.run(_status(url))
    except KcgatewayError as exc:
        raise _fail(exc) from None
    if not counts:
        typer.echo("no stored credentials")
    for kek_id, count in sorted(counts.items()):
        typer.echo(f"{kek_id}\t{count}")
