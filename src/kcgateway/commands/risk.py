"""``kcgateway risk``: the kill switch, trading states, limits and blocked symbols.

Every command acts as the operator (:class:`~kcgateway.gateway.keys.Operator`): it may act on
the gateway level and on any tenant. A running gateway picks the change up within a second (it
re-reads the risk tables when their generation number moves). Exit codes: 0 done; 1 refused or
not found (the message says what to do), or a halt whose open orders were not all cancelled;
2 usage (a bad level, limit name or value).
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from kcgateway.commands._admin import ConfigOption, fail, run, table, when

if TYPE_CHECKING:
    from kcgateway.gateway.risk_control import LimitsView, RiskControl, StateView
    from kcgateway.main import AdminServices

T = TypeVar("T")
app = typer.Typer(
    help="Kill switch, trading states, limits and blocked symbols.", no_args_is_help=True
)
limits_app = typer.Typer(help="Show or set a level's limit overrides.", no_args_is_help=True)
app.add_typer(limits_app, name="limits")


class LevelChoice(StrEnum):
    """The four levels."""

    GATEWAY = "gateway"
    TENANT = "tenant"
    ACCOUNT = "account"
    KEY = "key"


LevelArg = Annotated[LevelChoice, typer.Argument(help="gateway, tenant, account or key.")]
TargetArg = Annotated[
    str,
    typer.Argument(help="Tenant name or id, account id (or name with --tenant), key id."),
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")]
TenantOpt = Annotated[
    str | None, typer.Option("--tenant", help="Tenant an account name belongs to.")
]
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_TRUE = {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}


async def _tenant_id(admin: AdminServices, tenant: str | None) -> str | None:
    return None if tenant is None else await admin.tenants.resolve(tenant)


def _risk(admin: AdminServices) -> RiskControl:
    risk = admin.services.risk
    if risk is None:  # pragma: no cover - build_services always wires it
        raise fail("risk control is not configured")
    return risk


def _describe(view: StateView) -> str:
    where = "the gateway" if view.level.value == "gateway" else f"{view.level.value} {view.target}"
    return f"{where} is {view.state.value}"


@app.command("halt")
def halt(
    level: LevelArg,
    target: TargetArg = "",
    *,
    reason: ReasonOption,
    tenant: TenantOpt = None,
    cancel_open: Annotated[
        bool, typer.Option("--cancel-open", help="Also cancel every open order under it.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Refuse every new order under the target at once (and cancel its open orders)."""
    from kcgateway.gateway.keys import Operator

    async def work(admin: AdminServices) -> Any:
        tenant_id = await _tenant_id(admin, tenant)
        return await _risk(admin).halt(
            level.value, target, reason, Operator("cli"), cancel_open, tenant=tenant_id
        )

    result = run(config, work)
    typer.echo(f"halted: {_describe(result.state)} (reason: {result.state.reason})")
    if result.cancel is None:
        return
    typer.echo(f"open orders cancelled: {result.cancel.cancelled}")
    if not result.cancel.complete:
        for failure in result.cancel.failures:
            typer.secho(f"error: {failure}", err=True, fg="red")
        raise typer.Exit(1)


@app.command("resume")
def resume(
    level: LevelArg,
    target: TargetArg = "",
    *,
    reason: ReasonOption,
    tenant: TenantOpt = None,
    config: ConfigOption = None,
) -> None:
    """Back to ACTIVE (the reason is kept in the audit log)."""
    from kcgateway.gateway.keys import Operator

    async def work(admin: AdminServices) -> Any:
        tenant_id = await _tenant_id(admin, tenant)
        return await _risk(admin).resume(
            level.value, target, reason, Operator("cli"), tenant=tenant_id
        )

    view = run(config, work)
    typer.echo(f"resumed: {_describe(view)}")


@app.command("status")
def status(config: ConfigOption = None) -> None:
    """Every state other than ACTIVE, and the blocked symbols."""
    from kcgateway.gateway.keys import Operator

    async def work(admin: AdminServices) -> Any:
        risk = _risk(admin)
        return await risk.states(actor=Operator("cli")), await risk.blocked_symbols()

    views, blocked = run(config, work)
    if not views:
        typer.echo("every level is active")
    else:
        rows = [
            (v.level.value, v.target or "-", v.tenant_id, v.state.value, when(v.since), v.actor,
             v.reason)
            for v in views
        ]  # fmt: skip
        table(
            "trading states",
            ("level", "target", "tenant", "state", "since", "by", "reason"),
            rows,
        )
    if blocked:
        table(
            "blocked symbols",
            ("symbol", "since", "by", "reason"),
            [(b.symbol, when(b.since), b.actor, b.reason) for b in blocked],
        )


@app.command("block")
def block(symbol: str, *, reason: ReasonOption, config: ConfigOption = None) -> None:
    """Block a symbol gateway-wide: no order of it passes, for any tenant."""
    from kcgateway.gateway.keys import Operator

    async def work(admin: AdminServices) -> Any:
        return await _risk(admin).block_symbol(symbol, Operator("cli"), reason)

    blocked = run(config, work)
    typer.echo(f"blocked: {blocked.symbol}")


@app.command("unblock")
def unblock(symbol: str, *, reason: ReasonOption, config: ConfigOption = None) -> None:
    """Take a symbol off the gateway-wide block list."""
    from kcgateway.gateway.keys import Operator

    async def work(admin: AdminServices) -> bool:
        done: bool = await _risk(admin).unblock_symbol(symbol, Operator("cli"), reason)
        return done

    if not run(config, work):
        raise fail(f"{symbol.upper()} is not blocked: see `kcgateway risk status`")
    typer.echo(f"unblocked: {symbol.upper()}")


def _show(view: LimitsView) -> None:
    from kcgateway.gateway import risk_overrides

    own = risk_overrides.to_wire(view.overrides)
    effective = risk_overrides.to_wire(view.effective, only_set=False)
    where = "gateway" if view.level.value == "gateway" else f"{view.level.value} {view.target}"
    typer.echo(
        f"limits of {where}" + (f" (set by {view.actor}: {view.reason})" if view.actor else "")
    )
    rows = [
        (name, _cell(own.get(name)), _cell(value), "*" if name in own else "")
        for name, value in effective.items()
    ]
    table("limits", ("limit", "set here", "in force", "own"), rows)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "(none)"
    return str(value).lower() if isinstance(value, bool) else str(value)


@limits_app.command("show")
def limits_show(
    level: LevelArg,
    target: TargetArg = "",
    *,
    tenant: TenantOpt = None,
    config: ConfigOption = None,
) -> None:
    """A level's own overrides and the limits in force there."""
    from kcgateway.gateway.keys import Operator

    async def work(admin: AdminServices) -> Any:
        tenant_id = await _tenant_id(admin, tenant)
        return await _risk(admin).limits(
            level.value, target, actor=Operator("cli"), tenant=tenant_id
        )

    _show(run(config, work))


def parse_assignment(text: str) -> tuple[str, object]:
    """``name=value`` for one limit, the value typed by the limit's kind; BadParameter else."""
    from kcgateway.errors import ValidationError
    from kcgateway.gateway import risk_overrides
    from kcgateway.gateway.risk_overrides import Kind

    name_text, eq, raw = text.partition("=")
    if not eq:
        raise typer.BadParameter(f"{text!r}: write name=value, e.g. maxOrderNotional=5000")
    try:
        name = risk_overrides.field_name(name_text.strip())
    except ValidationError as exc:
        raise typer.BadParameter(exc.message) from None
    raw = raw.strip()
    kind = risk_overrides.KINDS[name]
    if kind is Kind.SWITCH and raw.lower() in _TRUE:
        return name, _TRUE[raw.lower()]
    if kind is Kind.COUNT and raw.isascii() and raw.isdigit():
        return name, int(raw)
    if kind is Kind.DECIMAL and _DECIMAL.fullmatch(raw):
        return name, Decimal(raw)
    if kind is Kind.SYMBOLS:
        return name, frozenset(s.strip().upper() for s in raw.split(",") if s.strip())
    wanted = {
        Kind.SWITCH: "true or false",
        Kind.COUNT: "a whole number",
        Kind.DECIMAL: 'a decimal such as "2500.5"',
    }[kind]
    raise typer.BadParameter(f"{name_text.strip()}={raw!r}: the value must be {wanted}")


@limits_app.command("set")
def limits_set(
    level: LevelArg,
    target: TargetArg = "",
    *,
    reason: ReasonOption,
    assign: Annotated[
        list[str] | None,
        typer.Option("--set", help="name=value (repeat), e.g. maxOrderNotional=5000."),
    ] = None,
    unset: Annotated[
        list[str] | None, typer.Option("--unset", help="A limit to stop overriding (repeat).")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Drop every override not given with --set.")
    ] = False,
    tenant: TenantOpt = None,
    config: ConfigOption = None,
) -> None:
    """Change a level's overrides (merged into the current ones unless --replace)."""
    from dataclasses import replace as with_fields

    from kcgateway.errors import ValidationError
    from kcgateway.gateway import risk_overrides
    from kcgateway.gateway.keys import Operator
    from kcgateway.risk import LimitOverrides

    changes = dict(parse_assignment(a) for a in assign or [])
    try:
        cleared = {risk_overrides.field_name(u.strip()): None for u in unset or []}
    except ValidationError as exc:
        raise typer.BadParameter(exc.message, param_hint="--unset") from None
    if not changes and not cleared and not replace:
        raise typer.BadParameter("give at least one --set or --unset (or --replace to clear)")

    async def work(admin: AdminServices) -> Any:
        tenant_id = await _tenant_id(admin, tenant)
        risk = _risk(admin)
        operator = Operator("cli")
        current = LimitOverrides()
        if not replace:
            current = (
                await risk.limits(level.value, target, actor=operator, tenant=tenant_id)
            ).overrides
        merged: dict[str, Any] = {**changes, **cleared}
        wanted = with_fields(current, **merged)
        return await risk.set_limits(
            level.value, target, wanted, reason, operator, tenant=tenant_id
        )

    _show(run(config, work))
