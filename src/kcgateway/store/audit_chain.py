"""The audit chain's hashes: HMAC-SHA256 under an audit key, and how a chain is checked. Pure.

Each record's hash covers the previous record's hash and the record's canonical JSON, so an
edit or a deletion breaks the link. Unkeyed, anyone who can write to the database can delete
a record and recompute every later hash; keyed, that needs the audit key, which lives outside
the database beside the KEK (:mod:`kcgateway.vault.audit_keys`). Two record forms:

- **v2, keyed** (``key_id`` set): ``HMAC-SHA256(key, "kcgw/audit/v2" NL key_id NL prev NL
  body)`` (NL: a newline). The key id is covered, so a record cannot be moved to another key.
- **v1, unkeyed** (``key_id`` NULL): ``SHA-256(prev NL body)``, what kcgateway wrote before
  the chain was keyed. It is accepted only as a PREFIX that ends exactly at the recorded switch
  point, :attr:`AuditKeys.legacy_head` (the head when the audit key file was created, kept in
  that file, outside the database): after it every record must be keyed. So the v1 records are
  pinned too: changing any of them changes the head the first keyed record covers.

Rotation adds a key (records carry the id of the key that chained them; old keys are kept to
verify), and the first record chained with the new key covers every record before it.

:class:`ChainCheck` walks a chain one record at a time and names the first broken record.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

GENESIS_HASH = "0" * 64
#: key under which :class:`~kcgateway.store.database.Database` hands the active
#: :class:`ChainKey` to its write sessions and runners (their ``info`` dictionaries)
AUDIT_KEY_INFO = "kcgw.audit_key"
MIN_KEY_BYTES = 32
_V2 = b"kcgw/audit/v2\n"


class ChainKey:
    """One audit key: its id and an HMAC-SHA256 state. Its repr never shows the key."""

    __slots__ = ("_mac", "key_id")

    def __init__(self, key_id: str, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"an audit key must be at least {MIN_KEY_BYTES} bytes")
        self.key_id = key_id
        self._mac = hmac.new(key, _V2 + key_id.encode() + b"\n", hashlib.sha256)

    def digest(self, prev_hash: str, body: str) -> str:
        """The keyed hash of a record that follows ``prev_hash``."""
        mac = self._mac.copy()
        mac.update(f"{prev_hash}\n{body}".encode())
        return mac.hexdigest()

    def __repr__(self) -> str:
        return f"ChainKey(key_id={self.key_id!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("an audit key cannot be pickled")


@dataclass(frozen=True)
class AuditKeys:
    """Every audit key a deployment has used, oldest first (the last one chains new records).

    ``legacy_head``: the chain's head when keying began (:data:`GENESIS_HASH` for a chain that
    was keyed from its first record); unkeyed records must end exactly there.
    """

    keys: Sequence[ChainKey]
    legacy_head: str = GENESIS_HASH
    _by_id: dict[str, ChainKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("an audit key ring needs at least one key")
        object.__setattr__(self, "_by_id", {k.key_id: k for k in self.keys})

    @property
    def active(self) -> ChainKey:
        """The key new records are chained with."""
        return self.keys[-1]

    def find(self, key_id: str) -> ChainKey | None:
        """The key with this id, if this ring has it."""
        return self._by_id.get(key_id)


def record_body(
    *,
    tenant_id: str | None,
    actor: str,
    action: str,
    subject: str,
    detail: dict[str, Any],
    created_at: datetime,
) -> str:
    """The canonical JSON a record's hash covers."""
    return json.dumps(
        {
            "tenant_id": tenant_id,
            "actor": actor,
            "action": action,
            "subject": subject,
            "detail": detail,
            "created_at": created_at.isoformat(),
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def chain_hash(prev_hash: str, body: str, key: ChainKey | None) -> str:
    """v2 (keyed) when ``key`` is given, else the v1 SHA-256 link."""
    if key is None:
        return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()
    return key.digest(prev_hash, body)


@dataclass(frozen=True, slots=True)
class Head:
    """A chain's last record, as an operator exports it: ``SEQ:HASH:TIME``."""

    seq: int
    hash: str
    created_at: datetime | None = None

    def export(self) -> str:
        """``SEQ:HASH:ISO-TIME``: one token to store and pass back to ``audit verify --head``."""
        when = "" if self.created_at is None else self.created_at.isoformat()
        return f"{self.seq}:{self.hash}:{when}"

    @classmethod
    def parse(cls, text: str) -> Head:
        """From :meth:`export`'s form, or a bare hash (the older ``--head HASH``: seq 0)."""
        text = text.strip()
        seq, sep, rest = text.partition(":")
        if not sep:
            return cls(0, _hex64(text))
        digest, _, when = rest.partition(":")
        if not seq.isascii() or not seq.isdigit():
            raise ValueError("an exported head starts with its sequence number")
        try:
            created = datetime.fromisoformat(when) if when else None
        except ValueError:
            raise ValueError("the exported head's time is not an ISO timestamp") from None
        return cls(int(seq), _hex64(digest), created)

    def matches(self, seq: int, digest: str, created_at: datetime) -> bool:
        """True when this head is the record ``(seq, digest, created_at)``."""
        if digest != self.hash:
            return False
        same_seq = self.seq in (0, seq)
        return same_seq and (self.created_at is None or self.created_at == created_at)


def _hex64(text: str) -> str:
    if len(text) != 64 or not all(c in "0123456789abcdef" for c in text):
        raise ValueError("a head hash is 64 lowercase hex digits")
    return text


@dataclass
class ChainCheck:
    """Checks records fed in ``seq`` order; ``broken_at``/``problem`` name the first bad one.

    Without ``keys`` (no audit key file) only v1 records can be checked: a keyed record is
    reported as unverifiable.
    """

    keys: AuditKeys | None
    prev: str = GENESIS_HASH
    last_seq: int = 0
    records: int = 0
    unkeyed: int = 0
    by_key: dict[str, int] = field(default_factory=dict)
    broken_at: int | None = None
    problem: str | None = None
    keyed_since_switch: bool = False

    def __post_init__(self) -> None:
        self.keyed_since_switch = self.keys is not None and self.keys.legacy_head == GENESIS_HASH

    def receive(
        self, *, seq: int, prev_hash: str, digest: str, key_id: str | None, body: str
    ) -> None:
        """Check one record (after every earlier one)."""
        self.records += 1
        if self.broken_at is None:
            problem = self._problem(prev_hash, digest, key_id, body)
            if problem is not None:
                self.broken_at, self.problem = seq, problem
        self.prev, self.last_seq = digest, seq
        if key_id is None:
            self.unkeyed += 1
            if self.keys is not None and digest == self.keys.legacy_head:
                self.keyed_since_switch = True
        else:
            self.by_key[key_id] = self.by_key.get(key_id, 0) + 1

    def _problem(self, prev_hash: str, digest: str, key_id: str | None, body: str) -> str | None:
        if prev_hash != self.prev:
            return "it does not follow the record before it (a record was deleted or inserted)"
        if key_id is None:
            if self.keyed_since_switch or self.by_key:
                return (
                    "it is unkeyed but comes after the chain became keyed "
                    "(rewritten without the key)"
                )
            if chain_hash(prev_hash, body, None) != digest:
                return "its content does not match its hash (edited)"
            return None
        if self.keys is None:
            return f"it is chained with audit key {key_id}, and no audit key file was given"
        if not self.keyed_since_switch:
            return (
                "the unkeyed records before it do not end at the switch point recorded in the "
                "audit key file (unkeyed records were rewritten, deleted or added)"
            )
        key = self.keys.find(key_id)
        if key is None:
            return f"it is chained with audit key {key_id}, which is not in the audit key file"
        if not hmac.compare_digest(key.digest(prev_hash, body), digest):
            return "its content does not match its keyed hash (edited, or rehashed without the key)"
        return None

    def finish(self) -> None:
        """After the last record: unkeyed records must reach the switch point."""
        if self.broken_at is None and self.keys is not None and not self.keyed_since_switch:
            self.broken_at = self.last_seq
            self.problem = (
                "the unkeyed records do not end at the switch point recorded in the audit key "
                "file (records at or before it were deleted or rewritten)"
            )
