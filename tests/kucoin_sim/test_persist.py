"""A simulator's state kept in a file: what comes back, and which files are refused."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from kucoin_sim.accounts import create_account
from kucoin_sim.app import build_apps
from kucoin_sim.config import SimConfig
from kucoin_sim.engine import AccountType
from kucoin_sim.engine.types import OrderRequest, Side
from kucoin_sim.persist import MAGIC, StateFileError, load_state, save_state
from kucoin_sim.state import SimState


def _fresh() -> SimState:
    return build_apps(SimConfig(tick_ms=0), 7).state


def test_a_restored_state_holds_the_resting_order_the_balances_and_the_key(
    tmp_path: Path,
) -> None:
    state = _fresh()
    now = state.now_ms()
    key = create_account(state, {"hf": True, "balances": {"USDT": "1000"}}, now)
    exchange = state.exchange
    request = OrderRequest(
        uid=key["uid"], symbol="BTC-USDT", side=Side.BUY, price=Decimal("1000"),
        size=Decimal("0.01"), client_oid="kept-1", account_type=AccountType.TRADE_HF,
    )  # fmt: skip
    order = exchange.place(request, now)
    (held,) = exchange.balances(key["uid"], AccountType.TRADE_HF, "USDT")
    assert held.available < Decimal(1000)  # the order holds its price and fee
    path = tmp_path / "sim-state.pickle"
    save_state(state, path)
    assert (path.stat().st_mode & 0o777) == 0o600

    restored = _fresh()
    assert load_state(restored, path) is True
    assert key["apiKey"] in restored.keys and key["uid"] in restored.users
    again = restored.exchange.get(key["uid"], order.id)
    assert again is not None and again.client_oid == "kept-1" and again.active
    (usdt,) = restored.exchange.balances(key["uid"], AccountType.TRADE_HF, "USDT")
    assert (usdt.balance, usdt.available) == (Decimal(1000), held.available)
    restored.exchange.cancel(key["uid"], order.id, now + 1)  # still cancellable
    (usdt,) = restored.exchange.balances(key["uid"], AccountType.TRADE_HF, "USDT")
    assert usdt.available == Decimal(1000)


def test_no_file_means_a_fresh_simulator(tmp_path: Path) -> None:
    state = _fresh()
    users = dict(state.users)
    assert load_state(state, tmp_path / "missing") is False
    assert state.users == users


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [
        (b"not a state file", 0o600, "not a simulator state file"),
        (MAGIC + b"\x80\x05truncated", 0o600, "damaged"),
        (MAGIC + b"\x80\x05K\x01.", 0o600, "another simulator version"),  # pickled int 1
        (MAGIC, 0o620, "chmod 600"),
        (MAGIC, 0o602, "chmod 600"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_with_what_to_do(
    tmp_path: Path, content: bytes, mode: int, message: str
) -> None:
    path = tmp_path / "sim-state.pickle"
    path.write_bytes(content)
    os.chmod(path, mode)
    with pytest.raises(StateFileError, match=message):
        load_state(_fresh(), path)


def test_a_directory_or_another_users_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(StateFileError, match="not a regular file"):
        load_state(_fresh(), tmp_path / "dir")
    other = tmp_path / "other"
    other.write_bytes(MAGIC)
    os.chown(other, 12345, 12345)  # the tests run as root here; skip where they cannot
    with pytest.raises(StateFileError, match="another user"):
        load_state(_fresh(), other)
