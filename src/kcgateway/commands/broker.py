"""``kcgateway broker``: the gateway-wide KuCoin ND broker settings (partner headers).

``broker set --partner ID --name NAME`` reads the broker key from ``KUCOIN_BROKER_KEY`` (or a
hidden prompt), never from the command line, and seals it in the vault. From then on every
request signed with an account's credential carries ``KC-API-PARTNER``, ``KC-API-PARTNER-SIGN``,
``KC-BROKER-NAME`` and ``KC-API-PARTNER-VERIFY: true`` (a running gateway picks a change up
within 30 seconds). See :mod:`kcgateway.gateway.broker` for why the settings are gateway-wide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from kcgateway.commands import subaccounts
from kcgateway.commands._admin import ConfigOption, fail, read_secret, run, when
from kcgateway.errors import ConfigError

if TYPE_CHECKING:
    from kcgateway.gateway.broker import BrokerView
    from kcgateway.main import AdminServices

app = typer.Typer(help="KuCoin ND broker settings (gateway-wide).", no_args_is_help=True)
app.add_typer(subaccounts.app, name="subaccounts")


def _describe(view: BrokerView) -> str:
    return (
        f"broker {view.name} (partner {view.partner}), key sealed under {view.kek_id}, "
        f"set {when(view.updated_at)} UTC"
    )


@app.command("set")
def set_(
    partner: Annotated[str, typer.Option(help="The broker's partner id (KC-API-PARTNER).")],
    name: Annotated[str, typer.Option(help="The broker name (KC-BROKER-NAME).")],
    config: ConfigOption = None,
) -> None:
    """Seal the broker key ($KUCOIN_BROKER_KEY or a hidden prompt); sign every call with it."""
    from kcgateway.secret import Secret

    try:
        key = Secret(read_secret("KUCOIN_BROKER_KEY"))
    except ConfigError as exc:
        raise fail(str(exc)) from None

    async def work(admin: AdminServices) -> BrokerView:
        return await admin.broker.set(partner=partner, name=name, broker_key=key, actor="cli")

    typer.echo("set " + _describe(run(config, work)))


@app.command("show")
def show(config: ConfigOption = None) -> None:
    """The current broker settings (never the key); exit 1 when none are set."""

    async def work(admin: AdminServices) -> BrokerView | None:
        return await admin.broker.get()

    view = run(config, work)
    if view is None:
        raise fail("no broker settings: set them with `kcgateway broker set`")
    typer.echo(_describe(view))


@app.command("clear")
def clear(config: ConfigOption = None) -> None:
    """Delete the broker settings and their sealed key (requests stop carrying partner headers)."""

    async def work(admin: AdminServices) -> bool:
        return await admin.broker.clear(actor="cli")

    if not run(config, work):
        raise fail("no broker settings to clear")
    typer.echo("broker settings cleared")
