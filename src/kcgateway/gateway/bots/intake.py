"""``POST /v1/signals/{botId}``: authenticate, remember the id, queue, acknowledge.

Every refusal (oversized body, unknown or deleted bot, wrong address or URL token, bad or
missing signature or secret, stale timestamp, replayed id) raises the same
:class:`~kcgateway.errors.SignalRefused`, so the sender learns nothing; the reason is logged,
counted, and for a known bot written to its signal log (never the body: a forged body may hold
a guessed secret). A signal that authenticated but cannot be executed as written is said back
(:class:`~kcgateway.errors.ValidationError`). An accepted signal commits its log row (its queue
entry) and its replay id in ONE transaction before the answer, so an acknowledged signal is
executed even if the gateway stops right after answering; signals arriving together share
that transaction (``group_commit.py``).
"""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete

from kcgateway.errors import Conflict, SignalRefused, ValidationError
from kcgateway.gateway.apikeys import ip_allowed
from kcgateway.gateway.bots.group_commit import GroupCommit
from kcgateway.gateway.bots.model import BotState, Profile
from kcgateway.gateway.bots.ports import SecretBox
from kcgateway.gateway.bots.profiles import (
    MAX_BODY,
    TOLERANCE_S,
    Invalid,
    Parsed,
    Refusal,
    body_id,
    body_json,
    check_fresh,
    parse_time,
    plain_signal,
    standard_headers,
    threecommas_signal,
)
from kcgateway.gateway.bots.signal_metrics import SignalMetrics
from kcgateway.store.database import Database
from kcgateway.store.signal_queue import bot_and_secrets
from kcgateway.store.signal_tables import BotRow, SignalRow, SignalSeenRow
from kcgateway.vault.signal_tokens import SealedSecret, token_hash

log = logging.getLogger("kcgateway.signals")
REPLAY_WINDOW = timedelta(hours=24)
PURGE_EVERY = 500


@dataclass(frozen=True, slots=True)
class Incoming:
    """One signal request as the web layer read it."""

    bot_id: str
    body: bytes | None  # None: larger than MAX_BODY (not read further)
    headers: Mapping[str, str]
    token: str | None
    ip: str


@dataclass(frozen=True, slots=True)
class Ack:
    """What the sender is told: the signal id and that it is queued."""

    signal_id: str
    status: str


class SignalIntake:
    """Checks signals and queues them; ``on_queued(bot_id, symbol)`` wakes the executor."""

    def __init__(
        self,
        db: Database,
        vault: SecretBox,
        metrics: SignalMetrics,
        *,
        now: Callable[[], datetime],
        on_queued: Callable[[str, str], None] = lambda bot, symbol: None,
    ) -> None:
        self._db = db
        self._vault = vault
        self._metrics = metrics
        self._now = now
        self.on_queued = on_queued
        self._accepted = 0
        self._commits = GroupCommit(db)

    async def receive(self, incoming: Incoming) -> Ack:
        """Queue the signal and return its id; SignalRefused / ValidationError otherwise."""
        now = self._now()
        bot = None
        try:
            bot, sealed = await self._bot(incoming.bot_id, now)
            if incoming.body is None or len(incoming.body) > MAX_BODY:
                raise Refusal("body over 20 KB")
            parsed = self._authenticate(bot, sealed, incoming, now)
        except Refusal as refusal:
            await self._refuse(incoming, bot, refusal.reason, now)
            raise SignalRefused from None
        except Invalid as exc:
            self._metrics.received.labels(bot.profile if bot else "-", "invalid").inc()
            raise ValidationError(f"signal not executable: {exc}", field="body") from None
        if bot.state != BotState.ACTIVE.value:
            self._metrics.received.labels(bot.profile, "paused").inc()
            raise Conflict("the bot is paused: resume it with `kcgateway bots resume`")
        return await self._queue(bot, parsed, now)

    async def _bot(self, bot_id: str, now: datetime) -> tuple[BotRow, list[SealedSecret]]:
        if len(bot_id) > 64:
            raise Refusal("unknown bot")
        async with self._db.hot_read() as runner:
            bot, rows = await bot_and_secrets(runner, bot_id)
        if bot is None or bot.deleted_at is not None:
            raise Refusal("unknown bot")
        sealed = [
            SealedSecret(r["id"], r["kek_id"], r["wrapped_dek"], r["nonce"], r["ciphertext"])
            for r in rows
            if r["expires_at"] is None or r["expires_at"] > now
        ]
        return bot, sealed

    def _authenticate(
        self, bot: BotRow, sealed: list[SealedSecret], incoming: Incoming, now: datetime
    ) -> Parsed:
        body = incoming.body or b""
        symbols = tuple(bot.symbols)
        if bot.profile == Profile.STANDARD.value:
            msg_id, ts, signatures = standard_headers(dict(incoming.headers), now)
            if not self._vault.verify_standard(
                bot.tenant_id, bot.id, sealed, msg_id, ts, body, signatures
            ):
                raise Refusal("bad signature")
            return Parsed(msg_id, plain_signal(body_json(body), symbols))
        if not ip_allowed(incoming.ip, bot.ip_allowlist):
            raise Refusal("address not in the bot's allow-list")
        if bot.profile == Profile.TRADINGVIEW.value:
            expected = bot.url_token_hash or ""
            given = token_hash(incoming.token or "")
            if not hmac.compare_digest(expected.encode(), given.encode()):
                raise Refusal("bad URL token")
        data = body_json(body)
        secret = data.get("secret")
        if not isinstance(secret, str) or not self._vault.matches(
            bot.tenant_id, bot.id, sealed, secret
        ):
            raise Refusal("bad secret")
        if bot.profile == Profile.THREECOMMAS.value:
            return Parsed(body_id(body), threecommas_signal(data, bot.id, symbols, now))
        check_fresh(parse_time(data.get("timestamp")), now, TOLERANCE_S)
        return Parsed(body_id(body), plain_signal(data, symbols))

    async def _queue(self, bot: BotRow, parsed: Parsed, now: datetime) -> Ack:
        signal_id = str(uuid.uuid4())
        signal = parsed.signal
        seen = {"bot_id": bot.id, "message_id": parsed.message_id, "seen_at": now}
        row: dict[str, Any] = {
            "id": signal_id, "bot_id": bot.id, "tenant_id": bot.tenant_id,
            "source": bot.profile, "mode": bot.mode, "symbol": signal.symbol,
            "action": signal.action.value, "payload": signal.as_json(), "status": "queued",
            "reason": None, "plan": None, "orders": [], "received_at": now, "finished_at": None,
        }  # fmt: skip
        if not await self._commits.add(seen, row):
            await self._refuse(None, bot, "replayed id", now)
            raise SignalRefused from None
        self._metrics.received.labels(bot.profile, "accepted").inc()
        self._accepted += 1
        if self._accepted % PURGE_EVERY == 0:
            await self.purge(now)
        self.on_queued(bot.id, signal.symbol)
        return Ack(signal_id, "queued")

    async def purge(self, now: datetime) -> int:
        """Forget replay ids older than 24 h (their timestamps are long stale by then)."""
        query = delete(SignalSeenRow).where(SignalSeenRow.seen_at < now - REPLAY_WINDOW)
        async with self._db.write() as session:
            result = await session.execute(query)
        return int(getattr(result, "rowcount", 0) or 0)

    async def _refuse(
        self, incoming: Incoming | None, bot: BotRow | None, reason: str, now: datetime
    ) -> None:
        code = reason.replace(" ", "_").replace("'", "")
        self._metrics.refused.labels(code).inc()
        self._metrics.received.labels(bot.profile if bot else "-", "refused").inc()
        where = incoming.ip if incoming else "-"
        log.warning(
            "signal refused: bot=%s from=%s reason=%s", bot.id if bot else "?", where, reason
        )
        if bot is None:
            return
        async with self._db.write() as session:
            session.add(
                SignalRow(
                    id=str(uuid.uuid4()), bot_id=bot.id, tenant_id=bot.tenant_id,
                    source=bot.profile, mode=bot.mode, symbol=None, action=None, payload={},
                    status="refused", reason=reason, plan=None, orders=[], received_at=now,
                    finished_at=now,
                )
            )  # fmt: skip
