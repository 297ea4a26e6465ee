"""Sans-I/O level-2 order book synchronisers for KuCoin spot and futures. Pure.

The caller pumps frames in and performs the actions that come out; nothing here reads a clock,
opens a socket or sleeps (PROTOCOL.md section 7, ARCHITECTURE.md section 4)::

    sync = L2Synchronizer("BTC-USDT")
    for action in sync.receive_delta(parse_l2_frame(raw_ws_frame)):
        if isinstance(action, FetchSnapshot):
            ...  # GET /api/v3/market/orderbook/level2, then sync.receive_snapshot(snapshot)

Spot algorithm (KuCoin's calibration procedure): deltas are buffered until a snapshot with
sequence ``S`` arrives; buffered and live deltas with ``sequenceEnd <= S`` (later: ``<= seq``) are
stale and dropped; a delta applies when ``sequenceStart <= seq + 1`` and ``sequenceEnd > seq``; a
delta with ``sequenceStart > seq + 1`` is a gap: the book is discarded and a new snapshot is
asked for (the delta that revealed the gap is kept in the new buffer). Inside an applicable delta
a change ``[price, size, sequence]`` is skipped when its sequence is ``<= seq``, a price of
``"0"`` only advances the sequence, a size of ``"0"`` deletes the level, any other size replaces
the level's size (sizes are absolute). After the delta ``seq = sequenceEnd``.

Futures (``/contractMarket/level2``): one change ``"price,side,size"`` per message and the
sequence must step by exactly one; anything else older is stale, anything newer is a gap.

Both resync when the book is crossed (best bid >= best ask) after a delta: that can only be a
missed message.

States and invariants:

- ``SyncState.AWAITING_SNAPSHOT``: ``sequence is None``; the book is empty; deltas are buffered
  (at most ``max_buffer``, oldest dropped first); exactly one :class:`FetchSnapshot` is emitted
  per resync.
- ``SyncState.LIVE``: ``sequence`` is the sequence of the last applied change; the book is the
  exchange's book at that sequence and is not crossed; the buffer is empty.

Prices: every level is keyed by ``float(price)``. The float is used for ordering and identity
only; the original price and size strings are kept and returned untouched, so nothing is
rounded. Decimal strings with at most 15 significant digits (every KuCoin price) map to distinct,
correctly ordered floats; a longer price is refused with :class:`ProtocolError`. Why floats:
``float(price)`` is cheaper than ``Decimal(price)`` (``bench/bench_book.py`` prints both), and
every bisect over the sorted keys compares floats in C instead of Decimals.
"""

from __future__ import annotations

import enum
import zlib
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import msgspec

from kcgateway.errors import ProtocolError

__all__ = [
    "Action",
    "BookChanged",
    "Desynced",
    "FetchSnapshot",
    "FuturesL2Delta",
    "FuturesL2Synchronizer",
    "L2Changes",
    "L2Delta",
    "L2Snapshot",
    "L2Synchronizer",
    "SyncState",
    "parse_futures_l2_frame",
    "parse_l2_data",
    "parse_l2_frame",
    "parse_l2_snapshot",
]

Level = tuple[str, str]
_D = TypeVar("_D")
_MAX_DIGITS = 15


# --- payloads -------------------------------------------------------------------------------


class L2Changes(msgspec.Struct, frozen=True):
    """``changes`` of a spot level2 delta: lists of ``[price, size, sequence]`` strings."""

    asks: tuple[tuple[str, str, str], ...] = ()
    bids: tuple[tuple[str, str, str], ...] = ()


class L2Delta(msgspec.Struct, frozen=True, rename="camel"):
    """``data`` of a ``/market/level2:{symbol}`` message (subject ``trade.l2update``).

    Sample::

        {"changes": {"asks": [["18906", "0.00331", "14103845"]], "bids": []},
         "sequenceEnd": 14103845, "sequenceStart": 14103844, "symbol": "BTC-USDT",
         "time": 1663747970273}
    """

    symbol: str
    sequence_start: int
    sequence_end: int
    changes: L2Changes
    time: int = 0


class FuturesL2Delta(msgspec.Struct, frozen=True):
    """``data`` of a ``/contractMarket/level2:{symbol}`` message plus the topic's symbol.

    Sample: ``{"sequence": 18, "change": "5000.0,sell,83", "timestamp": 1551770400000}``.
    """

    sequence: int
    change: str
    timestamp: int = 0
    symbol: str = ""


@dataclass(frozen=True, slots=True)
class L2Snapshot:
    """A REST snapshot: its ``sequence`` and ``(price, size)`` levels, best first on each side."""

    symbol: str
    sequence: int
    bids: Sequence[Level]
    asks: Sequence[Level]


class _L2Frame(msgspec.Struct):
    type: str
    data: L2Delta | None = None
    topic: str = ""


class _FuturesFrame(msgspec.Struct):
    type: str
    data: FuturesL2Delta | None = None
    topic: str = ""


_Number = str | int | float


class _SnapshotData(msgspec.Struct):
    sequence: str | int
    bids: list[tuple[_Number, _Number]]
    asks: list[tuple[_Number, _Number]]


class _SnapshotResponse(msgspec.Struct):
    data: _SnapshotData


_l2_decoder = msgspec.json.Decoder(_L2Frame)
_l2_data_decoder = msgspec.json.Decoder(L2Delta)
_futures_decoder = msgspec.json.Decoder(_FuturesFrame)
_snapshot_decoder = msgspec.json.Decoder(_SnapshotResponse)


def parse_l2_frame(raw: bytes | str) -> L2Delta:
    """Decode a spot level2 WebSocket frame (raw JSON) into its :class:`L2Delta`."""
    try:
        frame = _l2_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"level2 frame: {exc}") from None
    if frame.type != "message" or frame.data is None:
        raise ProtocolError(f"level2 frame: not a data message (type {frame.type!r})")
    return frame.data


def parse_l2_data(raw: bytes) -> L2Delta:
    """Decode the ``data`` object of a level2 message (e.g. ``DataMessage.data`` of ws_session)."""
    try:
        return _l2_data_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"level2 data: {exc}") from None


def parse_l2_snapshot(symbol: str, raw: bytes | str) -> L2Snapshot:
    """Decode a REST order book response (spot: strings; futures: JSON numbers) into a snapshot.

    Spot ``GET /api/v3/market/orderbook/level2``:
    ``{"code":"200000","data":{"time":1,"sequence":"3262786978","bids":[["6500.12","0.45"]],
    "asks":[["6500.16","0.57"]]}}``; futures ``GET /api/v1/level2/snapshot``:
    ``{"code":"200000","data":{"symbol":"XBTUSDM","sequence":100,"bids":[[66968.1,13501]],...}}``.
    Numbers are turned back into their shortest exact decimal text (``repr``).
    """
    try:
        data = _snapshot_decoder.decode(raw).data
        sequence = int(data.sequence)
    except (msgspec.DecodeError, ValueError) as exc:
        raise ProtocolError(f"order book snapshot: {exc}") from None
    bids = [(_text(price), _text(size)) for price, size in data.bids]
    asks = [(_text(price), _text(size)) for price, size in data.asks]
    return L2Snapshot(symbol, sequence, bids, asks)


def _text(value: _Number) -> str:
    return value if isinstance(value, str) else repr(value)


def parse_futures_l2_frame(raw: bytes | str) -> FuturesL2Delta:
    """Decode a futures level2 frame; the symbol comes from the topic's ``:SYMBOL`` suffix."""
    try:
        frame = _futures_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"futures level2 frame: {exc}") from None
    if frame.type != "message" or frame.data is None:
        raise ProtocolError(f"futures level2 frame: not a data message (type {frame.type!r})")
    symbol = frame.topic.rpartition(":")[2]
    return msgspec.structs.replace(frame.data, symbol=symbol)


# --- actions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchSnapshot:
    """Fetch a REST snapshot for ``symbol`` and pass it to ``receive_snapshot``."""

    symbol: str


@dataclass(frozen=True, slots=True)
class BookChanged:
    """The book of ``symbol`` now reflects every change up to ``sequence``."""

    symbol: str
    sequence: int


@dataclass(frozen=True, slots=True)
class Desynced:
    """The book was discarded: ``reason`` is ``"gap"`` or ``"crossed"`` (a FetchSnapshot follows).

    For a gap, ``expected`` is the next sequence we needed and ``got`` the one that arrived.
    """

    symbol: str
    reason: str
    expected: int = 0
    got: int = 0


Action = FetchSnapshot | BookChanged | Desynced


class SyncState(enum.Enum):
    """Where a synchroniser is: see the module docstring for the invariants of each state."""

    AWAITING_SNAPSHOT = "awaiting_snapshot"
    LIVE = "live"


# --- the book -------------------------------------------------------------------------------


class _Side:
    """One side of a book: sizes and prices by float key, plus the keys kept sorted.

    Bids use negated keys so that, on both sides, ``keys[0]`` is the best level.
    """

    __slots__ = ("keys", "prices", "sign", "sizes")

    def __init__(self, sign: float) -> None:
        self.sign = sign
        self.sizes: dict[float, str] = {}
        self.prices: dict[float, str] = {}
        self.keys: list[float] = []

    def clear(self) -> None:
        self.sizes.clear()
        self.prices.clear()
        self.keys.clear()

    def set(self, price: str, size: str) -> None:
        """Set (or delete, for a zero size) one level. The hot loops inline this."""
        key = float(price) * self.sign
        if size == "0" or (size[0] == "0" and not float(size)):
            if key in self.sizes:
                del self.sizes[key], self.prices[key], self.keys[bisect_left(self.keys, key)]
            return
        if key not in self.sizes:
            _check_precision(price, key)
            insort(self.keys, key)
            self.prices[key] = price
        self.sizes[key] = size

    def top(self, n: int) -> list[Level]:
        prices, sizes = self.prices, self.sizes
        return [(prices[key], sizes[key]) for key in self.keys[:n]]


def _check_precision(price: str, key: float) -> None:
    """Refuse a price whose float key is not finite or could collide with another price's.

    Called for new levels only, off the hot path of size updates.
    """
    if key - key != 0:  # nan or infinity
        raise ProtocolError(f"price {price!r} is not a finite number")
    if len(price) > _MAX_DIGITS + 1:
        significant = price.replace(".", "").lstrip("-0").rstrip("0")
        if len(significant) > _MAX_DIGITS:
            raise ProtocolError(f"price {price!r} has more than {_MAX_DIGITS} significant digits")


class _Book(Generic[_D]):
    """The book, the buffer and the snapshot procedure shared by spot and futures."""

    def __init__(self, symbol: str, *, max_buffer: int = 10_000) -> None:
        self.symbol = symbol
        self.bids = _Side(-1.0)
        self.asks = _Side(1.0)
        self.sequence: int | None = None
        self._max_buffer = max_buffer
        self._buffer: deque[_D] = deque(maxlen=max_buffer)
        self._requested = False

    def receive_delta(self, delta: _D) -> list[Action]:
        """Buffer or apply one delta; returns what the caller must do next.

        A delta whose values cannot be applied (a size or price that is not a number, a futures
        change that is not ``price,side,size``) leaves the book untrustworthy: it is discarded
        with ``Desynced(reason="malformed")`` and a new snapshot is asked for.
        """
        if self.sequence is None:
            self._buffer.append(delta)
            return self._request_once()
        return self._apply_checked(delta)

    def _apply_checked(self, delta: _D) -> list[Action]:
        try:
            return self._apply(delta)
        except (ValueError, IndexError, ProtocolError):
            return self._resync(Desynced(self.symbol, "malformed"))

    def receive_snapshot(self, snap: L2Snapshot) -> list[Action]:
        """Load a snapshot and replay the buffered deltas on top of it.

        A snapshot with a level that is not a number raises :class:`ProtocolError` and leaves
        the book empty, awaiting a snapshot: fetch it again.
        """
        self._load(snap)
        buffered, self._buffer = self._buffer, deque(maxlen=self._max_buffer)
        while buffered:
            actions = self._apply_checked(buffered.popleft())
            if self.sequence is None:  # resynced during the replay: keep the rest buffered
                self._buffer.extend(buffered)
                return actions
        return [BookChanged(self.symbol, snap.sequence if self.sequence is None else self.sequence)]

    def _apply(self, delta: _D) -> list[Action]:
        raise NotImplementedError

    @property
    def state(self) -> SyncState:
        """:class:`SyncState` of this book."""
        return SyncState.AWAITING_SNAPSHOT if self.sequence is None else SyncState.LIVE

    def best_bid(self) -> Level | None:
        """Highest bid ``(price, size)``, or None."""
        top = self.bids.top(1)
        return top[0] if top else None

    def best_ask(self) -> Level | None:
        """Lowest ask ``(price, size)``, or None."""
        top = self.asks.top(1)
        return top[0] if top else None

    def depth(self, n: int) -> tuple[list[Level], list[Level]]:
        """The best ``n`` levels: ``(bids high->low, asks low->high)``."""
        return self.bids.top(n), self.asks.top(n)

    def fingerprint(self, n: int = 25) -> int:
        """CRC32 over the top ``n`` levels of both sides (``bids|asks``, ``price:size;``)."""
        bids, asks = self.depth(n)
        text = ";".join(f"{p}:{s}" for p, s in bids) + "|" + ";".join(f"{p}:{s}" for p, s in asks)
        return zlib.crc32(text.encode())

    def _crossed(self) -> bool:
        bids, asks = self.bids.keys, self.asks.keys
        return bool(bids and asks) and -bids[0] >= asks[0]

    def _load(self, snap: L2Snapshot) -> None:
        self.bids.clear()
        self.asks.clear()
        self.sequence = None
        try:
            for price, size in snap.bids:
                self.bids.set(price, size)
            for price, size in snap.asks:
                self.asks.set(price, size)
        except (ValueError, IndexError, ProtocolError) as exc:
            self.bids.clear()
            self.asks.clear()
            raise ProtocolError(f"snapshot of {self.symbol}: {exc}") from None
        self.sequence = snap.sequence
        self._requested = False

    def _resync(self, desynced: Desynced) -> list[Action]:
        self.bids.clear()
        self.asks.clear()
        self.sequence = None
        self._requested = True
        return [desynced, FetchSnapshot(self.symbol)]

    def reset(self) -> list[Action]:
        """Discard the book and the buffer and ask for a snapshot.

        For the pump: after a reconnect, or when a snapshot fetch failed.
        """
        self.bids.clear()
        self.asks.clear()
        self.sequence = None
        self._requested = True
        self._buffer.clear()
        return [FetchSnapshot(self.symbol)]

    def _request_once(self) -> list[Action]:
        if self._requested:
            return []
        self._requested = True
        return [FetchSnapshot(self.symbol)]


class L2Synchronizer(_Book[L2Delta]):
    """Keeps one spot symbol's level-2 book in step with KuCoin (see the module docstring)."""

    def _apply(self, delta: L2Delta) -> list[Action]:
        seq = self.sequence
        assert seq is not None  # noqa: S101 (only called when LIVE)
        if delta.sequence_end <= seq:
            return []
        if delta.sequence_start > seq + 1:
            actions = self._resync(Desynced(self.symbol, "gap", seq + 1, delta.sequence_start))
            self._buffer.append(delta)
            return actions
        changes = delta.changes
        # Change sequences lie within [sequenceStart, sequenceEnd]: only a delta that overlaps
        # the book's sequence can hold changes the book already has.
        overlaps = delta.sequence_start <= seq
        _apply_side(self.asks, changes.asks, seq, overlaps)
        _apply_side(self.bids, changes.bids, seq, overlaps)
        self.sequence = delta.sequence_end
        if self._crossed():
            return self._resync(Desynced(self.symbol, "crossed"))
        return [BookChanged(self.symbol, delta.sequence_end)]


def _apply_side(
    side: _Side, changes: Iterable[tuple[str, str, str]], seq: int, overlaps: bool
) -> None:
    """Apply ``[price, size, sequence]`` changes newer than ``seq`` to one side (hot loop)."""
    sizes, prices, keys, sign = side.sizes, side.prices, side.keys, side.sign
    for price, size, change_seq in changes:
        if price == "0" or (overlaps and int(change_seq) <= seq):
            continue
        key = float(price) * sign
        if size == "0" or (size[0] == "0" and not float(size)):
            if key in sizes:
                del sizes[key], prices[key], keys[bisect_left(keys, key)]
        elif key in sizes:
            sizes[key] = size
        else:
            _check_precision(price, key)
            insort(keys, key)
            prices[key] = price
            sizes[key] = size


class FuturesL2Synchronizer(_Book[FuturesL2Delta]):
    """Keeps one futures contract's level-2 book in step: the sequence steps by exactly one."""

    def _apply(self, delta: FuturesL2Delta) -> list[Action]:
        seq = self.sequence
        assert seq is not None  # noqa: S101 (only called when LIVE)
        if delta.sequence <= seq:
            return []
        if delta.sequence != seq + 1:
            actions = self._resync(Desynced(self.symbol, "gap", seq + 1, delta.sequence))
            self._buffer.append(delta)
            return actions
        price, side, size = _split_change(delta.change)
        (self.bids if side == "buy" else self.asks).set(price, size)
        self.sequence = delta.sequence
        if self._crossed():
            return self._resync(Desynced(self.symbol, "crossed"))
        return [BookChanged(self.symbol, delta.sequence)]


def _split_change(change: str) -> tuple[str, str, str]:
    parts = change.split(",")
    if len(parts) != 3 or parts[1] not in ("buy", "sell") or not parts[2]:
        raise ProtocolError(f"futures level2 change {change!r} is not 'price,side,size'")
    return parts[0], parts[1], parts[2]
