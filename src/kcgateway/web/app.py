"""The FastAPI application factory. It receives the services bundle; it builds nothing itself.

Every route declares a :class:`~kcgateway.web.auth.ScopeGuard` (``PUBLIC`` for /healthz,
/readyz, /metrics and /openapi.json); ``tests/kcgateway/web/test_route_scopes.py`` fails the
build on any route without one. The interactive docs pages are off (they would be routes
without a declared scope); the OpenAPI document is served by a declared public route.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kcgateway.gateway.services import GatewayServices
from kcgateway.store.types import OrderState
from kcgateway.web import admin, books, errors, futures, margin, routes, spot_more
from kcgateway.web.auth import PUBLIC, services_of

_PUBLIC = [Depends(PUBLIC)]


class Metrics:
    """One registry per app (tests build many apps), with the gateway's series."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kcgateway_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.intents = Gauge(
            "kcgateway_order_intents",
            "Order intents by state",
            ["state"],
            registry=self.registry,
        )


class CountRequests:
    """Pure ASGI middleware counting requests by route template, method and status.

    (Starlette's ``BaseHTTPMiddleware`` costs a task group per request; this costs nothing.)
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; count it when the response is done (or failed)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            path = route.path if isinstance(route, APIRoute) else "unmatched"
            self.metrics.requests.labels(path, scope["method"], status).inc()


def _add_public_routes(app: FastAPI, metrics: Metrics) -> None:
    @app.get("/healthz", dependencies=_PUBLIC, include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", dependencies=_PUBLIC, include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        """The database answers and the reconciler runs."""
        ready = await services_of(request).ready()
        status = "ready" if ready else "not ready"
        return JSONResponse({"status": status}, status_code=200 if ready else 503)

    @app.get("/metrics", dependencies=_PUBLIC, include_in_schema=False)
    async def metrics_route(request: Request) -> Response:
        """Prometheus text format."""
        counts = await services_of(request).intents_by_state()
        for state in OrderState:
            metrics.intents.labels(state.value).set(counts.get(state.value, 0))
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json", dependencies=_PUBLIC, include_in_schema=False)
    async def openapi() -> dict[str, Any]:
        """The OpenAPI document."""
        return app.openapi()


def _mount(app: FastAPI, router: APIRouter) -> None:
    """Copy the router's routes onto the app itself.

    ``app.routes`` is then one flat list of :class:`APIRoute` (each with its scope dependency)
    that a test can enumerate.
    """
    for route in router.routes:
        assert isinstance(route, APIRoute)  # noqa: S101 - our routers hold API routes only
        app.add_api_route(
            route.path,
            route.endpoint,
            methods=sorted(route.methods or ()),
            status_code=route.status_code,
            response_model=route.response_model,
            responses=route.responses,
        )


def create_app(services: GatewayServices) -> FastAPI:
    """The gateway's HTTP API over ``services`` (whose lifecycle the caller owns)."""
    app = FastAPI(
        title="kcgateway",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.services = services
    metrics = Metrics()
    app.state.metrics = metrics
    app.add_middleware(CountRequests, metrics=metrics)
    errors.install(app)
    routers = (
        routes.router, admin.router, spot_more.router, margin.router, futures.router,
        books.router,
    )  # fmt: skip
    for router in routers:
        _mount(app, router)
    _add_public_routes(app, metrics)
    return app
