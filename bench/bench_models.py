"""Decode real-sized KuCoin payloads with kcgateway's msgspec models vs pydantic v2 equivalents.

Payloads: ``GET /api/v2/symbols`` with 1,200 symbols, and an HF active-orders page of 500
orders, both full envelopes (``{"code":"200000","data":...}``). "ours" is the production path
(``parse_envelope`` then the typed parser); pydantic validates the same envelope with
``TypeAdapter.validate_json`` on mirror models (same fields, Decimal money, camelCase aliases).
Also checks which library keeps a JSON-number price exact. Prints one JSON line at the end.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, TypeVar

import pydantic
from pydantic.alias_generators import to_camel

from kcgateway.kucoin import models

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.kcgateway.kucoin.model_samples import HF_ORDER

T = TypeVar("T")


def symbol(i: int) -> dict[str, Any]:
    return {
        "symbol": f"C{i}-USDT",
        "name": f"C{i}-USDT",
        "baseCurrency": f"C{i}",
        "quoteCurrency": "USDT",
        "feeCurrency": "USDT",
        "market": "USDS",
        "baseMinSize": "0.01",
        "quoteMinSize": "0.1",
        "baseMaxSize": "10000000000",
        "quoteMaxSize": "99999999",
        "baseIncrement": "0.0001",
        "quoteIncrement": "0.000001",
        "priceIncrement": "0.00001",
        "priceLimitRate": "0.1",
        "minFunds": "0.1",
        "isMarginEnabled": i % 3 == 0,
        "enableTrading": True,
        "feeCategory": 1,
        "makerFeeCoefficient": "1.00",
        "takerFeeCoefficient": "1.00",
        "st": False,
        "callauctionIsEnabled": False,
        "callauctionPriceFloor": None,
        "callauctionPriceCeiling": None,
        "callauctionFirstStageStartTime": None,
        "callauctionSecondStageStartTime": None,
        "callauctionThirdStageStartTime": None,
        "tradingStartTime": None,
    }


def order(i: int) -> dict[str, Any]:
    """The test suite's HF order sample, varied per row (ids, side, price, times)."""
    return {
        **HF_ORDER,
        "id": f"ord{i:021d}",
        "clientOid": f"coid-{i}",
        "side": "buy" if i % 2 else "sell",
        "price": f"{50000 + i}.5",
        "remark": None,
        "createdAt": 1729235902748 + i,
        "lastUpdatedAt": 1729235909862 + i,
    }


class PModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, alias_generator=to_camel)


class PSymbol(PModel):
    symbol: str
    name: str = ""
    base_currency: str
    quote_currency: str
    fee_currency: str = ""
    market: str = ""
    base_min_size: Decimal
    quote_min_size: Decimal
    base_max_size: Decimal
    quote_max_size: Decimal
    base_increment: Decimal
    quote_increment: Decimal
    price_increment: Decimal
    price_limit_rate: Decimal | None = None
    min_funds: Decimal | None = None
    is_margin_enabled: bool = False
    enable_trading: bool = False
    fee_category: int | None = None
    maker_fee_coefficient: Decimal | None = None
    taker_fee_coefficient: Decimal | None = None
    st: bool = False
    callauction_is_enabled: bool = False
    callauction_price_floor: Decimal | None = None
    callauction_price_ceiling: Decimal | None = None
    trading_start_time: int | None = None


class POrder(PModel):
    id: str
    client_oid: str | None = None
    symbol: str
    op_type: str = ""
    type: str
    side: str
    price: Decimal
    size: Decimal
    funds: Decimal | None = None
    deal_size: Decimal
    deal_funds: Decimal | None = None
    fee: Decimal | None = None
    fee_currency: str | None = None
    stp: str | None = None
    time_in_force: str | None = None
    post_only: bool = False
    hidden: bool = False
    iceberg: bool = False
    visible_size: Decimal | None = None
    cancel_after: int | None = None
    channel: str | None = None
    remark: str | None = None
    tags: str | None = None
    cancel_exist: bool = False
    trade_type: str | None = None
    created_at: int
    remain_size: Decimal | None = None
    remain_funds: Decimal | None = None
    cancelled_size: Decimal | None = None
    cancelled_funds: Decimal | None = None
    in_order_book: bool = False
    active: bool
    tax: Decimal | None = None
    last_updated_at: int | None = None


class PPage(PModel, Generic[T]):
    current_page: int
    page_size: int
    total_num: int
    total_page: int
    items: list[T]


class PEnvelope(pydantic.BaseModel, Generic[T]):
    code: str
    msg: str = ""
    data: T


def best_pair_ms(
    ours: Callable[[], object], peer: Callable[[], object], *, rounds: int = 80
) -> tuple[float, float]:
    """Median wall time of each over N rounds, interleaved so both see the same machine load."""
    ours()
    peer()
    ours_s, peer_s = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        ours()
        mid = time.perf_counter()
        peer()
        end = time.perf_counter()
        ours_s.append(mid - start)
        peer_s.append(end - mid)
    return statistics.median(ours_s) * 1000, statistics.median(peer_s) * 1000


def main() -> None:
    symbols_raw = json.dumps(
        {"code": "200000", "data": [symbol(i) for i in range(1200)]}, separators=(",", ":")
    ).encode()
    page = {
        "currentPage": 1,
        "pageSize": 500,
        "totalNum": 500,
        "totalPage": 1,
        "items": [order(i) for i in range(500)],
    }
    orders_raw = json.dumps({"code": "200000", "data": page}, separators=(",", ":")).encode()

    p_symbols = pydantic.TypeAdapter(PEnvelope[list[PSymbol]])
    p_orders = pydantic.TypeAdapter(PEnvelope[PPage[POrder]])

    def ours_symbols() -> object:
        return models.parse_symbols(models.parse_envelope(symbols_raw, http_status=200))

    def ours_orders() -> object:
        return models.parse_hf_orders_page(models.parse_envelope(orders_raw, http_status=200))

    ours = ours_symbols()
    theirs = p_symbols.validate_json(symbols_raw).data
    assert isinstance(ours, list) and len(ours) == len(theirs) == 1200
    assert ours[7].price_increment == theirs[7].price_increment == Decimal("0.00001")

    results = {
        "symbols_1200": best_pair_ms(ours_symbols, lambda: p_symbols.validate_json(symbols_raw)),
        "hf_orders_500": best_pair_ms(ours_orders, lambda: p_orders.validate_json(orders_raw)),
    }
    for name, (a, b) in results.items():
        print(f"{name}: msgspec {a:.2f} ms, pydantic {b:.2f} ms, ratio {b / a:.2f}x")

    long_number = (
        b'{"bids":[],"asks":[[66968.10000000000000000001,1]],"sequence":1,"symbol":"X","ts":1}'
    )
    ours_exact = models.parse_futures_order_book(long_number).asks[0][0]
    p_exact = pydantic.TypeAdapter(list[tuple[Decimal, Decimal]]).validate_json(
        b"[[66968.10000000000000000001,1]]"
    )[0][0]
    print(f"JSON number 66968.10000000000000000001 -> msgspec {ours_exact}, pydantic {p_exact}")

    ours_total = sum(a for a, _ in results.values())
    peer_total = sum(b for _, b in results.values())
    ratio = peer_total / ours_total
    print(
        json.dumps(
            {
                "bench": "models_decode",
                "unit": "ms per decode of symbols(1200) + hf orders page(500), envelope included",
                "ours": round(ours_total, 3),
                "pydantic": round(peer_total, 3),
                "ratio_vs_pydantic": round(ratio, 2),
                "goal": "msgspec at least 1.5x faster than pydantic v2 and exact on JSON numbers",
                "met": ratio >= 1.5 and str(ours_exact) == "66968.10000000000000000001",
            }
        )
    )


if __name__ == "__main__":
    main()
