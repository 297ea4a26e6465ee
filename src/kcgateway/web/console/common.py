"""What every console route shares: its router, the session, refusals rendered as pages.

Routes here parse and render; the rules are the services'. A refusal is a page, never the
/v1 JSON.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kcgateway.errors import ConfigError, KcgatewayError, Unauthenticated
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.console import ConsoleSession, ConsoleSessions
from kcgateway.gateway.console.reads import ConsoleReads
from kcgateway.web.auth import caller_ip, services_of
from kcgateway.web.console.render import PREFIX, SESSION_COOKIE, form, page, problem, redirect

log = logging.getLogger("kcgateway.web.console")
router = APIRouter(prefix=PREFIX, include_in_schema=False)
P = ParamSpec("P")
Handler = Callable[P, Awaitable[Response]]


def sessions_of(request: Request) -> ConsoleSessions:
    """The console's session service (wired by ``kcgateway.main``)."""
    found = services_of(request).console
    if found is None:  # pragma: no cover - main.build_services always wires it
        raise ConfigError("the console is not configured")
    return found


def reads_of(request: Request) -> ConsoleReads:
    """The pages' reads over the app's services."""
    return ConsoleReads(services_of(request))


def ip_of(request: Request) -> str:
    """The caller's address, decided by the gateway's trusted-proxy setting alone."""
    return caller_ip(request, services_of(request))


async def session_of(request: Request, *, touch: bool = True) -> ConsoleSession:
    """The request's open session; Unauthenticated when there is none.

    ``touch=False``: the request is the page's own (a refresh), not the user's activity.
    """
    token = request.cookies.get(SESSION_COOKIE)
    return await sessions_of(request).resume(token, ip_of(request), touch=touch)


async def posted(request: Request) -> tuple[ConsoleSession, dict[str, str]]:
    """The session and form of a state-changing POST, its CSRF token checked first."""
    session = await session_of(request)
    fields = await form(request)
    session.check_csrf(fields.get("csrf"))
    return session, fields


def capabilities(session: ConsoleSession) -> dict[str, bool]:
    """What the session's key may do: the pages and buttons shown (the server checks again)."""
    return {
        "read": session.can(Scope.READ),
        "trade": session.can(Scope.TRADE_SPOT),
        "trade_margin": session.can(Scope.TRADE_MARGIN),
        "trade_futures": session.can(Scope.TRADE_FUTURES),
        "manage_keys": session.can(Scope.KEYS_MANAGE),  # not "keys": that is dict.keys in Jinja
        "risk": session.can(Scope.RISK_MANAGE),
        "accounts": session.can(Scope.ACCOUNTS_MANAGE),
        "bots": session.can(Scope.BOTS_MANAGE),
        "admin": session.can(Scope.ADMIN),
    }


def context(session: ConsoleSession, active: str, **extra: Any) -> dict[str, Any]:
    """The template context every signed-in page gets."""
    return {
        "session": session,
        "who": session.principal,
        "csrf": session.csrf,
        "can": capabilities(session),
        "active": active,
        **extra,
    }


def handled(fn: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    """Refusals as pages: the sign-in page without a session, else the error page.

    No session: a GET goes to the sign-in page (303), a POST gets a 401 page. Any other
    refusal of the error tree: the error page with the /v1 table's status and message.
    """

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        request = kwargs.get("request")
        try:
            return await fn(*args, **kwargs)
        except Unauthenticated:
            if isinstance(request, Request) and request.method == "GET":
                return redirect("/login")
            return page("error.html", 401, code="unauthenticated", signed_in=False,
                        message="your console session has ended: sign in again")  # fmt: skip
        except KcgatewayError as exc:
            status, code, message = problem(exc)
            log.info(
                "console: %s refused (%s)",
                request.url.path if isinstance(request, Request) else "?",
                code,
            )
            return page("error.html", status, code=code, message=message, signed_in=True)

    return wrapper
