"""A generated KuCoin spot level2 stream with its own reference book (tests and bench/bench_book).

The reference book is kept in integer ticks, independently of ``kcgateway.kucoin.orderbook``:
it is the exchange's truth the synchroniser must end up equal to. Frames are the raw JSON bytes
KuCoin sends on ``/market/level2:{symbol}``; same-price changes within one message are coalesced
to the newest, as KuCoin does.
"""

from __future__ import annotations

import json
import random
from typing import Any

from kcgateway.kucoin.orderbook import L2Snapshot


class MarketGen:
    """One symbol's exchange-side book and the level2 deltas that change it."""

    def __init__(
        self,
        symbol: str,
        rng: random.Random,
        *,
        mid_tick: int = 3_000_000,
        decimals: int = 2,
        seq: int = 1_000,
        levels: int = 60,
        spread: int = 150,
    ) -> None:
        self.symbol = symbol
        self.rng = rng
        self.mid = mid_tick
        self.decimals = decimals
        self.seq = seq
        self.spread = spread
        self.bids: dict[int, str] = {}
        self.asks: dict[int, str] = {}
        self.inner_snapshot: L2Snapshot | None = None
        for _ in range(levels):
            self.bids[self.mid - rng.randint(1, spread)] = self._size()
            self.asks[self.mid + rng.randint(1, spread)] = self._size()

    def price(self, tick: int) -> str:
        """The price string of ``tick`` (fixed number of decimals)."""
        unit = 10**self.decimals
        return f"{tick // unit}.{tick % unit:0{self.decimals}d}"

    def _size(self) -> str:
        units = self.rng.randint(1, 10**8)
        return f"{units // 10**4}.{units % 10**4:04d}"

    def next_data(self, max_changes: int = 6, *, capture: bool = False) -> dict[str, Any]:
        """Make one delta, apply it to the reference book, return its ``data`` object.

        With ``capture``, :attr:`inner_snapshot` becomes the book as it was part-way through
        this delta (None for a one-change delta): a snapshot whose sequence lies inside the
        delta, so a client must skip the changes it already holds.
        """
        start = self.seq + 1
        per_side: dict[str, dict[int, tuple[str, int]]] = {"asks": {}, "bids": {}}
        zero_price: list[list[str]] = []
        count = self.rng.randint(1, max_changes)
        capture_after = self.rng.randint(1, count - 1) if capture and count > 1 else None
        self.inner_snapshot = None
        for index in range(count):
            if index == capture_after:
                self.inner_snapshot = self.snapshot()
            self.seq += 1
            if self.rng.random() < 0.02:
                zero_price.append(["0", "0", str(self.seq)])
                continue
            name = "bids" if self.rng.random() < 0.5 else "asks"
            book = self.bids if name == "bids" else self.asks
            offset = self.rng.randint(1, self.spread)
            tick = self.mid - offset if name == "bids" else self.mid + offset
            size = "0" if tick in book and self.rng.random() < 0.35 else self._size()
            per_side[name][tick] = (size, self.seq)
            if size == "0":
                book.pop(tick, None)
            else:
                book[tick] = size
        changes: dict[str, list[list[str]]] = {"asks": [], "bids": []}
        for name, updates in per_side.items():
            for tick, (size, seq) in updates.items():
                changes[name].append([self.price(tick), size, str(seq)])
        changes["asks"].extend(zero_price)
        return {
            "changes": changes,
            "sequenceEnd": self.seq,
            "sequenceStart": start,
            "symbol": self.symbol,
            "time": 1_700_000_000_000 + self.seq,
        }

    def frame(self, data: dict[str, Any]) -> bytes:
        """The WebSocket frame carrying ``data``."""
        message = {
            "type": "message",
            "topic": f"/market/level2:{self.symbol}",
            "subject": "trade.l2update",
            "data": data,
        }
        return json.dumps(message, separators=(",", ":")).encode()

    def snapshot(self) -> L2Snapshot:
        """The REST snapshot of the reference book now."""
        return L2Snapshot(self.symbol, self.seq, *self.levels())

    def levels(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Every level: bids high to low, asks low to high."""
        bids = [(self.price(t), self.bids[t]) for t in sorted(self.bids, reverse=True)]
        asks = [(self.price(t), self.asks[t]) for t in sorted(self.asks)]
        return bids, asks


class FuturesGen(MarketGen):
    """A futures contract: one ``"price,side,size"`` change per message, sequence + 1 each."""

    def next_futures_frame(self) -> bytes:
        """Make one change, apply it to the reference book, return its frame."""
        self.seq += 1
        side = "buy" if self.rng.random() < 0.5 else "sell"
        book = self.bids if side == "buy" else self.asks
        offset = self.rng.randint(1, self.spread)
        tick = self.mid - offset if side == "buy" else self.mid + offset
        size = "0" if tick in book and self.rng.random() < 0.35 else str(self.rng.randint(1, 9999))
        if size == "0":
            book.pop(tick, None)
        else:
            book[tick] = size
        message = {
            "type": "message",
            "topic": f"/contractMarket/level2:{self.symbol}",
            "subject": "level2",
            "data": {
                "sequence": self.seq,
                "change": f"{self.price(tick)},{side},{size}",
                "timestamp": 1_700_000_000_000 + self.seq,
            },
        }
        return json.dumps(message, separators=(",", ":")).encode()
