"""``GET /v1/events``: the gateway's event log as server-sent events, and as pages of JSON.

The stream (``text/event-stream``) sends each event as::

    id: 42
    event: order.state
    data: {"id":42,"kind":"order.state","subject":"<order id>","accountId":"...",
           "createdAt":"...","data":{...}}

A client that reconnects with its last id (the ``Last-Event-ID`` header, which browsers'
``EventSource`` sends by itself, or ``?after=``) gets every event it missed, from the
database, then the live ones. Without either it starts at the newest event (live only);
``after=0`` replays everything still kept. The key is checked again every 30 s: once revoked
or expired, the stream ends (and the reconnect meets the 401). ``GET /v1/events/page``
answers the same events as JSON for clients that poll. Rules (tenant, scopes, kinds) live in
gateway/event_feed.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from kcgateway.errors import ValidationError
from kcgateway.gateway.event_feed import EventFeed, StoredEvent, filter_for, parse_kinds
from kcgateway.gateway.keys import Principal
from kcgateway.web.auth import Reader, caller_ip, services_of
from kcgateway.web.schemas import AUTHED, error_responses

router = APIRouter(prefix="/v1", tags=["events"])

_KINDS = Query(
    description="comma-separated kinds to receive (order.state, order.fill, balance, position, "
    "alert); "
    "default: every kind the key may see",
    max_length=200,
)
_AFTER = "only events with a larger id; the stream starts at the newest event without it"
RETRY_MS = 2000
MAX_ID = 2**63 - 1


class EventStreamResponse(StreamingResponse):
    """A server-sent event stream (documented as ``text/event-stream``)."""

    media_type = "text/event-stream"


class EventOut(BaseModel):
    """One event of the gateway's log."""

    model_config = ConfigDict(populate_by_name=True)

    id: int = Field(description="gateway-wide, increasing: resume after it")
    kind: str = Field(description="order.state, order.fill, balance, position or alert")
    subject: str = Field(
        description="the gateway order id, clientOid, currency, futures symbol or alert id"
    )
    account_id: str | None = Field(alias="accountId")
    created_at: str = Field(alias="createdAt", description="ISO 8601, UTC")
    data: dict[str, Any]


class EventPageOut(BaseModel):
    """Events after ``after``, oldest first, and where to continue."""

    events: list[EventOut]
    next: int = Field(description="pass as ?after= to get the following events")


def event_json(event: StoredEvent) -> dict[str, Any]:
    """The JSON of one event (the SSE ``data:`` line and the page entries)."""
    return {
        "id": event.id,
        "kind": event.kind,
        "subject": event.subject,
        "accountId": event.account_id,
        "createdAt": event.created_at.isoformat(),
        "data": event.data,
    }


def sse_frame(event: StoredEvent) -> bytes:
    """One server-sent event."""
    body = json.dumps(event_json(event), separators=(",", ":"), default=str)
    return f"id: {event.id}\nevent: {event.kind}\ndata: {body}\n\n".encode()


def resume_point(header: str | None, after: int | None) -> int | None:
    """The id to resume after: ``Last-Event-ID`` wins over ``?after=``; None: start live."""
    if header is not None and header.strip():
        text = header.strip()
        if not text.isdigit() or len(text) > 19:
            raise ValidationError(
                "Last-Event-ID must be the id of an event this stream sent (a whole number)",
                field="Last-Event-ID",
            )
        return int(text)
    return after


def _feed(request: Request) -> EventFeed:
    feed = services_of(request).event_feed
    if feed is None:  # pragma: no cover - every built gateway has one
        raise RuntimeError("the event feed is not wired")
    return feed


async def _frames(
    request: Request, principal: Principal, kinds: str | None, start: int | None
) -> AsyncIterator[bytes]:
    services = services_of(request)
    feed = _feed(request)
    ip = caller_ip(request, services)

    async def still_allowed() -> bool:
        return await services.keys.still_usable(principal, ip)

    which = filter_for(principal.tenant_id, principal.scopes, parse_kinds(kinds))
    after = start if start is not None else await feed.last_id()
    # an id-only frame dispatches nothing but sets the client's last id (EventSource too): a
    # client that drops before its first event resumes from here, not from "live" again
    yield f"retry: {RETRY_MS}\nid: {after}\n\n".encode()
    async for event in feed.follow(which, after=after, still_allowed=still_allowed):
        yield b": keep-alive\n\n" if event is None else sse_frame(event)


@router.get(
    "/events",
    response_class=EventStreamResponse,
    responses={
        200: {"description": "server-sent events, one per order change, fill, balance "
              "change or alert, until the client disconnects"},
        **error_responses(*AUTHED, 400),
    },
)  # fmt: skip
async def events(
    request: Request,
    principal: Reader,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description=_AFTER)] = None,
    kinds: Annotated[str | None, _KINDS] = None,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", description="resume after this id (wins over ?after=)"),
    ] = None,
) -> EventStreamResponse:
    """Follow the tenant's events (order changes, fills, balances; alerts with risk:manage)."""
    start = resume_point(last_event_id, after)
    parse_kinds(kinds)  # a bad kind is a 422 before the stream starts
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return EventStreamResponse(_frames(request, principal, kinds, start), headers=headers)


@router.get(
    "/events/page",
    response_model=EventPageOut,
    responses=error_responses(*AUTHED, 400),
)
async def events_page(
    request: Request,
    principal: Reader,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="only events with a larger id")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    kinds: Annotated[str | None, _KINDS] = None,
) -> dict[str, Any]:
    """The events the stream would send after ``after``, as JSON (for clients that poll)."""
    which = filter_for(principal.tenant_id, principal.scopes, parse_kinds(kinds))
    found = await _feed(request).page(which, after=after, limit=limit)
    return {"events": [event_json(e) for e in found], "next": found[-1].id if found else after}
