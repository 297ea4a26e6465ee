"""Bot administration: create, list, pause, resume, promote paper -> live, rotate, delete.

Who may act (enforced here, whatever the front end): a key holding ``bots:manage`` (``admin``
holds every scope) on its own tenant's bots, or the operator at the command line. Every change
is an audit record in the same transaction; promotion to live is its own action
(``bot.promoted``) and never happens implicitly.

Secrets: creating a bot makes its signal secret (and, for TradingView, its URL token) and
returns them ONCE in :class:`NewBot`; only the sealed secret and the token's SHA-256 are kept.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kcgateway.errors import Conflict, NoSuchObject, PermissionDenied, ValidationError
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.gateway.bots.model import (
    BotSpec,
    BotState,
    Mode,
    Profile,
    check_spec,
)
from kcgateway.gateway.bots.ports import SecretBox
from kcgateway.gateway.keys import Operator, Principal
from kcgateway.gateway.orders.lifecycle import owned_account
from kcgateway.secret import Secret
from kcgateway.store.database import Database
from kcgateway.store.signal_tables import BotPositionRow, BotRow, BotSecretRow
from kcgateway.vault.signal_tokens import new_body_secret, new_standard_secret, new_url_token

#: TradingView's published webhook sender addresses (its "About webhooks" help page)
TRADINGVIEW_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
MAX_OVERLAP = timedelta(days=7)

Actor = Principal | Operator


@dataclass(frozen=True, slots=True)
class BotView:
    """A bot as every front end shows it (no secret, no token)."""

    id: str
    tenant_id: str
    name: str
    account_id: str
    paper_account_id: str | None
    symbols: tuple[str, ...]
    sizing: str
    sizing_value: Decimal
    order_style: str
    limit_offset_pct: Decimal | None
    limit_timeout_s: int | None
    max_position: Decimal
    profile: str
    ip_allowlist: tuple[str, ...]
    mode: str
    state: str
    created_at: datetime
    updated_at: datetime
    positions: dict[str, Decimal]


@dataclass(frozen=True, slots=True)
class NewBot:
    """A created bot and its credentials, shown once: the secret and (TradingView) URL token."""

    bot: BotView
    secret: Secret
    url_token: Secret | None


def bot_view(row: BotRow, positions: dict[str, Decimal] | None = None) -> BotView:
    """The API view of a stored bot."""
    return BotView(
        row.id, row.tenant_id, row.name, row.account_id, row.paper_account_id,
        tuple(row.symbols), row.sizing, row.sizing_value, row.order_style,
        row.limit_offset_pct, row.limit_timeout_s, row.max_position, row.profile,
        tuple(row.ip_allowlist), row.mode, row.state, row.created_at, row.updated_at,
        positions or {},
    )  # fmt: skip


def _check_allowlist(entries: tuple[str, ...]) -> None:
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValidationError(
                f"ipAllowlist: {entry!r} is not an address or CIDR", field="ipAllowlist"
            ) from None


def check_actor(actor: Actor, tenant_id: str) -> None:
    """PermissionDenied without bots:manage; another tenant's bots do not exist for a key."""
    if isinstance(actor, Principal):
        if not actor.allows(Scope.BOTS_MANAGE):
            raise PermissionDenied("bots:manage")
        if actor.tenant_id != tenant_id:
            raise NoSuchObject("bot")


class BotService:
    """The bot use cases over the database and the signal-secret vault."""

    def __init__(self, db: Database, vault: SecretBox, *, now: Callable[[], datetime]) -> None:
        self._db = db
        self._vault = vault
        self._now = now

    async def create(self, actor: Actor, tenant_id: str, spec: BotSpec) -> NewBot:
        """Check, store and audit a new paper bot; return it with its secret (shown once)."""
        check_actor(actor, tenant_id)
        check_spec(spec)
        allowlist = spec.ip_allowlist
        if spec.profile is Profile.TRADINGVIEW and not allowlist:
            allowlist = TRADINGVIEW_IPS
        _check_allowlist(allowlist)
        now, bot_id = self._now(), str(uuid.uuid4())
        secret = new_standard_secret() if spec.profile is Profile.STANDARD else new_body_secret()
        url_token, url_hash = (
            new_url_token() if spec.profile is Profile.TRADINGVIEW else (None, None)
        )
        try:
            async with self._db.write() as session:
                live = await owned_account(session, tenant_id, spec.account)
                paper = await owned_account(session, tenant_id, spec.paper_account)
                if paper.id == live.id:
                    raise ValidationError(
                        "paperAccount: the paper account must not be the live account (paper "
                        "orders would trade real money): give a simulator account",
                        field="paperAccount",
                    )
                row = BotRow(
                    id=bot_id, tenant_id=tenant_id, name=spec.name, account_id=live.id,
                    paper_account_id=paper.id, symbols=list(spec.symbols),
                    sizing=spec.sizing.value, sizing_value=spec.sizing_value,
                    order_style=spec.order_style.value, limit_offset_pct=spec.limit_offset_pct,
                    limit_timeout_s=spec.limit_timeout_s, max_position=spec.max_position,
                    profile=spec.profile.value,
                    url_token_hash=url_hash,
                    ip_allowlist=list(allowlist), mode=Mode.PAPER.value,
                    state=BotState.ACTIVE.value, created_at=now, updated_at=now,
                )  # fmt: skip
                session.add(row)
                await session.flush()
                self._add_secret(session, row, secret, now=now, expires_at=None)
                await record(
                    session, AuditAction.BOT_CREATED, actor=actor.name, subject=bot_id, now=now,
                    tenant_id=tenant_id, detail={"name": spec.name, "profile": spec.profile.value},
                )  # fmt: skip
        except IntegrityError:
            raise Conflict(f"this tenant already has a bot named {spec.name!r}") from None
        return NewBot(bot_view(row), secret, url_token)

    def _add_secret(
        self,
        session: AsyncSession,
        row: BotRow,
        secret: Secret,
        *,
        now: datetime,
        expires_at: datetime | None,
    ) -> None:
        secret_id = str(uuid.uuid4())
        sealed = self._vault.seal(
            tenant_id=row.tenant_id, bot_id=row.id, secret_id=secret_id, secret=secret
        )
        session.add(
            BotSecretRow(
                id=secret_id, bot_id=row.id, kek_id=sealed.kek_id, wrapped_dek=sealed.wrapped_dek,
                nonce=sealed.nonce, ciphertext=sealed.ciphertext, created_at=now,
                expires_at=expires_at,
            )
        )  # fmt: skip

    async def list(self, actor: Actor, tenant_id: str) -> list[BotView]:
        """The tenant's bots (deleted ones are not shown), by name, with their positions."""
        check_actor(actor, tenant_id)
        query = select(BotRow).where(BotRow.tenant_id == tenant_id, BotRow.deleted_at.is_(None))
        async with self._db.read() as session:
            rows = list((await session.scalars(query.order_by(BotRow.name))).all())
            return [bot_view(r, await _positions(session, r)) for r in rows]

    async def paper_symbols(self) -> set[str]:
        """Every symbol a paper bot (not deleted) may trade: what the paper mirror follows."""
        query = select(BotRow.symbols).where(
            BotRow.mode == Mode.PAPER.value, BotRow.deleted_at.is_(None)
        )
        async with self._db.read() as session:
            return {s for symbols in await session.scalars(query) for s in symbols}

    async def get(self, actor: Actor, tenant_id: str, bot: str) -> BotView:
        """One of the tenant's bots by id or name."""
        check_actor(actor, tenant_id)
        async with self._db.read() as session:
            row = await _owned(session, tenant_id, bot)
            return bot_view(row, await _positions(session, row))

    async def pause(self, actor: Actor, tenant_id: str, bot: str) -> BotView:
        """Stop executing new signals (they are logged and refused)."""
        return await self._change(actor, tenant_id, bot, state=BotState.PAUSED)

    async def resume(self, actor: Actor, tenant_id: str, bot: str) -> BotView:
        """Execute signals again."""
        return await self._change(actor, tenant_id, bot, state=BotState.ACTIVE)

    async def promote(self, actor: Actor, tenant_id: str, bot: str) -> BotView:
        """Paper -> live: later signals trade the bot's real account. Audited; no way back."""
        check_actor(actor, tenant_id)
        now = self._now()
        async with self._db.write() as session:
            row = await _owned(session, tenant_id, bot)
            if row.mode == Mode.LIVE.value:
                raise Conflict("the bot is already live")
            row.mode, row.updated_at = Mode.LIVE.value, now
            await record(
                session, AuditAction.BOT_PROMOTED, actor=actor.name, subject=row.id, now=now,
                tenant_id=tenant_id,
                detail={"from": "paper", "to": "live", "account": row.account_id},
            )  # fmt: skip
            return bot_view(row, await _positions(session, row))

    async def delete(self, actor: Actor, tenant_id: str, bot: str) -> None:
        """Delete the bot: its signals are refused from now on; its log stays."""
        check_actor(actor, tenant_id)
        now = self._now()
        async with self._db.write() as session:
            row = await _owned(session, tenant_id, bot)
            row.deleted_at, row.state, row.updated_at = now, BotState.PAUSED.value, now
            await record(
                session, AuditAction.BOT_DELETED, actor=actor.name, subject=row.id, now=now,
                tenant_id=tenant_id,
            )  # fmt: skip

    async def rotate_secret(
        self, actor: Actor, tenant_id: str, bot: str, overlap: timedelta
    ) -> Secret:
        """A new signal secret (shown once); the current ones keep working for ``overlap``."""
        check_actor(actor, tenant_id)
        if not timedelta(0) <= overlap <= MAX_OVERLAP:
            raise ValidationError("overlapSeconds: 0 to 604800", field="overlapSeconds")
        now = self._now()
        async with self._db.write() as session:
            row = await _owned(session, tenant_id, bot)
            ends = now + overlap
            for old in await session.scalars(
                select(BotSecretRow).where(BotSecretRow.bot_id == row.id)
            ):
                if old.expires_at is None or old.expires_at > ends:
                    old.expires_at = ends
            secret = (
                new_standard_secret()
                if row.profile == Profile.STANDARD.value
                else new_body_secret()
            )
            self._add_secret(session, row, secret, now=now, expires_at=None)
            await record(
                session, AuditAction.BOT_SECRET_ROTATED, actor=actor.name, subject=row.id,
                now=now, tenant_id=tenant_id, detail={"overlap_s": int(overlap.total_seconds())},
            )  # fmt: skip
        return secret

    async def _change(self, actor: Actor, tenant_id: str, bot: str, *, state: BotState) -> BotView:
        check_actor(actor, tenant_id)
        now = self._now()
        async with self._db.write() as session:
            row = await _owned(session, tenant_id, bot)
            row.state, row.updated_at = state.value, now
            await record(
                session, AuditAction.BOT_CHANGED, actor=actor.name, subject=row.id, now=now,
                tenant_id=tenant_id, detail={"state": state.value},
            )  # fmt: skip
            return bot_view(row, await _positions(session, row))


async def _owned(session: AsyncSession, tenant_id: str, bot: str) -> BotRow:
    row = await session.get(BotRow, bot)
    if row is None:
        query = select(BotRow).where(
            BotRow.tenant_id == tenant_id, BotRow.name == bot, BotRow.deleted_at.is_(None)
        )
        row = await session.scalar(query)
    if row is None or row.tenant_id != tenant_id or row.deleted_at is not None:
        raise NoSuchObject("bot", name=bot, hint="list them with `kcgateway bots list`")
    return row


async def _positions(session: AsyncSession, row: BotRow) -> dict[str, Decimal]:
    query = select(BotPositionRow).where(
        BotPositionRow.bot_id == row.id, BotPositionRow.mode == row.mode
    )
    return {p.symbol: p.size for p in await session.scalars(query)}
