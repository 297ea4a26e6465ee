"""Tolerant readers for query and body parameters that answer bad input with KuCoin's 400100.

Real clients send numbers as strings or as JSON numbers, booleans as ``true``/``"true"``, nulls
for absent fields (python-kucoin's ``"trade_type":null``) and model defaults (the universal
SDK). All of that is accepted; anything else is a :class:`ApiError` 400100 naming the field.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation


class ApiError(Exception):
    """An error answer: KuCoin ``code``, ``msg`` and the HTTP status to send."""

    def __init__(self, code: str, msg: str, http_status: int = 400) -> None:
        super().__init__(code, msg)
        self.code = code
        self.msg = msg
        self.http_status = http_status


def bad(field: str, why: str = "invalid") -> ApiError:
    """The 400100 parameter error for one field."""
    return ApiError("400100", f"{field} {why}")


_MAX_DECIMAL = Decimal("1e30")
_SCALARS = (str, int, float)
_INT_OR_STR = (int, str)


class Params:
    """Typed access to a flat mapping of request parameters (query or JSON body)."""

    def __init__(self, data: Mapping[str, object]) -> None:
        self.data = data

    def raw(self, name: str) -> object:
        """The value as sent (None when absent or null)."""
        return self.data.get(name)

    def text(self, name: str, *, required: bool = False, max_len: int = 128) -> str | None:
        """A string field; numbers are accepted and turned into their text."""
        value = self.data.get(name)
        if type(value) is str and value and len(value) <= max_len:  # the common case, fast
            return value
        if value is None or value == "":
            if required:
                raise bad(name, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, _SCALARS):
            raise bad(name, "must be a string")
        text = value if isinstance(value, str) else str(value)
        if len(text) > max_len:
            raise bad(name, "is too long")
        return text

    def req(self, name: str, max_len: int = 128) -> str:
        """A required string field."""
        value = self.text(name, required=True, max_len=max_len)
        assert value is not None  # noqa: S101 - text(required=True) never returns None
        return value

    def decimal(self, name: str, *, required: bool = False) -> Decimal | None:
        """A finite decimal in a string or a JSON number."""
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise bad(name, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, _SCALARS):
            raise bad(name, "must be a number")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise bad(name, "must be a number") from exc
        if not number.is_finite() or abs(number) > _MAX_DECIMAL:
            raise bad(name, "is out of range")
        return number

    def integer(self, name: str, default: int | None = None, *, low: int = -(2**62)) -> int | None:
        """An integer in a string or a JSON number."""
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise bad(name, "must be an integer")
        try:
            number = int(value) if isinstance(value, _INT_OR_STR) else None
        except ValueError as exc:
            raise bad(name, "must be an integer") from exc
        if number is None or not low <= number <= 2**62:
            raise bad(name, "must be an integer")
        return number

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean: ``true``/``false`` as JSON or text."""
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise bad(name, "must be a boolean")

    def choice(self, name: str, options: Collection[str], default: str | None = None) -> str | None:
        """One of ``options`` (case-sensitive as KuCoin is), or ``default`` when absent."""
        value = self.text(name)
        if value is None:
            return default
        if value not in options:
            raise bad(name, "is not a valid value")
        return value

    def pick(self, name: str, options: Collection[str], default: str) -> str:
        """Like :meth:`choice` with a default, so never None."""
        return self.choice(name, options, default) or default

    def page(self, default_size: int = 50, max_size: int = 500) -> tuple[int, int]:
        """``currentPage`` and ``pageSize`` clamped the way KuCoin clamps them."""
        page = max(1, self.integer("currentPage", 1) or 1)
        size = self.integer("pageSize", default_size) or default_size
        return page, min(max(size, 1), max_size)
