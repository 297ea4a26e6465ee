"""Who may call a route: every route declares a :class:`ScopeGuard` (a test enforces it).

``require(Scope.X)`` authenticates the ``Authorization: Bearer kgw_...`` header and checks the
scope (deny by default, ``admin`` holds all); ``PUBLIC`` is the explicit "no key needed"
declaration for health, metrics and the OpenAPI document. Any authentication failure is the
same 401 (with ``Retry-After`` while the caller is in backoff); a missing scope is a 403.

:class:`AuthFirstRoute` runs a route's guard before FastAPI reads and parses the body (FastAPI
itself reads the body before it solves dependencies): a caller without a key gets its 401
without the gateway reading what it sent, and invalid JSON without a key is a 401, not a 422.

The client address is the socket peer unless that peer is in ``KCGW_TRUSTED_PROXIES``; the
server in front of the app must not rewrite the peer itself (see ``kcgateway.main``, which
switches uvicorn's proxy-header handling off).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from kcgateway.errors import PermissionDenied
from kcgateway.gateway.apikeys import Scope, client_ip
from kcgateway.gateway.keys import Principal
from kcgateway.gateway.services import GatewayServices


def services_of(request: Request) -> GatewayServices:
    """The services bundle the app was built with."""
    services: GatewayServices = request.app.state.services
    return services


def caller_ip(request: Request, services: GatewayServices) -> str:
    """The socket peer, or the forwarded client when the peer is a trusted proxy."""
    peer = request.client.host if request.client else ""
    return client_ip(peer, request.headers.get("x-forwarded-for"), services.trusted_proxies)


class ScopeGuard:
    """A route dependency that states (and enforces) the scope the route needs."""

    def __init__(self, scope: Scope | None) -> None:
        self.scope = scope

    def __repr__(self) -> str:
        return f"ScopeGuard({self.scope.value if self.scope else 'public'})"

    async def __call__(self, request: Request) -> Principal | None:
        """Authenticate and authorise, or raise the 401/403."""
        if self.scope is None:
            return None
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None:  # not yet authenticated by AuthFirstRoute for this request
            principal = await _authenticate(request)
        if not principal.allows(self.scope):
            raise PermissionDenied(self.scope.value)
        request.state.principal = principal
        return principal


async def _authenticate(request: Request) -> Principal:
    """The caller's principal; Unauthenticated (401) goes to the error table in web/errors.py."""
    services = services_of(request)
    ip = caller_ip(request, services)
    return await services.keys.authenticate(request.headers.get("authorization"), ip)


def guard_of(route: APIRoute) -> ScopeGuard | None:
    """The route's declared guard (None when it declares none: a test fails the build then)."""
    guards = [d.call for d in route.dependant.dependencies if isinstance(d.call, ScopeGuard)]
    return guards[0] if guards else None


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class AuthFirstRoute(APIRoute):
    """An API route whose scope guard runs before the body is read.

    FastAPI reads and parses the body first and solves the dependencies (the guard among them)
    after; this handler calls the guard first, so nothing a caller without a valid key sends is
    read, and the guard's dependency then finds the principal already on the request.
    """

    def get_route_handler(self) -> Handler:
        """FastAPI's handler, preceded by the route's guard when it needs a key."""
        handler = super().get_route_handler()
        guard = guard_of(self)
        if guard is None or guard.scope is None:
            return handler

        async def guarded(request: Request) -> Response:
            await guard(request)
            return await handler(request)

        return guarded


PUBLIC = ScopeGuard(None)
_GUARDS = {scope: ScopeGuard(scope) for scope in Scope}


def require(scope: Scope) -> ScopeGuard:
    """The guard for ``scope`` (one shared instance per scope)."""
    return _GUARDS[scope]


Reader = Annotated[Principal, Depends(require(Scope.READ))]
Trader = Annotated[Principal, Depends(require(Scope.TRADE_SPOT))]
KeyManager = Annotated[Principal, Depends(require(Scope.KEYS_MANAGE))]
AccountManager = Annotated[Principal, Depends(require(Scope.ACCOUNTS_MANAGE))]
