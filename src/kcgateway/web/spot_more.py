"""More spot routes: fills (the spot order routes are in routes.py, built by market_orders.py).

In their own module next to :mod:`kcgateway.web.routes` (which other work also edits).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from kcgateway.web.auth import Reader, services_of
from kcgateway.web.list_params import Cursor, From, To, window
from kcgateway.web.market_orders import Account, Symbol
from kcgateway.web.market_schemas import FillOut
from kcgateway.web.schemas import AUTHED, EXCHANGE, error_responses

router = APIRouter(prefix="/v1")


@router.get("/fills", responses=error_responses(*AUTHED, *EXCHANGE, 404))
async def spot_fills(  # noqa: PLR0917 - FastAPI passes route parameters positionally
    request: Request,
    principal: Reader,
    account: Account,
    symbol: Symbol,
    since: From = None,
    until: To = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[FillOut]:
    """The account's spot fills on ``symbol``, newest first.

    ``from``/``to`` go to KuCoin; fills are read from the exchange, so there is no cursor.
    """
    reads = services_of(request).reads
    fills = await reads.spot_fills(
        principal.tenant_id, account, symbol, limit=limit,
        window=window(limit, since, until, cursor),
    )  # fmt: skip
    return [FillOut.of(f) for f in fills]
