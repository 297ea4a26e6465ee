from __future__ import annotations

import json
import random
from typing import Any

import pytest

from kcgateway.errors import ProtocolError, ValidationError
from kcgateway.kucoin.orderbook import FetchSnapshot, L2Synchronizer, parse_l2_data
from kcgateway.kucoin.ws_session import (
    Acked,
    Close,
    DataMessage,
    Pong,
    SendFrame,
    ServerError,
    SessionAction,
    SessionState,
    SubscribeFailed,
    Welcomed,
    WsSession,
    topic_keys,
)
from tests.kcgateway.kucoin.l2stream import MarketGen

T0 = 1_700_000_000_000


def session(now: int = T0, **kwargs: Any) -> WsSession:
    return WsSession(now=now, ping_interval_ms=18_000, ping_timeout_ms=10_000, **kwargs)


def opened(now: int = T0, **kwargs: Any) -> WsSession:
    s = session(now, **kwargs)
    assert s.receive_frame('{"id":"c1","type":"welcome"}', now) == [Welcomed("c1")]
    return s


def frames(actions: list[SessionAction]) -> list[dict[str, Any]]:
    assert all(isinstance(a, SendFrame) for a in actions)
    return [json.loads(a.frame) for a in actions if isinstance(a, SendFrame)]


def test_topic_keys() -> None:
    assert topic_keys("/market/level2:A,B,") == ("/market/level2:A", "/market/level2:B")
    assert topic_keys("/account/balance") == ("/account/balance",)


def test_nothing_is_sent_before_welcome_and_welcome_times_out() -> None:
    s = session()
    assert s.state is SessionState.CONNECTING
    assert s.next_actions(T0 + 4_999) == []
    assert s.next_deadline() == T0 + 5_000
    subscribed = s.subscribe("/market/ticker:BTC-USDT", T0)
    assert subscribed == []  # queued until welcome
    assert s.next_actions(T0 + 5_000) == [Close("welcome timeout")]
    assert s.state is SessionState.CLOSED
    assert s.next_actions(T0 + 6_000) == []
    assert s.next_deadline() is None
    assert s.close() == []
    with pytest.raises(ValidationError, match="closed"):
        s.subscribe("/market/ticker:X", T0)


def test_second_welcome_is_ignored() -> None:
    s = opened()
    assert s.receive_frame(b'{"id":"c2","type":"welcome"}', T0) == []


def test_queued_subscription_goes_out_after_welcome() -> None:
    s = session()
    s.subscribe("/market/ticker:BTC-USDT", T0)
    s.receive_frame('{"id":"c1","type":"welcome"}', T0 + 10)
    assert frames(s.next_actions(T0 + 10)) == [
        {
            "id": "1",
            "type": "subscribe",
            "topic": "/market/ticker:BTC-USDT",
            "privateChannel": False,
            "response": True,
        }
    ]


def test_ping_schedule_pong_and_timeout() -> None:
    s = opened()
    assert s.next_deadline() == T0 + 18_000
    assert s.next_actions(T0 + 17_999) == []
    (ping,) = frames(s.next_actions(T0 + 18_000))
    assert ping["type"] == "ping"
    assert s.next_deadline() == T0 + 28_000
    assert s.next_actions(T0 + 19_000) == []  # one ping outstanding at a time
    assert s.receive_frame(json.dumps({"id": "other", "type": "pong"}), T0 + 18_100) == []
    pong = json.dumps({"id": ping["id"], "type": "pong"})
    assert s.receive_frame(pong, T0 + 18_250) == [Pong(250)]
    assert s.receive_frame(pong, T0 + 18_300) == []  # no ping outstanding
    assert s.next_deadline() == T0 + 36_000
    frames(s.next_actions(T0 + 36_000))
    assert s.next_actions(T0 + 46_000) == [Close("pong timeout")]


def test_subscribe_ack_unsubscribe() -> None:
    s = opened(private=True)
    (sub,) = frames(s.subscribe("/spotMarket/tradeOrdersV2", T0))
    assert sub["privateChannel"] is True
    assert sub["topic"] == "/spotMarket/tradeOrdersV2"
    acked = s.receive_frame(json.dumps({"id": sub["id"], "type": "ack"}), T0)
    assert acked == [Acked(sub["id"], "subscribe", ("/spotMarket/tradeOrdersV2",))]
    assert s.topics == {"/spotMarket/tradeOrdersV2"}
    assert s.subscribe("/spotMarket/tradeOrdersV2", T0) == []  # already subscribed
    (unsub,) = frames(s.unsubscribe("/spotMarket/tradeOrdersV2", T0))
    assert unsub["type"] == "unsubscribe"
    s.receive_frame(json.dumps({"id": int(unsub["id"]), "type": "ack"}), T0)
    assert s.topics == set()
    assert s.unsubscribe("/spotMarket/tradeOrdersV2", T0) == []
    assert s.receive_frame('{"id":"999","type":"ack"}', T0) == []


def test_batches_of_100_and_connection_cap() -> None:
    s = opened(uplink_limit=1_000)
    symbols = ",".join(f"S{i}-USDT" for i in range(250))
    sent = frames(s.subscribe("/market/level2:" + symbols, T0))
    assert [len(f["topic"].split(":")[1].split(",")) for f in sent] == [100, 100, 50]
    assert s.subscribe("/market/level2:S1-USDT,S2-USDT", T0) == []  # pending already
    with pytest.raises(ValidationError, match="301 topics") as info:
        s.subscribe("/market/ticker:" + ",".join(f"T{i}" for i in range(51)), T0)
    assert info.value.field == "topic"
    frames(s.subscribe("/market/ticker:" + ",".join(f"T{i}" for i in range(50)), T0))


def test_error_frames() -> None:
    s = opened()
    (sub,) = frames(s.subscribe("/market/nope:X", T0))
    failed = s.receive_frame(
        json.dumps({"id": sub["id"], "type": "error", "code": 404, "data": "topic not found"}), T0
    )
    assert failed == [SubscribeFailed(sub["id"], ("/market/nope:X",), 404, "topic not found")]
    assert s.topics == set()
    assert s.receive_frame('{"type":"error","code":"401","data":"token invalid"}', T0) == [
        ServerError(401, "token invalid")
    ]
    assert s.receive_frame('{"type":"error","code":"x","data":{"a":1}}', T0) == [
        ServerError(0, '{"a": 1}')
    ]
    assert s.receive_frame('{"type":"error"}', T0) == [ServerError(0, "null")]


def test_uplink_budget_queues_and_releases() -> None:
    s = opened(uplink_limit=5, max_topics=1_000)
    sent = []
    for i in range(6):
        sent += s.subscribe(f"/market/ticker:S{i}", T0 + i)
    assert len(sent) == 4  # one slot of five is kept for the ping
    assert s.next_deadline() == T0 + 10_000
    assert frames(s.next_actions(T0 + 9_999)) == []
    released = frames(s.next_actions(T0 + 10_001))
    assert [f["topic"] for f in released] == ["/market/ticker:S4", "/market/ticker:S5"]


def test_ping_still_fits_when_requests_fill_the_budget() -> None:
    s = opened(uplink_limit=3, max_topics=1_000)
    for i in range(4):
        s.subscribe(f"/market/ticker:S{i}", T0 + 17_000)
    kinds = [f["type"] for f in frames(s.next_actions(T0 + 18_000))]
    assert kinds == ["ping"]


def test_data_messages_keep_raw_data() -> None:
    s = opened()
    raw = (
        b'{"type":"message","topic":"/market/ticker:BTC-USDT","subject":"trade.ticker",'
        b'"data":{"price":"0.08","sequence":"1"}}'
    )
    (event,) = s.receive_frame(raw, T0)
    assert event == DataMessage(
        "/market/ticker:BTC-USDT", "trade.ticker", b'{"price":"0.08","sequence":"1"}'
    )


def test_notice_and_unknown_types_are_ignored_bad_json_is_an_error() -> None:
    s = opened()
    assert s.receive_frame('{"type":"notice","data":{}}', T0) == []
    with pytest.raises(ProtocolError):
        s.receive_frame("not json", T0)
    with pytest.raises(ProtocolError):
        s.receive_frame('{"id":"1"}', T0)


def test_close_by_client() -> None:
    s = opened()
    s.subscribe("/market/ticker:A", T0)
    assert s.close() == [Close("closed by client")]
    assert s.state is SessionState.CLOSED


def test_level2_frames_through_the_session_into_a_book() -> None:
    gen = MarketGen("BTC-USDT", random.Random(3))
    s = opened()
    (sub,) = frames(s.subscribe("/market/level2:BTC-USDT", T0))
    s.receive_frame(json.dumps({"id": sub["id"], "type": "ack"}), T0)
    sync = L2Synchronizer("BTC-USDT")
    snapshot_due = -1
    for i in range(300):
        for event in s.receive_frame(gen.frame(gen.next_data()), T0 + i):
            assert isinstance(event, DataMessage)
            assert event.topic == "/market/level2:BTC-USDT"
            actions = sync.receive_delta(parse_l2_data(event.data))
            if any(isinstance(a, FetchSnapshot) for a in actions):
                snapshot_due = i + 3
        if i == snapshot_due:
            sync.receive_snapshot(gen.snapshot())
    assert sync.sequence == gen.seq
    assert sync.depth(1_000) == gen.levels()
