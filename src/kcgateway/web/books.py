"""The order book routes: spot and futures books, from the stream or REST (scope ``read``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from kcgateway.errors import ConfigError
from kcgateway.gateway.books import MAX_DEPTH, BookService, BookView
from kcgateway.web.auth import Reader, services_of
from kcgateway.web.schemas import AUTHED, EXCHANGE, error_responses

router = APIRouter(prefix="/v1")

Symbol = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Depth = Annotated[int, Query(ge=1, le=MAX_DEPTH, description="levels per side")]


class OrderBookOut(BaseModel):
    """The best ``depth`` levels per side; prices and sizes are decimal strings."""

    symbol: str
    source: Literal["stream", "rest"] = Field(
        description="stream: the live WebSocket book; rest: a snapshot (stream not synced)"
    )
    sequence: int = Field(description="the exchange's book sequence of this state")
    timestamp: int = Field(
        description="ms; stream: local time of the last change, rest: the snapshot's time"
    )
    bids: list[tuple[str, str]] = Field(description="[price, size], best (highest) first")
    asks: list[tuple[str, str]] = Field(description="[price, size], best (lowest) first")


def _out(view: BookView) -> OrderBookOut:
    return OrderBookOut(
        symbol=view.symbol,
        source=view.source,
        sequence=view.sequence,
        timestamp=view.timestamp,
        bids=[(str(p), str(s)) for p, s in view.bids],
        asks=[(str(p), str(s)) for p, s in view.asks],
    )


def _service(service: BookService | None) -> BookService:
    if service is None:
        raise ConfigError("order books are not configured on this gateway")
    return service


@router.get("/orderbook/{symbol}", responses=error_responses(*AUTHED, *EXCHANGE, 404))
async def spot_order_book(
    symbol: Symbol, request: Request, principal: Reader, depth: Depth = 20
) -> OrderBookOut:
    """A spot order book (404 for a symbol the exchange does not list)."""
    books = _service(services_of(request).books)
    return _out(await books.book(symbol, depth))


@router.get("/futures/orderbook/{symbol}", responses=error_responses(*AUTHED, *EXCHANGE, 404))
async def futures_order_book(
    symbol: Symbol, request: Request, principal: Reader, depth: Depth = 20
) -> OrderBookOut:
    """A futures order book (404 for a contract the exchange does not list)."""
    books = _service(services_of(request).futures_books)
    return _out(await books.book(symbol, depth))
