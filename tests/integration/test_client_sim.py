"""KuCoinClient against kucoin_sim over real loopback sockets (no mocks)."""

from __future__ import annotations

import secrets
from decimal import Decimal

import pytest

from kcgateway.clock import SystemClock
from kcgateway.errors import OutcomeUnknown, ValidationError
from kcgateway.exchange.budget import LocalBudget
from kcgateway.exchange.services.base import NotFound, Placed
from kcgateway.exchange.services.futures import FuturesOrderRequest
from kcgateway.kucoin.ratelimit import RateLimiter
from kcgateway.kucoin.retry import RetryPolicy
from kucoin_sim.config import SimConfig
from tests.kucoin_sim.harness import running_sim

from .sim_client import accepted, client

D = Decimal
SYM = "BTC-USDT"
CHEAP = D("60000")  # rests below the makers' bids (mid 65000)
RICH = D("70000")  # crosses the makers' asks: fills at once


async def test_hf_account_place_query_cancel_fill_balances() -> None:
    async with running_sim() as sim:
        acct = await sim.account(hf=True)
        async with client(sim, acct) as kc:
            assert await kc.account.is_hf() is True
            rest = await kc.spot.hf.place(SYM, "buy", price=CHEAP, size=D("0.001"))
            order = await kc.spot.hf.get(rest.order_id, SYM)
            assert order.active and order.price == CHEAP
            by_oid = await kc.spot.hf.get_by_client_oid(rest.client_oid or "", SYM)
            assert by_oid.id == rest.order_id
            assert [o.id async for o in kc.spot.hf.active_orders(SYM)] == [rest.order_id]
            await kc.spot.hf.cancel(rest.order_id, SYM)
            assert not (await kc.spot.hf.get(rest.order_id, SYM)).active
            taken = await kc.spot.hf.place(SYM, "buy", price=RICH, size=D("0.002"))
            fills = [f async for f in kc.spot.hf.fills(SYM)]
            assert fills and {f.order_id for f in fills} == {taken.order_id}
            done = [o.id async for o in kc.spot.hf.done_orders(SYM)]
            assert taken.order_id in done and rest.order_id in done
            balances = {a.currency: a for a in await kc.account.accounts(account_type="trade_hf")}
            assert balances["BTC"].balance > D("10")
            assert balances["USDT"].balance < D("100000")


async def test_classic_account_place_query_cancel_fill_balances() -> None:
    async with running_sim() as sim:
        acct = await sim.account()
        async with client(sim, acct) as kc:
            assert await kc.account.is_hf() is False
            rest = await kc.spot.classic.place(SYM, "buy", price=CHEAP, size=D("0.001"))
            assert (await kc.spot.classic.get(rest.order_id)).is_active
            found = await kc.spot.classic.resolve(rest.client_oid or "")
            assert isinstance(found, Placed) and found.order.id == rest.order_id
            active = [o.id async for o in kc.spot.classic.orders(status="active", symbol=SYM)]
            assert active == [rest.order_id]
            cancelled = await kc.spot.classic.cancel(rest.order_id)
            assert cancelled.order_ids == (rest.order_id,)
            taken = await kc.spot.classic.place(SYM, "sell", price=D("60000"), size=D("0.5"))
            fills = [f async for f in kc.spot.classic.fills(symbol=SYM)]
            assert {f.order_id for f in fills} == {taken.order_id}
            trade = {a.currency: a for a in await kc.account.accounts(account_type="trade")}
            assert trade["BTC"].balance < D("10")
            assert await kc.spot.classic.resolve("never-sent-1") == NotFound("never-sent-1")


async def test_local_validation_sends_no_order() -> None:
    async with running_sim() as sim:
        acct = await sim.account(hf=True)
        async with client(sim, acct) as kc:
            with pytest.raises(ValidationError):
                await kc.spot.hf.place(SYM, "buy", price=D("60000.05"), size=D("0.001"))
        state = await sim.admin("GET", "/_sim/state")
        assert state["acceptedOrders"] == 0


async def test_futures_order_and_position() -> None:
    async with running_sim() as sim:
        acct = await sim.account(balances={"USDT": "1000"})
        await sim.admin(
            "POST",
            "/_sim/fund",
            {"uid": acct["uid"], "accountType": "futures", "balances": {"USDT": "100000"}},
        )
        async with client(sim, acct) as kc:
            contracts = {c.symbol for c in await kc.futures.contracts()}
            assert "XBTUSDTM" in contracts
            rest = await kc.futures.place(
                FuturesOrderRequest(
                    symbol="XBTUSDTM", side="buy", size=1, price=D("60000"), leverage=5
                )
            )
            assert (await kc.futures.get(rest.order_id)).status == "open"
            await kc.futures.cancel(rest.order_id)
            taken = await kc.futures.place(
                FuturesOrderRequest(
                    symbol="XBTUSDTM", side="buy", size=2, order_type="market", leverage=5
                )
            )
            found = await kc.futures.resolve(taken.client_oid or "")
            assert isinstance(found, Placed) and found.order.id == taken.order_id
            position = await kc.futures.position("XBTUSDTM")
            assert position.current_qty == 2 and position.is_open
            overview = await kc.futures.account_overview("USDT")
            assert overview.available_balance < D("100000")


async def test_broker_subaccount_key_and_trading_with_it() -> None:
    partner = {
        "partner": "TESTPARTNER_ND",
        "name": "TESTBROKER",
        "key": secrets.token_hex(8),
        "balances": {"USDT": "5000"},
    }
    async with running_sim(SimConfig(tick_ms=0, partners=(partner,))) as sim:
        broker = next(a for a in sim.apps.created_accounts if a.get("partner"))
        async with client(sim, broker, broker=broker) as kc:
            assert (await kc.broker.info("20240101", "20240601")).account_size == 0
            sub = await kc.broker.create_subaccount("sub-" + secrets.token_hex(3))
            assert [s.uid async for s in kc.broker.subaccounts()] == [sub.uid]
            from kcgateway.secret import Secret

            phrase = secrets.token_hex(6)
            key = await kc.broker.create_subaccount_key(
                sub.uid,
                passphrase=Secret(phrase),
                permissions=["general", "spot"],
                label="bot-1",
            )
            assert [k.api_key for k in await kc.broker.subaccount_keys(sub.uid)] == [key.api_key]
            moved = await kc.broker.transfer(
                "USDT",
                D("1000"),
                direction="OUT",
                special_uid=sub.uid,
                account_type="TRADE",
                special_account_type="TRADE",
            )
            assert (await kc.broker.transfer_detail(moved.order_id)).status == "SUCCESS"
            sub_acct = {
                "apiKey": key.api_key,
                "secret": key.secret_key.reveal(),
                "passphrase": phrase,
            }
        async with client(sim, sub_acct, broker=broker) as sub_kc:
            placed = await sub_kc.spot.classic.place(SYM, "buy", price=CHEAP, size=D("0.001"))
            assert (await sub_kc.spot.classic.get(placed.order_id)).is_active
            assert await accepted(sim, sub.uid, placed.client_oid or "") == 1


@pytest.mark.parametrize("skew_ms", [-30_000, 30_000])
async def test_clock_skew_of_30s_gives_no_timestamp_rejection(skew_ms: int) -> None:
    async with running_sim() as sim:
        acct = await sim.account(hf=True)
        seen: list[bytes] = []
        async with client(sim, acct, clock=SystemClock(offset_ms=skew_ms)) as kc:
            original = kc._transport.request

            async def spy(*args: object, **kwargs: object) -> object:
                resp = await original(*args, **kwargs)  # type: ignore[arg-type]
                seen.append(resp.body)
                return resp

            kc._transport.request = spy  # type: ignore[method-assign]
            for _ in range(5):
                await kc.account.accounts()
            await kc.spot.hf.place(SYM, "buy", price=CHEAP, size=D("0.001"))
            assert abs(kc.clock.offset_ms + skew_ms) < 1_000
        assert seen and not any(b"400002" in body for body in seen)


class JumpClock(SystemClock):
    """The budget's clock: real time plus every sleep, which returns at once (fast test)."""

    def __init__(self) -> None:
        super().__init__()
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset_ms += int(seconds * 1000) + 1


async def test_rate_limit_storm_resends_same_client_oid_and_places_once() -> None:
    async with running_sim() as sim:
        acct = await sim.account(hf=True)
        await sim.admin(
            "POST",
            "/_sim/faults",
            {"kind": "rate_limit", "pathPrefix": "/api/v1/hf/orders", "method": "POST", "count": 3},
        )
        jump = JumpClock()
        budget = LocalBudget(jump, RateLimiter(), sleep=jump.sleep)
        async with client(sim, acct, budget=budget, retry=RetryPolicy(max_attempts=5)) as kc:
            placed = await kc.spot.hf.place(
                SYM, "buy", price=CHEAP, size=D("0.001"), client_oid="storm-1"
            )
        assert placed.client_oid == "storm-1"
        # three 429s, each waited out until the reset the sim's gw-ratelimit-reset gave
        assert len(jump.slept) == 3
        assert all(0 < s <= 30 for s in jump.slept)
        assert await accepted(sim, acct["uid"], "storm-1") == 1
        assert (await sim.admin("GET", "/_sim/faults"))["rules"] == []


async def test_lost_response_resolved_by_client_oid_exactly_one_order() -> None:
    async with running_sim() as sim:
        acct = await sim.account(hf=True)
        await sim.admin(
            "POST",
            "/_sim/faults",
            {
                "kind": "lose_response",
                "pathPrefix": "/api/v1/hf/orders",
                "method": "POST",
                "count": 1,
            },
        )
        async with client(sim, acct) as kc:
            with pytest.raises(OutcomeUnknown) as info:
                await kc.spot.hf.place(SYM, "buy", price=RICH, size=D("0.001"))
            oid = info.value.client_oid
            found = await kc.spot.hf.resolve(oid, SYM)
        assert isinstance(found, Placed)
        assert found.order.client_oid == oid
        assert await accepted(sim, acct["uid"], oid) == 1
