"""``kcgateway accounts``: connect, list and remove a tenant's KuCoin accounts.

``accounts add`` reads the KuCoin key from ``KUCOIN_API_KEY``, ``KUCOIN_API_SECRET`` and
``KUCOIN_API_PASSPHRASE`` (or hidden prompts on a terminal), never from the command line; it
checks the key at the exchange exactly like ``POST /v1/accounts`` (the same service) before the
vault seals it. Nothing secret is printed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from kcgateway.commands._admin import (
    ConfigOption,
    TenantOption,
    exchange_configured,
    fail,
    read_secret,
    run,
    table,
)
from kcgateway.errors import ConfigError

if TYPE_CHECKING:
    from kcgateway.gateway.accounts import AccountView, RemovedAccount
    from kcgateway.main import AdminServices

app = typer.Typer(help="Exchange (KuCoin) accounts of a tenant.", no_args_is_help=True)


@app.command("add")
def add(
    tenant: TenantOption,
    name: Annotated[str, typer.Option("--name", help="A name for the account, e.g. main.")],
    key_version: Annotated[int, typer.Option(help="KuCoin API key version.", min=1, max=3)] = 3,
    config: ConfigOption = None,
) -> None:
    """Check a KuCoin API key at the exchange, then seal it in the vault for the tenant."""
    from kcgateway.gateway.accounts import ConnectRequest
    from kcgateway.secret import Secret

    exchange_configured(config)
    try:
        api_key = read_secret("KUCOIN_API_KEY", hidden=False)
        request = ConnectRequest(
            name,
            api_key,
            Secret(read_secret("KUCOIN_API_SECRET")),
            Secret(read_secret("KUCOIN_API_PASSPHRASE")),
            key_version=key_version,
        )
    except ConfigError as exc:
        raise fail(str(exc)) from None

    async def work(admin: AdminServices) -> AccountView:
        tenant_id = await admin.tenants.resolve(tenant)
        return await admin.services.accounts.connect(tenant_id, "cli", request)

    view = run(config, work)
    typer.echo(f"connected account {view.name} (id {view.id}, KuCoin uid {view.uid})")
    typer.echo(f"permissions: {', '.join(view.permissions) or '-'}")


@app.command("list")
def list_(tenant: TenantOption, config: ConfigOption = None) -> None:
    """The tenant's connected accounts (removed ones are not shown)."""

    async def work(admin: AdminServices) -> list[AccountView]:
        return await admin.services.accounts.list(await admin.tenants.resolve(tenant))

    views = run(config, work)
    if not views:
        typer.echo(f"tenant {tenant} has no accounts: connect one with `kcgateway accounts add`")
        return
    table(
        f"accounts of {tenant}",
        ("name", "id", "KuCoin uid"),
        ((v.name, v.id, v.uid) for v in views),
    )


@app.command("remove")
def remove(
    account: Annotated[str, typer.Argument(help="Account name or id.")],
    tenant: TenantOption,
    force: Annotated[
        bool, typer.Option("--force", help="Remove even with pending or open orders.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Delete the account's sealed credential (nothing can sign for it again); keep its history.

    Refused while the account has pending or open orders, unless --force (the gateway then
    stops tracking them: cancel them at KuCoin yourself). A running gateway drops what it
    cached for the account on its next reconciliation pass (every few seconds).
    """

    async def work(admin: AdminServices) -> RemovedAccount:
        tenant_id = await admin.tenants.resolve(tenant)
        return await admin.services.accounts.remove(tenant_id, account, "cli", force=force)

    removed = run(config, work)
    typer.echo(
        f"removed account {removed.name} (id {removed.id}): {removed.credentials_deleted} "
        "credential(s) deleted; its order history and audit records are kept"
    )
    if removed.live_orders:
        typer.secho(
            f"warning: {removed.live_orders} pending or open order(s) are no longer tracked: "
            "check them at KuCoin",
            err=True,
            fg="yellow",
        )
