"""WebSocket health counts per feed kind, for /metrics: reconnects, gaps and resyncs.

The feeds call :class:`~kcgateway.exchange.ws.StreamMetrics` hooks; :meth:`StreamCounts.for_kind`
hands each feed one that counts under its kind (``book_spot``, ``book_futures``,
``private_spot``, ...) and calls an optional ``hook(kind, event)`` on every count, so the web
layer can feed a Prometheus counter without this module knowing Prometheus::

    counts = StreamCounts(hook=lambda kind, event: ws_events.labels(kind, event).inc())

Events: ``reconnect`` (a connection was lost and is re-opened), ``gap`` (a book saw a sequence
gap and was discarded), ``resync`` (a book was rebuilt from a snapshot, or an account's orders
were reconciled after its private stream (re)subscribed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

__all__ = ["KindMetrics", "StreamCounts", "StreamHook"]

#: ``hook(kind, event)``, called once per counted event
StreamHook = Callable[[str, str], None]


class StreamCounts:
    """Counts per ``(kind, event)``; ``hook`` is told of each one as it happens."""

    def __init__(self, hook: StreamHook | None = None) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.hook = hook

    def count(self, kind: str, event: str) -> None:
        """Count one ``event`` of feed ``kind``."""
        self.counts[kind, event] += 1
        if self.hook is not None:
            self.hook(kind, event)

    def for_kind(self, kind: str) -> KindMetrics:
        """A :class:`~kcgateway.exchange.ws.StreamMetrics` that counts under ``kind``."""
        return KindMetrics(self, kind)


class KindMetrics:
    """The StreamMetrics of one feed kind (lag is not counted)."""

    def __init__(self, counts: StreamCounts, kind: str) -> None:
        self._counts = counts
        self.kind = kind

    def reconnected(self, reason: str) -> None:
        """A connection of this kind was lost."""
        self._counts.count(self.kind, "reconnect")

    def gap(self, symbol: str) -> None:
        """A book of this kind saw a gap."""
        self._counts.count(self.kind, "gap")

    def resynced(self, symbol: str) -> None:
        """A book of this kind was rebuilt (or an account reconciled)."""
        self._counts.count(self.kind, "resync")

    def lag(self, symbol: str, lag_ms: int) -> None:
        """Not counted."""
