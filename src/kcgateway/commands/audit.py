"""``kcgateway audit``: create the audit key file, export the chain's head, verify the chain."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kcgateway.errors import ConfigError, KcgatewayError

if TYPE_CHECKING:
    from kcgateway.gateway.audit import ChainReport

app = typer.Typer(help="Audit log tools.", no_args_is_help=True)

UrlOption = Annotated[
    str | None, typer.Option("--url", help="Database URL (default: $KCGW_DATABASE_URL).")
]
KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="The audit key file (default: $KCGW_AUDIT_KEY_FILE or $KCGW_DATA_DIR/audit.keys).",
    ),
]


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg="red")
    return typer.Exit(1)


def _key_path(explicit: Path | None) -> Path:
    from kcgateway.vault.audit_keys import default_audit_key_path

    return explicit or default_audit_key_path(os.environ)


def _verdict(report: ChainReport) -> tuple[bool, str]:
    if report.broken_at is not None:
        return False, (
            f"audit chain BROKEN at record {report.broken_at}: {report.problem}. Restore the "
            "database from a backup and investigate who had write access to it"
        )
    if not report.head_found:
        return False, (
            "audit chain does not contain the exported head: records were removed or rewritten "
            "after it was exported"
        )
    keyed = ", ".join(f"{n} with {key_id}" for key_id, n in sorted(report.by_key.items()))
    parts = [f"{report.unkeyed} unkeyed before the switch to keyed hashes"] * bool(report.unkeyed)
    parts += [f"keyed: {keyed}"] * bool(keyed)
    detail = f" ({'; '.join(parts)})" if parts else ""
    return True, f"audit chain intact: {report.records} records{detail}, head {report.head}"


async def _verify(url: str | None, head: str | None, key_file: Path) -> tuple[bool, str]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from kcgateway.gateway.audit import verify_chain
    from kcgateway.store.database import open_database
    from kcgateway.vault.audit_keys import load_audit_keys

    keys = load_audit_keys(key_file)
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    async with open_database(url) as db:
        # transient: the bar is for long chains on a terminal; the verdict line is what stays
        with Progress(*columns, transient=True, disable=not sys.stdout.isatty()) as bar:
            task = bar.add_task("verifying the audit chain", total=None)
            report = await verify_chain(
                db,
                head,
                keys=keys,
                on_progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    return _verdict(report)


@app.command()
def verify(
    url: UrlOption = None,
    head: Annotated[
        str | None,
        typer.Option(
            help="A head exported by `kcgateway audit head` (or a bare hash): detects a "
            "truncated or rewritten chain."
        ),
    ] = None,
    key_file: KeyFileOption = None,
) -> None:
    """Exit 0 when every record is intact and chained; 1 (with the first bad record) if not."""
    from kcgateway.store.audit_chain import Head

    if head is not None:
        try:
            Head.parse(head)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--head") from None
    try:
        ok, message = asyncio.run(_verify(url, head, _key_path(key_file)))
    except KcgatewayError as exc:
        raise _fail(str(exc)) from None
    typer.secho(message, fg="green" if ok else "red", err=not ok)
    if not ok:
        raise typer.Exit(1)


async def _head(url: str | None) -> str | None:
    from kcgateway.gateway.audit import chain_head
    from kcgateway.store.database import open_database
    from kcgateway.store.migrate import ensure_migrated

    async with open_database(url) as db:
        await ensure_migrated(db.engine)
        found = await chain_head(db)
    return None if found is None else found.export()


@app.command()
def head(url: UrlOption = None) -> None:
    """Print the chain's head as SEQ:HASH:TIME; store it apart from the database.

    Later, `kcgateway audit verify --head SEQ:HASH:TIME` fails if the chain no longer contains
    that record (cut back or rewritten since the export).
    """
    try:
        exported = asyncio.run(_head(url))
    except KcgatewayError as exc:
        raise _fail(str(exc)) from None
    if exported is None:
        raise _fail("the audit log is empty: there is no head to export yet")
    typer.echo(exported)


async def _init_key(url: str | None, path: Path) -> str:
    from kcgateway.gateway.audit import chain_head, switch_point
    from kcgateway.store.database import open_database
    from kcgateway.store.migrate import ensure_migrated
    from kcgateway.vault.audit_keys import create_audit_key_file

    if path.exists():  # say so before the database is read (it may also refuse, less clearly)
        raise ConfigError(f"{path} already exists: an audit key file is never overwritten")
    async with open_database(url) as db:
        await ensure_migrated(db.engine)
        found = await chain_head(db)
        legacy = await switch_point(db)
    keys = create_audit_key_file(path, legacy_head=legacy, now=datetime.now(UTC))
    seq = 0 if found is None else found.seq
    return (
        f"wrote a new audit key file to {path} (mode 0600), key {keys.active.key_id}; records "
        f"after #{seq} will be chained with it"
    )


@app.command("init-key")
def init_key(
    path: KeyFileOption = None,
    url: UrlOption = None,
) -> None:
    """Create the audit key file (0600); run once, with the gateway stopped, after `db upgrade`.

    It records the chain's current head: records up to it may be unkeyed (written before this
    version), every later one must be chained with an audit key.
    """
    target = _key_path(path)
    try:
        typer.echo(asyncio.run(_init_key(url, target)))
    except KcgatewayError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"use it with: export KCGW_AUDIT_KEY_FILE={target}")
    typer.echo("back it up with the KEK, apart from the database: without it the chain cannot")
    typer.echo("be verified, and whoever holds it can rewrite the chain")
