"""``kcgateway tenants``: create and list tenants."""

from __future__ import annotations

from typing import Annotated

import typer

from kcgateway.commands._admin import ConfigOption, run, table, when

app = typer.Typer(help="Tenants (customers of the gateway).", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The new tenant's name.")],
    config: ConfigOption = None,
) -> None:
    """Create a tenant; then give it a key with `kcgateway keys create-admin --tenant NAME`."""
    view = run(config, lambda admin: admin.tenants.create(name, actor="cli"))
    typer.echo(f"created tenant {view.name} (id {view.id})")
    typer.echo(f"next: kcgateway keys create-admin --tenant {view.name}")


@app.command("list")
def list_(config: ConfigOption = None) -> None:
    """Every tenant, with its number of accounts and of keys that are not revoked."""
    views = run(config, lambda admin: admin.tenants.list())
    if not views:
        typer.echo("no tenants yet: create one with `kcgateway tenants create NAME`")
        return
    rows = [(v.name, v.id, v.accounts, v.keys, when(v.created_at)) for v in views]
    table("tenants", ("name", "id", "accounts", "keys", "created (UTC)"), rows)
