"""SyncKuCoinClient: the same async client, driven from a background loop thread."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from kcgateway.errors import InvalidParameter
from kcgateway.exchange.sync import SyncKuCoinClient
from kcgateway.exchange.testing import MockTransport, SentRequest, envelope, error_reply
from kcgateway.exchange.transport import RawResponse
from kcgateway.kucoin import models as m
from tests.kcgateway.kucoin import model_samples as sample

from .helpers import HOSTS, new_keys

KEYS = new_keys()


def _handler(req: SentRequest) -> RawResponse:
    threads.add(threading.current_thread().name)
    if req.path == "/api/v1/timestamp":
        return envelope(1_700_000_000_000)
    if req.path == "/api/v1/hf/orders/done":
        return envelope({"lastId": None, "items": [sample.HF_ORDER]})
    if req.path == "/api/v1/accounts":
        return error_reply("400100", "bad")
    return envelope({"status": "open", "msg": ""})


threads: set[str] = set()


def test_sync_facade_runs_calls_and_iterators_in_its_loop_thread() -> None:
    transport = MockTransport(_handler)
    with SyncKuCoinClient(KEYS.creds(), transport=transport, hosts=HOSTS) as kc:
        assert kc.market.server_time() == 1_700_000_000_000
        assert kc.market.status().status == "open"
        orders = kc.spot.hf.done_orders("BTC-USDT")
        assert isinstance(orders, list)
        assert isinstance(orders[0], m.HfOrder)
        with pytest.raises(InvalidParameter):
            kc.account.accounts()
        assert kc.client.is_broker is False
        assert kc.hosts.spot == HOSTS.spot  # plain attributes pass through
        assert kc.spot.hf.__class__  # nested services are proxied
        assert "sync proxy" in repr(kc.spot)
        assert kc.rules.enabled is True
        assert isinstance(kc.clock.offset_ms, int)
    assert transport.closed
    assert threads == {"kcgw-sync"}
    kc.close()  # idempotent


def test_sync_private_attribute_is_not_forwarded() -> None:
    transport = MockTransport(_handler)
    kc = SyncKuCoinClient(transport=transport, hosts=HOSTS)
    try:
        with pytest.raises(AttributeError):
            _ = kc._nothing
        assert kc.market.symbol.__name__ == "call"  # wrapped coroutine function
    finally:
        kc.close()


def test_decimal_results_survive_the_thread_hop() -> None:
    def handler(req: SentRequest) -> RawResponse:
        return envelope({"currency": "USDT", "balance": "1.10", "available": "1", "holds": "0.1"})

    with SyncKuCoinClient(KEYS.creds(), transport=MockTransport(handler), hosts=HOSTS) as kc:
        kc.client.clock._synced_at = 0.0  # skip the timestamp call for this test
        kc.client.clock._refresh_s = float("inf")
        balance = kc.account.account("a1")
    assert balance.balance == Decimal("1.10")
