from __future__ import annotations

import base64
import os
import pickle
import secrets
from pathlib import Path

import pytest

from kcgateway.errors import ConfigError
from kcgateway.vault.config import configured_kek, kek_from_spec
from kcgateway.vault.kek import (
    KeyRing,
    LocalKek,
    UnwrapFailed,
    default_kek_path,
    init_kek_file,
    local_kek_from_env,
    local_kek_from_file,
)


def _b64key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def test_local_kek_wraps_bound_to_its_context() -> None:
    kek = LocalKek(secrets.token_bytes(32))
    dek = secrets.token_bytes(32)
    wrapped = kek.wrap(dek, context=b"row-1")
    assert dek not in wrapped and len(wrapped) == 12 + 32 + 16
    assert kek.unwrap(wrapped, context=b"row-1") == dek
    assert kek.wrap(dek, context=b"row-1") != wrapped  # fresh nonce each time
    with pytest.raises(UnwrapFailed):
        kek.unwrap(wrapped, context=b"row-2")
    with pytest.raises(UnwrapFailed):
        LocalKek(secrets.token_bytes(32)).unwrap(wrapped, context=b"row-1")
    with pytest.raises(UnwrapFailed, match="short"):
        kek.unwrap(b"x" * 12, context=b"row-1")
    assert not kek.performs_io and kek.owns(kek.kek_id) and not kek.owns("local:other")


def test_local_kek_never_shows_its_key() -> None:
    key = secrets.token_bytes(32)
    kek = LocalKek(key)
    for text in (repr(kek), kek.kek_id):
        assert key.hex()[:16] not in text and base64.b64encode(key).decode() not in text
    with pytest.raises(TypeError):
        pickle.dumps(kek)
    with pytest.raises(ConfigError, match="32 bytes"):
        LocalKek(b"short")


def test_keyring_finds_the_provider_for_a_kek_id() -> None:
    a, b = LocalKek(secrets.token_bytes(32)), LocalKek(secrets.token_bytes(32))
    ring = KeyRing(a, b)
    assert ring.find(b.kek_id) is b and ring.find(a.kek_id) is a
    assert ring.find("local:nope") is None
    assert ring.kek_ids == [a.kek_id, b.kek_id]


def test_kek_from_environment() -> None:
    value = _b64key()
    kek = local_kek_from_env({"KCGW_KEK": value})
    assert kek.kek_id == LocalKek(base64.b64decode(value)).kek_id
    with pytest.raises(ConfigError, match="not set"):
        local_kek_from_env({})
    with pytest.raises(ConfigError, match="not valid base64"):
        local_kek_from_env({"KCGW_KEK": "***"})
    with pytest.raises(ConfigError, match="32 bytes, not 16"):
        local_kek_from_env({"KCGW_KEK": base64.b64encode(b"x" * 16).decode()})


def test_init_kek_writes_a_0600_file_once(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "kek.key"
    kek = init_kek_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert local_kek_from_file(path).kek_id == kek.kek_id
    with pytest.raises(ConfigError, match="never overwritten"):
        init_kek_file(path)


def test_key_files_readable_by_others_are_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "kek.key"
    init_kek_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match=f"mode 0644.*chmod 600 {path}"):
        local_kek_from_file(path)
    os.chmod(path, 0o600)
    local_kek_from_file(path)
    with pytest.raises(ConfigError, match="kcgateway vault init-kek"):
        local_kek_from_file(tmp_path / "missing.key")
    with pytest.raises(ConfigError, match="not a regular file"):
        local_kek_from_file(tmp_path)
    bad = tmp_path / "bad.key"
    bad.write_text("not base64!")
    bad.chmod(0o600)
    with pytest.raises(ConfigError, match="not valid base64"):
        local_kek_from_file(bad)


def test_no_kek_configured_says_how_to_make_one(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    with pytest.raises(ConfigError, match="run `kcgateway vault init-kek`") as info:
        configured_kek(env)
    assert "KCGW_KEK" in str(info.value)
    assert default_kek_path(env) == tmp_path / "kcgateway" / "kek.key"
    made = init_kek_file(default_kek_path(env))
    assert configured_kek(env).kek_id == made.kek_id  # the default file, once it exists


def test_configuration_order_and_specs(tmp_path: Path) -> None:
    file_kek = init_kek_file(tmp_path / "a.key")
    value = _b64key()
    env = {"KCGW_KEK_FILE": str(tmp_path / "a.key"), "OTHER": value}
    assert configured_kek(env).kek_id == file_kek.kek_id
    env_kek = configured_kek({**env, "KCGW_KEK": value})
    assert env_kek.kek_id == local_kek_from_env({"KCGW_KEK": value}).kek_id
    spec_kek = configured_kek({**env, "KCGW_KEK_SPEC": "env:OTHER"})
    assert spec_kek.kek_id == env_kek.kek_id
    assert kek_from_spec(f"file:{tmp_path / 'a.key'}", {}).kek_id == file_kek.kek_id
    for bad in ("nope", "file:", "kms:aws/key"):
        with pytest.raises(ConfigError, match="unknown KEK spec"):
            kek_from_spec(bad, {})
    with pytest.raises(ConfigError, match="VAULT_ADDR and VAULT_TOKEN"):
        kek_from_spec("vault:transit/kcgw", {})
    with pytest.raises(ConfigError, match="vault:<mount>/<key>"):
        kek_from_spec("vault:nomount", {"VAULT_ADDR": "http://x", "VAULT_TOKEN": "t"})
