"""Simulator configuration: a TOML or JSON file, or a dict in tests.

Example (TOML)::

    seed = 7
    tick_ms = 200                 # market-maker tick period
    body_limit = 1048576          # bytes; larger bodies get 413 / 400100

    [[accounts]]                  # same fields as POST /_sim/accounts
    hf = true
    balances = { USDT = "100000", BTC = "2" }

    [[partners]]                  # ND brokers: partner id, broker key, name (+ account fields)
    partner = "TESTPARTNER_ND"
    name = "TESTBROKER"

    [[faults]]                    # same fields as POST /_sim/faults
    kind = "latency"
    pathPrefix = "/api/v1/orders"
    latencyMs = 50
    count = 10

    [engine]                      # passed to the engine's config loader (symbols, contracts,
                                  # market makers); absent means the engine's defaults
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_BODY_LIMIT = 1024 * 1024


class SimConfigError(ValueError):
    """The configuration file is missing, unreadable or malformed; the message says where."""


@dataclass(frozen=True)
class SimConfig:
    """Parsed configuration.

    Account, partner and fault entries stay raw: the control API's validators check them when
    the simulator is built, so both paths accept the same fields.
    """

    seed: int = 1
    tick_ms: int = 200
    body_limit: int = DEFAULT_BODY_LIMIT
    accounts: tuple[Mapping[str, Any], ...] = ()
    partners: tuple[Mapping[str, Any], ...] = ()
    faults: tuple[Mapping[str, Any], ...] = ()
    engine: Mapping[str, Any] = field(default_factory=dict)
    quotas: Mapping[str, int] = field(default_factory=dict)


def _entries(raw: Mapping[str, Any], name: str) -> tuple[Mapping[str, Any], ...]:
    value = raw.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SimConfigError(f"'{name}' must be a list of tables")
    return tuple(value)


def _int(raw: Mapping[str, Any], name: str, default: int) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SimConfigError(f"'{name}' must be a non-negative integer")
    return value


def config_from_dict(raw: Mapping[str, Any]) -> SimConfig:
    """Validate the top-level shape of a configuration mapping."""
    engine = raw.get("engine", {})
    quotas = raw.get("quotas", {})
    if not isinstance(engine, dict):
        raise SimConfigError("'engine' must be a table")
    if not isinstance(quotas, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in quotas.values()
    ):
        raise SimConfigError("'quotas' must map pool names to integers")
    return SimConfig(
        seed=_int(raw, "seed", 1),
        tick_ms=_int(raw, "tick_ms", 200),
        body_limit=_int(raw, "body_limit", DEFAULT_BODY_LIMIT),
        accounts=_entries(raw, "accounts"),
        partners=_entries(raw, "partners"),
        faults=_entries(raw, "faults"),
        engine=engine,
        quotas=quotas,
    )


def load_config(path: Path) -> SimConfig:
    """Read a ``.toml`` or ``.json`` configuration file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SimConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise SimConfigError(f"config file {path} is not valid: {exc}") from exc
    if not isinstance(raw, dict):
        raise SimConfigError(f"config file {path} must hold a table/object")
    return config_from_dict(raw)
