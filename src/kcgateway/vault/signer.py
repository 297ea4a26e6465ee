"""The signer: the only code that decrypts a credential, and it hands out headers, not secrets.

``Signer.sign(credential_id, method=..., path=..., body=..., timestamp_ms=...)`` reads the sealed
record, unwraps its data key, decrypts the fields it needs, and returns the KuCoin ``KC-API-*``
headers (plus the broker partner headers: from the credential's own broker fields if it has
them, else from the gateway-wide broker settings when a ``broker`` source is given). The
plaintext lives in local variables for that one call: it is never cached, logged, returned or put
in an exception. There is deliberately no method that returns a secret.

:class:`SealedRecordCache` may sit in front of the store: it caches *sealed* records only
(ciphertexts and wrapped keys), so each signature still pays for the unwrap and the decrypts.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from kcgateway.errors import CredentialUnreadable
from kcgateway.kucoin.signing import BrokerCredentials, Credentials, sign_request
from kcgateway.store.records import CredentialRecord
from kcgateway.vault.broker import BrokerSource
from kcgateway.vault.envelope import (
    BROKER_KEY,
    PASSPHRASE,
    SECRET,
    open_fields,
    unwrap_dek,
    unwrap_provider,
)
from kcgateway.vault.kek import KeyRing
from kcgateway.vault.ports import CredentialSource

_PLAIN = (SECRET, PASSPHRASE)
_BROKER = (SECRET, PASSPHRASE, BROKER_KEY)


class Signer:
    """Signs KuCoin requests with stored credentials, decrypting them for each call."""

    def __init__(
        self, source: CredentialSource, ring: KeyRing, *, broker: BrokerSource | None = None
    ) -> None:
        self._source = source
        self._ring = ring
        self._broker = broker

    async def sign(
        self,
        credential_id: str,
        *,
        method: str,
        path: str,
        body: bytes = b"",
        timestamp_ms: int,
    ) -> dict[str, str]:
        """KuCoin headers for one request. Raises ``CredentialUnreadable``, never returns half."""
        record = await self._source.get(credential_id)
        dek = await self._dek(record)
        gateway_broker = None
        if record.broker is None and self._broker is not None:
            found = await self._broker.current()
            if found is not None:
                gateway_broker = (found, await self._dek(found))
        return _headers(
            record, dek, method=method, path=path, body=body, ts=timestamp_ms,
            gateway_broker=gateway_broker,
        )  # fmt: skip

    async def _dek(self, record: CredentialRecord) -> bytes:
        provider = unwrap_provider(record, self._ring)
        if provider.performs_io:
            return await asyncio.to_thread(unwrap_dek, record, provider)
        return unwrap_dek(record, provider)

    def __repr__(self) -> str:
        return f"Signer(kek_ids={self._ring.kek_ids!r})"


def _headers(
    record: CredentialRecord,
    dek: bytes,
    *,
    method: str,
    path: str,
    body: bytes,
    ts: int,
    gateway_broker: tuple[CredentialRecord, bytes] | None = None,
) -> dict[str, str]:
    info = record.broker
    opened = open_fields(record, dek, _PLAIN if info is None else _BROKER)
    creds = Credentials(
        record.api_key, opened[SECRET], opened[PASSPHRASE], key_version=record.key_version
    )
    broker = None
    if info is not None:
        broker = BrokerCredentials(info.partner, info.name, opened[BROKER_KEY], info.verify)
    elif gateway_broker is not None:
        broker = _gateway_broker(*gateway_broker)
    return sign_request(creds, method=method, path=path, body=body, timestamp_ms=ts, broker=broker)


def _gateway_broker(record: CredentialRecord, dek: bytes) -> BrokerCredentials:
    """The gateway-wide broker settings (``kcgateway broker set``), opened for one call."""
    info = record.broker
    if info is None:  # pragma: no cover - the broker store always sets it
        raise CredentialUnreadable(record.credential_id, reason="not a broker record")
    key = open_fields(record, dek, (BROKER_KEY,))[BROKER_KEY]
    return BrokerCredentials(info.partner, info.name, key, verify=True)


class SealedRecordCache:
    """An LRU of sealed records in front of a :class:`CredentialSource`. Holds no plaintext."""

    def __init__(self, source: CredentialSource, *, max_entries: int = 10_000) -> None:
        self._source = source
        self._max = max_entries
        self._records: OrderedDict[str, CredentialRecord] = OrderedDict()

    async def get(self, credential_id: str) -> CredentialRecord:
        """The cached sealed record, loading it on a miss."""
        record = self._records.get(credential_id)
        if record is None:
            record = await self._source.get(credential_id)
            self._records[credential_id] = record
            if len(self._records) > self._max:
                self._records.popitem(last=False)
        else:
            self._records.move_to_end(credential_id)
        return record

    def invalidate(self, credential_id: str | None = None) -> None:
        """Forget one record (or all, after a KEK rotation)."""
        if credential_id is None:
            self._records.clear()
        else:
            self._records.pop(credential_id, None)
