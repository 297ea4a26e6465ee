"""``kcgateway orders list``: a tenant's order intents as the gateway recorded them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from kcgateway.commands._admin import ConfigOption, TenantOption, run, table, when
from kcgateway.gateway.orders.listing import OrderQuery
from kcgateway.store.types import OrderState

if TYPE_CHECKING:
    from kcgateway.gateway.orders.model import IntentView
    from kcgateway.gateway.reasons import Reason
    from kcgateway.main import AdminServices

app = typer.Typer(help="Order intents.", no_args_is_help=True)
_STATES = ", ".join(s.value for s in OrderState)
MARKETS = ("spot", "margin", "futures")


def _utc(value: datetime | None) -> datetime | None:
    """A time typed without a zone is UTC (as the table shows times)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _states(values: list[str] | None) -> list[OrderState]:
    out = []
    for value in values or ():
        try:
            out.append(OrderState(value))
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a state; states: {_STATES}") from None
    return out


@app.command("list")
def list_(  # noqa: PLR0917 - typer passes options positionally
    tenant: TenantOption,
    account: Annotated[str | None, typer.Option(help="Only this account (name or id).")] = None,
    state: Annotated[
        list[str] | None, typer.Option("--state", help=f"Only these states (repeat): {_STATES}.")
    ] = None,
    symbol: Annotated[str | None, typer.Option(help="Only this symbol.")] = None,
    market: Annotated[
        str | None, typer.Option(help="Only this market: spot, margin or futures.")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option("--from", help="Created at or after (UTC).")
    ] = None,
    until: Annotated[datetime | None, typer.Option("--to", help="Created before (UTC).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 50,
    config: ConfigOption = None,
) -> None:
    """The tenant's orders, newest first, from the gateway's records (no exchange call)."""
    states = _states(state)
    if market is not None and market not in MARKETS:
        raise typer.BadParameter(f"{market!r} is not a market; markets: {', '.join(MARKETS)}")
    query = OrderQuery(
        limit=limit, account=account, market=market, symbol=symbol, states=tuple(states),
        since=_utc(since), until=_utc(until),
    )  # fmt: skip

    async def work(admin: AdminServices) -> list[IntentView]:
        tenant_id = await admin.tenants.resolve(tenant)
        return (await admin.services.orders.page(tenant_id, query)).items

    views = run(config, work)
    if not views:
        typer.echo("no orders match")
        return
    rows = [
        (
            v.id, v.account_id, v.client_oid, v.symbol, v.side, v.order_type, v.price, v.size,
            v.funds, v.state.value, v.exchange_order_id, when(v.created_at),
            v.reason.code if v.reason else "",
        )
        for v in views
    ]  # fmt: skip
    columns = ("id", "account", "clientOid", "symbol", "side", "type", "price", "size", "funds",
               "state", "exchange id", "created (UTC)", "reason")  # fmt: skip
    table(f"orders of {tenant} (newest first, at most {limit})", columns, rows)
    for v in views:  # what the reconciler could not settle on its own
        if v.attention:
            typer.secho(f"needs the operator: order {v.id}: {v.attention}", fg="yellow")
    for v in views:  # why each refused order was refused, and what to do
        if v.reason:
            typer.echo(f"{v.state.value}: order {v.id}: {describe_reason(v.reason)}")


def describe_reason(reason: Reason) -> str:
    """One line: the code, the message, the field, the exchange's code, what to do."""
    where = f" (field {reason.field})" if reason.field else ""
    exchange = f" [exchange {reason.exchange_code}]" if reason.exchange_code else ""
    return f"{reason.code}{where}{exchange}: {reason.message}; do: {reason.hint}"
