"""The Fast API OAuth routes on the spot host (KuCoin serves them on www.kucoin.com) [?].

Public (PROTOCOL.md section 8)::

    GET  /oauth?response_type=code&client_id&redirect_uri&scope=OAUTH_CREATE_API&state
         the login-and-consent page (HTML)
    POST /oauth                     the page's form: log in, choose groups, Approve or Deny
    GET  /_oauth/access-token?grant_type=authorization_code&code&redirect_uri&client_id
    POST /_oauth/refresh-token      form or query: grant_type=refresh_token, refresh_token
    POST /_oauth/resource/ucenter/outer/api-key/add   Authorization: bearer <access token>

Control (loopback only, like every ``/_sim/`` route)::

    POST /_sim/oauth/clients   {clientId?, name?, redirectUris, requestIps?, tradingIps?}
    POST /_sim/oauth/approve   {clientId, redirectUri, uid, authGroups?, state?} -> {code, location}
    GET  /_sim/oauth/state     counts: clients, outstanding codes, live tokens, Fast API keys

The simulated login is the account's own credentials: one of its API keys and that key's secret
[?] (KuCoin asks for the user's password and 2FA). Fault rules (``/_sim/faults``) apply to these
paths as to the API: latency, 5xx, dropped requests and lost responses.
"""

from __future__ import annotations

import asyncio
import hmac
import html
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import msgspec
from aiohttp import web

from kucoin_sim.accounts import SpecError
from kucoin_sim.admin import is_loopback
from kucoin_sim.faults import FaultKind
from kucoin_sim.rest.oauth import (
    AUTH_GROUPS,
    DEFAULT_GROUPS,
    SCOPE,
    Client,
    KeyCreationError,
    OAuthError,
    OAuthServer,
    parse_groups,
)
from kucoin_sim.rest.routing import parse_object
from kucoin_sim.state import SimState

OAUTH_KEY = web.AppKey("oauth", OAuthServer)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(data), status=status, content_type="application/json"
    )


def _oauth_error(exc: OAuthError) -> web.Response:
    return _json({"error": exc.error, "error_description": exc.description}, exc.status)


def _envelope(
    data: object, code: str = "200", msg: str = "success", status: int = 200
) -> web.Response:
    ok = code == "200"
    body = {"success": ok, "code": code, "msg": msg, "retry": False, "data": data}
    return _json(body, status)


def _with_query(uri: str, params: Mapping[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _page(body: str, status: int = 200) -> web.Response:
    doc = (
        "<!doctype html><html><head><meta charset='utf-8'><title>KuCoin (simulator)</title>"
        f"</head><body>{body}</body></html>"
    )
    return web.Response(text=doc, status=status, content_type="text/html")


def _consent(client: Client, params: Mapping[str, str], error: str = "") -> str:
    hidden = "".join(
        f"<input type='hidden' name='{k}' value='{html.escape(params.get(k, ''), quote=True)}'>"
        for k in ("client_id", "redirect_uri", "state", "scope")
    )
    boxes = "".join(
        f"<label><input type='checkbox' name='authGroup' value='{g}' checked> {g}</label><br>"
        for g in DEFAULT_GROUPS
    )
    warn = f"<p role='alert'>{html.escape(error)}</p>" if error else ""
    return (
        f"<h1>Log in to KuCoin (simulator)</h1><p>{html.escape(client.name)} asks to create an "
        f"API key for your account.</p>{warn}<form method='post' action='/oauth'>{hidden}"
        "<label>API key <input name='login'></label><br>"
        "<label>Secret <input name='password' type='password'></label><br>"
        f"<fieldset><legend>Permissions</legend>{boxes}</fieldset>"
        "<button name='decision' value='approve'>Approve</button> "
        "<button name='decision' value='deny'>Deny</button></form>"
    )


def _login(state: SimState, login: str, password: str) -> str | None:
    """The uid whose key ``login`` has secret ``password`` [?], else None."""
    key = state.keys.get(login)
    if key is None or not hmac.compare_digest(key.secret.encode(), password.encode()):
        return None
    return key.uid


class OAuthRoutes:
    """The handlers, over one simulator state and its OAuth server."""

    def __init__(self, state: SimState, server: OAuthServer) -> None:
        self.state = state
        self.server = server

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        """``GET /oauth``: the consent page, or a redirect with an error."""
        params = dict(request.query)
        try:
            client = self.server.client_for(
                params.get("client_id", ""), params.get("redirect_uri", "")
            )
        except OAuthError as exc:  # never redirect to an unchecked URI
            return _page(f"<h1>Invalid request</h1><p>{html.escape(exc.description)}</p>", 400)
        redirect = params["redirect_uri"]
        if params.get("response_type") != "code" or params.get("scope") != SCOPE:
            error = "invalid_scope" if params.get("scope") != SCOPE else "invalid_request"
            answer = {"error": error, "state": params.get("state", "")}
            raise web.HTTPFound(_with_query(redirect, answer))
        return _page(_consent(client, params))

    async def decide(self, request: web.Request) -> web.StreamResponse:
        """``POST /oauth``: Deny, or log in and Approve (a code in the redirect)."""
        form = await request.post()
        params = {k: str(v) for k, v in form.items() if k != "authGroup"}
        try:
            client = self.server.client_for(
                params.get("client_id", ""), params.get("redirect_uri", "")
            )
        except OAuthError as exc:
            return _page(f"<h1>Invalid request</h1><p>{html.escape(exc.description)}</p>", 400)
        redirect, state = params["redirect_uri"], params.get("state", "")
        if params.get("decision") != "approve":
            denied = {"error": "access_denied", "error_description": "denied", "state": state}
            raise web.HTTPFound(_with_query(redirect, denied))
        uid = _login(self.state, params.get("login", ""), params.get("password", ""))
        if uid is None:
            return _page(_consent(client, params, "Wrong API key or secret."), 401)
        groups = parse_groups([str(g) for g in form.getall("authGroup", [])])
        code = self.server.authorize(client, uid, redirect, groups, self.state.now_ms())
        raise web.HTTPFound(_with_query(redirect, {"code": code, "state": state}))

    async def access_token(self, request: web.Request) -> web.StreamResponse:
        """``GET /_oauth/access-token``: the code for a token pair (OAuth error JSON on failure)."""
        params = dict(request.query)
        try:
            self._caller_allowed(request, self.server.clients.get(params.get("client_id", "")))
            return _json(self.server.exchange(params, self.state.now_ms()))
        except OAuthError as exc:
            return _oauth_error(exc)

    async def refresh_token(self, request: web.Request) -> web.StreamResponse:
        """``POST /_oauth/refresh-token``: rotate the pair (form body or query) [?]."""
        body = (await request.read()).decode("utf-8", "replace")
        params = {**dict(request.query), **dict(parse_qsl(body))}
        try:
            return _json(self.server.refresh(params, self.state.now_ms()))
        except OAuthError as exc:
            return _oauth_error(exc)

    async def add_key(self, request: web.Request) -> web.StreamResponse:
        """``POST .../api-key/add``: a key for the token's user (``apiName`` optional [?])."""
        now = self.state.now_ms()
        try:
            grant = self.server.bearer(request.headers.get("Authorization"), now)
            self._caller_allowed(request, self.server.clients[grant.client_id])
            raw = await request.read()
            body = parse_object(raw) if raw.strip() else {}
            name = body.get("apiName")
            if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 32):
                raise KeyCreationError("400100", "apiName must be 1 to 32 characters")
            return _envelope(self.server.create_key(grant, name, now))
        except OAuthError as exc:
            return _envelope(None, "403", exc.description, exc.status)
        except KeyCreationError as exc:
            return _envelope(None, exc.code, exc.msg, exc.status)

    def _caller_allowed(self, request: web.Request, client: Client | None) -> None:
        """The broker's registered request IPs, when it registered any [?]."""
        if client is not None and client.request_ips and request.remote not in client.request_ips:
            raise OAuthError("access_denied", "the caller's IP is not registered", 403)


def _faulted(state: SimState, handler: Handler) -> Handler:
    """Apply the fault rules to an OAuth route (as the dispatcher does for the API)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        fired = state.faults.fire(request.method, request.path, state.rng)
        kinds = {rule.kind for rule in fired}
        for rule in fired:
            if rule.kind is FaultKind.LATENCY:
                await request.read()
                await asyncio.sleep(rule.latency_ms / 1000)
        if kinds & {FaultKind.DROP_REQUEST, FaultKind.RESET} and request.transport is not None:
            request.transport.abort()
            return _json({"error": "dropped"}, 500)
        for rule in fired:
            if rule.kind in (FaultKind.ERROR_5XX, FaultKind.RATE_LIMIT):
                status = rule.status if rule.kind is FaultKind.ERROR_5XX else 429
                return _envelope(None, str(status * 1000), "injected", status)
        response = await handler(request)
        if FaultKind.LOSE_RESPONSE in kinds and request.transport is not None:
            request.transport.abort()
        return response

    return handle


def _control(handler: Callable[[Mapping[str, Any]], Any]) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if not is_loopback(request.remote):
            return _json({"code": "403000", "msg": "loopback callers only"}, 403)
        try:
            raw = await request.read()
            return _json(handler(parse_object(raw) if raw.strip() else {}))
        except (SpecError, OAuthError) as exc:
            msg = exc.description if isinstance(exc, OAuthError) else str(exc)
            return _json({"code": "400100", "msg": msg}, 400)

    return handle


def _approve(server: OAuthServer, body: Mapping[str, Any]) -> dict[str, Any]:
    """Pre-approve as if the user had clicked Approve: answers the code and the redirect."""
    client = server.client_for(str(body.get("clientId", "")), str(body.get("redirectUri", "")))
    uid = body.get("uid")
    if not isinstance(uid, str) or uid not in server.state.users:
        raise SpecError("uid must name an existing account")
    groups = parse_groups(body.get("authGroups"))
    redirect = str(body["redirectUri"])
    code = server.authorize(client, uid, redirect, groups, server.state.now_ms())
    location = _with_query(redirect, {"code": code, "state": str(body.get("state", ""))})
    return {"code": code, "location": location}


def _counts(server: OAuthServer) -> dict[str, Any]:
    kinds = [t.kind for t in server.tokens.values()]
    return {
        "clients": sorted(server.clients),
        "codes": sum(not g.redeemed for g in server.codes.values()),
        "accessTokens": kinds.count("access"),
        "refreshTokens": kinds.count("refresh"),
        "fastApiKeys": len(server.key_clients),
        "groups": sorted(AUTH_GROUPS),
    }


def register(app: web.Application, state: SimState) -> OAuthServer:
    """Add the OAuth and control routes to the spot application (before its catch-all)."""
    server = OAuthServer(state)
    app[OAUTH_KEY] = server
    routes = OAuthRoutes(state, server)
    public: tuple[tuple[str, str, Handler], ...] = (
        ("GET", "/oauth", routes.login_page),
        ("POST", "/oauth", routes.decide),
        ("GET", "/_oauth/access-token", routes.access_token),
        ("POST", "/_oauth/refresh-token", routes.refresh_token),
        ("POST", "/_oauth/resource/ucenter/outer/api-key/add", routes.add_key),
    )
    for method, path, handler in public:
        app.router.add_route(method, path, _faulted(state, handler))
    app.router.add_route("POST", "/_sim/oauth/clients", _control(server.register))
    app.router.add_route("POST", "/_sim/oauth/approve", _control(lambda b: _approve(server, b)))
    app.router.add_route("GET", "/_sim/oauth/state", _control(lambda b: _counts(server)))
    return server
