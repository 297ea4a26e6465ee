"""The /v1/risk routes: kill switch, trading states, limits and blocked symbols.

Each route needs ``risk:manage``; the rules (own tenant only, admin for the gateway level and
the block list, a reason for every change) are the service's
(:class:`~kcgateway.gateway.risk_control.RiskControl`), so the CLI obeys the same ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from kcgateway.errors import ConfigError
from kcgateway.gateway import risk_overrides
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.keys import Principal
from kcgateway.gateway.risk_control import CancelReport, LimitsView, RiskControl, StateView
from kcgateway.risk import LimitOverrides
from kcgateway.web.auth import require, services_of
from kcgateway.web.decimals import DecimalString
from kcgateway.web.schemas import AUTHED, error_responses

router = APIRouter(prefix="/v1/risk", tags=["risk"])
RiskManager = Annotated[Principal, Depends(require(Scope.RISK_MANAGE))]
Admin = Annotated[Principal, Depends(require(Scope.ADMIN))]
LevelName = Literal["gateway", "tenant", "account", "key"]
StateName = Literal["active", "reducing", "halted"]
_STRICT = ConfigDict(extra="forbid", populate_by_name=True)
_TARGET = Field(
    default="",
    max_length=200,
    description="a tenant id (empty: your own), an account id or name, a key id; ignored for "
    "the gateway",
)
_REASON = Field(min_length=1, max_length=1000, description="why (kept in the audit log)")
Symbols = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=1000)
]


def _risk(request: Request) -> RiskControl:
    risk = services_of(request).risk
    if risk is None:  # pragma: no cover - main.build_services always wires it
        raise ConfigError("risk control is not configured")
    return risk


class HaltBody(BaseModel):
    """``POST /v1/risk/halt``: refuse every new order under the target at once."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {"level": "account", "target": "main", "reason": "leaked key", "cancelOpen": True}
            ]
        },
    )

    level: LevelName
    target: str = _TARGET
    reason: str = _REASON
    cancel_open: bool = Field(
        default=False,
        alias="cancelOpen",
        description="also cancel every open order under the target at the exchange",
    )


class ResumeBody(BaseModel):
    """``POST /v1/risk/resume``: back to ACTIVE, with a reason."""

    model_config = _STRICT

    level: LevelName
    target: str = _TARGET
    reason: str = _REASON


class LimitsIn(BaseModel):
    """A level's limit overrides; an absent or null field is "no opinion" (the wider level's).

    Amounts and percentages are decimal strings (``"5"`` is 5%), times in milliseconds, symbol
    lists of ``BASE-QUOTE`` symbols. A tenant, account or key can only tighten.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        alias_generator=lambda name: risk_overrides.WIRE[name],
    )

    check_symbol: StrictBool | None = None
    symbol_allow: Symbols | None = None
    symbol_deny: Symbols | None = None
    check_price_collar: StrictBool | None = None
    price_collar_pct: DecimalString | None = None
    market_to_ioc: StrictBool | None = None
    check_notional: StrictBool | None = None
    max_order_notional: DecimalString | None = None
    check_exposure: StrictBool | None = None
    max_symbol_position: DecimalString | None = None
    max_symbol_gross: DecimalString | None = None
    max_account_gross: DecimalString | None = None
    max_open_orders: StrictInt | None = None
    check_liquidity: StrictBool | None = None
    max_volume_share_pct: DecimalString | None = None
    liquid_top_n: StrictInt | None = None
    min_volume_24h: DecimalString | None = None
    thin_symbol_allow: Symbols | None = None
    check_rates: StrictBool | None = None
    key_orders_per_second: StrictInt | None = None
    key_orders_per_minute: StrictInt | None = None
    account_orders_per_second: StrictInt | None = None
    account_orders_per_minute: StrictInt | None = None
    daily_orders: StrictInt | None = None
    daily_turnover: DecimalString | None = None
    check_duplicates: StrictBool | None = None
    duplicate_window_ms: StrictInt | None = None
    check_drawdown: StrictBool | None = None
    drawdown_reducing_pct: DecimalString | None = None
    drawdown_halt_pct: DecimalString | None = None
    daily_loss_reducing_pct: DecimalString | None = None
    daily_loss_halt_pct: DecimalString | None = None
    check_detector: StrictBool | None = None
    dormant_after_ms: StrictInt | None = None
    dump_share_pct: DecimalString | None = None
    dump_window_ms: StrictInt | None = None
    dump_min_holdings: DecimalString | None = None
    pump_above_baseline_pct: DecimalString | None = None
    burst_accounts_tenant: StrictInt | None = None
    burst_accounts_gateway: StrictInt | None = None
    burst_window_ms: StrictInt | None = None
    max_price_age_ms: StrictInt | None = None
    max_balance_age_ms: StrictInt | None = None
    max_activity_age_ms: StrictInt | None = None
    max_rules_age_ms: StrictInt | None = None
    max_volume_age_ms: StrictInt | None = None
    max_baseline_age_ms: StrictInt | None = None

    def to_overrides(self) -> LimitOverrides:
        """The service's overrides (range checks are the service's)."""
        return risk_overrides.overrides_of(
            {name: getattr(self, name) for name in risk_overrides.KINDS}
        )


class LimitsBody(BaseModel):
    """``PUT /v1/risk/limits``: REPLACE a level's overrides (``limits: {}`` clears them)."""

    model_config = _STRICT

    level: LevelName
    target: str = _TARGET
    reason: str = _REASON
    limits: LimitsIn


class BlockBody(BaseModel):
    """``POST /v1/risk/blocked-symbols``: add a symbol to the gateway-wide deny-list."""

    model_config = _STRICT

    symbol: str = Field(min_length=1, max_length=64)
    reason: str = _REASON

    @field_validator("symbol")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()


class CancelOut(BaseModel):
    """What cancelling the open orders did."""

    cancelled: int
    failures: list[str]
    complete: bool


class StateOut(BaseModel):
    """One target's trading state."""

    level: LevelName
    target: str
    tenant_id: str | None = Field(serialization_alias="tenantId")
    state: StateName
    reason: str
    actor: str
    since: datetime | None


class HaltOut(StateOut):
    """The halted state, and the cancel report when ``cancelOpen`` was asked."""

    cancel: CancelOut | None


class BlockedOut(BaseModel):
    """A symbol blocked gateway-wide."""

    symbol: str
    reason: str
    actor: str
    since: datetime


class RiskStateOut(BaseModel):
    """Every state other than ACTIVE the caller may see, and the blocked symbols."""

    gateway: StateName
    states: list[StateOut]
    blocked_symbols: list[BlockedOut] = Field(serialization_alias="blockedSymbols")


class LimitsOut(BaseModel):
    """A level's own overrides and the limits in force there (decimals as strings)."""

    level: LevelName
    target: str
    tenant_id: str | None = Field(serialization_alias="tenantId")
    overrides: dict[str, Any]
    effective: dict[str, Any]
    actor: str | None
    reason: str | None
    updated_at: datetime | None = Field(serialization_alias="updatedAt")


def _state_json(view: StateView) -> dict[str, Any]:
    return {
        "level": view.level.value,
        "target": view.target,
        "tenant_id": view.tenant_id,
        "state": view.state.value,
        "reason": view.reason,
        "actor": view.actor,
        "since": view.since,
    }


def _cancel_json(report: CancelReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "cancelled": report.cancelled,
        "failures": list(report.failures),
        "complete": report.complete,
    }


def _limits_json(view: LimitsView) -> dict[str, Any]:
    return {
        "level": view.level.value,
        "target": view.target,
        "tenant_id": view.tenant_id,
        "overrides": risk_overrides.to_wire(view.overrides),
        "effective": risk_overrides.to_wire(view.effective, only_set=False),
        "actor": view.actor,
        "reason": view.reason,
        "updated_at": view.updated_at,
    }


_WRITES = error_responses(*AUTHED, 400, 404)


@router.post("/halt", response_model=HaltOut, response_model_by_alias=True, responses=_WRITES)
async def halt(body: HaltBody, request: Request, principal: RiskManager) -> dict[str, Any]:
    """The kill switch: every new order under the target is refused from this call on.

    With ``cancelOpen`` every open order under it is then cancelled at the exchange; the answer
    reports what was (a failure there leaves the halt in place). The gateway level needs an
    admin key; a key reaches its own tenant, accounts and keys only (anyone else's: 404).
    """
    result = await _risk(request).halt(
        body.level, body.target, body.reason, principal, body.cancel_open
    )
    return {**_state_json(result.state), "cancel": _cancel_json(result.cancel)}


@router.post("/resume", response_model=StateOut, responses=_WRITES)
async def resume(body: ResumeBody, request: Request, principal: RiskManager) -> dict[str, Any]:
    """Back to ACTIVE. A state the operator or the risk engine set needs an admin key."""
    view = await _risk(request).resume(body.level, body.target, body.reason, principal)
    return _state_json(view)


@router.get("/state", response_model=RiskStateOut, responses=error_responses(*AUTHED))
async def state(request: Request, principal: RiskManager) -> dict[str, Any]:
    """The gateway's state, every non-ACTIVE state of your tenant, and the blocked symbols.

    Why and by whom a symbol was blocked is shown to admin keys only (a detector's reason can
    name other tenants' accounts).
    """
    risk = _risk(request)
    views = await risk.states(actor=principal)
    gateway = next((v.state.value for v in views if v.level.value == "gateway"), "active")
    admin = principal.allows(Scope.ADMIN)  # a reason may name other tenants' accounts
    blocked = [
        {
            "symbol": b.symbol,
            "reason": b.reason if admin else "",
            "actor": b.actor if admin else "",
            "since": b.since,
        }
        for b in await risk.blocked_symbols()
    ]
    return {
        "gateway": gateway,
        "states": [_state_json(v) for v in views],
        "blocked_symbols": blocked,
    }


@router.get("/limits", response_model=LimitsOut, responses=error_responses(*AUTHED, 400, 404))
async def get_limits(
    request: Request,
    principal: RiskManager,
    level: Annotated[LevelName, Query()],
    target: Annotated[str, Query(max_length=200)] = "",
) -> dict[str, Any]:
    """A level's own overrides and the limits in force there (gateway -> ... -> this level)."""
    view = await _risk(request).limits(level, target, actor=principal)
    return _limits_json(view)


@router.put("/limits", response_model=LimitsOut, responses=_WRITES)
async def put_limits(body: LimitsBody, request: Request, principal: RiskManager) -> dict[str, Any]:
    """Replace a level's overrides, audited with the reason.

    A value no operator means (a maximum of 0, a percentage over 100) is a 400 naming the
    field; an unknown field is a 422 naming it. A tenant, account or key can only tighten.
    """
    view = await _risk(request).set_limits(
        body.level, body.target, body.limits.to_overrides(), body.reason, principal
    )
    return _limits_json(view)


@router.post("/blocked-symbols", status_code=201, response_model=BlockedOut, responses=_WRITES)
async def block(body: BlockBody, request: Request, principal: Admin) -> dict[str, Any]:
    """Block a symbol gateway-wide (admin): no order of it passes, for any tenant."""
    blocked = await _risk(request).block_symbol(body.symbol, principal, body.reason)
    return {
        "symbol": blocked.symbol,
        "reason": blocked.reason,
        "actor": blocked.actor,
        "since": blocked.since,
    }
