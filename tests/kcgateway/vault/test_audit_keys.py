"""The audit key file: 0600, never overwritten, checked on load, rolled atomically."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kcgateway.errors import ConfigError
from kcgateway.store.audit_chain import GENESIS_HASH
from kcgateway.vault.audit_keys import (
    audit_key_id,
    create_audit_key_file,
    default_audit_key_path,
    load_audit_keys,
    roll_audit_key,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_created_0600_never_overwritten_and_loaded_back(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit.keys"
    keys = create_audit_key_file(path, legacy_head="a" * 64, now=NOW)
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    again = load_audit_keys(path)
    assert again.legacy_head == "a" * 64 and again.active.key_id == keys.active.key_id
    with pytest.raises(ConfigError, match="never overwritten"):
        create_audit_key_file(path, legacy_head=GENESIS_HASH, now=NOW)


def test_refusals_say_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "audit.keys"
    with pytest.raises(ConfigError, match="kcgateway audit init-key"):
        load_audit_keys(path)
    create_audit_key_file(path, legacy_head=GENESIS_HASH, now=NOW)
    path.chmod(0o640)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_audit_keys(path)
    path.chmod(0o600)
    data = json.loads(path.read_text())
    for broken, what in (
        ({**data, "format": "other"}, "format"),
        ({**data, "legacy_head": "short"}, "legacy_head"),
        ({**data, "keys": []}, "no key"),
        ({**data, "keys": [{**data["keys"][0], "id": "audit:0000000000000000"}]}, "its id"),
        ({**data, "keys": [{**data["keys"][0], "key": "not base64!"}]}, "base64"),
    ):
        path.write_text(json.dumps(broken))
        with pytest.raises(ConfigError, match=what):
            load_audit_keys(path)
    path.write_text("{")
    with pytest.raises(ConfigError, match="damaged"):
        load_audit_keys(path)


def test_roll_appends_and_keeps_every_old_key(tmp_path: Path) -> None:
    path = tmp_path / "audit.keys"
    first = create_audit_key_file(path, legacy_head=GENESIS_HASH, now=NOW)
    (tmp_path / "audit.keys.new").write_text("left over by an interrupted roll")
    second = roll_audit_key(path, now=NOW)
    third = roll_audit_key(path, now=NOW)
    ids = [k.key_id for k in third.keys]
    assert ids[:2] == [first.active.key_id, second.active.key_id] and len(set(ids)) == 3
    assert path.stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "audit.keys.new").exists()
    assert third.find(first.active.key_id) is not None and third.find("audit:nope") is None


def test_the_id_is_a_fingerprint_and_the_path_follows_the_environment(tmp_path: Path) -> None:
    key = os.urandom(32)
    assert audit_key_id(key) == audit_key_id(key) != audit_key_id(os.urandom(32))
    assert key.hex()[:16] not in audit_key_id(key)
    assert default_audit_key_path({"KCGW_AUDIT_KEY_FILE": "/x/k"}) == Path("/x/k")
    assert default_audit_key_path({"KCGW_DATA_DIR": "/d"}) == Path("/d/audit.keys")
    assert default_audit_key_path({}) == Path("data/audit.keys")
