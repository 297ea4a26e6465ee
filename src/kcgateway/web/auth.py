"""Who may call a route: every route declares a :class:`ScopeGuard` (a test enforces it).

``require(Scope.X)`` authenticates the ``Authorization: Bearer kgw_...`` header and checks the
scope (deny by default, ``admin`` holds all); ``PUBLIC`` is the explicit "no key needed"
declaration for health, metrics and the OpenAPI document. Any authentication failure is the
same 401 (with ``Retry-After`` while the caller is in backoff); a missing scope is a 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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
        services = services_of(request)
        ip = caller_ip(request, services)
        # Unauthenticated (401) propagates to the error table in web/errors.py
        principal = await services.keys.authenticate(request.headers.get("authorization"), ip)
        if not principal.allows(self.scope):
            raise PermissionDenied(self.scope.value)
        request.state.principal = principal
        return principal


PUBLIC = ScopeGuard(None)
_GUARDS = {scope: ScopeGuard(scope) for scope in Scope}


def require(scope: Scope) -> ScopeGuard:
    """The guard for ``scope`` (one shared instance per scope)."""
    return _GUARDS[scope]


Reader = Annotated[Principal, Depends(require(Scope.READ))]
Trader = Annotated[Principal, Depends(require(Scope.TRADE_SPOT))]
KeyManager = Annotated[Principal, Depends(require(Scope.KEYS_MANAGE))]
AccountManager = Annotated[Principal, Depends(require(Scope.ACCOUNTS_MANAGE))]
