"""The ND broker's key, sealed like a credential; and the signer's view of it.

The broker settings are gateway-wide (one broker per gateway: the operator's ND broker
program), so they live in one record of their own, not copied into every account's credential:
setting or changing them never needs a tenant's secrets, and an account connected later is
covered at once. :class:`BrokerVault` seals the broker key under a fresh data key wrapped by the
active KEK, with :data:`~kcgateway.store.records.GATEWAY_SCOPE` as the tenant part of its AAD.
The :class:`~kcgateway.vault.signer.Signer` opens it per call, like any credential field.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from kcgateway.secret import Secret
from kcgateway.store.records import GATEWAY_SCOPE, BrokerInfo, CredentialRecord
from kcgateway.vault.envelope import BROKER_KEY, seal
from kcgateway.vault.kek import KeyRing


class BrokerSource(Protocol):
    """Where the signer reads the sealed broker record from."""

    async def current(self) -> CredentialRecord | None:
        """The sealed broker record, or None when no broker is configured."""
        ...


class BrokerSink(Protocol):
    """Where :class:`BrokerVault` stores it (replacing any previous record)."""

    async def add(self, record: CredentialRecord, *, now: datetime) -> None:
        """Store the record as the broker settings."""
        ...


class BrokerVault:
    """Seals the broker key; returns nothing secret."""

    def __init__(self, sink: BrokerSink, ring: KeyRing) -> None:
        self._sink = sink
        self._ring = ring

    async def store(self, *, partner: str, name: str, broker_key: Secret, now: datetime) -> str:
        """Seal and store the broker settings; return the record id."""
        record_id = str(uuid.uuid4())
        kek = self._ring.active
        make = functools.partial(
            seal,
            credential_id=record_id,
            tenant_id=GATEWAY_SCOPE,
            api_key=partner,
            secrets={BROKER_KEY: broker_key},
            kek=kek,
            broker=BrokerInfo(partner, name, True),
        )
        record = await asyncio.to_thread(make) if kek.performs_io else make()
        await self._sink.add(record, now=now)
        return record_id


class CachedBroker:
    """The sealed broker record, re-read at most every ``ttl_s`` seconds (holds no plaintext).

    A change made by another process (``kcgateway broker set`` while the gateway runs) is
    picked up at once when the change bus tells this one (:meth:`invalidate`), else within
    ``ttl_s``.
    """

    def __init__(
        self,
        source: BrokerSource,
        *,
        ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._ttl = ttl_s
        self._clock = clock
        self._record: CredentialRecord | None = None
        self._read_at: float | None = None

    async def current(self) -> CredentialRecord | None:
        """The cached record, refreshed when older than the TTL."""
        now = self._clock()
        if self._read_at is None or now - self._read_at >= self._ttl:
            self._record = await self._source.current()
            self._read_at = now
        return self._record

    def invalidate(self) -> None:
        """Re-read on the next call (after a change made in this process)."""
        self._read_at = None
