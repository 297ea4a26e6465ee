"""``kcgateway audit verify``: check the hash chain of the audit log."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

app = typer.Typer(help="Audit log tools.", no_args_is_help=True)


async def _verify(url: str | None, head: str | None) -> tuple[bool, str]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from kcgateway.gateway.audit import verify_chain
    from kcgateway.store.database import open_database

    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    async with open_database(url) as db:
        # transient: the bar is for long chains on a terminal; the verdict line is what stays
        with Progress(*columns, transient=True, disable=not sys.stdout.isatty()) as bar:
            task = bar.add_task("verifying the audit chain", total=None)
            report = await verify_chain(
                db,
                head,
                on_progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    if report.broken_at is not None:
        return False, f"audit chain BROKEN at record {report.broken_at} (edited or deleted)"
    if not report.head_found:
        return False, "audit chain does not contain the expected head: records were removed"
    return True, f"audit chain intact: {report.records} records, head {report.head}"


@app.command()
def verify(
    url: Annotated[
        str | None, typer.Option("--url", help="Database URL (default: $KCGW_DATABASE_URL).")
    ] = None,
    head: Annotated[
        str | None,
        typer.Option(help="A head hash printed by an earlier run: detects a truncated chain."),
    ] = None,
) -> None:
    """Exit 0 when every record is intact and chained; 1 (with the first bad record) if not."""
    ok, message = asyncio.run(_verify(url, head))
    typer.secho(message, fg="green" if ok else "red", err=not ok)
    if not ok:
        raise typer.Exit(1)
