"""Money and sizes in request bodies are strict decimal strings (issue 12, finding 9).

``"1_000"``, full-width or Arabic-Indic digits, padded, signed or exponent forms were read as
numbers; now every price, size, funds and leverage input of every order route refuses them with
a 422 that names the field, and the plain forms still place orders.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcgateway.web.decimals import DECIMAL_STRING_PATTERN, MAX_CHARS, strict_decimal
from tests.helpers.gateway import auth, futures_body, gateway_stack, order_body

T = TypeVar("T")

REFUSED: list[Any] = [
    "1_000", "1,000", "1 000", "１２", "٣", "१२", "１.５", " 5", "5 ", "\t5", "5\n", "\u00a05",
    "+5", "-5", "-0", "1e3", "1E3", "1e-3", "NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf",
    "0x10", "0b1", ".5", "5.", "1.2.3", "", " ", "5..0", "0" * (MAX_CHARS + 1),
    1.5, 1e3, 0.1, True, False, -5, [], {}, {"value": "5"},
]  # fmt: skip
ACCEPTED = [("60000", Decimal(60000)), (60000, Decimal(60000)),
            ("59999.9", Decimal("59999.9")), ("0059999", Decimal(59999))]  # fmt: skip
_ASCII_DECIMAL = re.compile(DECIMAL_STRING_PATTERN)


def _drawn(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """``count`` values from ``strategy`` (hypothesis' generator, run outside the event loop)."""
    found: list[T] = []

    @settings(max_examples=count, database=None, derandomize=True)
    @given(strategy)
    def collect(value: T) -> None:
        found.append(value)

    collect()
    return found


@pytest.mark.parametrize("value", REFUSED, ids=repr)
def test_the_validator_refuses(value: object) -> None:
    with pytest.raises(ValueError, match="decimal string"):
        strict_decimal(value)


@given(st.text(max_size=12))
def test_any_text_is_accepted_exactly_when_it_is_plain_ascii_digits(text: str) -> None:
    plain = _ASCII_DECIMAL.fullmatch(text) is not None
    try:
        value = strict_decimal(text)
    except ValueError:
        assert not plain
    else:
        assert plain and value == Decimal(text)


@given(st.decimals(min_value=0, max_value=Decimal(10) ** 20, allow_nan=False, places=8))
def test_every_plain_rendering_of_a_decimal_round_trips(value: Decimal) -> None:
    text = format(value, "f")
    assert strict_decimal(text) == value


Body = Callable[..., dict[str, Any]]
ROUTES: list[tuple[str, Body, tuple[str, ...]]] = [
    ("/v1/orders", order_body, ("price", "size", "funds")),
    ("/v1/margin/orders", order_body, ("price", "size", "funds")),
    ("/v1/futures/orders", futures_body, ("price", "leverage")),
]


async def test_every_order_route_refuses_loose_numbers_naming_the_field(tmp_path: Path) -> None:
    generated = _drawn(
        st.text(min_size=1, max_size=8).filter(lambda t: _ASCII_DECIMAL.fullmatch(t) is None), 40
    )
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        h = auth(tenant.admin_key)
        for path, body, fields in ROUTES:
            for field in fields:
                for value in [*REFUSED, *generated]:
                    resp = await stack.http.post(
                        path, json=body("main", **{field: value}), headers=h
                    )
                    assert resp.status_code == 422, (path, field, value, resp.text)
                    problems = resp.json()["problems"]
                    assert [p["field"] for p in problems] == [f"body.{field}"], problems
                    assert "decimal string" in problems[0]["message"]
        # futures sizes are whole lots: a JSON integer, nothing else
        for value in ("2", "1_0", "２", 2.0, True, " 2"):
            resp = await stack.http.post(
                "/v1/futures/orders", json=futures_body("main", size=value), headers=h
            )
            assert resp.status_code == 422, (value, resp.text)
            assert resp.json()["problems"][0]["field"] == "body.size"
        assert await stack.services.orders.list(tenant.id) == [], "nothing refused was placed"


async def test_plain_decimal_strings_and_integers_still_place_orders(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        h = auth(tenant.admin_key)
        for n, (price, expected) in enumerate(ACCEPTED):
            resp = await stack.http.post(
                "/v1/orders", json=order_body("main", price=price, clientOid=f"ok-{n}"), headers=h
            )
            assert resp.status_code == 201, (price, resp.text)
            assert Decimal(resp.json()["price"]) == expected
        resp = await stack.http.post(
            "/v1/futures/orders", json=futures_body("main", leverage="3", size=1), headers=h
        )
        # accepted as input: an intent exists (the unfunded futures account may then be refused
        # by the exchange, which is an order state, not an input problem)
        assert resp.status_code in (201, 422) and "problems" not in resp.json(), resp.text
        assert resp.json()["leverage"] == "3" and resp.json()["size"] == "1"
        too_much = await stack.http.post(
            "/v1/futures/orders", json=futures_body("main", leverage="201"), headers=h
        )
        assert too_much.status_code == 422, "the leverage bounds still hold"
        assert too_much.json()["problems"][0]["field"] == "body.leverage"
