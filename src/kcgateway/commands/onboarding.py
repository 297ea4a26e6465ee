"""``kcgateway onboarding``: the broker's KuCoin Fast API client ("Connect with KuCoin").

``configure --client-id ID --redirect-url URL`` records the client KuCoin issued to the broker
and the redirect URL registered with it (the gateway's ``/v1/onboarding/kucoin/callback``,
exactly as registered); ``--allow-transfer`` lets a connected key hold KuCoin's flexible
transfer permission (withdrawal is always refused). ``show`` prints them; ``attempts`` lists the
connection attempts, the ones that need the operator (a key may exist at KuCoin) first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from kcgateway.commands._admin import ConfigOption, fail, run, table, when

if TYPE_CHECKING:
    from kcgateway.gateway.onboarding import AttemptView, FastApiSettings
    from kcgateway.main import AdminServices

app = typer.Typer(help="Connect with KuCoin (broker Fast API OAuth).", no_args_is_help=True)
NEEDS_OPERATOR = ("key_possibly_created", "key_orphaned")


def _describe(found: FastApiSettings) -> str:
    transfer = "allowed" if found.allow_transfer else "refused"
    return (
        f"client {found.client_id}, redirect {found.redirect_url}, KuCoin at {found.base_url}, "
        f"flexible transfer {transfer}, set {when(found.updated_at)} UTC"
    )


@app.command("configure")
def configure(
    client_id: Annotated[str, typer.Option(help="The client id KuCoin issued to the broker.")],
    redirect_url: Annotated[
        str,
        typer.Option(
            help="The registered redirect URL: https://HOST/v1/onboarding/kucoin/callback"
        ),
    ],
    base_url: Annotated[str, typer.Option(help="KuCoin's OAuth host.")] = "https://www.kucoin.com",
    allow_transfer: Annotated[
        bool, typer.Option(help="Accept keys with KuCoin's flexible-transfer permission.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Set the Fast API client (audited); users can then connect with one click."""

    async def work(admin: AdminServices) -> FastApiSettings:
        service = admin.services.onboarding
        assert service is not None  # noqa: S101 - build_services always wires it
        return await service.configure(
            client_id=client_id, redirect_url=redirect_url, base_url=base_url,
            allow_transfer=allow_transfer, actor="cli",
        )  # fmt: skip

    typer.echo("configured " + _describe(run(config, work)))


@app.command("show")
def show(config: ConfigOption = None) -> None:
    """The Fast API client; exit 1 when none is configured."""

    async def work(admin: AdminServices) -> FastApiSettings | None:
        service = admin.services.onboarding
        return None if service is None else await service.settings()

    found = run(config, work)
    if found is None:
        raise fail("not configured: run `kcgateway onboarding configure`")
    typer.echo(_describe(found))


@app.command("attempts")
def attempts(config: ConfigOption = None) -> None:
    """Every tenant's connection attempts, newest first; those needing the operator on top."""

    async def work(admin: AdminServices) -> list[AttemptView]:
        service = admin.services.onboarding
        return [] if service is None else await service.attempts()

    rows = sorted(run(config, work), key=lambda a: a.status not in NEEDS_OPERATOR)
    table(
        "onboarding attempts",
        ("id", "tenant", "account", "status", "api key", "started", "ended", "reason"),
        (
            (a.id, a.tenant_id, a.account_name, a.status, a.api_key or "-", when(a.created_at),
             when(a.finished_at), a.reason or "")
            for a in rows
        ),
    )  # fmt: skip
