"""Shared test helpers for the vault tests: generated credentials and an in-memory source."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from kcgateway.kucoin.signing import BrokerCredentials, Credentials
from kcgateway.secret import Secret
from kcgateway.store.records import BrokerInfo, CredentialRecord
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
