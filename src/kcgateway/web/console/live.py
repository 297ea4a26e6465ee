"""Live updates for the console: the session's order events as server-sent events.

``GET /ui/events`` follows the gateway's event log (:class:`~kcgateway.gateway.event_feed.
EventFeed`, the feed behind ``/v1/events``) for the session's tenant, order changes only, and
sends each as ``event: order.state``; ``console.js`` opens it with ``EventSource`` (same
origin, the session cookie, nothing in the URL) and asks htmx to refresh the orders table. The
stream is the page's, not the user's: it does not hold the session open, and it ends at the
next check (every 30 s) once the session has ended or its key may no longer be used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import Response

from kcgateway.errors import ConfigError, Unauthenticated
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.console.sessions import ConsoleSession
from kcgateway.gateway.event_feed import EventFeed, EventKind, filter_for
from kcgateway.web.auth import services_of
from kcgateway.web.console.common import handled, router, session_of
from kcgateway.web.console.render import secure
from kcgateway.web.events import RETRY_MS, EventStreamResponse, sse_frame


def _feed(request: Request) -> EventFeed:
    feed = services_of(request).event_feed
    if feed is None:  # pragma: no cover - every built gateway has one
        raise ConfigError("the event feed is not wired")
    return feed


async def _frames(request: Request, session: ConsoleSession) -> AsyncIterator[bytes]:
    feed = _feed(request)
    principal = session.principal

    async def still_allowed() -> bool:
        try:
            await session_of(request, touch=False)
        except Unauthenticated:
            return False
        return True

    which = filter_for(principal.tenant_id, principal.scopes, frozenset({EventKind.ORDER.value}))
    after = await feed.last_id()
    yield f"retry: {RETRY_MS}\n\n".encode()
    async for event in feed.follow(which, after=after, still_allowed=still_allowed):
        yield b": keep-alive\n\n" if event is None else sse_frame(event)


@router.get("/events")
@handled
async def events(request: Request) -> Response:
    """The session's order events, live (each reconnect starts at the newest event)."""
    session = await session_of(request, touch=False)
    session.require(Scope.READ)
    stream = EventStreamResponse(_frames(request, session), headers={"X-Accel-Buffering": "no"})
    return secure(stream)
