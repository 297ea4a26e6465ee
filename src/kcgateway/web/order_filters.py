"""The query of every order list: ``GET /v1/orders``, ``/v1/margin/orders``, ``/v1/futures/orders``.

One model, read from the query string: ``account``, ``symbol``, ``state`` (repeatable:
``?state=open&state=acked``), ``from``/``to`` (ISO 8601 with a zone, on the creation time),
``cursor`` (the ``X-Next-Cursor`` of the previous page) and ``limit``. A value of the wrong
shape (an unknown state, a time without a zone) is a 422 naming ``query.<name>``; a cursor the
gateway did not give out or an empty range is a 422 from the use case
(:mod:`kcgateway.gateway.orders.listing`), naming the parameter.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from kcgateway.gateway.orders.listing import OrderQuery
from kcgateway.store.types import OrderState
from kcgateway.web.schemas import AUTHED, error_responses

#: the response header that holds the next page's cursor (absent on the last page)
NEXT_CURSOR = "X-Next-Cursor"

LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    **error_responses(*AUTHED, 404),
    200: {
        "description": "The page of orders, newest first.",
        "headers": {
            NEXT_CURSOR: {
                "description": "the cursor of the next page; absent on the last page",
                "schema": {"type": "string"},
            }
        },
    },
}


class OrderFilters(BaseModel):
    """Which orders to list; every filter is optional."""

    model_config = ConfigDict(populate_by_name=True)

    account: str | None = Field(
        default=None, min_length=1, max_length=200, description="account id or name"
    )
    symbol: str | None = Field(default=None, min_length=3, max_length=40)
    state: list[OrderState] = Field(
        default_factory=list, description="only these states (repeat the parameter)"
    )
    since: AwareDatetime | None = Field(
        default=None, alias="from", description="created at or after (ISO 8601, with a zone)"
    )
    until: AwareDatetime | None = Field(
        default=None, alias="to", description="created before (ISO 8601, with a zone)"
    )
    cursor: str | None = Field(
        default=None, min_length=1, max_length=200, description="the X-Next-Cursor of a page"
    )
    limit: int = Field(default=100, ge=1, le=1000)

    def query(self, market: str) -> OrderQuery:
        """The use case's query for the orders of ``market``."""
        return OrderQuery(
            limit=self.limit, account=self.account, market=market, symbol=self.symbol,
            states=tuple(self.state), since=self.since, until=self.until, cursor=self.cursor,
        )  # fmt: skip
