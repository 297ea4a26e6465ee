"""``kcgateway broker subaccounts``: ND-broker sub-accounts as tenant accounts.

``master ACCOUNT_ID`` names the connected account that is the ND broker's master (its calls
carry the broker's partner headers); ``create --tenant T --name N`` creates a KuCoin
sub-account under it, creates its API key and seals it as tenant T's account N (nothing secret
is printed); ``list --tenant T`` shows the tenant's sub-account-based accounts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from kcgateway.commands._admin import ConfigOption, TenantOption, run, table, when

if TYPE_CHECKING:
    from kcgateway.gateway.subaccounts import SubAccounts, SubAccountView
    from kcgateway.main import AdminServices

app = typer.Typer(help="ND-broker sub-accounts (created as tenant accounts).", no_args_is_help=True)


def _service(admin: AdminServices) -> SubAccounts:
    service = admin.services.subaccounts
    assert service is not None  # noqa: S101 - build_services always wires it
    return service


@app.command("master")
def master(
    account_id: Annotated[str, typer.Argument(help="The connected master account's id.")],
    config: ConfigOption = None,
) -> None:
    """Name the ND broker's master account (audited)."""

    async def work(admin: AdminServices) -> None:
        await _service(admin).set_master(account_id, actor="cli")

    run(config, work)
    typer.echo(f"ND broker master account: {account_id}")


@app.command("create")
def create(
    tenant: TenantOption,
    name: Annotated[str, typer.Option(help="The gateway account name for the sub-account.")],
    permission: Annotated[
        list[str] | None, typer.Option(help="General, Spot, Margin or Futures (repeatable).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Create a KuCoin sub-account and its key, sealed as the tenant's account NAME."""

    async def work(admin: AdminServices) -> SubAccountView:
        tenant_id = await admin.tenants.resolve(tenant)
        chosen = tuple(permission or ("General", "Spot"))
        return await _service(admin).create(tenant_id, "cli", name, permissions=chosen)

    view = run(config, work)
    typer.echo(f"created account {view.name} ({view.account_id}): KuCoin sub-account {view.uid}")


@app.command("list")
def list_(tenant: TenantOption, config: ConfigOption = None) -> None:
    """The tenant's sub-account-based accounts."""

    async def work(admin: AdminServices) -> list[SubAccountView]:
        return await _service(admin).list(await admin.tenants.resolve(tenant))

    rows = run(config, work)
    table(
        f"ND sub-accounts of {tenant}",
        ("account", "id", "KuCoin uid", "KuCoin name", "created"),
        ((v.name, v.account_id, v.uid, v.kucoin_name, when(v.created_at)) for v in rows),
    )
