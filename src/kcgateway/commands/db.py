"""``kcgateway db``: apply and inspect database migrations."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from kcgateway.errors import KcgatewayError

app = typer.Typer(help="Database migrations.", no_args_is_help=True)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Database URL (default: $KCGW_DATABASE_URL, else SQLite in $KCGW_DATA_DIR or ./data).",
    ),
]


async def _upgrade(url: str | None) -> str:
    from kcgateway.store.database import open_database
    from kcgateway.store.migrate import current_revision, upgrade

    async with open_database(url) as db:
        await upgrade(db.engine)
        return f"{db.url} is at revision {await current_revision(db.engine)}"


async def _status(url: str | None) -> tuple[str, bool]:
    from kcgateway.store.database import open_database
    from kcgateway.store.migrate import current_revision, head_revision

    async with open_database(url) as db:
        current, head = await current_revision(db.engine), head_revision()
        return f"{db.url}: revision {current or 'none'}, code expects {head}", current == head


@app.command()
def upgrade(url: UrlOption = None) -> None:
    """Create or migrate the database schema to the current version."""
    try:
        typer.echo(asyncio.run(_upgrade(url)))
    except KcgatewayError as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(1) from None


@app.command()
def status(url: UrlOption = None) -> None:
    """Show the database revision; exit 1 when `kcgateway db upgrade` is needed."""
    try:
        text, ok = asyncio.run(_status(url))
    except KcgatewayError as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(1) from None
    typer.echo(text if ok else f"{text}: run `kcgateway db upgrade`")
    if not ok:
        raise typer.Exit(1)
