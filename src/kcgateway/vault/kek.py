"""Key-encryption keys (KEKs): one interface, several providers, and how they are configured.

A :class:`KekProvider` wraps and unwraps data keys; it never sees a credential. Providers:

- :class:`LocalKek`: a 32-byte key from ``$KCGW_KEK`` (base64) or a 0600 file
  (``$KCGW_KEK_FILE``, default ``~/.config/kcgateway/kek.key``). Wrapping is AES-256-GCM with the
  row's context as associated data.
- :class:`kcgateway.vault.transit.TransitKek`: HashiCorp Vault transit (``vault:MOUNT/NAME``).
  Which provider is active is decided in :mod:`kcgateway.vault.config`.
- Cloud KMS (AWS KMS, GCP KMS, Azure Key Vault): implement :class:`KekProvider` (``kek_id``,
  ``performs_io = True``, ``owns``, ``wrap``, ``unwrap``) over the KMS ``Encrypt``/``Decrypt``
  calls with the context as the encryption context / AAD, and register it in
  :func:`kcgateway.vault.config.kek_from_spec`. None ships today.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kcgateway.errors import ConfigError

KEK_ENV = "KCGW_KEK"
KEK_FILE_ENV = "KCGW_KEK_FILE"
KEK_SPEC_ENV = "KCGW_KEK_SPEC"
KEY_BYTES = 32
NONCE_BYTES = 12
NO_KEK = (
    "no key-encryption key (KEK) is configured, so stored credentials cannot be used: run "
    "`kcgateway vault init-kek` to create one (it writes a 0600 key file and prints where), or "
    f"set {KEK_ENV} (base64 of 32 random bytes), {KEK_FILE_ENV} (path of a 0600 key file) or "
    f"{KEK_SPEC_ENV} (for example vault:transit/kcgateway). See docs/vault.md."
)


class UnwrapFailed(Exception):
    """This wrapped data key does not open with this KEK (wrong key, or altered or moved)."""


class KekProvider(Protocol):
    """Wraps and unwraps data keys. ``context`` binds a wrapped key to its row."""

    @property
    def kek_id(self) -> str:
        """Stable id stored beside every key this provider wraps."""
        ...

    @property
    def performs_io(self) -> bool:
        """True when wrap/unwrap block on the network (the signer then runs them in a thread)."""
        ...

    def owns(self, kek_id: str) -> bool:
        """True when this provider can unwrap keys recorded under ``kek_id``."""
        ...

    def wrap(self, dek: bytes, *, context: bytes) -> bytes:
        """Encrypt a data key."""
        ...

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        """Decrypt a data key; raise :class:`UnwrapFailed` when it does not open."""
        ...


class LocalKek:
    """A 32-byte AES-256-GCM KEK held in memory. Its repr never shows the key."""

    __slots__ = ("_aes", "_kek_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigError(f"a local KEK must be exactly {KEY_BYTES} bytes (got {len(key)})")
        self._aes = AESGCM(key)
        digest = hashlib.sha256(b"kcgw/kek-id/v1" + key).hexdigest()
        self._kek_id = f"local:{digest[:16]}"

    @property
    def kek_id(self) -> str:
        """``local:`` and 16 hex digits of a one-way fingerprint of the key."""
        return self._kek_id

    @property
    def performs_io(self) -> bool:
        """Local keys never block."""
        return False

    def owns(self, kek_id: str) -> bool:
        """Only its own id."""
        return kek_id == self._kek_id

    def wrap(self, dek: bytes, *, context: bytes) -> bytes:
        """``nonce || AES-GCM(kek, dek, aad=context)``."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aes.encrypt(nonce, dek, context)

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        """The data key, or :class:`UnwrapFailed`."""
        if len(wrapped) <= NONCE_BYTES:
            raise UnwrapFailed("wrapped key too short")
        try:
            return self._aes.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], context)
        except InvalidTag:
            raise UnwrapFailed("authentication failed") from None

    def __repr__(self) -> str:
        return f"LocalKek(kek_id={self._kek_id!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a KEK cannot be pickled")


class KeyRing:
    """The active KEK (wraps new keys) plus retired ones still able to unwrap old rows."""

    def __init__(self, active: KekProvider, *retired: KekProvider) -> None:
        self.active = active
        self._all = (active, *retired)

    def find(self, kek_id: str) -> KekProvider | None:
        """The provider that can unwrap keys recorded under ``kek_id``, if configured."""
        return next((p for p in self._all if p.owns(kek_id)), None)

    @property
    def kek_ids(self) -> list[str]:
        """Ids of every provider, the active one first."""
        return [p.kek_id for p in self._all]


def _decode_key(text: str, source: str) -> LocalKek:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{source} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{source} must decode to {KEY_BYTES} bytes, not {len(key)}")
    return LocalKek(key)


def local_kek_from_env(environ: Mapping[str, str], var: str = KEK_ENV) -> LocalKek:
    """A local KEK from an environment variable holding base64 of 32 bytes."""
    value = environ.get(var)
    if not value:
        raise ConfigError(f"the environment variable {var} is not set")
    return _decode_key(value, f"the environment variable {var}")


def check_key_file_mode(path: Path) -> None:
    """Refuse a key file that is not a regular file or is readable by group or others."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(
            f"KEK file {path} does not exist: create one with `kcgateway vault init-kek`"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"KEK file {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"KEK file {path} has mode {mode:04o}, readable by others: run `chmod 600 {path}`"
        )


def local_kek_from_file(path: Path) -> LocalKek:
    """A local KEK from a 0600 file holding base64 of 32 bytes."""
    check_key_file_mode(path)
    return _decode_key(path.read_text(encoding="ascii"), f"KEK file {path}")


def default_kek_path(environ: Mapping[str, str]) -> Path:
    """``$KCGW_KEK_FILE``, else ``$XDG_CONFIG_HOME/kcgateway/kek.key`` (``~/.config`` default)."""
    explicit = environ.get(KEK_FILE_ENV)
    if explicit:
        return Path(explicit)
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "kcgateway" / "kek.key"


def init_kek_file(path: Path) -> LocalKek:
    """Write a new random KEK to ``path`` (mode 0600, never overwriting); return it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = AESGCM.generate_key(bit_length=256)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} already exists: a KEK is never overwritten") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(base64.b64encode(key).decode("ascii") + "\n")
    return LocalKek(key)
