"""The facade's private WebSocket session, sans I/O: KuCoin's frames, one message per change,
fills carried into the later order messages; and its single-use tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.event_feed import StoredEvent
from kcgateway.gateway.facade.ws_session import (
    BALANCE,
    HOLD_MS,
    ORDERS_V1,
    ORDERS_V2,
    PrivateSession,
)
from kcgateway.gateway.facade.ws_tokens import WsGrant, WsTokens

AT = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
MS = int(AT.timestamp() * 1000)


def _order(state: str, **over: Any) -> StoredEvent:
    data = {"orderId": "intent-1", "clientOid": "c1", "market": "spot", "symbol": "BTC-USDT",
            "side": "buy", "type": "limit", "price": "30000", "size": "0.003", "funds": None,
            "state": state, "exchangeOrderId": "ex-1", **over}  # fmt: skip
    return StoredEvent(1, "t", "a", "order.state", "intent-1", data, AT)


def _fill(filled: str, remain: str) -> StoredEvent:
    data = {"clientOid": "c1", "exchangeOrderId": "ex-1", "tradeId": "t1", "symbol": "BTC-USDT",
            "side": "buy", "price": "29990", "size": "0.001", "filledSize": filled,
            "remainSize": remain, "ts": 1}  # fmt: skip
    return StoredEvent(2, "t", "a", "order.fill", "c1", data, AT)


def _subscribed(*topics: str) -> PrivateSession:
    session = PrivateSession("c9")
    assert session.receive({"id": 1, "type": "subscribe", "topic": ",".join(topics)}) == []
    return session


def test_frames_welcome_pong_acks_and_refusals() -> None:
    session = PrivateSession("c9")
    assert session.welcome() == {"id": "c9", "type": "welcome"}
    assert session.receive({"id": "p", "type": "ping"}) == [{"id": "p", "type": "pong"}]
    sub = {"id": 7, "type": "subscribe", "topic": ORDERS_V2, "response": True}
    assert session.receive(sub) == [{"id": "7", "type": "ack"}]
    assert session.topics == {ORDERS_V2}
    assert session.receive({**sub, "type": "unsubscribe"}) == [{"id": "7", "type": "ack"}]
    assert session.topics == set()
    error = session.receive({**sub, "topic": "/market/ticker:BTC-USDT"})[0]
    assert (error["type"], error["code"]) == ("error", 404)
    assert session.receive({**sub, "topic": ""})[0]["code"] == 406
    assert session.receive({"id": "x", "type": "login"})[0]["code"] == 415
    assert session.receive(["not", "a", "frame"]) == []
    assert session.topics == set()


def test_each_change_is_one_message_per_topic_and_open_is_not_repeated() -> None:
    session = _subscribed(ORDERS_V2, ORDERS_V1)
    opened = session.relay(_order("acked"))
    assert [m["topic"] for m in opened] == [ORDERS_V2, ORDERS_V1]
    data = opened[0]["data"]
    assert (data["type"], data["status"], data["orderId"], data["clientOid"]) == (
        "open", "open", "ex-1", "c1"
    )  # fmt: skip
    assert (data["filledSize"], data["remainSize"], data["ts"]) == ("0", "0.003", MS * 10**6)
    assert session.relay(_order("open")) == []  # the exchange's own open: already said
    assert session.relay(_order("persisted")) == []
    match = session.relay(_fill("0.001", "0.002"))[0]["data"]
    assert (match["type"], match["matchPrice"], match["matchSize"]) == ("match", "29990", "0.001")
    canceled = session.relay(_order("cancelled"))[1]["data"]
    assert (canceled["type"], canceled["status"]) == ("canceled", "done")
    assert (canceled["filledSize"], canceled["remainSize"], canceled["canceledSize"]) == (
        "0.001", "0", "0.002"
    )  # fmt: skip
    assert session.filled == {} and session.opened == set()


def test_filled_waits_for_its_closing_match_or_goes_out_when_due() -> None:
    session = _subscribed(ORDERS_V1)
    assert session.relay(_order("filled")) == []  # the gateway knew before the fills came
    sent = session.relay(_fill("0.003", "0"))
    assert [m["data"]["type"] for m in sent] == ["match", "filled"]
    assert sent[1]["data"]["filledSize"] == "0.003" and session.held == {}
    assert session.relay(_order("filled", exchangeOrderId="ex-2")) == []
    assert session.expire(MS + HOLD_MS - 1) == []
    due = session.expire(MS + HOLD_MS)
    assert [(m["topic"], m["data"]["type"], m["data"]["orderId"]) for m in due] == [
        (ORDERS_V1, "filled", "ex-2")
    ]


def test_filled_futures_and_unsubscribed_topics() -> None:
    session = _subscribed(ORDERS_V1)
    session.relay(_fill("0.003", "0"))
    done = session.relay(_order("filled"))
    assert [(m["topic"], m["data"]["type"], m["data"]["filledSize"]) for m in done] == [
        (ORDERS_V1, "filled", "0.003")
    ]
    assert session.relay(_order("open", market="futures")) == []
    assert session.relay(StoredEvent(3, "t", "a", "alert", "x", {}, AT)) == []
    balance = StoredEvent(4, "t", "a", "balance", "USDT", {"currency": "USDT", "total": "1"}, AT)
    assert session.relay(balance) == []  # not subscribed
    assert _subscribed(BALANCE).relay(balance)[0]["data"]["time"] == str(MS)
    assert _subscribed(BALANCE).relay(_order("open")) == []


def test_a_token_opens_once_and_never_after_its_expiry() -> None:
    grant = WsGrant("t", "k", "a", "api", frozenset({Scope.READ}))
    tokens = WsTokens(ttl_ms=1000, limit=2)
    token = tokens.issue(grant, 0)
    assert "api" not in repr(tokens) and token not in repr(tokens)
    assert tokens.redeem(token, 1000) == grant
    assert tokens.redeem(token, 1000) is None  # used
    late = tokens.issue(grant, 0)
    assert tokens.redeem(late, 1001) is None  # expired
    assert tokens.redeem("", 0) is None and tokens.redeem("x" * 300, 0) is None
    first, _, _ = (tokens.issue(grant, 5000) for _ in range(3))
    assert tokens.redeem(first, 5000) is None  # the oldest went when the store was full


def test_one_key_fetching_bullets_in_a_loop_evicts_only_its_own_tokens() -> None:
    tokens = WsTokens(per_key=2)
    mine, theirs = (WsGrant("t", k, "a", k, frozenset()) for k in ("k1", "k2"))
    kept = tokens.issue(theirs, 0)
    first = [tokens.issue(mine, 0) for _ in range(3)]
    assert tokens.redeem(first[0], 0) is None  # evicted by the third
    assert tokens.redeem(first[2], 0) == mine and tokens.redeem(kept, 0) == theirs
