"""Tenants as a use case: create one (audited), list them, find one by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kcgateway.errors import InvalidTenantName, NoSuchTenant, TenantNameTaken
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.store.database import Database
from kcgateway.store.repositories import TenantRepository
from kcgateway.store.tables import ExchangeAccount, GatewayKey, Tenant

Now = Callable[[], datetime]
MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class TenantView:
    """A tenant with how many (live) accounts and usable keys it has."""

    id: str
    name: str
    created_at: datetime
    accounts: int
    keys: int


def check_name(name: str) -> str:
    """The stripped name, or InvalidTenantName saying what to change. Pure."""
    clean = name.strip()
    if not clean:
        raise InvalidTenantName("the tenant name is empty: give a name such as acme")
    if len(clean) > MAX_NAME:
        raise InvalidTenantName(f"the tenant name is longer than {MAX_NAME} characters")
    if any(not ch.isprintable() for ch in clean):
        raise InvalidTenantName("the tenant name has control characters: use printable text")
    return clean


class TenantService:
    """Creates and lists tenants in ``db``."""

    def __init__(self, db: Database, *, now: Now = lambda: datetime.now(UTC)) -> None:
        self._db = db
        self._now = now

    async def create(self, name: str, *, actor: str) -> TenantView:
        """A new tenant (TenantNameTaken when the name is used)."""
        clean = check_name(name)
        now = self._now()
        try:
            async with self._db.write() as session:
                if await TenantRepository(session).by_name(clean) is not None:
                    raise TenantNameTaken(f"a tenant named {clean!r} exists")
                tenant_id = await TenantRepository(session).add(clean, now=now)
                await record(
                    session, AuditAction.TENANT_CREATED, actor=actor, subject=tenant_id,
                    now=now, tenant_id=tenant_id, detail={"name": clean},
                )  # fmt: skip
        except IntegrityError:  # a concurrent create of the same name
            raise TenantNameTaken(f"a tenant named {clean!r} exists") from None
        return TenantView(tenant_id, clean, now, 0, 0)

    async def resolve(self, name_or_id: str) -> str:
        """The id of the tenant with this name (or id); NoSuchTenant otherwise."""
        async with self._db.read() as session:
            repo = TenantRepository(session)
            tenant = await repo.by_name(name_or_id) or await session.get(Tenant, name_or_id)
        if tenant is None:
            raise NoSuchTenant(
                name_or_id,
                hint="see `kcgateway tenants list`, or create it with `kcgateway tenants create "
                "NAME`",
            )
        return tenant.id

    async def of_key(self, key_id: str) -> str:
        """The id of the tenant that owns gateway key ``key_id`` (NoSuchTenant when unknown)."""
        async with self._db.read() as session:
            key = await session.get(GatewayKey, key_id)
        if key is None:
            raise NoSuchTenant(
                hint=f"no gateway key {key_id!r}: see `kcgateway keys list --tenant T`"
            )
        return key.tenant_id

    async def list(self) -> list[TenantView]:
        """Every tenant by name, with its live account and unrevoked key counts."""
        accounts = (
            select(ExchangeAccount.tenant_id, func.count().label("n"))
            .where(ExchangeAccount.removed_at.is_(None))
            .group_by(ExchangeAccount.tenant_id)
            .subquery()
        )
        keys = (
            select(GatewayKey.tenant_id, func.count().label("n"))
            .where(GatewayKey.revoked_at.is_(None))
            .group_by(GatewayKey.tenant_id)
            .subquery()
        )
        query = (
            select(Tenant, accounts.c.n, keys.c.n)
            .outerjoin(accounts, accounts.c.tenant_id == Tenant.id)
            .outerjoin(keys, keys.c.tenant_id == Tenant.id)
            .order_by(Tenant.name)
        )
        async with self._db.read() as session:
            rows = (await session.execute(query)).all()
        return [TenantView(t.id, t.name, t.created_at, a or 0, k or 0) for t, a, k in rows]
