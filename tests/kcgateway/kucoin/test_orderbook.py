from __future__ import annotations

import json
import random
import zlib
from typing import Any

import pytest

from kcgateway.errors import ProtocolError
from kcgateway.kucoin.orderbook import (
    Action,
    BookChanged,
    Desynced,
    FetchSnapshot,
    FuturesL2Delta,
    FuturesL2Synchronizer,
    L2Changes,
    L2Delta,
    L2Snapshot,
    L2Synchronizer,
    SyncState,
    parse_futures_l2_frame,
    parse_l2_data,
    parse_l2_frame,
    parse_l2_snapshot,
)
from tests.kcgateway.kucoin.l2stream import FuturesGen, MarketGen

SYM = "BTC-USDT"


def delta(start: int, end: int, asks: Any = (), bids: Any = ()) -> L2Delta:
    return L2Delta(SYM, start, end, L2Changes(tuple(map(tuple, asks)), tuple(map(tuple, bids))))


def snap(seq: int, bids: Any = (), asks: Any = ()) -> L2Snapshot:
    return L2Snapshot(SYM, seq, list(bids), list(asks))


def live(seq: int = 10) -> L2Synchronizer:
    sync = L2Synchronizer(SYM)
    sync.receive_snapshot(snap(seq, bids=[("99", "1"), ("98", "2")], asks=[("101", "3")]))
    return sync


# --- parsing ----------------------------------------------------------------------------------


def test_parse_l2_frame() -> None:
    raw = (
        b'{"type":"message","topic":"/market/level2:BTC-USDT","subject":"trade.l2update",'
        b'"data":{"changes":{"asks":[["18906","0.00331","14103845"]],"bids":[]},'
        b'"sequenceEnd":14103845,"sequenceStart":14103844,"symbol":"BTC-USDT","time":1663747970273}}'
    )
    d = parse_l2_frame(raw)
    assert d == L2Delta(
        "BTC-USDT", 14103844, 14103845, L2Changes(asks=(("18906", "0.00331", "14103845"),)),
        1663747970273,
    )  # fmt: skip
    assert parse_l2_frame(raw.decode()) == d


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'{"type":"ack","id":"1"}',
        b'{"type":"message","data":{"symbol":"X","sequenceStart":1,"sequenceEnd":"2","changes":{}}}',
        b'{"type":"message","data":{"symbol":"X","sequenceStart":1,"sequenceEnd":2,'
        b'"changes":{"asks":[["1","2"]]}}}',
    ],
)
def test_parse_l2_frame_rejects(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_l2_frame(raw)


def test_parse_futures_frame() -> None:
    raw = (
        b'{"type":"message","topic":"/contractMarket/level2:XBTUSDTM","subject":"level2",'
        b'"data":{"sequence":18,"change":"5000.0,sell,83","timestamp":1551770400000}}'
    )
    assert parse_futures_l2_frame(raw) == FuturesL2Delta(
        18, "5000.0,sell,83", 1551770400000, "XBTUSDTM"
    )
    with pytest.raises(ProtocolError):
        parse_futures_l2_frame(b"[]")
    with pytest.raises(ProtocolError):
        parse_futures_l2_frame(b'{"type":"welcome","id":"x"}')


# --- spot synchroniser -------------------------------------------------------------------------


def test_buffers_until_snapshot_and_asks_once() -> None:
    sync = L2Synchronizer(SYM)
    assert sync.state is SyncState.AWAITING_SNAPSHOT
    assert sync.receive_delta(delta(5, 6)) == [FetchSnapshot(SYM)]
    assert sync.receive_delta(delta(7, 7)) == []
    assert sync.best_bid() is None and sync.best_ask() is None


def test_docs_example() -> None:
    # PROTOCOL.md section 7: snapshot 16; delta 15-19 with one skipped, one removed, one update.
    sync = L2Synchronizer(SYM)
    sync.receive_delta(
        delta(
            15, 19,
            asks=[("3988.59", "3", "16"), ("3988.61", "0", "19"), ("3988.62", "8", "15")],
            bids=[("3988.50", "44", "18")],
        )
    )  # fmt: skip
    base = snap(
        16,
        bids=[("3988.50", "20"), ("3988.49", "1")],
        asks=[("3988.59", "5"), ("3988.61", "2"), ("3988.62", "7")],
    )
    assert sync.receive_snapshot(base) == [BookChanged(SYM, 19)]
    assert sync.sequence == 19
    assert sync.state is SyncState.LIVE
    assert sync.depth(10) == (
        [("3988.50", "44"), ("3988.49", "1")],
        [("3988.59", "5"), ("3988.62", "7")],
    )


def test_stale_dropped_applicable_applied() -> None:
    sync = live(10)
    assert sync.receive_delta(delta(5, 10, asks=[("100", "9", "10")])) == []
    assert sync.best_ask() == ("101", "3")
    assert sync.receive_delta(delta(9, 12, asks=[("100", "9", "12")])) == [BookChanged(SYM, 12)]
    assert sync.best_ask() == ("100", "9")
    assert sync.sequence == 12


def test_price_zero_only_advances_and_old_changes_skip() -> None:
    sync = live(10)
    actions = sync.receive_delta(
        delta(10, 13, asks=[("0", "0", "11"), ("105", "1", "10")], bids=[("97", "4", "13")])
    )
    assert actions == [BookChanged(SYM, 13)]
    assert sync.depth(5) == ([("99", "1"), ("98", "2"), ("97", "4")], [("101", "3")])


def test_size_zero_deletes_and_unknown_delete_is_harmless() -> None:
    sync = live(10)
    sync.receive_delta(delta(11, 12, bids=[("99", "0", "11"), ("50", "0.000", "12")]))
    assert sync.best_bid() == ("98", "2")
    sync.receive_delta(delta(13, 13, bids=[("98", "0.5", "13")]))
    assert sync.best_bid() == ("98", "0.5")


def test_gap_resyncs_and_keeps_the_delta() -> None:
    sync = live(10)
    actions = sync.receive_delta(delta(13, 14, asks=[("102", "1", "14")]))
    assert actions == [Desynced(SYM, "gap", 11, 13), FetchSnapshot(SYM)]
    assert sync.state is SyncState.AWAITING_SNAPSHOT
    assert sync.depth(5) == ([], [])
    assert sync.receive_delta(delta(15, 15)) == []  # already asked
    assert sync.receive_snapshot(snap(12, asks=[("103", "1")])) == [BookChanged(SYM, 15)]
    assert sync.best_ask() == ("102", "1")


def test_one_missing_sequence_is_a_gap() -> None:
    sync = live(10)
    assert sync.receive_delta(delta(12, 12)) == [Desynced(SYM, "gap", 11, 12), FetchSnapshot(SYM)]


def test_snapshot_older_than_the_buffer_resyncs_again() -> None:
    sync = L2Synchronizer(SYM)
    sync.receive_delta(delta(20, 21, asks=[("100", "1", "21")]))
    sync.receive_delta(delta(22, 22, asks=[("100", "2", "22")]))
    actions = sync.receive_snapshot(snap(10, asks=[("101", "1")]))
    assert actions == [Desynced(SYM, "gap", 11, 20), FetchSnapshot(SYM)]
    assert sync.receive_snapshot(snap(21, asks=[("100", "1")])) == [BookChanged(SYM, 22)]
    assert sync.best_ask() == ("100", "2")


def test_crossed_book_resyncs() -> None:
    sync = live(10)
    actions = sync.receive_delta(delta(11, 11, bids=[("101", "1", "11")]))
    assert actions == [Desynced(SYM, "crossed"), FetchSnapshot(SYM)]
    assert sync.sequence is None


def test_reset_and_unrequested_snapshot() -> None:
    sync = live(10)
    sync.receive_delta(delta(11, 11))
    assert sync.reset() == [FetchSnapshot(SYM)]
    assert sync.receive_delta(delta(12, 12)) == []
    assert sync.receive_snapshot(snap(40)) == [BookChanged(SYM, 40)]
    assert sync.receive_snapshot(snap(50, bids=[("1", "1")])) == [BookChanged(SYM, 50)]
    assert sync.best_bid() == ("1", "1")


def test_buffer_is_bounded() -> None:
    sync = L2Synchronizer(SYM, max_buffer=2)
    for i in range(1, 6):
        sync.receive_delta(delta(i, i, asks=[("100", str(i), str(i))]))
    assert sync.receive_snapshot(snap(3)) == [BookChanged(SYM, 5)]
    assert sync.best_ask() == ("100", "5")


def test_same_price_in_another_format_is_the_same_level() -> None:
    sync = live(10)
    sync.receive_delta(delta(11, 11, bids=[("99.0", "7", "11")]))
    assert sync.depth(5)[0] == [("99", "7"), ("98", "2")]


MALFORMED = [Desynced(SYM, "malformed"), FetchSnapshot(SYM)]


def test_prices_beyond_float_precision_are_refused() -> None:
    sync = live(10)
    assert sync.receive_delta(delta(11, 11, bids=[("0.000000000000000001", "1", "11")])) == [
        BookChanged(SYM, 11)
    ]  # one significant digit
    too_precise = delta(12, 12, bids=[("98.12345678901234567", "1", "12")])
    assert sync.receive_delta(too_precise) == MALFORMED
    assert sync.sequence is None


@pytest.mark.parametrize(
    ("start", "bids"),
    [
        (11, [("abc", "1", "11")]),
        (11, [("98", "", "11")]),
        (10, [("98", "1", "x")]),  # change sequences are read when the delta overlaps the book
        (11, [("nan", "1", "11")]),
    ],
)
def test_malformed_delta_resyncs(start: int, bids: Any) -> None:
    sync = live(10)
    assert sync.receive_delta(delta(start, 11, bids=bids)) == MALFORMED
    assert sync.depth(5) == ([], [])


def test_malformed_buffered_delta_during_replay() -> None:
    sync = L2Synchronizer(SYM)
    sync.receive_delta(delta(11, 11, bids=[("inf", "1", "11")]))
    sync.receive_delta(delta(12, 12, bids=[("97", "1", "12")]))
    assert sync.receive_snapshot(snap(10)) == MALFORMED
    assert sync.receive_snapshot(snap(11, bids=[("96", "1")])) == [BookChanged(SYM, 12)]
    assert sync.depth(5) == ([("97", "1"), ("96", "1")], [])


@pytest.mark.parametrize("bids", [[("x", "1")], [("1", "")], [("1" * 20, "1")]])
def test_malformed_snapshot_raises_and_stays_awaiting(bids: Any) -> None:
    sync = live(10)
    with pytest.raises(ProtocolError, match="snapshot of BTC-USDT"):
        sync.receive_snapshot(snap(20, bids=bids, asks=[("101", "1")]))
    assert sync.state is SyncState.AWAITING_SNAPSHOT
    assert sync.depth(5) == ([], [])


def test_fingerprint_tracks_the_top_levels() -> None:
    sync = live(10)
    assert sync.fingerprint() == zlib.crc32(b"99:1;98:2|101:3")
    assert sync.fingerprint(1) == zlib.crc32(b"99:1|101:3")


# --- futures synchroniser ----------------------------------------------------------------------


def fut(seq: int, change: str) -> FuturesL2Delta:
    return FuturesL2Delta(seq, change, symbol="XBTUSDTM")


def test_futures_sequence_must_step_by_one() -> None:
    sync = FuturesL2Synchronizer("XBTUSDTM")
    assert sync.receive_delta(fut(9, "100,sell,1")) == [FetchSnapshot("XBTUSDTM")]
    assert sync.receive_delta(fut(10, "99,buy,5")) == []
    base = L2Snapshot("XBTUSDTM", 8, [("98", "1")], [("101", "2")])
    assert sync.receive_snapshot(base) == [BookChanged("XBTUSDTM", 10)]
    assert sync.depth(3) == ([("99", "5"), ("98", "1")], [("100", "1"), ("101", "2")])
    assert sync.receive_delta(fut(10, "99,buy,6")) == []
    assert sync.receive_delta(fut(11, "99,buy,0")) == [BookChanged("XBTUSDTM", 11)]
    assert sync.receive_delta(fut(12, "50,buy,0")) == [BookChanged("XBTUSDTM", 12)]
    assert sync.receive_delta(fut(13, "98,buy,3")) == [BookChanged("XBTUSDTM", 13)]
    assert sync.best_bid() == ("98", "3")
    assert sync.receive_delta(fut(15, "97,buy,1")) == [
        Desynced("XBTUSDTM", "gap", 14, 15),
        FetchSnapshot("XBTUSDTM"),
    ]


def test_futures_snapshot_too_old_and_crossed() -> None:
    sync = FuturesL2Synchronizer("XBTUSDTM")
    sync.receive_delta(fut(20, "100,sell,1"))
    assert sync.receive_snapshot(L2Snapshot("XBTUSDTM", 5, [], [])) == [
        Desynced("XBTUSDTM", "gap", 6, 20),
        FetchSnapshot("XBTUSDTM"),
    ]
    sync.receive_snapshot(L2Snapshot("XBTUSDTM", 20, [("99", "1")], [("100", "1")]))
    assert sync.receive_delta(fut(21, "100,buy,1")) == [
        Desynced("XBTUSDTM", "crossed"),
        FetchSnapshot("XBTUSDTM"),
    ]


@pytest.mark.parametrize("change", ["100,buy", "100,hold,1", "100,buy,", "x,buy,1"])
def test_futures_bad_change(change: str) -> None:
    sync = FuturesL2Synchronizer("XBTUSDTM")
    sync.receive_snapshot(L2Snapshot("XBTUSDTM", 1, [], []))
    assert sync.receive_delta(fut(2, change)) == [
        Desynced("XBTUSDTM", "malformed"),
        FetchSnapshot("XBTUSDTM"),
    ]


# --- playback ----------------------------------------------------------------------------------


def _deliveries(
    rng: random.Random, sent: list[bytes], drop: float, dup: float, stale: float
) -> list[bytes]:
    """What reaches the client for the newest frame: maybe nothing, twice, or after an old one."""
    frame = sent[-1]
    deliveries = [] if rng.random() < drop else [frame]
    if rng.random() < dup:
        deliveries.append(frame)
    if rng.random() < stale and len(sent) > 5:
        deliveries.insert(0, sent[rng.randrange(len(sent) - 5)])
    return deliveries


def _replay(
    seed: int, messages: int, *, drop: float, dup: float, stale: float, inner: float = 0.5
) -> None:
    """Feed a generated stream with faults; the pump serves snapshots a few frames late.

    A share ``inner`` of the snapshots are taken part-way through the newest delta (a sequence
    inside it), so the replay must apply that delta while skipping its older changes.
    """
    rng = random.Random(seed)
    gen = MarketGen(SYM, rng, seq=rng.randint(1, 10**9))
    sync = L2Synchronizer(SYM)
    sent: list[bytes] = []
    due: int | None = None
    resyncs = 0

    def handle(actions: list[Action], i: int) -> None:
        nonlocal due, resyncs
        for action in actions:
            if isinstance(action, FetchSnapshot):
                due = i + rng.randint(0, 4)
            elif isinstance(action, Desynced):
                resyncs += 1

    handle(sync.reset(), 0)
    for i in range(messages):
        serve = due is not None and i >= due
        frame = gen.frame(gen.next_data(capture=serve))
        sent.append(frame)
        faults = (drop, dup, stale) if i < messages - 20 else (0, 0, 0)  # clean tail
        for raw in _deliveries(rng, sent, *faults):
            handle(sync.receive_delta(parse_l2_frame(raw)), i)
        if serve:
            due = None
            inside = gen.inner_snapshot if rng.random() < inner else None
            handle(sync.receive_snapshot(inside or gen.snapshot()), i)
        if i % 10 == 0 and sync.sequence == gen.seq:  # caught up: the top must be the truth
            bids, asks = gen.levels()
            assert sync.depth(25) == (bids[:25], asks[:25]), i
    assert sync.state is SyncState.LIVE
    assert sync.sequence == gen.seq
    assert sync.depth(10_000) == gen.levels()
    assert resyncs > 0 if drop else resyncs == 0


@pytest.mark.parametrize("seed", range(6))
def test_playback_with_gaps_duplicates_and_stale_messages(seed: int) -> None:
    _replay(seed, 1_500, drop=0.01, dup=0.05, stale=0.05)


@pytest.mark.parametrize("seed", [99, 100, 101])
def test_playback_clean_stream_never_resyncs(seed: int) -> None:
    # The snapshot is taken inside a delta: replaying that delta must not look like a gap.
    _replay(seed, 600, drop=0, dup=0.05, stale=0.05, inner=1.0)


def test_generated_frames_are_kucoin_shaped() -> None:
    gen = MarketGen("ETH-USDT", random.Random(1), decimals=3)
    message = json.loads(gen.frame(gen.next_data()))
    assert message["subject"] == "trade.l2update"
    data = message["data"]
    assert data["sequenceStart"] <= data["sequenceEnd"]
    assert all(len(change) == 3 for change in data["changes"]["asks"] + data["changes"]["bids"])


def test_futures_playback_with_drops_and_duplicates() -> None:
    rng = random.Random(7)
    gen = FuturesGen("XBTUSDTM", rng, decimals=1)
    sync = FuturesL2Synchronizer("XBTUSDTM")
    fetches = gaps = 0
    for i in range(3_000):
        raw = gen.next_futures_frame()
        clean = i >= 2_980
        copies = 0 if not clean and rng.random() < 0.01 else 1
        copies += 0 if clean or rng.random() > 0.03 else 1
        for _ in range(copies):
            for action in sync.receive_delta(parse_futures_l2_frame(raw)):
                fetches += isinstance(action, FetchSnapshot)
                gaps += isinstance(action, Desynced)
        if sync.sequence is None and rng.random() < 0.3:
            sync.receive_snapshot(gen.snapshot())
    if sync.sequence is None:
        sync.receive_snapshot(gen.snapshot())
    assert gaps > 0 and fetches == gaps + 1
    assert sync.sequence == gen.seq
    assert sync.depth(10_000) == gen.levels()


def test_parse_l2_data_for_ws_session_messages() -> None:
    raw = (
        b'{"changes":{"asks":[],"bids":[["1","2","3"]]},'
        b'"sequenceStart":3,"sequenceEnd":3,"symbol":"A-B"}'
    )
    assert parse_l2_data(raw) == L2Delta("A-B", 3, 3, L2Changes(bids=(("1", "2", "3"),)))
    with pytest.raises(ProtocolError):
        parse_l2_data(b'{"symbol":"A-B"}')


def test_parse_spot_and_futures_snapshots() -> None:
    spot = (
        b'{"code":"200000","data":{"time":1,"sequence":"3262786978",'
        b'"bids":[["6500.12","0.45054140"]],"asks":[["6500.16","0.57753524"]]}}'
    )
    assert parse_l2_snapshot("BTC-USDT", spot) == L2Snapshot(
        "BTC-USDT", 3262786978, [("6500.12", "0.45054140")], [("6500.16", "0.57753524")]
    )
    futures = (
        b'{"code":"200000","data":{"symbol":"XBTUSDM","sequence":100,'
        b'"asks":[[5000.0,1000]],"bids":[[4999.5,13501],[66968.1,2]],"ts":1}}'
    )
    snap_f = parse_l2_snapshot("XBTUSDM", futures)
    assert snap_f.sequence == 100
    assert snap_f.asks == [("5000.0", "1000")]
    assert snap_f.bids == [("4999.5", "13501"), ("66968.1", "2")]
    for bad in (b"{}", b'{"data":{"sequence":"x","bids":[],"asks":[]}}'):
        with pytest.raises(ProtocolError):
            parse_l2_snapshot("X", bad)
