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


async def _rotate(url: str | None, new_spec: str, old_specs: list[str], batch: int) -> str:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from kcgateway.store.broker_store import SqlBrokerStore
    from kcgateway.store.credential_store import SqlCredentialStore
    from kcgateway.store.database import open_database
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
    finally:
        _close(new, *old)
    done, total = sum(r.rewrapped for r in results), sum(r.total for r in results)
    return f"{done} of {total} data keys rewrapped; all on {new.kek_id}"


@app.command("rotate-kek")
def rotate_kek_command(
    new: Annotated[
        str, typer.Option("--new", help="The new KEK: file:PATH, env:VAR or vault:MOUNT/KEY.")
    ],
    old: Annotated[
        list[str] | None,
        typer.Option("--old", help="Current KEK spec(s) (default: the configured KEK)."),
    ] = None,
    url: UrlOption = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per transaction.")] = 100,
) -> None:
    """Rewrap every data key under a new KEK. Safe to interrupt and run again."""
    try:
        typer.echo(asyncio.run(_rotate(url, new, old or [], batch_size)))
    except KcgatewayError as exc:
        raise _fail(exc) from None
    typer.echo("then point KCGW_KEK_FILE / KCGW_KEK_SPEC at the new KEK; the old one is unused.")


async def _status(url: str | None) -> dict[str, int]:
    from kcgateway.store.broker_store import SqlBrokerStore
    from kcgateway.store.credential_store import SqlCredentialStore
    from kcgateway.store.database import open_database
    from kcgateway.store.migrate import ensure_migrated

    async with open_database(url) as db:
        await ensure_migrated(db.engine)
        counts = await SqlCredentialStore(db).count_by_kek()
        for kek_id, count in (await SqlBrokerStore(db).count_by_kek()).items():
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
