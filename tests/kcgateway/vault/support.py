"""Shared test helpers for the vault tests: generated credentials and an in-memory source."""

from __future__ import annotations

import dataclasses
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kcgateway.kucoin.signing import BrokerCredentials, Credentials
from kcgateway.secret import Secret
from kcgateway.store.records import BrokerInfo, CredentialRecord, Rewrap
from kcgateway.vault.envelope import BROKER_KEY, PASSPHRASE, SECRET, seal
from kcgateway.vault.kek import KekProvider, LocalKek


def random_kek() -> LocalKek:
    return LocalKek(secrets.token_bytes(32))


@dataclass(frozen=True)
class Plain:
    """Generated plaintext of one credential set (test side only)."""

    api_key: str
    secret: str
    passphrase: str
    key_version: int = 3
    broker: BrokerInfo | None = None
    broker_key: str | None = None

    @classmethod
    def generate(cls, *, key_version: int = 3, broker: bool = False, prefix: str = "") -> Plain:
        return cls(
            api_key=f"{prefix}key{secrets.token_hex(12)}",
            secret=f"{prefix}sec/{secrets.token_hex(16)}+=",
            passphrase=f"{prefix}pass {secrets.token_urlsafe(12)}!",
            key_version=key_version,
            broker=BrokerInfo("PARTNER_ND", "BROKERNAME", verify=True) if broker else None,
            broker_key=f"{prefix}bkey/{secrets.token_hex(16)}" if broker else None,
        )

    def credentials(self) -> Credentials:
        return Credentials(
            self.api_key, Secret(self.secret), Secret(self.passphrase), self.key_version
        )

    def broker_credentials(self) -> BrokerCredentials | None:
        if self.broker is None or self.broker_key is None:
            return None
        b = self.broker
        return BrokerCredentials(b.partner, b.name, Secret(self.broker_key), b.verify)

    def seal(self, *, tenant_id: str, credential_id: str, kek: KekProvider) -> CredentialRecord:
        fields = {SECRET: Secret(self.secret), PASSPHRASE: Secret(self.passphrase)}
        if self.broker_key is not None:
            fields[BROKER_KEY] = Secret(self.broker_key)
        return seal(
            credential_id=credential_id,
            tenant_id=tenant_id,
            api_key=self.api_key,
            secrets=fields,
            kek=kek,
            key_version=self.key_version,
            broker=self.broker,
        )


class MemorySource:
    """A dict of sealed records, counting reads."""

    def __init__(self, records: dict[str, CredentialRecord] | None = None) -> None:
        self.records = dict(records or {})
        self.reads = 0

    async def get(self, credential_id: str) -> CredentialRecord:
        self.reads += 1
        return self.records[credential_id]


class MemoryStore(MemorySource):
    """An in-memory CredentialStore with the same compare-and-set rewrap as the SQL one."""

    async def add(self, record: CredentialRecord, *, now: datetime) -> None:
        self.records[record.credential_id] = record

    async def not_on_kek(self, kek_id: str, *, limit: int) -> list[CredentialRecord]:
        return [r for r in self.records.values() if r.kek_id != kek_id][:limit]

    async def apply_rewraps(self, changes: Sequence[Rewrap], *, now: datetime) -> int:
        done = 0
        for change in changes:
            rec = self.records[change.credential_id]
            if (rec.kek_id, rec.wrapped_dek) == (change.old_kek_id, change.old_wrapped_dek):
                self.records[rec.credential_id] = dataclasses.replace(
                    rec, kek_id=change.new_kek_id, wrapped_dek=change.new_wrapped_dek
                )
                done += 1
        return done

    async def count_by_kek(self) -> dict[str, int]:
        return dict(Counter(r.kek_id for r in self.records.values()))
