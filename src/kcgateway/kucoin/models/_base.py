"""Shared machinery of the payload models: the base Struct, typed parsing, the envelope.

Models are frozen :mod:`msgspec` Structs with camelCase wire names and :class:`~decimal.Decimal`
money. msgspec was chosen over pydantic v2 after measuring both (``bench/bench_models.py``):
decoding 1,200 symbols plus a page of 500 HF orders took 1.6-2.6x less time with msgspec across
runs on this shared machine (3.7x on symbols alone when it was idle), and msgspec decodes JSON
*numbers* into ``Decimal`` exactly (futures sends prices as numbers), where pydantic went
through a float (``66968.10000000000000000001`` came back as ``66968.1``).

Parsers take either the raw ``data`` bytes returned by :func:`parse_envelope` (fast path: one
typed decode, numbers never become floats) or already-decoded Python objects (tests, the
simulator). A float among those objects is taken at its shortest repr, so decode with
:func:`loads_exact`, not ``json.loads``, when exactness matters.

Unknown fields are ignored; a wrong type raises :class:`ProtocolError` whose ``path`` names the
spot, e.g. ``data.items[3].price``.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec

from kcgateway.errors import ProtocolError
from kcgateway.kucoin import codes
from kcgateway.secret import Secret

T = TypeVar("T")


class Model(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Base of every payload model: frozen, keyword-only, camelCase on the wire.

    Decimal fields must be finite: ``Decimal`` itself accepts ``"NaN"`` and ``"Infinity"``, and
    an infinite price would pass a ``price > 0`` check downstream.
    """

    def __post_init__(self) -> None:
        check = _finite_check(type(self))
        if check is not None:
            check(self)


@functools.cache
def _finite_check(cls: type[msgspec.Struct]) -> Callable[[object], None] | None:
    """A function that raises ValueError when a Decimal field of a ``cls`` is not finite.

    Built once per class around :func:`operator.attrgetter` (the check runs for every decoded
    object, so it must be cheap); ``None`` when the class has no Decimal field.
    """
    fields = [f for f in msgspec.structs.fields(cls) if f.type in (Decimal, Decimal | None)]
    if not fields:
        return None
    getter = operator.attrgetter(*(f.name for f in fields))
    wire_names = tuple(f.encode_name for f in fields)
    single = len(fields) == 1

    def check(obj: object) -> None:
        values = (getter(obj),) if single else getter(obj)
        for value, wire_name in zip(values, wire_names, strict=True):
            if value is not None and not value.is_finite():
                raise ValueError(f"`{wire_name}` must be a finite number")

    return check


def check_levels(levels: list[tuple[Decimal, Decimal]]) -> None:
    """Raise ValueError when a book level holds a non-finite price or size."""
    for price, size in levels:
        if not (price.is_finite() and size.is_finite()):
            raise ValueError("book levels must hold finite numbers")


def _dec_hook(tp: type, obj: object) -> object:
    if tp is Secret and isinstance(obj, str):
        return Secret(obj)
    raise TypeError(f"Expected `str`, got `{type(obj).__name__}`")


def _validation_path(message: str) -> tuple[str, str]:
    """Split msgspec's ``"Expected `str`, got `int` - at `$[3].price`"`` into text and path."""
    text, sep, where = message.partition(" - at `")
    if not sep:
        return text, "data"
    return text, "data" + where.rstrip("`").removeprefix("$")


_EXACT_JSON = msgspec.json.Decoder(float_hook=Decimal)


def loads_exact(raw: bytes) -> object:
    """Decode JSON into plain Python objects, with every non-integer number as an exact Decimal.

    For callers that need untyped data (the simulator, tests); ``json.loads`` would turn
    ``66968.10000000000000000001`` into the float ``66968.1``.
    """
    try:
        return _EXACT_JSON.decode(raw)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"invalid JSON: {exc}", path="") from None


#: a tuple built once: ``bytes | bytearray | ...`` in the call would build a union every time
_RAW_TYPES = (bytes, bytearray, memoryview, msgspec.Raw)


def parse_as(tp: type[T] | Any, data: object) -> T:
    """Parse ``data`` (raw JSON bytes or decoded objects) as ``tp``; ProtocolError if it fails."""
    try:
        if isinstance(data, _RAW_TYPES):
            result: T = msgspec.json.decode(data, type=tp, dec_hook=_dec_hook)
        else:
            result = msgspec.convert(data, type=tp, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        text, path = _validation_path(str(exc))
        raise ProtocolError(text, path=path) from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"invalid JSON: {exc}", path="data") from None
    return result


class _Envelope(msgspec.Struct, frozen=True):
    code: str | int
    msg: Any = ""  # only ever shown to people; a non-string must not hide the code
    data: msgspec.Raw = msgspec.Raw(b"null")


def _is_2xx(http_status: int | None) -> bool:
    return http_status is None or 200 <= http_status < 300


def parse_envelope(
    raw: bytes,
    *,
    http_status: int | None = None,
    request_path: str = "",
    request_id: str | None = None,
    reset_ms: int | None = None,
) -> msgspec.Raw:
    """Return the raw ``data`` of a success envelope, or raise the mapped exception.

    ``{"code":"200000","data":{"orderId":"id0001","clientOid":"5c52e11203aa"}}``
    returns the bytes of ``data``. ``{"code":"400100","msg":"Parameter error"}`` raises
    :class:`~kcgateway.errors.InvalidParameter`; a success code on a non-2xx status, or a
    non-envelope body on one, raises the error for the status; a non-envelope body on a 2xx
    status raises :class:`ProtocolError`.
    """
    try:
        env = msgspec.json.decode(raw, type=_Envelope)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        if _is_2xx(http_status):
            raise ProtocolError(f"not a KuCoin envelope: {exc}", path="") from None
        env = None
    code = "" if env is None else str(env.code)
    if env is None or (codes.is_success(code) and not _is_2xx(http_status)):
        raise codes.error_for_status(
            http_status or 0,
            len(raw),
            request_path=request_path,
            request_id=request_id,
            reset_ms=reset_ms,
        )
    if codes.is_success(code):
        return env.data
    raise codes.error_for(
        code,
        env.msg if isinstance(env.msg, str) else "",
        http_status=http_status,
        request_path=request_path,
        request_id=request_id,
        reset_ms=reset_ms,
    )


class Paginated(Model, Generic[T], frozen=True, kw_only=True):
    """KuCoin's page envelope.

    ``{"currentPage":1,"pageSize":50,"totalNum":1,"totalPage":1,"items":[...]}``
    """

    current_page: int
    page_size: int
    total_num: int
    total_page: int
    items: list[T]


class Cursor(Model, Generic[T], frozen=True, kw_only=True):
    """The HF cursor envelope: ``{"lastId":19814995255305,"items":[...]}``.

    Pass ``lastId`` back to get the next (older) page.
    """

    items: list[T]
    last_id: int | None = None
