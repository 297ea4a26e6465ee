"""The one input type for money and sizes in request bodies: a strict decimal string.

``Decimal(str)`` and pydantic's lax Decimal accept far more than a number a person typed:
``"1_000"`` (separators), ``"１２"`` or ``"٣"`` (non-ASCII digits), ``" 5 "`` (padding),
``"1e3"`` (exponents), ``"+5"``, ``".5"``. Each is a chance for a client and the gateway to
read a different amount, so every price, size, funds and leverage input is
:data:`DecimalString`: ASCII digits, optionally one point followed by digits, nothing else
(no sign: none of these inputs can be negative). A JSON integer is exact and accepted; a JSON
number with a fraction or an exponent is refused, because the client's JSON encoder may already
have rounded it. A refusal is a 422 whose problem names the field.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

MAX_CHARS = 40
DECIMAL_STRING_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_FORM = (
    'a decimal string like "0.001" (ASCII digits with at most one point, no sign, spaces, '
    "separators, exponent, NaN or Infinity)"
)


def strict_decimal(value: object) -> Decimal:
    """``value`` as a Decimal if it is written as :data:`DecimalString` allows; else ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"must be {_FORM}, not a boolean")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must be {_FORM}, not negative")
        return Decimal(value)
    if isinstance(value, Decimal):  # built in Python (a front end that already parsed it)
        if not value.is_finite() or value.is_signed():
            raise ValueError(f"must be {_FORM}")
        return value
    if isinstance(value, float):
        raise ValueError(
            f"must be {_FORM}: send it as a JSON string, a JSON number with a fraction may "
            "already have lost digits"
        )
    if not isinstance(value, str):
        raise ValueError(f"must be {_FORM}")
    if len(value) > MAX_CHARS or _DECIMAL.fullmatch(value) is None:
        raise ValueError(f"must be {_FORM} of at most {MAX_CHARS} characters")
    return Decimal(value)


#: a price, size, funds or leverage in a request body (see the module docstring)
DecimalString = Annotated[
    Decimal,
    BeforeValidator(strict_decimal),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DECIMAL_STRING_PATTERN, "maxLength": MAX_CHARS},
                {"type": "integer", "minimum": 0},
            ],
            "description": (
                'an exact decimal as a string ("0.001"): ASCII digits, at most one point, no '
                "sign, spaces, separators or exponent. A JSON integer is accepted; a JSON "
                "number with a fraction is refused (it may already have lost digits)"
            ),
            "examples": ["0.001"],
        }
    ),
]
