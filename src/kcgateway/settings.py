"""Typed settings of the gateway service, read once by :mod:`kcgateway.main`.

Sources, later ones winning: the defaults below, an optional TOML file (``$KCGW_CONFIG`` or
``--config``), then ``KCGW_*`` environment variables (``KCGW_MODE``, ``KCGW_HOST``,
``KCGW_PORT``, ``KCGW_DATA_DIR``, ``KCGW_DATABASE_URL``, ``KCGW_PEPPER_FILE``,
``KCGW_AUDIT_KEY_FILE``, ``KCGW_TRUSTED_PROXIES`` (comma-separated CIDRs), ``KCGW_MAX_BODY_BYTES``,
``KCGW_MAX_NOTIONAL``,
``KCGW_RECONCILE_GRACE_S``, ``KCGW_EXCHANGE_URL``, ``KCGW_EXCHANGE_FUTURES_URL``,
``KCGW_EXCHANGE_BROKER_URL``, ``KCGW_SQLITE_SYNCHRONOUS``, ``KCGW_PAPER_REFERENCE_URL``,
``KCGW_INSTANCE_ID``, ``KCGW_REDIS_URL``).

The exchange has three REST hosts: spot (``KCGW_EXCHANGE_URL``), futures and broker. With
KuCoin's spot host the other two default to KuCoin's; with any other spot URL (a ``kcgateway
sim``) the broker host defaults to the spot URL (the simulator serves both on one port) and
futures has no default: set ``KCGW_EXCHANGE_FUTURES_URL`` (the simulator's futures port), or
futures calls fail at once instead of reaching KuCoin's real futures host.

Two modes:

- ``dev`` (the default): the embedded setup. SQLite in the data directory, migrated
  automatically; a local KEK file, a pepper file and an audit key file created on first run;
  the simulator started in-process as the exchange (paper trading).
- ``prod``: refuses every dev default. It needs an explicit database URL, a configured KEK
  (``KCGW_KEK``/``KCGW_KEK_FILE``/``KCGW_KEK_SPEC``), a pepper file, an audit key file
  (``kcgateway audit init-key``), and the exchange's spot
  REST URL; it never creates keys, never migrates on its own (``kcgateway db upgrade``), never
  embeds the simulator, and refuses exchange keys without an IP whitelist. The first admin key
  comes from ``kcgateway keys create-admin --tenant NAME``.

The KEK itself is configured by :mod:`kcgateway.vault.config` (not duplicated here).
"""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kcgateway.errors import ConfigError

CONFIG_ENV = "KCGW_CONFIG"
_ENV_FIELDS = {
    "KCGW_MODE": "mode",
    "KCGW_HOST": "host",
    "KCGW_PORT": "port",
    "KCGW_KUCOIN_PORT": "kucoin_port",
    "KCGW_KUCOIN_FUTURES_PORT": "kucoin_futures_port",
    "KCGW_KUCOIN_FACADE_VIP": "kucoin_facade_vip",
    "KCGW_DATA_DIR": "data_dir",
    "KCGW_DATABASE_URL": "database_url",
    "KCGW_PEPPER_FILE": "pepper_file",
    "KCGW_AUDIT_KEY_FILE": "audit_key_file",
    "KCGW_TRUSTED_PROXIES": "trusted_proxies",
    "KCGW_MAX_BODY_BYTES": "max_body_bytes",
    "KCGW_MAX_NOTIONAL": "max_notional",
    "KCGW_RECONCILE_GRACE_S": "reconcile_grace_s",
    "KCGW_EXCHANGE_URL": "exchange_url",
    "KCGW_EXCHANGE_FUTURES_URL": "exchange_futures_url",
    "KCGW_EXCHANGE_BROKER_URL": "exchange_broker_url",
    "KCGW_SQLITE_SYNCHRONOUS": "sqlite_synchronous",
    "KCGW_EVENT_RETENTION_DAYS": "event_retention_days",
    "KCGW_REDIS_URL": "redis_url",
    "KCGW_PAPER_REFERENCE_URL": "paper_reference_url",
    "KCGW_INSTANCE_ID": "instance_id",
}


class Mode(StrEnum):
    """``dev``: embedded defaults; ``prod``: everything explicit."""

    DEV = "dev"
    PROD = "prod"


class Settings(BaseModel):
    """Everything the composition root needs. Holds no secret (those live in files/the KEK)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Mode = Mode.DEV
    host: str = "127.0.0.1"
    port: int = Field(default=8140, ge=0, le=65535)
    #: the KuCoin-compatible facade's port (None: no facade listener)
    kucoin_port: int | None = Field(default=None, ge=0, le=65535)
    #: the facade's KuCoin futures host (None: none)
    kucoin_futures_port: int | None = Field(default=None, ge=0, le=65535)
    #: the KuCoin VIP level whose rate quotas the facade grants each facade key (0: spot 4000,
    #: futures 2000 per 30 s)
    kucoin_facade_vip: int = Field(default=0, ge=0, le=12)
    data_dir: Path = Path("data")
    database_url: str | None = None
    pepper_file: Path | None = None
    audit_key_file: Path | None = None
    #: the only peers whose X-Forwarded-For is believed (CIDRs); none by default
    trusted_proxies: tuple[str, ...] = ()
    #: larger request bodies are answered 413 without being read (1 MiB)
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    max_notional: Decimal = Field(default=Decimal("100000"), gt=0)
    reconcile_grace_s: float = Field(default=30.0, gt=0)
    reconcile_every_s: float = Field(default=2.0, gt=0)
    exchange_url: str | None = None
    #: KuCoin's futures and broker REST hosts (see the module docstring for their defaults)
    exchange_futures_url: str | None = None
    exchange_broker_url: str | None = None
    exchange_timeout_s: float = Field(default=10.0, gt=0)
    #: SQLite's ``PRAGMA synchronous``: ``full`` (durable: every commit fsyncs the WAL) or the
    #: opt-in ``normal`` (faster; an OS crash or power loss can lose the last commits)
    sqlite_synchronous: Literal["full", "normal"] = "full"
    #: events of GET /v1/events older than this are pruned (0 keeps every event)
    event_retention_days: float = Field(default=30.0, ge=0)
    #: Redis for state shared by several instances (rate budgets); None: no Redis, every
    #: budget stays in this process
    redis_url: str | None = None
    #: the market the simulator's books follow for paper bots (its public REST and
    #: WebSocket): KuCoin's https://api.kucoin.com, or another ``kcgateway sim``; None: the
    #: simulator's own random walk. Only with a simulator as the exchange (gateway/bots/mirror)
    paper_reference_url: str | None = None
    #: this instance's name among several on one database (leases, /readyz); the host name by
    #: default, so a restarted instance keeps its name (``kcgateway serve --instance-id``)
    instance_id: str = Field(default_factory=socket.gethostname, min_length=1, max_length=200)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def is_dev(self) -> bool:
        """True in the embedded development mode."""
        return self.mode is Mode.DEV

    def pepper_path(self) -> Path:
        """Where the key-hashing pepper lives (dev default: inside the data directory)."""
        return self.pepper_file or self.data_dir / "pepper.key"

    def audit_key_path(self) -> Path:
        """Where the audit chain's HMAC keys live (dev default: inside the data directory)."""
        return self.audit_key_file or self.data_dir / "audit.keys"

    def sqlite_url(self) -> str:
        """The database URL (dev default: the SQLite file in the data directory)."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'kcgateway.db'}"


def _prod_problems(s: Settings) -> list[str]:
    problems = []
    if not s.database_url:
        problems.append("set KCGW_DATABASE_URL (prod never uses the embedded SQLite file)")
    if s.pepper_file is None:
        problems.append("set KCGW_PEPPER_FILE to a 0600 file of 32+ random bytes")
    if s.audit_key_file is None:
        problems.append(
            "set KCGW_AUDIT_KEY_FILE to the audit key file (`kcgateway audit init-key` makes it)"
        )
    if not s.exchange_url:
        problems.append("set KCGW_EXCHANGE_URL (prod never embeds the simulator)")
    return problems


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "settings"
        parts.append(f"{where}: {err['msg']}")
    return "invalid settings: " + "; ".join(parts)


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Defaults, then the TOML file, then ``KCGW_*`` variables; ConfigError says what to fix."""
    env = os.environ if environ is None else environ
    path = config_file or (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
    raw: dict[str, Any] = _read_toml(path) if path is not None else {}
    raw.update({field: env[var] for var, field in _ENV_FIELDS.items() if env.get(var)})
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    if settings.mode is Mode.PROD:
        problems = _prod_problems(settings)
        if problems:
            raise ConfigError("prod mode refuses dev defaults: " + "; ".join(problems))
    return settings
