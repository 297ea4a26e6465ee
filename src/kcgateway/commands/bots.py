"""``kcgateway bots`` and ``kcgateway signals``: signal bots and their signal log.

The same service as ``/v1/bots`` (``gateway/bots/service.py``), acting as the operator. A new
bot's secret (and TradingView URL token) is printed once by ``bots create`` and
``bots rotate-secret``; nothing else prints a secret. Bots start in paper mode;
``bots promote`` is the one way to live.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated

import typer

from kcgateway.commands._admin import ConfigOption, TenantOption, fail, run, table, when

if TYPE_CHECKING:
    from kcgateway.gateway.bots import SignalBots
    from kcgateway.gateway.bots.log import SignalView
    from kcgateway.gateway.bots.service import BotView, NewBot
    from kcgateway.main import AdminServices

app = typer.Typer(help="Signal bots: webhooks turned into orders.", no_args_is_help=True)
signals_app = typer.Typer(help="The signal log of a tenant's bots.", no_args_is_help=True)
BotArg = Annotated[str, typer.Argument(help="Bot id or name.")]


def _bots(admin: AdminServices) -> SignalBots:
    found = admin.services.signals
    if found is None:  # pragma: no cover - main.build_services always wires it
        raise typer.Exit(1)
    return found


def _dec(text: str | None, name: str) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise fail(f"--{name} must be a decimal number like 0.001") from None


def _show(view: BotView) -> None:
    positions = ", ".join(f"{k} {v}" for k, v in view.positions.items()) or "flat"
    typer.echo(
        f"bot {view.name} (id {view.id}): {view.profile}, {view.mode}, {view.state}; "
        f"symbols {', '.join(view.symbols)}; position {positions}"
    )


@app.command("create")
def create(  # noqa: PLR0917 - typer passes options positionally
    tenant: TenantOption,
    name: Annotated[str, typer.Option(help="A name for the bot.")],
    account: Annotated[str, typer.Option(help="The live account (id or name).")],
    symbol: Annotated[list[str], typer.Option(help="An allowed symbol (repeat).")],
    profile: Annotated[str, typer.Option(help="standard, tradingview or 3commas.")],
    max_position: Annotated[str, typer.Option(help="Largest |position| in base units.")],
    size: Annotated[str | None, typer.Option(help="Fixed base size per signal.")] = None,
    quote: Annotated[str | None, typer.Option(help="Fixed quote amount per signal.")] = None,
    equity_pct: Annotated[str | None, typer.Option(help="Percent of quote equity.")] = None,
    limit_offset_pct: Annotated[
        str | None, typer.Option(help="Limit orders at this offset.")
    ] = None,
    limit_timeout_s: Annotated[int | None, typer.Option(help="Cancel limits after (s).")] = None,
    paper_account: Annotated[str, typer.Option(help="The paper account.")] = "paper",
    allow_ip: Annotated[list[str] | None, typer.Option(help="Allowed sender (repeat).")] = None,
    config: ConfigOption = None,
) -> None:
    """Create a paper bot; print its secret (and TradingView URL token) once."""
    from kcgateway.gateway.bots.model import BotSpec, OrderStyle, Profile, Sizing

    chosen = [
        (k, v) for k, v in (("size", size), ("quote", quote), ("equity_pct", equity_pct)) if v
    ]
    if len(chosen) != 1:
        raise fail("give exactly one of --size, --quote and --equity-pct")
    sizing, value = chosen[0]
    try:
        kind = Profile(profile)
    except ValueError:
        raise fail("--profile must be standard, tradingview or 3commas") from None
    spec = BotSpec(
        name, account, tuple(symbol), Sizing(sizing), _dec(value, sizing) or Decimal(0),
        _dec(max_position, "max-position") or Decimal(0), kind,
        OrderStyle.LIMIT if limit_offset_pct is not None else OrderStyle.MARKET,
        _dec(limit_offset_pct, "limit-offset-pct"), limit_timeout_s, paper_account,
        tuple(allow_ip or ()),
    )  # fmt: skip

    async def work(admin: AdminServices) -> NewBot:
        from kcgateway.gateway.keys import Operator

        tenant_id = await admin.tenants.resolve(tenant)
        return await _bots(admin).bots.create(Operator(), tenant_id, spec)

    new = run(config, work)
    _show(new.bot)
    typer.echo(f"signal URL path: /v1/signals/{new.bot.id}")
    typer.echo("signal secret (shown once; keep it in the sender only):")
    typer.echo(f"  {new.secret.reveal()}")
    if new.url_token is not None:
        typer.echo("TradingView URL token (shown once): append ?token=<it> to the URL")
        typer.echo(f"  {new.url_token.reveal()}")


@app.command("list")
def list_(tenant: TenantOption, config: ConfigOption = None) -> None:
    """The tenant's bots with mode, state and positions."""

    async def work(admin: AdminServices) -> list[BotView]:
        from kcgateway.gateway.keys import Operator

        return await _bots(admin).bots.list(Operator(), await admin.tenants.resolve(tenant))

    views = run(config, work)
    if not views:
        typer.echo(f"tenant {tenant} has no bots: create one with `kcgateway bots create`")
        return
    table(
        f"bots of {tenant}",
        ["name", "id", "profile", "mode", "state", "symbols", "positions"],
        [
            (v.name, v.id, v.profile, v.mode, v.state, " ".join(v.symbols),
             " ".join(f"{k}={p}" for k, p in v.positions.items()) or "flat")
            for v in views
        ],
    )  # fmt: skip


def _act(tenant: str, bot: str, verb: str, config: ConfigOption) -> None:
    async def work(admin: AdminServices) -> BotView:
        from kcgateway.gateway.keys import Operator

        service = _bots(admin).bots
        method = {"pause": service.pause, "resume": service.resume, "promote": service.promote}
        return await method[verb](Operator(), await admin.tenants.resolve(tenant), bot)

    _show(run(config, work))


@app.command("pause")
def pause(tenant: TenantOption, bot: BotArg, config: ConfigOption = None) -> None:
    """Stop executing the bot's signals (they are logged and refused)."""
    _act(tenant, bot, "pause", config)


@app.command("resume")
def resume(tenant: TenantOption, bot: BotArg, config: ConfigOption = None) -> None:
    """Execute the bot's signals again."""
    _act(tenant, bot, "resume", config)


@app.command("promote")
def promote(tenant: TenantOption, bot: BotArg, config: ConfigOption = None) -> None:
    """Paper -> live: the bot's later signals trade its real account (audited)."""
    _act(tenant, bot, "promote", config)


@app.command("rotate-secret")
def rotate_secret(
    tenant: TenantOption,
    bot: BotArg,
    overlap_s: Annotated[int, typer.Option(help="Old secrets keep working (s).", min=0)] = 3600,
    config: ConfigOption = None,
) -> None:
    """A new signal secret, printed once; the old ones work --overlap-s more seconds."""

    async def work(admin: AdminServices) -> str:
        from kcgateway.gateway.keys import Operator

        tenant_id = await admin.tenants.resolve(tenant)
        secret = await _bots(admin).bots.rotate_secret(
            Operator(), tenant_id, bot, timedelta(seconds=overlap_s)
        )
        return secret.reveal()

    secret = run(config, work)
    typer.echo("new signal secret (shown once):")
    typer.echo(f"  {secret}")


@app.command("delete")
def delete(tenant: TenantOption, bot: BotArg, config: ConfigOption = None) -> None:
    """Delete the bot: its signals are refused from now on (the log stays)."""

    async def work(admin: AdminServices) -> None:
        from kcgateway.gateway.keys import Operator

        await _bots(admin).bots.delete(Operator(), await admin.tenants.resolve(tenant), bot)

    run(config, work)
    typer.echo(f"bot {bot} deleted")


@signals_app.command("list")
def signals_list(
    tenant: TenantOption,
    bot: Annotated[str | None, typer.Option(help="Only this bot (id or name).")] = None,
    status: Annotated[str | None, typer.Option(help="done, held, rejected, refused...")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    config: ConfigOption = None,
) -> None:
    """The signal log, newest first: source, verdict, orders and why."""

    async def work(admin: AdminServices) -> list[SignalView]:
        from kcgateway.gateway.keys import Operator

        tenant_id = await admin.tenants.resolve(tenant)
        return await _bots(admin).signals(
            Operator(), tenant_id, bot=bot, status=status, limit=limit
        )

    views = run(config, work)
    if not views:
        typer.echo("no signals")
        return
    table(
        f"signals of {tenant}",
        ["received", "bot", "source", "mode", "action", "symbol", "status", "reason", "orders"],
        [
            (when(v.received_at), v.bot_id, v.source, v.mode, v.action, v.symbol, v.status,
             v.reason, " ".join(v.orders))
            for v in views
        ],
    )  # fmt: skip
