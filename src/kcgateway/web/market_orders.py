"""The order routes of every market, defined once: place, list, get, cancel three ways.

:func:`order_routes` builds them for one market (spot under ``/v1``, margin under
``/v1/margin``, futures under ``/v1/futures``); only the body model, the trading scope and the
names differ. Each answers :class:`OrderOut`, the one order view. The use cases are the order
router's (:class:`~kcgateway.gateway.orders.router.OrderRouter`) limited to one market: another
market's order id or clientOid is a 404 here, as another tenant's is.

(No ``from __future__ import annotations`` here: the handlers' annotations are the factory's
arguments, which FastAPI must see as objects, not as names to look up in this module.)
"""

from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Query, Request, Response

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.keys import Principal
from kcgateway.gateway.orders.model import OrderRequest
from kcgateway.web.auth import Reader, require, services_of
from kcgateway.web.market_schemas import OrderOut, order_json
from kcgateway.web.order_filters import LIST_RESPONSES, NEXT_CURSOR, OrderFilters
from kcgateway.web.placing import IdempotencyKey, place_keyed_http
from kcgateway.web.schemas import AUTHED, EXCHANGE, ErrorOut, error_responses

#: the query parameters the market routes share
Account = Annotated[str, Query(min_length=1, max_length=200, description="account id or name")]
Symbol = Annotated[str, Query(min_length=3, max_length=40)]
OptionalAccount = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        description="account id or name; needed when several accounts use the clientOid",
    ),
]

#: the POST routes' extra answers (201 is the route's own status)
PLACE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **error_responses(*AUTHED, *EXCHANGE, 400, 404, 409),
    422: {
        "model": OrderOut | ErrorOut,
        "description": "The order was refused: an intent (rejected, not_placed) or an error "
        "(invalid_request with problems, risk_rejected, order_not_sizable, exchange_rejected).",
    },
    202: {"model": OrderOut, "description": "sent, outcome unknown: the reconciler settles it"},
    200: {"model": OrderOut, "description": "a concurrent retry of the same Idempotency-Key"},
}
#: a cancel by id or clientOid (409: not cancellable, or a clientOid on several accounts)
CANCEL_RESPONSES = error_responses(*AUTHED, *EXCHANGE, 400, 404, 409)


class OrderBodyLike(Protocol):
    """What every market's POST body offers (OrderBody, MarginOrderBody, FuturesOrderBody)."""

    account: str
    client_oid: str | None

    def to_request(self, client_oid: str | None = None) -> OrderRequest:
        """The order the body describes, under ``client_oid`` when given."""
        ...


@dataclass(frozen=True, slots=True)
class MarketRoutes:
    """How one market's routes differ: its name, body, trading scope and wording."""

    market: str
    body: type[Any]
    scope: Scope
    #: route-name infix ("" for spot, whose names predate the other markets)
    infix: str
    #: how the docs call it ("spot", "margin", "futures")
    what: str


def order_routes(spec: MarketRoutes, router: APIRouter) -> APIRouter:
    """Add the order routes of ``spec.market`` to ``router`` and return it."""
    market = spec.market
    trader = Annotated[Principal, Depends(require(spec.scope))]
    name = spec.infix

    async def place(
        body: OrderBodyLike,
        request: Request,
        principal: trader,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        return await place_keyed_http(
            request,
            principal,
            idempotency_key,
            account=body.account,
            client_oid=body.client_oid,
            build=body.to_request,
            render=order_json,
            market=market,
        )

    async def list_orders(
        request: Request,
        response: Response,
        principal: Reader,
        filters: Annotated[OrderFilters, Query()],
    ) -> list[OrderOut]:
        orders = services_of(request).orders
        found = await orders.page(principal.tenant_id, filters.query(market))
        if found.next_cursor is not None:
            response.headers[NEXT_CURSOR] = found.next_cursor
        return [OrderOut.of(v) for v in found.items]

    async def get_order(order_id: str, request: Request, principal: Reader) -> OrderOut:
        return OrderOut.of(
            await services_of(request).orders.get(principal.tenant_id, order_id, market)
        )

    async def cancel_order(
        order_id: str,
        request: Request,
        principal: trader,
    ) -> OrderOut:
        orders = services_of(request).orders
        return OrderOut.of(
            await orders.cancel(principal.tenant_id, order_id, principal.key_id, market)
        )

    async def cancel_by_client_oid(
        client_oid: str,
        request: Request,
        principal: trader,
        account: OptionalAccount = None,
    ) -> OrderOut:
        orders = services_of(request).orders
        view = await orders.cancel_by_client_oid(
            principal.tenant_id, client_oid, principal.key_id, market, account
        )
        return OrderOut.of(view)

    async def cancel_symbol(
        request: Request,
        principal: trader,
        account: Account,
        symbol: Symbol,
    ) -> list[OrderOut]:
        orders = services_of(request).orders
        views = await orders.cancel_symbol(
            principal.tenant_id, account, symbol, principal.key_id, market
        )
        return [OrderOut.of(v) for v in views]

    place.__annotations__["body"] = spec.body  # FastAPI parses (and documents) this market's body
    what = spec.what
    router.add_api_route(
        "/orders", place, methods=["POST"], status_code=201, response_model=OrderOut,
        responses=PLACE_RESPONSES, name=f"place_{name}order",
        description=f"Place a {what} order. Exactly once per intent; an Idempotency-Key "
        "replays the first answer.",
    )  # fmt: skip
    router.add_api_route(
        "/orders", list_orders, methods=["GET"], response_model=list[OrderOut],
        responses=LIST_RESPONSES, name=f"list_{name}orders",
        description=f"The tenant's {what} order intents, newest first (by creation time, then "
        "id), filtered by account, symbol, state (repeat it for several) and a creation-time "
        f"range (from inclusive, to exclusive). When more match, the {NEXT_CURSOR} header "
        "holds the cursor of the next page: pass it back as cursor with the same filters.",
    )  # fmt: skip
    router.add_api_route(
        "/orders/{order_id}", get_order, methods=["GET"], response_model=OrderOut,
        responses=error_responses(*AUTHED, *EXCHANGE, 404, 409), name=f"get_{name}order",
        description=f"One {what} intent (refreshed from the exchange while it may change).",
    )  # fmt: skip
    router.add_api_route(
        "/orders/{order_id}", cancel_order, methods=["DELETE"], response_model=OrderOut,
        responses=CANCEL_RESPONSES, name=f"cancel_{name}order",
        description=f"Cancel a {what} order by the gateway's id.",
    )  # fmt: skip
    router.add_api_route(
        "/orders/by-client-oid/{client_oid}", cancel_by_client_oid, methods=["DELETE"],
        response_model=OrderOut, responses=CANCEL_RESPONSES,
        name=f"cancel_{name}by_client_oid",
        description=f"Cancel a {what} order by clientOid. A clientOid is unique per account: "
        "when several of the tenant's accounts use it, name the account (409 "
        "client_oid_ambiguous lists them).",
    )  # fmt: skip
    router.add_api_route(
        "/orders", cancel_symbol, methods=["DELETE"], response_model=list[OrderOut],
        responses=error_responses(*AUTHED, *EXCHANGE, 404, 409),
        name=f"cancel_{name or 'spot_'}symbol",
        description=f"Cancel every {what} order of the account on ``symbol``.",
    )  # fmt: skip
    return router
