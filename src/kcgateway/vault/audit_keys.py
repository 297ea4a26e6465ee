"""The audit key file: the HMAC keys that chain the audit log, kept outside the database.

Like the pepper and the local KEK, it is a 0600 file beside the KEK (``$KCGW_AUDIT_KEY_FILE``;
dev default ``<data dir>/audit.keys``), never in the database: whoever can write the database
but does not hold this file cannot delete an audit record and rehash the rest. Its content::

    {"format": "kcgw-audit-keys/1",
     "legacy_head": "<the chain's head when the file was created, or 64 zeros>",
     "keys": [{"id": "audit:<16 hex>", "key": "<base64 of 32 bytes>", "created": "<ISO time>"},
              ...]}

- ``keys`` is oldest first; the LAST key chains new records. Rotation
  (``kcgateway vault rotate-kek``, :func:`roll_audit_key`) appends a key and never removes one:
  records carry the id of the key that chained them, so old records still verify.
- ``legacy_head`` is the switch point: records up to it may be unkeyed (written before the
  chain was keyed, by an older kcgateway); every later one must be keyed. It is written once,
  when the file is created, from the database's head at that moment.
- A key's id is a one-way fingerprint of the key (checked on load: a damaged or edited entry is
  refused). Nothing here ever prints, logs or reprs a key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from kcgateway.errors import ConfigError
from kcgateway.store.audit_chain import AuditKeys, ChainKey

AUDIT_KEY_FILE_ENV = "KCGW_AUDIT_KEY_FILE"
FORMAT = "kcgw-audit-keys/1"
KEY_BYTES = 32
FILE_NAME = "audit.keys"


def default_audit_key_path(environ: Mapping[str, str]) -> Path:
    """``$KCGW_AUDIT_KEY_FILE``, else ``$KCGW_DATA_DIR/audit.keys`` (``./data`` by default)."""
    explicit = environ.get(AUDIT_KEY_FILE_ENV)
    if explicit:
        return Path(explicit)
    return Path(environ.get("KCGW_DATA_DIR") or "data") / FILE_NAME


def audit_key_id(key: bytes) -> str:
    """``audit:`` and 16 hex digits of a one-way fingerprint of the key."""
    return "audit:" + hashlib.sha256(b"kcgw/audit-key-id/v1" + key).hexdigest()[:16]


def _missing(path: Path) -> ConfigError:
    return ConfigError(
        f"audit key file {path} does not exist: create it with `kcgateway audit init-key` "
        f"(or set {AUDIT_KEY_FILE_ENV} to where it is); see docs/vault.md"
    )


def _check_mode(path: Path) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise _missing(path) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"audit key file {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"audit key file {path} has mode {mode:04o}, readable by others: run `chmod 600 {path}`"
        )


def _bad(path: Path, what: str) -> ConfigError:
    return ConfigError(f"audit key file {path} is damaged: {what}; restore it from your backup")


def _parse_key(path: Path, entry: object) -> ChainKey:
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        raise _bad(path, "a key entry has no key")
    try:
        key = base64.b64decode(entry["key"], validate=True)
    except (binascii.Error, ValueError):
        raise _bad(path, "a key is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise _bad(path, f"a key is not {KEY_BYTES} bytes")
    key_id = audit_key_id(key)
    if entry.get("id") != key_id:
        raise _bad(path, "a key does not match its id")
    return ChainKey(key_id, key)


def load_audit_keys(path: Path) -> AuditKeys:
    """Every key in the file (0600 required); ConfigError says what is wrong and what to do."""
    _check_mode(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise _bad(path, "it is not readable JSON") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _bad(path, f"its format is not {FORMAT}")
    head, entries = data.get("legacy_head"), data.get("keys")
    if not isinstance(head, str) or len(head) != 64:
        raise _bad(path, "legacy_head is not a 64-digit hash")
    if not isinstance(entries, list) or not entries:
        raise _bad(path, "it holds no key")
    return AuditKeys([_parse_key(path, e) for e in entries], legacy_head=head)


def _new_entry(now: datetime) -> dict[str, Any]:
    key = os.urandom(KEY_BYTES)
    return {
        "id": audit_key_id(key),
        "key": base64.b64encode(key).decode("ascii"),
        "created": now.isoformat(),
    }


def _write_new(path: Path, data: dict[str, Any]) -> None:
    """Write ``path`` (0600) only if it does not exist; the directory is created 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=1)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())


def create_audit_key_file(path: Path, *, legacy_head: str, now: datetime) -> AuditKeys:
    """A new file with one fresh key; ``legacy_head`` is the chain's current head (or genesis).

    Never overwrites: an existing file holds keys that verify existing records.
    """
    if len(legacy_head) != 64:
        raise ValueError("legacy_head is a 64-digit hash")
    data = {"format": FORMAT, "legacy_head": legacy_head, "keys": [_new_entry(now)]}
    try:
        _write_new(path, data)
    except FileExistsError:
        raise ConfigError(
            f"{path} already exists: an audit key file is never overwritten (its keys verify "
            "the records already written); roll a new key with `kcgateway vault rotate-kek`"
        ) from None
    return load_audit_keys(path)


def roll_audit_key(path: Path, *, now: datetime) -> AuditKeys:
    """Append a fresh key (it becomes the active one), keeping every older key; atomic.

    The new file is written beside the old one (0600) and renamed over it, so a crash leaves
    either the old file or the new one, never half of one.
    """
    load_audit_keys(path)  # refuse to extend a damaged or exposed file
    data = json.loads(path.read_text(encoding="utf-8"))
    data["keys"].append(_new_entry(now))
    staging = path.with_name(path.name + ".new")
    with contextlib.suppress(FileNotFoundError):
        staging.unlink()  # a leftover of an interrupted roll: never used
    _write_new(staging, data)
    os.replace(staging, path)
    _fsync_dir(path.parent)
    return load_audit_keys(path)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
