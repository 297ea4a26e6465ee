"""Injected faults: latency, lost responses, 5xx bursts, 429 storms, clock offset, maintenance.

A :class:`FaultRule` applies to requests whose path starts with ``path_prefix`` (and whose
method equals ``method`` when set). It fires for the next ``count`` matching requests, or, when
``probability`` is set, with that probability from the simulator's seeded RNG (forever, or
``count`` times). Control routes (``/_sim/``) are never faulted. Pure apart from the RNG passed in.

Kinds:
- ``latency``: wait ``latency_ms`` before handling.
- ``lose_response``: handle the request (it executes), then close the connection unanswered.
- ``error_5xx``: answer ``status`` (default 503) with a 500000 envelope, without executing.
- ``rate_limit``: answer 429 / 429000 without executing (a "429 storm"); ``reset_ms``, when
  set, is the ``gw-ratelimit-reset`` it announces (default: the caller's IP pool's window).
- ``drop_request``: close the connection without executing or answering (the request was lost
  on the way: the client sees a disconnect, the exchange never saw the order).
- ``reset``: reset the connection (TCP RST) without executing or answering.

Server-wide settings: ``clock_offset_ms`` (the simulator's clock runs ahead or behind, so
timestamps are judged against it) and ``status`` (``open``, ``close``: every /api route but
status and timestamp answers 503; ``cancelonly``: new orders are refused with 200001).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    """What a fault rule does to the requests it matches."""

    LATENCY = "latency"
    LOSE_RESPONSE = "lose_response"
    ERROR_5XX = "error_5xx"
    RATE_LIMIT = "rate_limit"
    DROP_REQUEST = "drop_request"
    RESET = "reset"


class ServiceStatus(StrEnum):
    """The ``/api/v1/status`` values."""

    OPEN = "open"
    CLOSE = "close"
    CANCEL_ONLY = "cancelonly"


class FaultSpecError(ValueError):
    """A fault specification from config or the control API is invalid."""


@dataclass
class FaultRule:
    """One fault rule; ``count`` None means unlimited."""

    id: str
    kind: FaultKind
    path_prefix: str = "/"
    method: str | None = None
    count: int | None = 1
    probability: float | None = None
    latency_ms: int = 0
    status: int = 503
    reset_ms: int | None = None

    def matches(self, method: str, path: str) -> bool:
        """True when the rule covers this method and path."""
        return path.startswith(self.path_prefix) and (self.method is None or self.method == method)

    def as_json(self) -> dict[str, Any]:
        """The rule as the control API shows it."""
        return asdict(self)


_ids = itertools.count(1)


def _int_field(spec: Mapping[str, Any], name: str, default: int | None) -> int | None:
    value = spec.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultSpecError(f"{name} must be a non-negative integer")
    return value


def _probability(spec: Mapping[str, Any]) -> float | None:
    value = spec.get("probability")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise FaultSpecError("probability must be a number between 0 and 1")
    return float(value)


def parse_rule(spec: Mapping[str, Any]) -> FaultRule:
    """Build a rule from its JSON form; raise :class:`FaultSpecError` when it is invalid."""
    try:
        kind = FaultKind(str(spec.get("kind")))
    except ValueError as exc:
        raise FaultSpecError(f"kind must be one of {[k.value for k in FaultKind]}") from exc
    prefix = spec.get("pathPrefix", spec.get("path_prefix", "/"))
    method = spec.get("method")
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise FaultSpecError("pathPrefix must be a path starting with /")
    if method is not None and not isinstance(method, str):
        raise FaultSpecError("method must be a string")
    probability = _probability(spec)
    count = _int_field(spec, "count", None if probability is not None else 1)
    status = _int_field(spec, "status", 503) or 503
    if not 500 <= status <= 599:
        raise FaultSpecError("status must be a 5xx code")
    return FaultRule(
        id=str(spec.get("id") or f"fault-{next(_ids)}"),
        kind=kind,
        path_prefix=prefix,
        method=method.upper() if method else None,
        count=count,
        probability=probability,
        latency_ms=_int_field(spec, "latencyMs", 0) or 0,
        reset_ms=_int_field(spec, "resetMs", None),
        status=status,
    )


class Faults:
    """The active fault rules and the server-wide fault settings."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self.clock_offset_ms = 0
        self.status = ServiceStatus.OPEN
        self.status_msg = ""

    def add(self, rule: FaultRule) -> None:
        """Activate a rule."""
        self.rules.append(rule)

    def clear(self) -> None:
        """Remove every rule and restore the clock and status."""
        self.rules.clear()
        self.clock_offset_ms = 0
        self.status = ServiceStatus.OPEN
        self.status_msg = ""

    def fire(self, method: str, path: str, rng: random.Random) -> list[FaultRule]:
        """The rules that fire for this request, consuming their counts."""
        if not self.rules or path.startswith("/_sim/"):
            return []
        fired: list[FaultRule] = []
        for rule in self.rules:
            if not rule.matches(method, path):
                continue
            if rule.probability is not None and rng.random() >= rule.probability:
                continue
            if rule.count is not None:
                rule.count -= 1
            fired.append(rule)
        self.rules = [r for r in self.rules if r.count is None or r.count > 0]
        return fired

    def as_json(self) -> dict[str, Any]:
        """Everything the control API shows about faults."""
        return {
            "rules": [r.as_json() for r in self.rules],
            "clockOffsetMs": self.clock_offset_ms,
            "status": self.status.value,
            "statusMsg": self.status_msg,
        }
