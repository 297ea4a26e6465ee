"""The query parameters every list shares: ``from``/``to``, ``cursor``, and the next-page header.

The same names and meanings as the order lists (:mod:`kcgateway.web.order_filters`): ``from``
inclusive and ``to`` exclusive (ISO 8601 with a zone), ``cursor`` the ``X-Next-Cursor`` of the
previous page. A value of the wrong shape is a 422 naming ``query.<name>``; a cursor the
gateway did not give or an empty range is a 422 from the service layer naming the parameter.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Query, Response
from pydantic import AwareDatetime

from kcgateway.gateway.paging import Paged, Window
from kcgateway.web.order_filters import NEXT_CURSOR
from kcgateway.web.schemas import error_responses

T = TypeVar("T")

From = Annotated[
    AwareDatetime | None,
    Query(alias="from", description="at or after this time (ISO 8601, with a zone)"),
]
To = Annotated[
    AwareDatetime | None, Query(alias="to", description="before this time (ISO 8601, with a zone)")
]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=200, description="the X-Next-Cursor header of the last page"),
]


def window(limit: int, since: AwareDatetime | None, until: AwareDatetime | None,
           cursor: str | None = None) -> Window:  # fmt: skip
    """The service layer's window of a list's query parameters."""
    return Window(limit=limit, since=since, until=until, cursor=cursor)


def next_cursor(response: Response, page: Paged[T]) -> list[T]:
    """Put the next page's cursor (if any) in its header; the page's items."""
    if page.next_cursor is not None:
        response.headers[NEXT_CURSOR] = page.next_cursor
    return page.items


def paged_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error responses of ``codes`` plus a 200 that documents the next-page header."""
    return {
        **error_responses(*codes),
        200: {
            "description": "One page, newest first.",
            "headers": {
                NEXT_CURSOR: {
                    "description": "the cursor of the next page; absent on the last page",
                    "schema": {"type": "string"},
                }
            },
        },
    }
