import random

from kucoin_sim.engine import Exchange, OrderRequest, OrderType, Side
from kucoin_sim.engine.events import L2Change, OrderEvent
from tests.kucoin_sim.engine.helpers import SPEC, T0, D, user


def run(seed: int) -> tuple[list[str], list[tuple[str, str, str]], list[object]]:
    ex = Exchange([SPEC], seed=seed)
    users = [user(ex) for _ in range(3)]
    rng = random.Random(99)
    ids = []
    for i in range(200):
        side = rng.choice([Side.BUY, Side.SELL])
        if rng.random() < 0.2:
            req = OrderRequest(
                rng.choice(users), "BTC-USDT", side, OrderType.MARKET, size=D("0.01")
            )
        else:
            price = D(30000 + rng.randrange(-20, 20) * 10)
            req = OrderRequest(
                rng.choice(users),
                "BTC-USDT",
                side,
                price=price,
                size=D("0.01") * rng.randrange(1, 5),
            )
        ids.append(ex.place(req, T0 + i).id)
    fills = [(f.trade_id, f.order_id, str(f.price)) for u in users for f in ex.fills(u)]
    events = [
        (type(e).__name__, getattr(e, "sequence", None))
        for e in ex.drain_events()
        if isinstance(e, L2Change | OrderEvent)
    ]
    return ids + users, fills, events


def test_same_seed_same_ids_fills_and_events() -> None:
    a, b, c = run(11), run(11), run(12)
    assert a == b
    assert a[0] != c[0]
    assert len(a[1]) > 20
    assert all(len(i) == 24 for i in a[0][:200])
