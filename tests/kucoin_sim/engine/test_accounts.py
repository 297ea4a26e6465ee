import pytest

from kucoin_sim.engine import AccountType, BalanceEvent, Codes, EngineError
from tests.kucoin_sim.engine.helpers import T0, D, exchange


def test_fund_transfer_and_account_ids() -> None:
    ex = exchange()
    a = ex.create_user()
    main = ex.fund(a, AccountType.MAIN, "USDT", D(100), T0)
    assert len(main.id) == 24 and int(main.id, 16) >= 0
    ex.transfer(
        a, "USDT", source=AccountType.MAIN, target=AccountType.TRADE, amount=D(40), now_ms=T0
    )
    (m,) = ex.balances(a, AccountType.MAIN)
    (t,) = ex.balances(a, AccountType.TRADE, "USDT")
    assert (m.balance, t.balance, t.available) == (D(60), D(40), D(40))
    assert ex.account(t.id) == t and ex.account("f" * 24) is None
    assert {b.type for b in ex.balances(a)} == {AccountType.MAIN, AccountType.TRADE}
    with pytest.raises(EngineError) as info:
        ex.transfer(a, "USDT", source=AccountType.MAIN, target=AccountType.TRADE, amount=D(61))
    assert info.value.code == Codes.BALANCE
    with pytest.raises(EngineError) as info:
        ex.transfer(a, "USDT", source=AccountType.MAIN, target=AccountType.TRADE, amount=D(0))
    assert info.value.code == Codes.PARAM
    ex.fund(a, AccountType.MAIN, "USDT", D(-60))
    with pytest.raises(EngineError):
        ex.fund(a, AccountType.MAIN, "USDT", D(-1))
    assert ex.ledger.funded["USDT"] == D(40)


def test_balance_events_carry_changes() -> None:
    ex = exchange()
    a = ex.create_user()
    ex.drain_events()
    ex.fund(a, AccountType.TRADE, "USDT", D(100), T0)
    (ev,) = ex.drain_events()
    assert isinstance(ev, BalanceEvent)
    assert (ev.total, ev.available, ev.hold, ev.available_change, ev.relation_event) == (
        D(100),
        D(100),
        D(0),
        D(100),
        "main.deposit",
    )


def test_given_uid_and_outbox_can_be_disabled() -> None:
    ex = exchange()
    assert ex.create_user("42") == "42"
    ex.outbox.enabled = False
    ex.fund("42", AccountType.TRADE, "USDT", D(1))
    assert ex.drain_events() == []


def test_transfer_to_another_user_and_ledger_entries() -> None:
    from kucoin_sim.engine import Side
    from tests.kucoin_sim.engine.helpers import limit, user

    ex = exchange()
    broker, sub = ex.create_user(), ex.create_user()
    ex.fund(broker, AccountType.MAIN, "USDT", D(500), T0)
    ex.transfer(
        broker,
        "USDT",
        source=AccountType.MAIN,
        target=AccountType.TRADE,
        amount=D(200),
        now_ms=T0 + 1,
        to_uid=sub,
    )
    (t,) = ex.balances(sub, AccountType.TRADE, "USDT")
    assert t.balance == D(200) and ex.balances(broker)[0].balance == D(300)
    entries = ex.ledger_entries(broker)
    assert [(e.biz_type, e.amount, e.direction, e.balance) for e in entries] == [
        ("Transfer", D(-200), "out", D(300)),
        ("Deposit", D(500), "in", D(500)),
    ]
    assert ex.ledger_entries(broker, currency="BTC") == []
    assert len(ex.ledger_entries(broker, start_ms=T0 + 1, end_ms=T0 + 1)) == 1
    assert ex.ledger_entries(sub, account_type=AccountType.MAIN) == []
    a, b = user(ex), user(ex)
    limit(ex, a, Side.SELL, "30000", "0.1")
    limit(ex, b, Side.BUY, "30000", "0.1")
    trade = [e for e in ex.ledger_entries(b) if e.biz_type == "Exchange"]
    assert sorted((e.currency, e.amount) for e in trade) == [
        ("BTC", D("0.1")),
        ("USDT", D("-3006.0")),
    ]
    assert ex.currencies() == ["BTC", "USDT"]
