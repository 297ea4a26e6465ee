"""Who may act on which target, and the checks every change's arguments pass."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.errors import Forbidden, ValidationError
from kcgateway.gateway import risk_overrides
from kcgateway.gateway.apikeys import Scope, check_text
from kcgateway.gateway.keys import Actor, Principal
from kcgateway.gateway.risk_control.views import Target
from kcgateway.risk import LimitOverrides
from kcgateway.risk.model import Level
from kcgateway.store.tables import ExchangeAccount, GatewayKey, Tenant

#: the gateway level's only target
GATEWAY = ""


def is_admin(actor: Actor) -> bool:
    """True for the operator and for a key that holds ``admin``."""
    return not isinstance(actor, Principal) or Scope.ADMIN in actor.scopes


def authorize(actor: Actor, level: Level) -> None:
    """Forbidden unless the actor holds risk:manage (and admin for the gateway level)."""
    if isinstance(actor, Principal) and not actor.allows(Scope.RISK_MANAGE):
        raise Forbidden(
            "this key lacks the risk:manage scope: use a key that holds it", field="scopes"
        )
    if level is Level.GATEWAY and not is_admin(actor):
        raise Forbidden(
            "the gateway level is the operator's: use an admin key or `kcgateway risk`",
            field="level",
        )


def check_reason(reason: str) -> str:
    """The stripped reason; ValidationError when it is empty or not printable."""
    if not reason or not reason.strip():
        raise ValidationError(
            "a reason is required: say why (it is kept in the audit log)", field="reason"
        )
    return check_text(reason, "reason", max_len=1000)


def check_symbol(symbol: str) -> str:
    """The upper-cased symbol; ValidationError when it is not a symbol."""
    clean = symbol.strip().upper()
    risk_overrides.check_overrides(LimitOverrides(symbol_deny=frozenset({clean})))
    return clean


def parse_level(level: Level | str) -> Level:
    """The level for its name; ValidationError listing the four otherwise."""
    if isinstance(level, Level):
        return level
    try:
        return Level(str(level).strip().lower())
    except ValueError:
        valid = ", ".join(lv.value for lv in Level)
        raise ValidationError(
            f"unknown level {level!r}: use one of {valid}", field="level"
        ) from None


def canonical(level: Level, target: str) -> str:
    """The target as stored (empty for the gateway)."""
    return GATEWAY if level is Level.GATEWAY else target


async def lookup(
    session: AsyncSession, level: Level, text: str, tenant: str | None
) -> Target | None:
    """The target by id (or by name within ``tenant``, for tenants and accounts)."""
    if not text:
        return None
    if level is Level.TENANT:
        row_t = await session.get(Tenant, text)
        if row_t is None:
            row_t = await session.scalar(select(Tenant).where(Tenant.name == text))
        return None if row_t is None else Target(level, row_t.id, row_t.id)
    if level is Level.ACCOUNT:
        row_a = await session.get(ExchangeAccount, text)
        if row_a is None and tenant is not None:
            row_a = await session.scalar(
                select(ExchangeAccount).where(
                    ExchangeAccount.tenant_id == tenant, ExchangeAccount.name == text
                )
            )
        return None if row_a is None else Target(level, row_a.id, row_a.tenant_id)
    row_k = await session.get(GatewayKey, text)
    return None if row_k is None else Target(level, row_k.key_id, row_k.tenant_id)
