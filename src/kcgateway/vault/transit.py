"""HashiCorp Vault transit as a KEK provider (through ``hvac``).

The DEK never leaves this process in clear except to Vault: ``wrap`` sends
``sha256(context)[:16] || dek`` to ``transit/encrypt/<key>``; ``unwrap`` decrypts and checks the
16-byte context tag, so a wrapped key moved to another row fails. (Transit's own associated data
is not used because ``transit/rewrap`` does not accept it.) ``kek_id`` is
``vault-transit:<mount>/<key>:v<latest version>``; a row wrapped by any version of the same key
can be unwrapped, and :meth:`TransitKek.rewrap` upgrades one to the latest version without the
DEK ever reaching kcgateway.

Configured by ``KCGW_KEK_SPEC=vault:<mount>/<key>`` with ``VAULT_ADDR`` and ``VAULT_TOKEN``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, NoReturn

import hvac
import hvac.exceptions

from kcgateway.errors import ConfigError
from kcgateway.secret import Secret
from kcgateway.vault.kek import UnwrapFailed

TAG_BYTES = 16


def _tag(context: bytes) -> bytes:
    return hashlib.sha256(b"kcgw/transit/v1" + context).digest()[:TAG_BYTES]


class TransitKek:
    """A KEK that lives in Vault: wrap and unwrap are HTTP calls (``performs_io`` is True)."""

    def __init__(self, client: Any, *, mount_point: str, key_name: str) -> None:
        self._client = client
        self._mount = mount_point
        self._name = key_name
        self._prefix = f"vault-transit:{mount_point}/{key_name}:v"
        self._latest = self._read_latest()

    @classmethod
    def connect(
        cls, *, url: str, token: Secret, key_name: str, mount_point: str = "transit"
    ) -> TransitKek:
        """Open a client on ``url`` (token given as a :class:`Secret`)."""
        client = hvac.Client(
            url=url, token=token.reveal(), timeout=10
        )  # Vault token, not a KuCoin secret
        try:
            return cls(client, mount_point=mount_point, key_name=key_name)
        except BaseException:
            client.adapter.close()
            raise

    @classmethod
    def from_spec(cls, rest: str, environ: Mapping[str, str]) -> TransitKek:
        """``<mount>/<key>`` with ``VAULT_ADDR`` and ``VAULT_TOKEN`` from the environment."""
        mount, _, name = rest.rpartition("/")
        if not mount or not name:
            raise ConfigError("a Vault KEK spec is vault:<mount>/<key>, e.g. vault:transit/kcgw")
        url, token = environ.get("VAULT_ADDR"), environ.get("VAULT_TOKEN")
        if not url or not token:
            raise ConfigError("set VAULT_ADDR and VAULT_TOKEN to use a Vault transit KEK")
        return cls.connect(url=url, token=Secret(token), key_name=name, mount_point=mount)

    @property
    def _transit(self) -> Any:
        return self._client.secrets.transit

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._transit, method)(mount_point=self._mount, **kwargs)
        except hvac.exceptions.InvalidRequest:
            raise UnwrapFailed("Vault refused the ciphertext") from None
        except (hvac.exceptions.VaultError, OSError) as exc:
            raise ConfigError(
                f"Vault transit key {self._mount}/{self._name} failed ({type(exc).__name__}): "
                "check VAULT_ADDR, VAULT_TOKEN and the token's policy"
            ) from None

    def _read_latest(self) -> int:
        try:
            info = self._call("read_key", name=self._name)
        except UnwrapFailed:  # pragma: no cover - Vault answers 404, not 400, for a missing key
            info = None
        if not info:
            raise ConfigError(f"Vault transit key {self._mount}/{self._name} does not exist")
        return int(info["data"]["latest_version"])

    @property
    def kek_id(self) -> str:
        """``vault-transit:<mount>/<key>:v<latest>``."""
        return f"{self._prefix}{self._latest}"

    @property
    def performs_io(self) -> bool:
        """Every wrap and unwrap is an HTTP round trip to Vault."""
        return True

    def owns(self, kek_id: str) -> bool:
        """Any version of this transit key."""
        return kek_id.startswith(self._prefix)

    def wrap(self, dek: bytes, *, context: bytes) -> bytes:
        """Encrypt ``tag(context) || dek`` with the latest key version."""
        plaintext = base64.b64encode(_tag(context) + dek).decode("ascii")
        resp = self._call("encrypt_data", name=self._name, plaintext=plaintext)
        return str(resp["data"]["ciphertext"]).encode("ascii")

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        """Decrypt and check the context tag; :class:`UnwrapFailed` on any mismatch."""
        resp = self._call("decrypt_data", name=self._name, ciphertext=wrapped.decode("ascii"))
        raw = base64.b64decode(resp["data"]["plaintext"])
        if not hmac.compare_digest(raw[:TAG_BYTES], _tag(context)):
            raise UnwrapFailed("the wrapped key belongs to another row")
        return raw[TAG_BYTES:]

    def rewrap(self, wrapped: bytes) -> bytes:
        """Re-encrypt under the latest key version inside Vault (the DEK stays in Vault)."""
        resp = self._call("rewrap_data", name=self._name, ciphertext=wrapped.decode("ascii"))
        return str(resp["data"]["ciphertext"]).encode("ascii")

    def rotate(self) -> None:
        """Ask Vault for a new key version; new wraps (and ``kek_id``) use it."""
        self._call("rotate_key", name=self._name)
        self._latest = self._read_latest()

    def close(self) -> None:
        """Close the HTTP session."""
        self._client.adapter.close()

    def __repr__(self) -> str:
        return f"TransitKek(kek_id={self.kek_id!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a KEK cannot be pickled")
