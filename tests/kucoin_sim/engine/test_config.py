from decimal import Decimal

import pytest

from kucoin_sim.engine import DEFAULT_CONTRACTS, DEFAULT_SYMBOLS, load
from kucoin_sim.engine.config import ConfigError


def test_empty_dict_gives_defaults() -> None:
    cfg = load({})
    assert cfg.symbols == DEFAULT_SYMBOLS and cfg.contracts == DEFAULT_CONTRACTS
    assert {s.symbol for s in cfg.symbols} >= {"BTC-USDT", "ETH-USDT", "ETH-BTC", "KCS-USDT"}


def test_sections_are_parsed_to_decimal() -> None:
    cfg = load(
        {
            "symbols": [
                {
                    "symbol": "DOGE-USDT",
                    "base": "DOGE",
                    "quote": "USDT",
                    "base_min_size": "1",
                    "base_max_size": 1000000,
                    "base_increment": "1",
                    "quote_min_size": "0.1",
                    "quote_max_size": "100000",
                    "quote_increment": "0.0001",
                    "price_increment": 0.00001,
                    "enable_trading": False,
                }
            ],
            "market_makers": [{"symbol": "DOGE-USDT", "mid": "0.1", "levels": 3}],
        }
    )
    (doge,) = cfg.symbols
    assert doge.price_increment == Decimal("0.00001") and doge.base_max_size == Decimal(1000000)
    assert not doge.enable_trading and cfg.market_makers[0].levels == 3
    assert cfg.contracts == DEFAULT_CONTRACTS


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"symbols": {}}, "symbols: expected a list"),
        ({"symbols": [1]}, "symbols[0]: expected a table"),
        ({"market_makers": [{"symbol": "X", "mid": "1", "colour": 1}]}, "unknown key 'colour'"),
        ({"market_makers": [{"symbol": "X", "mid": "abc"}]}, "not a number"),
        ({"market_makers": [{"symbol": "X", "mid": True}]}, "expected a number"),
        ({"market_makers": [{"symbol": "X", "mid": "1", "levels": "3"}]}, "expected an integer"),
        ({"market_makers": [{"symbol": 1, "mid": "1"}]}, "expected a string"),
        ({"market_makers": [{"mid": "1"}]}, "market_makers[0]"),
        ({"contracts": [{"symbol": "X", "enable_trading": "yes"}]}, "expected true or false"),
    ],
)
def test_bad_config_names_the_entry(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(raw)
    assert message in str(info.value)
