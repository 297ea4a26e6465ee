"""``kcgateway keys``: gateway API keys, and the suspensions that repeated failures cause.

A new key is printed exactly once (``create``, ``create-admin``, ``rotate``): only an HMAC of
its secret is stored, so it can never be shown again. Every command acts as the operator
(:class:`~kcgateway.gateway.keys.Operator`): admin of every tenant, without IP or expiry limits.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kcgateway.commands._admin import ConfigOption, TenantOption, run, table, when
from kcgateway.errors import KcgatewayError

if TYPE_CHECKING:
    from kcgateway.gateway.keys import KeyView, SuspensionView
    from kcgateway.main import AdminServices
    from kcgateway.secret import Secret

app = typer.Typer(
    help="Gateway API keys, and suspensions after failed authentications.", no_args_is_help=True
)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+)([smhd]?)$")


def parse_duration(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``45s`` or plain seconds; typer.BadParameter otherwise."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise typer.BadParameter(f"{text!r} is not a duration: use e.g. 90d, 12h, 30m or 3600")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2) or "s"])


def _status(view: KeyView, now: datetime) -> str:
    if view.revoked_at is not None:
        return "revoked"
    if view.expires_at is not None and view.expires_at <= now:
        return "expired"
    return "active"


def _print_once(full: Secret, view: KeyView) -> None:
    typer.echo(f"key {view.key_id} for {view.owner}, scopes {', '.join(view.scopes)}")
    typer.echo("the key (shown once, store it now; it cannot be shown again):")
    typer.echo(full.reveal())


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


@app.command("create")
def create(
    *,
    tenant: TenantOption,
    owner: Annotated[str, typer.Option(help="Who (or which bot) holds the key.")],
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            help="A scope (repeat): read, trade:spot, trade:margin, trade:futures, "
            "keys:manage, accounts:manage, admin.",
        ),
    ],
    ip: Annotated[
        list[str] | None,
        typer.Option("--ip", help="An allowed client IP or CIDR (repeat); default: any."),
    ] = None,
    expires_in: Annotated[
        str | None,
        typer.Option("--expires-in", help="Lifetime, e.g. 90d or 12h; default: none."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Issue a key with the given scopes and print it once."""
    from kcgateway.gateway.apikeys import parse_scopes
    from kcgateway.gateway.keys import Operator

    lifetime = parse_duration(expires_in) if expires_in is not None else None

    async def work(admin: AdminServices) -> tuple[Secret, KeyView]:
        tenant_id = await admin.tenants.resolve(tenant)
        expires_at = None if lifetime is None else datetime.now(UTC) + lifetime
        return await admin.services.keys.create(
            tenant_id=tenant_id,
            owner=owner,
            scopes=parse_scopes(scope),
            ip_allowlist=ip or (),
            expires_at=expires_at,
            actor=Operator("cli"),
        )

    full, view = run(config, work)
    _print_once(full, view)


@app.command("list")
def list_(tenant: TenantOption, config: ConfigOption = None) -> None:
    """The tenant's keys, newest first (never their secrets: only the last 4 characters)."""

    async def work(admin: AdminServices) -> list[KeyView]:
        return await admin.services.keys.list(await admin.tenants.resolve(tenant))

    views = run(config, work)
    if not views:
        typer.echo(f"tenant {tenant} has no keys: issue one with `kcgateway keys create`")
        return
    now = datetime.now(UTC)
    rows = [
        (
            v.key_id, v.owner, f"...{v.last4}", " ".join(v.scopes),
            " ".join(v.ip_allowlist) or "any",
            _status(v, now), when(v.created_at), when(v.last_used_at), when(v.expires_at),
        )
        for v in views
    ]  # fmt: skip
    columns = ("key id", "owner", "ends", "scopes", "IPs", "status", "created (UTC)",
               "last used", "expires")  # fmt: skip
    table(f"keys of {tenant}", columns, rows)


@app.command("rotate")
def rotate(
    key_id: Annotated[str, typer.Argument(help="The key id (see `kcgateway keys list`).")],
    overlap: Annotated[
        str, typer.Option(help="How long the old key keeps working, e.g. 1h or 0.")
    ] = "1h",
    config: ConfigOption = None,
) -> None:
    """Issue a successor with the same owner, scopes and IPs (printed once).

    The old key keeps working for --overlap only.
    """
    from kcgateway.gateway.keys import Operator

    window = parse_duration(overlap)

    async def work(admin: AdminServices) -> tuple[Secret, KeyView]:
        tenant_id = await admin.tenants.of_key(key_id)
        return await admin.services.keys.rotate(
            tenant_id, key_id, overlap=window, actor=Operator("cli")
        )

    full, view = run(config, work)
    typer.echo(f"the old key {key_id} stops working in {window}")
    _print_once(full, view)


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (see `kcgateway keys list`).")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key now (the running gateway refuses it from its next request)."""
    from kcgateway.gateway.keys import Operator

    async def work(admin: AdminServices) -> bool:
        tenant_id = await admin.tenants.of_key(key_id)
        return await admin.services.keys.revoke(tenant_id, key_id, actor=Operator("cli"))

    run(config, work)
    typer.echo(f"revoked key {key_id}")


@app.command("suspensions")
def suspensions(config: ConfigOption = None) -> None:
    """Suspended source addresses and key ids (each from one address), oldest first.

    An address is suspended after 20 consecutive authentication failures from it: every request
    from it is refused until lifted. A key id from an address is suspended after 20 failures for
    that key from that address: recorded and alerted, but the key's correct secret still works.
    """
    from kcgateway.gateway.keys import Operator

    async def work(admin: AdminServices) -> list[SuspensionView]:
        return await admin.services.keys.suspensions(actor=Operator("cli"))

    views = run(config, work)
    if not views:
        typer.echo("nothing is suspended")
        return
    rows = [
        (v.target, "address" if v.key_id is None else "key id from address", v.failures,
         when(v.suspended_at))
        for v in views
    ]  # fmt: skip
    table("suspensions", ("suspension", "kind", "failures", "since (UTC)"), rows)
    typer.echo("lift one with `kcgateway keys unsuspend <suspension> --reason ...`")


@app.command("unsuspend")
def unsuspend(
    target: Annotated[
        str,
        typer.Argument(
            help="<address> or <key-id>@<address>, as `kcgateway keys suspensions` lists it."
        ),
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why it is lifted (kept in the audit log).")
    ],
    config: ConfigOption = None,
) -> None:
    """Lift a suspension (audited with --reason); a running gateway sees it within seconds."""
    from kcgateway.gateway.keys import Operator

    async def work(admin: AdminServices) -> SuspensionView:
        return await admin.services.keys.unsuspend(target, actor=Operator("cli"), reason=reason)

    view = run(config, work)  # NoSuchSuspension: exit 1, pointing at `keys suspensions`
    typer.echo(f"lifted the suspension of {view.target}")


@app.command("kucoin-credentials")
def kucoin_credentials(
    key_id: Annotated[str, typer.Argument(help="The key id (see `kcgateway keys list`).")],
    account: Annotated[str, typer.Option(help="The exchange account (id or name) to trade.")],
    config: ConfigOption = None,
) -> None:
    """Issue KuCoin-form credentials for a key, for bots that speak KuCoin's API (shown once).

    They carry the key's scopes, IP allow-list and expiry, trade only --account through the
    facade (`kcgateway serve --kucoin-port`), and replace the key's earlier ones.
    """
    from kcgateway.errors import ConfigError
    from kcgateway.gateway.keys import Operator

    async def work(admin: AdminServices) -> tuple[str, str, str]:
        facade = admin.services.facade
        if facade is None:
            raise ConfigError("the KuCoin facade is not configured on this gateway")
        tenant_id = await admin.tenants.of_key(key_id)
        made, view = await facade.credentials.issue(
            tenant_id, key_id, account, actor=Operator("cli")
        )
        return view.api_key, made.secret.reveal(), made.passphrase.reveal()

    api_key, secret, passphrase = run(config, work)
    typer.echo(f"KuCoin credentials for key {key_id} (shown once, store them now):")
    typer.echo(f"apiKey:     {api_key}")
    typer.echo(f"secret:     {secret}")
    typer.echo(f"passphrase: {passphrase}")
    typer.echo('send KC-API-KEY-VERSION "2" or "3" (ccxt and the official SDKs do)')
