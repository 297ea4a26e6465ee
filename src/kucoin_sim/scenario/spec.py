"""Scenario scripts: parsing a JSON/TOML document into timed steps (pure, deterministic by seed).

A scenario is a list of steps, each at a time offset from its start. Shape (TOML)::

    seed = 42          # drives the random choices (bots, random price walks)
    speed = 0          # 0: as fast as possible; N: N scenario ms per wall ms (1 = real time)
    backfill = false   # true: the timeline ends at "now" (a compressed history in the past)

    [[steps]]
    at = "0s"          # or at_ms = 0; durations: 250ms, 10s, 5m, 2h, 30d
    do = "accounts"    # see ACTIONS
    group = "attacker"
    count = 31
    balances = { THIN = "20000" }

Every money value is a decimal string (JSON numbers are accepted and read as their text).
Recurring steps (``every`` + ``until``) and random price walks are expanded here, with the
scenario's seed, into :class:`Event` values sorted by time; :mod:`.runner` executes them.
"""

from __future__ import annotations

import json
import random
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

#: what each ``do`` needs (required) and may take (optional), beyond at/at_ms/every/until
ACTIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "accounts": (frozenset({"group"}), frozenset({"count", "hf", "balances", "permissions"})),
    "fund": (frozenset({"balances"}), frozenset({"account", "group", "accountType"})),
    "order": (
        frozenset({"symbol", "side"}),
        frozenset({"account", "group", "type", "price", "size", "funds", "tif", "postOnly"}),
    ),
    "ladder": (
        frozenset({"symbol", "side", "from", "to", "levels", "size"}),
        frozenset({"account", "group"}),
    ),
    "dump": (frozenset({"symbol"}), frozenset({"account", "group"})),
    "cancel": (frozenset(), frozenset({"account", "group", "symbol"})),
    "price": (frozenset({"symbol"}), frozenset({"price", "move"})),
    "ramp": (frozenset({"symbol", "from", "to", "steps"}), frozenset()),
    "walk": (frozenset({"symbol", "steps", "volatility"}), frozenset()),
    "tick": (frozenset(), frozenset()),
    "bots": (
        frozenset({"kind", "group"}),
        frozenset({"symbol", "symbols", "funds", "size", "levels", "step", "spread"}),
    ),
}
_TIMING = frozenset({"do", "at", "at_ms", "every", "until"})
_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)\s*$")
BOT_KINDS = ("dca", "grid", "mm")


class ScenarioError(ValueError):
    """The scenario is malformed; the message names the step and field."""


@dataclass(frozen=True)
class Step:
    """One parsed step: its action, its time and its fields (validated names, raw values)."""

    index: int
    do: str
    at_ms: int
    fields: Mapping[str, Any]
    every_ms: int | None = None
    until_ms: int | None = None

    def where(self, name: str = "") -> str:
        """``steps[3] (order).price`` for error messages."""
        return f"steps[{self.index}] ({self.do})" + (f".{name}" if name else "")


@dataclass(frozen=True)
class Event:
    """One thing to do at ``at_ms``; ``seq`` keeps the script's order among equal times."""

    at_ms: int
    seq: int
    step: Step
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario: its seed, pacing and time-ordered events."""

    seed: int
    speed: Decimal
    backfill: bool
    steps: tuple[Step, ...]
    events: tuple[Event, ...]

    @property
    def duration_ms(self) -> int:
        """The time of the last event."""
        return self.events[-1].at_ms if self.events else 0


def duration_ms(value: object, where: str) -> int:
    """``250`` (ms), ``"250ms"``, ``"10s"``, ``"5m"``, ``"2h"`` or ``"30d"`` -> milliseconds."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ScenarioError(f"{where}: expected a duration like 250ms, 10s, 5m, 2h or 30d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def decimal(value: object, where: str, *, positive: bool = True) -> Decimal:
    """A decimal from a string or JSON number (read as its text, never float arithmetic)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ScenarioError(f"{where}: expected a decimal number as a string")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ScenarioError(f"{where}: not a number: {value!r}") from None
    if not number.is_finite() or (positive and number <= 0):
        raise ScenarioError(f"{where}: must be a positive number")
    return number


def integer(value: object, where: str, minimum: int = 1) -> int:
    """An integer of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ScenarioError(f"{where}: expected an integer of at least {minimum}")
    return value


def _step(index: int, raw: object) -> Step:
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"steps[{index}]: expected a table")
    do = raw.get("do")
    if do not in ACTIONS:
        raise ScenarioError(f"steps[{index}].do: expected one of {sorted(ACTIONS)}, got {do!r}")
    required, optional = ACTIONS[do]
    where = f"steps[{index}] ({do})"
    unknown = sorted(set(raw) - required - optional - _TIMING)
    if unknown:
        raise ScenarioError(f"{where}: unknown fields {unknown}")
    missing = sorted(required - set(raw))
    if missing:
        raise ScenarioError(f"{where}: missing fields {missing}")
    at = duration_ms(raw.get("at", raw.get("at_ms", 0)), f"{where}.at")
    every = raw.get("every")
    every_ms = None if every is None else duration_ms(every, f"{where}.every")
    if every_ms == 0:
        raise ScenarioError(f"{where}.every: must be longer than 0")
    until = raw.get("until")
    until_ms = None if until is None else duration_ms(until, f"{where}.until")
    if do in ("ramp", "walk"):
        if until_ms is not None:
            raise ScenarioError(f"{where}: a price path takes steps and every, not until")
    elif (every_ms is None) != (until_ms is None):
        raise ScenarioError(f"{where}: every and until go together")
    fields = {k: v for k, v in raw.items() if k not in _TIMING}
    step = Step(index, str(do), at, fields, every_ms, until_ms)
    _check(step)
    return step


def _check(step: Step) -> None:
    """Field checks that need no exchange (symbols and accounts are checked when run)."""
    f = step.fields
    if step.do in ("fund", "order", "ladder", "dump") and ("account" in f) == ("group" in f):
        raise ScenarioError(f"{step.where()}: give exactly one of account or group")
    if step.do in ("order", "ladder") and f["side"] not in ("buy", "sell"):
        raise ScenarioError(f"{step.where('side')}: expected buy or sell")
    if step.do == "price" and ("price" in f) == ("move" in f):
        raise ScenarioError(f"{step.where()}: give exactly one of price or move")
    if step.do == "bots" and f["kind"] not in BOT_KINDS:
        raise ScenarioError(f"{step.where('kind')}: expected one of {list(BOT_KINDS)}")
    if step.do == "bots" and step.every_ms is None:
        raise ScenarioError(f"{step.where()}: bots need every and until")
    for name in ("from", "to", "size", "funds", "price", "volatility", "step", "spread"):
        if name in f:
            decimal(f[name], step.where(name))
    if "move" in f:
        decimal(f["move"], step.where("move"), positive=False)
    for name in ("count", "levels", "steps"):
        if name in f:
            integer(f[name], step.where(name))


def _expand(step: Step, seq: int, rng: random.Random) -> list[Event]:
    """The events of one step: one, one per period, or one per price-path point."""
    if step.do == "ramp":
        return _ramp(step, seq)
    if step.do == "walk":
        return _walk(step, seq, rng)
    if step.every_ms is None or step.until_ms is None:
        return [Event(step.at_ms, seq, step)]
    if step.do == "bots":  # the runner schedules each bot of the group from here
        return [Event(step.at_ms, seq, step)]
    times = range(step.at_ms, step.until_ms + 1, step.every_ms)
    return [Event(t, seq, step) for t in times]


def _ramp(step: Step, seq: int) -> list[Event]:
    f = step.fields
    start, end = decimal(f["from"], "from"), decimal(f["to"], "to")
    n, every = integer(f["steps"], "steps"), step.every_ms or 1000
    out = []
    for i in range(1, n + 1):
        price = start + (end - start) * i / n
        out.append(Event(step.at_ms + (i - 1) * every, seq, step, {"price": price}))
    return out


def _walk(step: Step, seq: int, rng: random.Random) -> list[Event]:
    f = step.fields
    vol = decimal(f["volatility"], "volatility")
    n, every = integer(f["steps"], "steps"), step.every_ms or 1000
    out = []
    for i in range(n):
        draw = Decimal(rng.randint(-1000, 1000)) / 1000  # integer draws: no float in prices
        out.append(Event(step.at_ms + i * every, seq, step, {"move": draw * vol}))
    return out


def parse(raw: Mapping[str, Any]) -> Scenario:
    """A scenario from a parsed JSON/TOML document."""
    if not isinstance(raw, Mapping):
        raise ScenarioError("a scenario is a table with seed, speed and steps")
    unknown = sorted(set(raw) - {"seed", "speed", "backfill", "steps"})
    if unknown:
        raise ScenarioError(f"unknown top-level fields {unknown}")
    seed = integer(raw.get("seed", 0), "seed", minimum=0)
    speed = decimal(raw.get("speed", "0"), "speed", positive=False)
    if speed < 0:
        raise ScenarioError("speed: must be 0 (as fast as possible) or positive")
    backfill = raw.get("backfill", False)
    if not isinstance(backfill, bool):
        raise ScenarioError("backfill: expected true or false")
    items = raw.get("steps")
    if not isinstance(items, list) or not items:
        raise ScenarioError("steps: expected a non-empty list of tables")
    steps = tuple(_step(i, item) for i, item in enumerate(items))
    rng = random.Random(seed)
    events = [e for seq, step in enumerate(steps) for e in _expand(step, seq, rng)]
    events.sort(key=lambda e: (e.at_ms, e.seq))
    return Scenario(seed, speed, backfill, steps, tuple(events))


def read(path: Path) -> dict[str, Any]:
    """The document of a ``.json`` or ``.toml`` scenario file (not yet checked)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario file {path}: {exc.strerror}") from exc
    try:
        raw = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"scenario file {path} is not valid: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"scenario file {path} must hold a table with steps")
    return raw


def load(path: Path) -> Scenario:
    """Read and parse a ``.json`` or ``.toml`` scenario file."""
    return parse(read(path))


def example(name: str) -> Path:
    """The path of a bundled example scenario (``pump``, ``bots``)."""
    return Path(__file__).with_name("examples") / f"{name}.toml"
