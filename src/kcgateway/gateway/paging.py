"""Paging for every list other than orders: a time window, a limit and an opaque cursor.

One cursor for every list, the order lists (:mod:`kcgateway.gateway.orders.listing`) included:
rows come newest first, ordered by ``(time, id)`` descending, and a cursor is the last row's
position, which clients pass back unchanged. A malformed cursor, a limit out of range or an
empty time range is an :class:`~kcgateway.errors.InvalidQuery` naming the API's parameter
(``cursor``, ``limit``, ``from``, ``to``).

Lists read from the exchange (fills) have no cursor: :meth:`Window.check_exchange` refuses one
and their time window is applied to what the exchange answered (:func:`in_window`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from kcgateway.errors import InvalidQuery

__all__ = [
    "Paged", "Position", "Window", "cut", "decode_cursor", "encode_cursor", "in_window", "keyset",
    "to_millis",
]  # fmt: skip

T = TypeVar("T")
R = TypeVar("R")

_BAD_CURSOR = (
    "cursor is not one the gateway gave: pass back the X-Next-Cursor header of the previous page"
)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the last row's time (``created_at``) and id."""

    created_at: datetime
    id: str


def encode_cursor(position: Position) -> str:
    """The opaque cursor of ``position``: base64url of ``"<time ISO>|<id>"``. Pure."""
    raw = f"{position.created_at.isoformat()}|{position.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position a cursor of :func:`encode_cursor` names; InvalidQuery otherwise. Pure."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, row_id = raw.partition("|")
        created_at = datetime.fromisoformat(when)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidQuery(_BAD_CURSOR, field="cursor") from None
    if not row_id or created_at.tzinfo is None:
        raise InvalidQuery(_BAD_CURSOR, field="cursor")
    return Position(created_at, row_id)


@dataclass(frozen=True, slots=True)
class Window:
    """Which slice of a list: ``since`` inclusive, ``until`` exclusive, after ``cursor``."""

    limit: int = 100
    since: datetime | None = None
    until: datetime | None = None
    cursor: str | None = None

    def check(self, max_limit: int) -> Position | None:
        """InvalidQuery for a bad limit, time range or cursor; the cursor's position."""
        if not 1 <= self.limit <= max_limit:
            raise InvalidQuery(f"limit must be 1 to {max_limit}", field="limit")
        for value, name in ((self.since, "from"), (self.until, "to")):
            if value is not None and value.tzinfo is None:
                raise InvalidQuery(f"{name} needs a time zone (e.g. Z)", field=name)
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise InvalidQuery("to must be later than from", field="to")
        return decode_cursor(self.cursor) if self.cursor is not None else None

    def check_exchange(self, max_limit: int, max_span: timedelta | None = None) -> None:
        """:meth:`check` for a list read from the exchange: no cursor, at most ``max_span``."""
        if self.cursor is not None:
            raise InvalidQuery(
                "this list is read from the exchange and has no cursor: narrow it with from/to",
                field="cursor",
            )
        self.check(max_limit)
        span = None if self.since is None or self.until is None else self.until - self.since
        if max_span is not None and span is not None and span > max_span:
            raise InvalidQuery(
                f"the exchange serves at most {max_span.days} days at a time: narrow from/to",
                field="to",
            )


@dataclass(frozen=True, slots=True)
class Paged(Generic[T]):
    """One page; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None


def keyset(
    query: Any,
    when: InstrumentedAttribute[datetime],
    ident: InstrumentedAttribute[str] | InstrumentedAttribute[int],
    window: Window,
    after: Position | None,
    *,
    parse_id: Callable[[str], Any] = str,
) -> Any:
    """``query`` restricted to ``window``, after ``after``, newest first, one row past the limit.

    ``ident`` breaks ties between rows of the same time; ``parse_id`` reads the cursor's id for
    it (``int`` for an integer sequence column).
    """
    if window.since is not None:
        query = query.where(when >= window.since)
    if window.until is not None:
        query = query.where(when < window.until)
    if after is not None:
        older = when < after.created_at
        query = query.where(or_(older, and_(when == after.created_at, ident < parse_id(after.id))))
    return query.order_by(when.desc(), ident.desc()).limit(window.limit + 1)


def cut(
    rows: Sequence[R], limit: int, position: Callable[[R], Position], show: Callable[[R], T]
) -> Paged[T]:
    """The page of ``rows`` (fetched by :func:`keyset`, so one past the limit when more match)."""
    kept = list(rows[:limit])
    last = position(kept[-1]) if len(rows) > limit and kept else None
    return Paged([show(r) for r in kept], encode_cursor(last) if last else None)


def in_window(millis: int, window: Window) -> bool:
    """Whether an exchange time (milliseconds since the epoch) lies in ``window``. Pure."""
    at = datetime.fromtimestamp(millis / 1000, UTC)
    if window.since is not None and at < window.since:
        return False
    return window.until is None or at < window.until


def to_millis(when: datetime | None) -> int | None:
    """An aware time as the exchange's milliseconds since the epoch. Pure."""
    return None if when is None else int(when.timestamp() * 1000)
