"""Deterministic identifiers: same seed and same calls give the same ids (never uuid4/time).

Order and account ids are 24 hex digits like KuCoin's (a MongoDB ObjectId: 8 hex of seconds,
then 8 hex fixed per engine from the seed, then an 8 hex counter), so they sort by creation.
Trade ids are decimal strings from a counter starting at a seeded base.
"""

from __future__ import annotations

import random


class IdGenerator:
    """Hands out unique ids from a seeded start."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self._machine = f"{rng.getrandbits(32):08x}"
        self._counter = rng.getrandbits(20)
        self._trade = 10_000_000_000 + rng.getrandbits(24)

    def object_id(self, now_ms: int) -> str:
        """A fresh 24-hex id stamped with ``now_ms``'s second."""
        self._counter += 1
        seconds = (now_ms // 1000) & 0xFFFFFFFF
        return f"{seconds:08x}{self._machine}{self._counter & 0xFFFFFFFF:08x}"

    def trade_id(self) -> str:
        """A fresh numeric trade id."""
        self._trade += 1
        return str(self._trade)
