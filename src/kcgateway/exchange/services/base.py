"""What every typed service shares: the client handle, order ids, pagination, resolution.

Services are thin: one method, one endpoint of the core table, one core model parser. They
hold no state of their own beyond the client.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Generic, TypeVar

from kcgateway.errors import ProtocolError, ValidationError

if TYPE_CHECKING:
    from kcgateway.exchange.rest import KuCoinClient

T = TypeVar("T")
OrderT = TypeVar("OrderT")

CLIENT_OID_MAX = 40


def new_client_oid() -> str:
    """A fresh clientOid: 32 hex characters (KuCoin allows letters, digits, ``_``, ``-``, <= 40)."""
    return uuid.uuid4().hex


def check_client_oid(client_oid: str | None) -> str:
    """The caller's clientOid if valid, else a fresh one. Fixed before the first attempt."""
    if client_oid is None:
        return new_client_oid()
    if not client_oid or len(client_oid) > CLIENT_OID_MAX:
        raise ValidationError("clientOid must be 1-40 characters", field="client_oid")
    if not all(c.isascii() and (c.isalnum() or c in "_-") for c in client_oid):
        raise ValidationError(
            "clientOid may hold only letters, digits, '_' and '-'", field="client_oid"
        )
    return client_oid


@dataclass(frozen=True, slots=True)
class Placed(Generic[OrderT]):
    """Resolution of an unknown outcome: the order exists at the exchange."""

    order: OrderT


@dataclass(frozen=True, slots=True)
class NotFound:
    """Resolution of an unknown outcome: the exchange does not know the clientOid (yet).

    Right after a timeout the order may still be on its way through the exchange: the gateway's
    reconciler only concludes "not placed" after a grace period (SECURITY.md section 3).
    """

    client_oid: str


Resolution = Placed[OrderT] | NotFound


def text(value: Decimal | int | str) -> str:
    """A number as KuCoin wants it in a body: a plain decimal string, never an exponent."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValidationError(f"{value} is not a finite number")
        return format(value, "f")
    return str(value)


def opt_text(value: Decimal | int | str | None) -> str | None:
    """:func:`text`, passing None through (dropped from the body)."""
    return None if value is None else text(value)


class Service:
    """Base of the typed services: holds the client."""

    def __init__(self, client: KuCoinClient) -> None:
        self._client = client

    async def _pages(
        self,
        name: str,
        parse_page: Callable[[object], tuple[list[T], int]],
        *,
        query: Mapping[str, object],
        page_size: int,
        path_params: Mapping[str, str] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[T]:
        """Items of a ``{currentPage, totalPage, items}`` list, page after page."""
        page, sent = 1, 0
        while True:
            q = {**query, "currentPage": page, "pageSize": page_size}
            data = await self._client.call(name, path_params=path_params, query=q)
            items, total_pages = parse_page(data)
            for item in items:
                if limit is not None and sent >= limit:
                    return
                sent += 1
                yield item
            if page >= total_pages or not items:
                return
            page += 1

    async def _cursor(
        self,
        name: str,
        parse_page: Callable[[object], tuple[list[T], int | str | None]],
        *,
        query: Mapping[str, object],
        page_size: int,
        limit: int | None = None,
    ) -> AsyncIterator[T]:
        """Items of a ``{lastId, items}`` (HF) list, following ``lastId`` backwards."""
        last_id: int | str | None = None
        sent = 0
        while True:
            q = {**query, "lastId": last_id, "limit": page_size}
            items, last_id = parse_page(await self._client.call(name, query=q))
            for item in items:
                if limit is not None and sent >= limit:
                    return
                sent += 1
                yield item
            if len(items) < page_size or last_id is None:
                return


def expect_list(data: object, where: str = "data") -> list[object]:
    """``data`` as a list, or :class:`ProtocolError`."""
    if not isinstance(data, list):
        raise ProtocolError("expected a list", path=where)
    return data
