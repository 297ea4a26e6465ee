"""Storing credentials: plaintext goes in once, is sealed, and never comes back out."""

from __future__ import annotations

import asyncio
import functools
import uuid
from datetime import datetime

from kcgateway.kucoin.signing import KEY_VERSIONS
from kcgateway.secret import Secret
from kcgateway.store.records import BrokerInfo
from kcgateway.vault.envelope import BROKER_KEY, PASSPHRASE, SECRET, seal
from kcgateway.vault.kek import KeyRing
from kcgateway.vault.ports import CredentialStore


class CredentialVault:
    """Seals credentials under the ring's active KEK and stores them. Returns ids only."""

    def __init__(self, store: CredentialStore, ring: KeyRing) -> None:
        self._store = store
        self._ring = ring

    async def store(
        self,
        *,
        tenant_id: str,
        api_key: str,
        secret: Secret,
        passphrase: Secret,
        now: datetime,
        key_version: int = 3,
        broker: BrokerInfo | None = None,
        broker_key: Secret | None = None,
        account_id: str | None = None,
    ) -> str:
        """Seal and store one KuCoin credential set; return its new id (never the secrets)."""
        if key_version not in KEY_VERSIONS:
            raise ValueError(f"key_version must be 1, 2 or 3, not {key_version!r}")
        if (broker is None) != (broker_key is None):
            raise ValueError("broker info and broker key go together")
        secrets = {SECRET: secret, PASSPHRASE: passphrase}
        if broker_key is not None:
            secrets[BROKER_KEY] = broker_key
        credential_id = str(uuid.uuid4())
        kek = self._ring.active

        make = functools.partial(
            seal,
            credential_id=credential_id,
            tenant_id=tenant_id,
            api_key=api_key,
            secrets=secrets,
            kek=kek,
            key_version=key_version,
            broker=broker,
            account_id=account_id,
        )
        record = await asyncio.to_thread(make) if kek.performs_io else make()
        await self._store.add(record, now=now)
        return credential_id
