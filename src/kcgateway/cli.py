"""The ``kcgateway`` command. Sub-commands live in ``kcgateway.commands``; this wires them."""

from __future__ import annotations

import typer

from kcgateway.commands import (
    accounts,
    alerts,
    audit,
    bots,
    broker,
    console,
    db,
    debug,
    keys,
    onboarding,
    orders,
    risk,
    serve,
    sim,
    tenants,
    vault,
)

app = typer.Typer(
    name="kcgateway",
    help="kcgateway: a secure broker trading gateway for KuCoin, and its exchange simulator.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(sim.app, name="sim")
app.add_typer(db.app, name="db")
app.add_typer(vault.app, name="vault")
app.add_typer(debug.app, name="debug")
app.add_typer(serve.app, name="serve")
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="keys")
app.add_typer(tenants.app, name="tenants")
app.add_typer(accounts.app, name="accounts")
app.add_typer(orders.app, name="orders")
app.add_typer(broker.app, name="broker")
app.add_typer(alerts.app, name="alerts")
app.add_typer(risk.app, name="risk")
app.add_typer(onboarding.app, name="onboarding")
app.add_typer(bots.app, name="bots")
app.add_typer(bots.signals_app, name="signals")
app.add_typer(console.app, name="console")


@app.command()
def version() -> None:
    """Print the kcgateway version."""
    from kcgateway import __version__

    typer.echo(__version__)


def main() -> None:
    """Console-script entry point."""
    app()
