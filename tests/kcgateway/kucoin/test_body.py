from __future__ import annotations

import json
import types
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcgateway.errors import ValidationError
from kcgateway.kucoin.body import encode_body


def test_compact_json_in_insertion_order() -> None:
    order = {"clientOid": "abc-1", "side": "buy", "symbol": "BTC-USDT", "price": "20000"}
    assert (
        encode_body(order)
        == b'{"clientOid":"abc-1","side":"buy","symbol":"BTC-USDT","price":"20000"}'
    )


def test_decimal_is_a_string_ints_and_bools_stay_json() -> None:
    body = {"price": Decimal("20000.10"), "size": 1, "leverage": 3, "postOnly": False, "x": None}
    assert (
        encode_body(body) == b'{"price":"20000.10","size":1,"leverage":3,"postOnly":false,"x":null}'
    )


def test_non_ascii_is_utf8_not_escaped() -> None:
    assert encode_body({"remark": "café"}) == '{"remark":"café"}'.encode()


def test_lists_and_other_mappings() -> None:
    assert encode_body([{"a": "1"}, {"b": Decimal("2")}]) == b'[{"a":"1"},{"b":"2"}]'
    assert encode_body(types.MappingProxyType({"a": "b"})) == b'{"a":"b"}'
    assert encode_body({"orders": [{"size": "1"}]}) == b'{"orders":[{"size":"1"}]}'


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"price": 1.5}, "body.price"),
        ({"orders": [{"size": "1"}, {"size": 0.1}]}, "body.orders[1].size"),
        ([{"price": "1"}, {"price": 2.0}], "body[1].price"),
        ({"t": ("1", 2.5)}, "body.t[1]"),
    ],
)
def test_float_anywhere_is_refused(payload: object, field: str) -> None:
    with pytest.raises(ValidationError, match="float") as info:
        encode_body(payload)  # type: ignore[arg-type]
    assert info.value.field == field


def test_unencodable_value_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="cannot be encoded") as info:
        encode_body({"when": object()})
    assert info.value.field == "body"


_json_scalar = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)
_json = st.recursive(
    _json_scalar,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=50)
@given(st.dictionaries(st.text(max_size=10), _json, max_size=6))
def test_matches_stdlib_compact_json(payload: dict[str, object]) -> None:
    expected = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    assert encode_body(payload) == expected
