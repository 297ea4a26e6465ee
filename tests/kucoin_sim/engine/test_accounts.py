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
