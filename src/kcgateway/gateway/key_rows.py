"""Key rows kept for authentication: at most :data:`KEY_ROW_TTL` old, bounded in number.

Reading the key row is most of a key check's cost (a database round trip through the driver's
thread, about 100 µs against a 5 µs HMAC compare). The row is therefore kept for
:data:`KEY_ROW_TTL` after it was read:

- a change made through this process's :class:`~kcgateway.gateway.keys.KeyService` (revoke,
  rotate, touch) replaces or forgets the kept row at once, so it holds from the next request;
- a change made by another instance is forgotten when its notification arrives (the change
  bus, :mod:`kcgateway.gateway.cluster.bus`); one made by any other process (the CLI on
  SQLite), or whose notification was lost, is seen within :data:`KEY_ROW_TTL`.

Unknown key ids are kept too (as ``None``), so a known id with a wrong secret and an unknown id
take the same path and the same time; :data:`MAX_ROWS` bounds what a flood of made-up ids can
hold (the oldest entries go first).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

from kcgateway.store.tables import GatewayKey

KEY_ROW_TTL = timedelta(seconds=1)
MAX_ROWS = 10_000


class KeyRows:
    """Key id -> (row or None, when it was read); entries older than ``ttl`` are not answered."""

    def __init__(self, ttl: timedelta = KEY_ROW_TTL, max_rows: int = MAX_ROWS) -> None:
        self.ttl = ttl
        self._max = max_rows
        self._rows: OrderedDict[str, tuple[GatewayKey | None, datetime]] = OrderedDict()
        #: bumped by every :meth:`forget`: a read that began before it is not kept
        self.generation = 0

    def get(self, key_id: str, now: datetime) -> tuple[bool, GatewayKey | None]:
        """``(True, row)`` when a row (or its absence) read less than ``ttl`` ago is kept."""
        kept = self._rows.get(key_id)
        if kept is None:
            return False, None
        row, read_at = kept
        if now - read_at >= self.ttl or now < read_at:
            del self._rows[key_id]
            return False, None
        return True, row

    def put(self, key_id: str, row: GatewayKey | None, now: datetime, generation: int) -> None:
        """Keep what a read begun at ``generation`` found, unless a change came since."""
        if generation != self.generation:
            return
        self._rows[key_id] = (row, now)
        self._rows.move_to_end(key_id)
        while len(self._rows) > self._max:
            self._rows.popitem(last=False)

    def touched(self, key_id: str, now: datetime) -> None:
        """The kept row's ``last_used_at`` is ``now`` (this process just wrote it)."""
        kept = self._rows.get(key_id)
        if kept is not None and kept[0] is not None:
            kept[0].last_used_at = now

    def forget(self, key_id: str) -> None:
        """Drop what is kept for ``key_id`` (this process changed the row, and committed)."""
        self._rows.pop(key_id, None)
        self.generation += 1

    def forget_all(self) -> None:
        """Drop every kept row (changes made elsewhere may have been missed)."""
        self._rows.clear()
        self.generation += 1
