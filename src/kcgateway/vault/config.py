"""Which KEK is active: environment variables and KEK specs.

Order: ``$KCGW_KEK`` (base64 key), ``$KCGW_KEK_SPEC`` (``file:``, ``env:`` or ``vault:``),
``$KCGW_KEK_FILE``, then the default key file ``~/.config/kcgateway/kek.key`` if it exists.
There is no default KEK: with none of these, :func:`configured_kek` raises
:class:`~kcgateway.errors.ConfigError` naming ``kcgateway vault init-kek``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from kcgateway.errors import ConfigError
from kcgateway.vault.kek import (
    KEK_ENV,
    KEK_FILE_ENV,
    KEK_SPEC_ENV,
    NO_KEK,
    KekProvider,
    default_kek_path,
    local_kek_from_env,
    local_kek_from_file,
)
from kcgateway.vault.transit import TransitKek


def kek_from_spec(spec: str, environ: Mapping[str, str]) -> KekProvider:
    """``file:PATH``, ``env:VAR`` or ``vault:MOUNT/KEY`` (address and token from VAULT_*)."""
    kind, _, rest = spec.partition(":")
    if kind == "file" and rest:
        return local_kek_from_file(Path(rest))
    if kind == "env" and rest:
        return local_kek_from_env(environ, rest)
    if kind == "vault" and rest:
        return TransitKek.from_spec(rest, environ)
    raise ConfigError(
        f"unknown KEK spec {spec!r}: use file:PATH, env:VAR or vault:MOUNT/KEY (docs/vault.md)"
    )


def configured_kek(environ: Mapping[str, str] | None = None) -> KekProvider:
    """The active KEK: $KCGW_KEK, $KCGW_KEK_SPEC, $KCGW_KEK_FILE or the default file."""
    env = os.environ if environ is None else environ
    if env.get(KEK_ENV):
        return local_kek_from_env(env)
    if env.get(KEK_SPEC_ENV):
        return kek_from_spec(env[KEK_SPEC_ENV], env)
    path = default_kek_path(env)
    if env.get(KEK_FILE_ENV) or path.exists():
        return local_kek_from_file(path)
    raise ConfigError(NO_KEK)
