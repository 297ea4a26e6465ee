"""The FastAPI application factory. It receives the services bundle; it builds nothing itself.

Before any route: :class:`~kcgateway.web.middleware.LimitBody` (413 for a body over the limit,
counted while it streams) inside :class:`~kcgateway.web.middleware.CountRequests`; every route
is an :class:`~kcgateway.web.auth.AuthFirstRoute` (its key is checked before its body is read).

Every route declares a :class:`~kcgateway.web.auth.ScopeGuard` (``PUBLIC`` for /healthz,
/readyz, /metrics and /openapi.json); ``tests/kcgateway/web/test_route_scopes.py`` fails the
build on any route without one. FastAPI's own docs pages are off (they would be routes without
a declared scope); Swagger UI is served at /docs from local files, declared public, by
``web/console/docs.py``; the OpenAPI document is served by a declared public route.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST

from kcgateway.gateway.services import GatewayServices
from kcgateway.web import (
    admin,
    alerts,
    books,
    console,
    errors,
    facade_keys,
    futures,
    margin,
    risk,
    routes,
    spot_more,
)
from kcgateway.web.auth import PUBLIC, AuthFirstRoute, ScopeGuard, guard_of, services_of
from kcgateway.web.bots import router as bots_router
from kcgateway.web.events import router as events_router
from kcgateway.web.events_ws import EVENTS_WS_PATH, events_ws
from kcgateway.web.health import ReadyOut, host_json
from kcgateway.web.middleware import DEFAULT_MAX_BODY_BYTES, CountRequests, LimitBody
from kcgateway.web.onboarding import router as onboarding_router
from kcgateway.web.schemas import StatusOut, error_responses
from kcgateway.web.subaccounts import router as subaccounts_router

_PUBLIC = [Depends(PUBLIC)]
BEARER = "gatewayKey"
TITLE = "kcgateway"
VERSION = "0.1.0"
DESCRIPTION = (
    "A self-hosted KuCoin trading gateway. Authenticate with `Authorization: Bearer kgw_...`; "
    "each route names the scope it needs. Money (prices, sizes, funds, balances) is always an "
    'exact decimal **string**, never a JSON number. Errors are `{"error": code, '
    "\"message\": text}`: 4xx is the caller's to fix, 502/503 the exchange's."
)


def _add_public_routes(app: FastAPI, services: Callable[[Request], GatewayServices]) -> None:
    @app.get("/healthz", dependencies=_PUBLIC, response_model=StatusOut, tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        dependencies=_PUBLIC,
        response_model=ReadyOut,
        tags=["health"],
        responses={503: {"model": ReadyOut, "description": "Not ready (status: not ready)."}},
    )
    async def readyz(request: Request) -> JSONResponse:
        """The database answers, the reconciler runs, each exchange host is reachable."""
        gateway = services(request)
        ready = await gateway.ready()
        status = "ready" if ready else "not ready"
        hosts = await gateway.exchange_reach()
        body: dict[str, object] = {
            "status": status,
            "exchange": {k: host_json(v) for k, v in hosts.items()},
            "redis": await gateway.redis_state(),
            "rate_budget": gateway.rate_budget_mode,
        }
        body.update(gateway.cluster_view())  # instance_id, leases_owned
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get(
        "/metrics",
        dependencies=_PUBLIC,
        response_class=Response,
        tags=["health"],
        responses={
            200: {
                "description": "Prometheus text exposition format.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    async def metrics_route(request: Request) -> Response:
        """Prometheus text format."""
        text = await services(request).refresh_metrics()
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json", dependencies=_PUBLIC, include_in_schema=False)
    async def openapi() -> dict[str, Any]:
        """The OpenAPI document (the same as the committed docs/openapi.json)."""
        return app.openapi()


#: APIRoute attributes that _mount carries over (everything the spec and the behaviour use)
_ROUTE_ATTRS = (
    "dependencies",
    "response_model",
    "status_code",
    "tags",
    "summary",
    "description",
    "response_description",
    "responses",
    "deprecated",
    "name",
    "operation_id",
    "response_class",
    "include_in_schema",
    "openapi_extra",
)


def _implied_errors(route: APIRoute) -> dict[int | str, dict[str, Any]]:
    """The error answers every route of its kind can give, whether it declares them or not.

    A key-guarded route can answer 401/403; one with parameters or a body 422 (our
    ``invalid_request`` body, not FastAPI's default shape); one with a body 400 (not JSON) and
    413 (larger than the body limit).
    """
    statuses: list[int] = []
    guarded = any(
        isinstance(d.call, ScopeGuard) and d.call.scope is not None
        for d in route.dependant.dependencies
    )
    if guarded:
        statuses += [401, 403]
    dependant = route.dependant
    if route.body_field is not None or dependant.query_params or dependant.path_params:
        statuses.append(422)
    if dependant.header_params or dependant.cookie_params:
        statuses.append(422)
    if route.body_field is not None:
        statuses += [400, 413]
    return error_responses(*statuses)


def _mount(app: FastAPI, router: APIRouter) -> None:
    """Copy the router's routes onto the app itself.

    ``app.routes`` is then one flat list of :class:`APIRoute` (each with its scope dependency)
    that a test can enumerate. Every documenting attribute is carried over so the OpenAPI
    document describes the real answers.
    """
    for route in router.routes:
        assert isinstance(route, APIRoute)  # noqa: S101 - our routers hold API routes only
        kwargs: dict[str, Any] = {name: getattr(route, name) for name in _ROUTE_ATTRS}
        kwargs["responses"] = {**_implied_errors(route), **(route.responses or {})}
        app.add_api_route(route.path, route.endpoint, methods=sorted(route.methods or ()), **kwargs)


def _build(services: GatewayServices | None, max_body_bytes: int) -> FastAPI:
    app = FastAPI(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.router.route_class = AuthFirstRoute
    app.state.services = services
    app.add_middleware(LimitBody, max_bytes=max_body_bytes)
    if services is not None:  # added last: the outermost, so it counts the 413s too
        app.add_middleware(CountRequests, metrics=services.metrics)
    errors.install(app)
    routers = (
        routes.router, admin.router, spot_more.router, margin.router, futures.router,
        books.router, alerts.router, risk.router, onboarding_router,
        subaccounts_router, events_router, bots_router, facade_keys.router,
    )  # fmt: skip
    for router in routers:
        _mount(app, router)
    app.add_api_websocket_route(EVENTS_WS_PATH, events_ws)  # outside the OpenAPI document
    _add_public_routes(app, services_of)
    console.install(app)  # the web console under /ui (not in the OpenAPI document)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the bearer scheme and, per operation, the scope it needs."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    doc.setdefault("components", {})["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "A gateway key: `Authorization: Bearer kgw_...`.",
        }
    }
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        guard = guard_of(route)
        if guard is None or guard.scope is None:
            continue
        for method in route.methods or ():
            operation = doc["paths"][route.path_format][method.lower()]
            operation["security"] = [{BEARER: []}]
            operation["x-required-scope"] = guard.scope.value
    return doc


def create_app(
    services: GatewayServices, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> FastAPI:
    """The gateway's HTTP API over ``services`` (whose lifecycle the caller owns).

    ``max_body_bytes``: larger request bodies are refused with 413 (``KCGW_MAX_BODY_BYTES``).
    """
    return _build(services, max_body_bytes)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the app's routes (no services needed: nothing is called)."""
    return _build(None, DEFAULT_MAX_BODY_BYTES).openapi()


def openapi_text() -> str:
    """The committed form of :func:`openapi_document`: sorted keys, 2-space indent, newline."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
