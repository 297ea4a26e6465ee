"""The futures topics of the facade's private WebSocket, sans I/O: contract orders on their own
topic (orderTime in ns), a position or wallet re-read asked for only after a fill and sent only
when its figures changed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kcgateway.gateway.event_feed import StoredEvent
from kcgateway.gateway.facade.ws_futures import FUTURES_ORDERS, WALLET, Refresh, position_topic
from kcgateway.gateway.facade.ws_session import ORDERS_V2, PrivateSession

AT = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
MS = int(AT.timestamp() * 1000)
POS = "/contract/position:XBTUSDTM"


def _order(state: str, market: str = "futures") -> StoredEvent:
    data = {"orderId": "intent-1", "clientOid": "c1", "market": market, "symbol": "XBTUSDTM",
            "side": "buy", "type": "market", "price": None, "size": "2", "funds": None,
            "state": state, "exchangeOrderId": "ex-1"}  # fmt: skip
    return StoredEvent(1, "t", "a", "order.state", "intent-1", data, AT)


def _fill(**over: Any) -> StoredEvent:
    data = {"market": "futures", "clientOid": "c1", "exchangeOrderId": "ex-1", "tradeId": "t1",
            "symbol": "XBTUSDTM", "side": "buy", "price": "30000", "size": "2",
            "filledSize": "2", "remainSize": "0", "ts": 1, **over}  # fmt: skip
    return StoredEvent(2, "t", "a", "order.fill", "c1", data, AT)


def _session(*topics: str) -> PrivateSession:
    session = PrivateSession("c9")
    assert session.receive({"id": 1, "type": "subscribe", "topic": ",".join(topics)}) == []
    return session


def test_contract_orders_go_to_their_own_topic_with_ns_order_time() -> None:
    session = _session(FUTURES_ORDERS, ORDERS_V2)
    (opened,) = session.relay(_order("acked"))
    assert opened["topic"] == FUTURES_ORDERS and opened["data"]["type"] == "open"
    assert opened["data"]["orderTime"] == MS * 1_000_000
    (match,) = session.relay(_fill())
    (filled,) = session.relay(_order("filled"))
    assert (match["data"]["type"], filled["data"]["type"]) == ("match", "filled")
    spot_only = _session(ORDERS_V2)
    assert spot_only.relay(_order("acked")) == [] and spot_only.relay(_fill()) == []
    assert _session(FUTURES_ORDERS).relay(_order("acked", market="spot")) == []


def test_position_topics_are_checked() -> None:
    assert position_topic(POS) == "XBTUSDTM"
    assert position_topic("/contract/position:") is None
    assert position_topic("/contract/position:XBT/../x") is None
    session = PrivateSession("c9")
    error = session.receive({"id": 2, "type": "subscribe", "topic": "/contract/position:a-b"})
    assert error[0]["code"] == 404 and session.topics == set()


def test_a_fill_asks_for_a_re_read_of_what_the_client_holds() -> None:
    assert _session(FUTURES_ORDERS).refresh(_fill()) is None
    assert _session(POS).refresh(_order("acked")) is None  # no fill: the position is unchanged
    assert _session(POS).refresh(_fill()) == Refresh("XBTUSDTM", position=True, wallet=False)
    assert _session(POS, WALLET).refresh(_order("filled")) == Refresh(
        "XBTUSDTM", position=True, wallet=True
    )
    assert _session(WALLET).refresh(_order("acked")) == Refresh(
        "XBTUSDTM", position=False, wallet=True
    )
    assert _session(POS, WALLET).refresh(_order("acked", market="spot")) is None


def test_position_and_wallet_go_out_once_per_change() -> None:
    session = _session(POS, WALLET)
    position = {"symbol": "XBTUSDTM", "currentQty": 2, "avgEntryPrice": "30000",
                "realisedPnl": "-0.1", "posMargin": "12", "isOpen": True,
                "currentTimestamp": MS}  # fmt: skip
    (sent,) = session.position("XBTUSDTM", position)
    assert (sent["topic"], sent["subject"]) == (POS, "position.change")
    assert sent["data"]["currentQty"] == 2 and sent["data"]["changeReason"] == "positionChange"
    assert session.position("XBTUSDTM", {**position, "currentTimestamp": MS + 5}) == []
    assert len(session.position("XBTUSDTM", {**position, "currentQty": 3})) == 1
    assert session.position("XBTUSDTM", {**position, "symbol": "ETHUSDTM"}) == []
    overview = {"currency": "USDT", "availableBalance": "49000", "orderMargin": "10",
                "frozenFunds": "2", "positionMargin": "988", "accountEquity": "50000",
                "marginBalance": "50000"}  # fmt: skip
    (wallet,) = session.wallet(overview, MS)
    assert (wallet["subject"], wallet["data"]["holdBalance"]) == ("walletBalance.change", "12")
    assert wallet["data"]["timestamp"] == str(MS)
    assert session.wallet(overview, MS + 1) == []
    assert len(session.wallet({**overview, "availableBalance": "48000"}, MS + 2)) == 1
    assert session.wallet({"no": "currency"}, MS) == []
