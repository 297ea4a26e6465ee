"""``kcgateway keys create-admin``: the first admin key of a tenant (how prod bootstraps)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from kcgateway.errors import KcgatewayError

app = typer.Typer(help="Gateway API keys.", no_args_is_help=True)


@app.command("create-admin")
def create_admin(
    tenant: Annotated[str, typer.Option(help="Tenant name (created if it does not exist).")],
    owner: Annotated[str, typer.Option(help="Who holds the key.")] = "operator",
    config: Annotated[Path | None, typer.Option(help="TOML settings file.")] = None,
) -> None:
    """Issue an admin key and print it once (it is never stored or shown again)."""
    from kcgateway.main import issue_admin_key
    from kcgateway.settings import load_settings

    try:
        settings = load_settings(config_file=config)
        key = asyncio.run(issue_admin_key(settings, tenant, owner))
    except KcgatewayError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(1) from None
    typer.echo("admin key (shown once, store it now):")
    typer.echo(key.reveal())
