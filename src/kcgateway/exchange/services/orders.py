"""Building and sending one spot order: the body, local validation, the placement call.

The clientOid is fixed here, before the first attempt (a fresh one when the caller gave none),
and travels with the request into the pipeline: a failure whose outcome is unknown raises
:class:`~kcgateway.errors.OutcomeUnknown` carrying it, a 429 resends the same body with it,
and nothing ever resends the order under another clientOid.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

from kcgateway.errors import OutcomeUnknown, ProtocolError
from kcgateway.exchange.services.base import check_client_oid, opt_text, text
from kcgateway.kucoin import models as m

if TYPE_CHECKING:
    from kcgateway.exchange.rest import KuCoinClient


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderOptions:
    """Optional order fields (None = not sent, the exchange default applies)."""

    time_in_force: str | None = None
    cancel_after: int | None = None
    post_only: bool | None = None
    hidden: bool | None = None
    iceberg: bool | None = None
    visible_size: Decimal | None = None
    stp: str | None = None
    remark: str | None = None
    tags: str | None = None

    def fields(self) -> dict[str, object]:
        """The wire fields that are set, camelCase."""
        if self is NO_OPTIONS:
            return {}
        wire = {
            "timeInForce": self.time_in_force,
            "cancelAfter": self.cancel_after,
            "postOnly": self.post_only,
            "hidden": self.hidden,
            "iceberg": self.iceberg,
            "visibleSize": opt_text(self.visible_size),
            "stp": self.stp,
            "remark": self.remark,
            "tags": self.tags,
        }
        return {k: v for k, v in wire.items() if v is not None}


NO_OPTIONS = OrderOptions()


def order_body(
    *,
    client_oid: str,
    symbol: str,
    side: str,
    order_type: str,
    price: Decimal | None,
    size: Decimal | None,
    funds: Decimal | None = None,
    options: OrderOptions = NO_OPTIONS,
    extra: dict[str, object] | None = None,
) -> dict[str, object]:
    """A spot/margin order body, clientOid first (the key order ccxt also uses).

    None values are left out here, not only by the encoder, because batch bodies nest these.
    """
    body: dict[str, object] = {
        "clientOid": client_oid,
        "side": side,
        "symbol": symbol,
        "type": order_type,
    }
    if price is not None:
        body["price"] = text(price)
    if size is not None:
        body["size"] = text(size)
    if funds is not None:
        body["funds"] = text(funds)
    if options is not NO_OPTIONS:
        body.update(options.fields())
    if extra:
        body.update({k: v for k, v in extra.items() if v is not None})
    return body


@dataclass(frozen=True, slots=True, kw_only=True)
class SpotOrder:
    """One spot order to place (limit: price and size; market: size or funds)."""

    symbol: str
    side: str
    order_type: str = "limit"
    price: Decimal | None = None
    size: Decimal | None = None
    funds: Decimal | None = None
    client_oid: str | None = None
    options: OrderOptions = NO_OPTIONS

    def body(self, client_oid: str, extra: dict[str, object] | None = None) -> dict[str, object]:
        """The wire body with ``client_oid`` fixed."""
        return order_body(
            client_oid=client_oid,
            symbol=self.symbol,
            side=self.side,
            order_type=self.order_type,
            price=self.price,
            size=self.size,
            funds=self.funds,
            options=self.options,
            extra=extra,
        )


async def validate(client: KuCoinClient, order: SpotOrder) -> None:
    """Check ``order`` against the cached symbol rules; raises ValidationError, sends nothing."""
    if _validate_cached(client, order):
        return
    await client.rules.check(
        order.symbol,
        order_type=order.order_type,
        price=order.price,
        size=order.size,
        funds=order.funds,
    )


def _validate_cached(client: KuCoinClient, order: SpotOrder) -> bool:
    """:func:`validate` from fresh cached rules, without a coroutine; False if rules must load."""
    return client.rules.check_cached(
        order.symbol,
        order_type=order.order_type,
        price=order.price,
        size=order.size,
        funds=order.funds,
    )


async def place_one(
    client: KuCoinClient,
    endpoint: str,
    order: SpotOrder,
    *,
    extra: dict[str, object] | None = None,
) -> m.OrderPlaced:
    """Validate, fix the clientOid, place; the result always carries the clientOid."""
    client_oid = check_client_oid(order.client_oid)
    if not _validate_cached(client, order):
        await validate(client, order)
    data = await client.call(endpoint, body=order.body(client_oid, extra), client_oid=client_oid)
    return placed_result(data, client_oid, endpoint)


def placed_result(data: msgspec.Raw, client_oid: str, endpoint: str) -> m.OrderPlaced:
    """Parse a placement reply; one we cannot read leaves the outcome unknown (reconcile)."""
    try:
        placed = m.parse_order_placed(data)
    except ProtocolError as exc:
        raise OutcomeUnknown(client_oid, reason="unparseable reply", request_path=endpoint) from exc
    if placed.client_oid is None:
        placed = msgspec.structs.replace(placed, client_oid=client_oid)
    return placed
