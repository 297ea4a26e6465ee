"""Request bodies: a JSON object (an order) to the exact compact bytes that are sent and signed.

KuCoin verifies KC-API-SIGN over the body bytes as sent, so the body is serialised once, here,
and those same bytes go both into :func:`kcgateway.kucoin.signing.sign_request` and onto the
wire. The form is compact JSON (no spaces), keys in insertion order, non-ASCII kept as UTF-8:

    >>> encode_body({"clientOid": "abc-1", "side": "buy", "price": Decimal("20000")})
    b'{"clientOid":"abc-1","side":"buy","price":"20000"}'

Money is :class:`~decimal.Decimal` and is written as a JSON string (what KuCoin spot expects);
integers (futures lots, leverage) stay JSON numbers. A ``float`` anywhere in the body is refused:
binary floating point cannot carry a price or a size exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import msgspec

from kcgateway.errors import ValidationError

__all__ = ["encode_body"]

_encoder = msgspec.json.Encoder(decimal_format="string")
_SCALARS = frozenset({str, int, bool, Decimal, type(None)})


def _reject_floats(value: object, where: str) -> None:
    if isinstance(value, float):
        raise ValidationError(f"{where} is a float; use Decimal or str for money", field=where)
    if isinstance(value, Mapping):
        for key, item in value.items():
            _reject_floats(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _reject_floats(item, f"{where}[{index}]")


def encode_body(payload: Mapping[str, object] | list[object]) -> bytes:
    """Return the compact JSON bytes of ``payload`` (a request body). Pure.

    Raises :class:`~kcgateway.errors.ValidationError` for a float value or a value JSON cannot
    represent.
    """
    values: Iterable[object]
    if type(payload) is dict:
        values = payload.values()
    elif isinstance(payload, Mapping):
        payload = dict(payload)
        values = payload.values()
    else:
        values = payload
    for value in values:
        if type(value) not in _SCALARS:
            _reject_floats(payload, "body")
            break
    try:
        return _encoder.encode(payload)
    except (TypeError, msgspec.EncodeError) as exc:
        raise ValidationError(f"body cannot be encoded as JSON: {exc}", field="body") from exc
