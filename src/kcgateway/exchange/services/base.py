"""What every typed service shares: the client handle, order ids, pagination, resolution.

Services are thin: one method, one endpoint of the core table, one core model parser. They
hold no state of their own beyond the client.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Generic, TypeVar

import msgspec

from kcgateway.errors import OrderNotFound, Rejected, ValidationError
from kcgateway.kucoin.models import Cursor, Paginated

if TYPE_CHECKING:
    from kcgateway.exchange.rest import KuCoinClient

T = TypeVar("T")
OrderT = TypeVar("OrderT")

CLIENT_OID_MAX = 40


def new_client_oid() -> str:
    """A fresh clientOid: 32 hex characters (KuCoin allows letters, digits, ``_``, ``-``, <= 40)."""
    return os.urandom(16).hex()


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
        parse: Callable[[object], Paginated[T]],
        *,
        query: Mapping[str, object],
        page_size: int,
        limit: int | None = None,
        page_key: str = "currentPage",
    ) -> AsyncIterator[T]:
        """Items of a ``{currentPage, totalPage, items}`` list, page after page."""
        page, sent = 1, 0
        while True:
            q = {**query, page_key: page, "pageSize": page_size}
            result = parse(await self._client.call(name, query=q))
            for item in result.items:
                if limit is not None and sent >= limit:
                    return
                sent += 1
                yield item
            if page >= result.total_page or not result.items:
                return
            page += 1

    async def _resolve(
        self,
        name: str,
        client_oid: str,
        parse: Callable[[object], OrderT],
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, object] | None = None,
        not_found: tuple[type[Rejected], ...] = (OrderNotFound,),
    ) -> Placed[OrderT] | NotFound:
        """Look a clientOid up after OutcomeUnknown: placed (with the order) or not found.

        ``null`` data and the ``not_found`` error classes both mean "not found".
        """
        try:
            data = await self._client.call(name, path_params=path_params, query=query)
        except not_found:
            return NotFound(client_oid)
        if is_null(data):
            return NotFound(client_oid)
        return Placed(parse(data))

    async def _cursor(
        self,
        name: str,
        parse: Callable[[object], Cursor[T]],
        *,
        query: Mapping[str, object],
        page_size: int,
        limit: int | None = None,
    ) -> AsyncIterator[T]:
        """Items of a ``{lastId, items}`` (HF) list, following ``lastId`` to older pages."""
        last_id: int | None = None
        sent = 0
        while True:
            q = {**query, "lastId": last_id, "limit": page_size}
            result = parse(await self._client.call(name, query=q))
            for item in result.items:
                if limit is not None and sent >= limit:
                    return
                sent += 1
                yield item
            if len(result.items) < page_size or result.last_id in (None, last_id):
                return
            last_id = result.last_id


def is_null(data: msgspec.Raw) -> bool:
    """True when the envelope's ``data`` is JSON ``null`` (KuCoin's "nothing here")."""
    return bytes(data).strip() == b"null"
