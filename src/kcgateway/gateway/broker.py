"""The gateway-wide ND broker settings as a use case: set, show, clear (each audited).

Shape (decided for issue #7): ONE broker per gateway. The KuCoin ND broker program is the
operator's: the partner id, broker name and broker key identify the operator, and every
account the gateway trades for (every tenant's) is traded under it. So the settings are not per
tenant and not copied into each credential: they are one sealed record
(:mod:`kcgateway.vault.broker`), and the vault signer adds ``KC-API-PARTNER``,
``KC-API-PARTNER-SIGN``, ``KC-BROKER-NAME`` and ``KC-API-PARTNER-VERIFY: true`` to every request
signed with an account credential (a credential sealed with broker fields of its own keeps
those). With VERIFY true, KuCoin refuses a request whose partner signature is wrong (400201)
instead of silently not attributing it: a wrong broker key shows at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from kcgateway.errors import InvalidBrokerSettings
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.secret import Secret
from kcgateway.store.broker_store import BrokerPublic
from kcgateway.store.database import Database

#: what may be shown about the broker settings (never the key)
BrokerView = BrokerPublic

Now = Callable[[], datetime]
MAX_FIELD = 128


class BrokerSealer(Protocol):
    """The vault's ``BrokerVault.store`` shape."""

    async def store(self, *, partner: str, name: str, broker_key: Secret, now: datetime) -> str:
        """Seal and store; return the record id."""
        ...


class BrokerStore(Protocol):
    """The store's ``SqlBrokerStore`` reading and clearing shape."""

    async def public(self) -> BrokerView | None:
        """The public half of the settings (None when unset)."""
        ...

    async def clear(self) -> bool:
        """Delete the settings; False when none were set."""
        ...


def _check(partner: str, name: str, key: Secret) -> None:
    for label, value in (("partner id", partner), ("broker name", name)):
        if not value.strip() or len(value) > MAX_FIELD or value != value.strip():
            raise InvalidBrokerSettings(
                f"the {label} must be 1 to {MAX_FIELD} characters without surrounding spaces: "
                "copy it from the KuCoin broker console"
            )
    if not key:
        raise InvalidBrokerSettings("the broker key is empty: set KUCOIN_BROKER_KEY")


class BrokerService:
    """Sets, shows and clears the broker settings; the key goes straight into the vault."""

    def __init__(
        self,
        db: Database,
        vault: BrokerSealer,
        store: BrokerStore,
        *,
        on_change: Callable[[], None] = lambda: None,
        now: Now = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._vault = vault
        self._store = store
        self._on_change = on_change
        self._now = now

    async def set(self, *, partner: str, name: str, broker_key: Secret, actor: str) -> BrokerView:
        """Seal the key and replace the settings; audited as ``broker.set`` (no key in it)."""
        _check(partner, name, broker_key)
        now = self._now()
        record_id = await self._vault.store(
            partner=partner, name=name, broker_key=broker_key, now=now
        )
        async with self._db.write() as session:
            await record(
                session, AuditAction.BROKER_SET, actor=actor, subject=record_id, now=now,
                detail={"partner": partner, "name": name},
            )  # fmt: skip
        self._on_change()
        view = await self._store.public()
        if view is None:  # pragma: no cover - just stored
            raise LookupError("the broker settings vanished while being set")
        return view

    async def get(self) -> BrokerView | None:
        """The current settings (partner, name; never the key), or None."""
        return await self._store.public()

    async def clear(self, *, actor: str) -> bool:
        """Delete the settings and their sealed key; False when none were set."""
        cleared = await self._store.clear()
        if cleared:
            async with self._db.write() as session:
                await record(
                    session, AuditAction.BROKER_CLEARED, actor=actor, subject="broker",
                    now=self._now(),
                )  # fmt: skip
            self._on_change()
        return cleared
