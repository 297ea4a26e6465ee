"""Fuzzed input to the streaming core: parsers raise only ProtocolError, books never crash."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcgateway.errors import ProtocolError
from kcgateway.kucoin.orderbook import (
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
from kcgateway.kucoin.ws_session import WsSession

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)
_keys = st.sampled_from(["type", "data", "topic", "id", "code", "sequence", "change", "changes"])
_shaped = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "welcome", "ack", "error", "pong", "x"])},
    optional={k: _json for k in ("data", "topic", "id", "code", "subject")},
)
_raw = (
    st.binary(max_size=200)
    | _json.map(lambda v: json.dumps(v).encode())
    | _shaped.map(lambda v: json.dumps(v).encode())
)


def _session_parse(raw: bytes) -> object:
    session = WsSession(now=0, ping_interval_ms=18_000, ping_timeout_ms=10_000)
    return session.receive_frame(raw, 0)


PARSERS: list[Callable[[bytes], object]] = [
    parse_l2_frame,
    parse_futures_l2_frame,
    parse_l2_data,
    lambda raw: parse_l2_snapshot("X", raw),
    _session_parse,
]


@pytest.mark.parametrize("parse", PARSERS)
@settings(max_examples=60)
@given(raw=_raw)
def test_parsers_raise_only_protocol_error(parse: Callable[[bytes], object], raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse(raw)


_num = st.sampled_from(["0", "1", "1.5", "0.0", "99", "100", "101", "", "x", "nan", "1e400"])
_change = st.tuples(_num, _num, st.integers(0, 30).map(str) | st.just("x"))


@settings(max_examples=100)
@given(
    deltas=st.lists(
        st.tuples(
            st.integers(0, 30),
            st.integers(0, 30),
            st.lists(_change, max_size=4),
            st.lists(_change, max_size=4),
        ),
        max_size=12,
    ),
    snapshot_at=st.integers(0, 12),
)
def test_spot_book_survives_arbitrary_deltas(deltas: list[Any], snapshot_at: int) -> None:
    sync = L2Synchronizer("X")
    for i, (start, end, asks, bids) in enumerate(deltas):
        if i == snapshot_at:
            sync.receive_snapshot(L2Snapshot("X", 5, [("99", "1")], [("101", "1")]))
        sync.receive_delta(L2Delta("X", start, end, L2Changes(tuple(asks), tuple(bids))))
        if sync.state is SyncState.LIVE:
            bids_now, asks_now = sync.depth(100)
            assert not (bids_now and asks_now) or float(bids_now[0][0]) < float(asks_now[0][0])


@settings(max_examples=100)
@given(
    changes=st.lists(
        st.tuples(st.integers(0, 20), _num, st.sampled_from(["buy", "sell", "x"]), _num),
        max_size=15,
    )
)
def test_futures_book_survives_arbitrary_changes(changes: list[Any]) -> None:
    sync = FuturesL2Synchronizer("F")
    sync.receive_snapshot(L2Snapshot("F", 3, [], []))
    for seq, price, side, size in changes:
        sync.receive_delta(FuturesL2Delta(seq, f"{price},{side},{size}", symbol="F"))
