"""The web console under ``/ui``: server-rendered pages over the gateway's own services.

:func:`install` adds its routes to the app (one line in ``web/app.py``). Its pages are not in
the OpenAPI document. Every route is declared in :data:`ROUTE_ACCESS` as ``session`` (needs a
console session: the scope checks are the services') or ``public`` (sign-in, static files);
``tests/kcgateway/web/console/test_console_routes.py`` fails the build on an undeclared one.
"""

from __future__ import annotations

from fastapi import FastAPI

from kcgateway.web.console import actions, bots, docs, live, manage, pages, signin, static
from kcgateway.web.console.common import router

__all__ = ["ROUTE_ACCESS", "install"]

#: (method, path) -> who may call it: "public" or "session"
ROUTE_ACCESS = {
    ("GET", "/ui/login"): "public",
    ("POST", "/ui/login"): "public",
    ("GET", "/ui/login/link"): "public",  # a one-time link's token is the credential
    ("GET", "/ui/static/{name}"): "public",
    ("GET", "/ui/"): "public",  # a redirect to /ui
    ("POST", "/ui/logout"): "session",
    ("GET", "/ui"): "session",
    ("GET", "/ui/orders"): "session",
    ("GET", "/ui/orders/table"): "session",
    ("GET", "/ui/orders/{order_id}"): "session",
    ("POST", "/ui/orders"): "session",
    ("POST", "/ui/orders/{order_id}/cancel"): "session",
    ("GET", "/ui/fills"): "session",
    ("GET", "/ui/audit"): "session",
    ("GET", "/ui/audit/verify"): "session",
    ("GET", "/ui/keys"): "session",
    ("POST", "/ui/keys"): "session",
    ("POST", "/ui/keys/{key_id}/revoke"): "session",
    ("POST", "/ui/keys/{key_id}/rotate"): "session",
    ("GET", "/ui/risk"): "session",
    ("POST", "/ui/risk/halt"): "session",
    ("POST", "/ui/risk/resume"): "session",
    ("GET", "/ui/events"): "session",
    ("GET", "/ui/accounts"): "session",
    ("POST", "/ui/accounts"): "session",
    ("POST", "/ui/accounts/kucoin"): "session",
    ("POST", "/ui/accounts/{account_id}/remove"): "session",
    ("GET", "/ui/bots"): "session",
    ("GET", "/ui/bots/{bot}"): "session",
    ("POST", "/ui/bots/{bot}/{action}"): "session",
    ("GET", "/ui/broker"): "session",
    ("GET", "/docs"): "public",
    ("GET", "/docs/static/{name}"): "public",
}
_MODULES = (
    actions,
    bots,
    live,
    manage,
    pages,
    signin,
    static,
)  # each adds its routes to ``router`` on import


def install(app: FastAPI) -> None:
    """Add the console's and the API docs' routes to ``app`` (``app.routes`` stays flat)."""
    app.router.routes.extend(router.routes)
    app.router.routes.extend(docs.router.routes)  # Swagger UI at /docs (public, like the spec)
