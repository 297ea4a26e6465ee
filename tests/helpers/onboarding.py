"""A browser for "Connect with KuCoin" tests: real HTTP to the simulator, ASGI to the gateway.

The browser keeps cookies and follows redirects across both (httpx drops the gateway key's
Authorization header when a redirect leaves the gateway's origin). Its own request log is
switched off while it runs: the callback URL it fetches holds the code, and a browser's
history is not the gateway's output; the gateway's own logs stay scanned.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from kucoin_sim.rest.oauth_http import OAUTH_KEY, OAuthServer
from tests.helpers import leaksuite
from tests.helpers.gateway import CLIENT_IP, Stack, auth

GATEWAY = "http://gateway"
REDIRECT = f"{GATEWAY}/v1/onboarding/kucoin/callback"
START = f"{GATEWAY}/v1/onboarding/kucoin/start"
TRADING = ["API_COMMON", "API_SPOT", "API_FUTURES", "API_MARGIN"]
_HIDDEN = re.compile(r"<input type='hidden' name='(\w+)' value='([^']*)'>")


def oauth_server(stack: Stack) -> OAuthServer:
    """The simulator's OAuth server (for canaries and inspection)."""
    server: OAuthServer = stack.sim.runners[0].app[OAUTH_KEY]
    return server


async def configure(stack: Stack, *, allow_transfer: bool = False, **spec: Any) -> dict[str, Any]:
    """Register a broker client at the simulator and configure the gateway with it."""
    body = {"redirectUris": [REDIRECT], "name": "kcgw", "tradingIps": [CLIENT_IP], **spec}
    client: dict[str, Any] = await stack.sim_admin("POST", "/_sim/oauth/clients", body)
    leaksuite.register("sim client secret", client["clientSecret"])
    assert stack.services.onboarding is not None
    await stack.services.onboarding.configure(
        client_id=client["clientId"],
        redirect_url=REDIRECT,
        base_url=stack.sim.spot_url,
        allow_transfer=allow_transfer,
        actor="test",
    )
    return client


def register_canaries(stack: Stack) -> None:
    """Every code, token and Fast API key secret the simulator issued, as leak canaries."""
    server = oauth_server(stack)
    for code in server.codes:
        leaksuite.register("oauth code", code)
    for token in server.tokens:
        leaksuite.register("oauth token", token)
    for grant in server.codes.values():
        for token in grant.tokens:  # rotated or revoked ones too
            leaksuite.register("oauth token", token)
    for api_key in server.key_clients:
        key = stack.sim.state.keys[api_key]
        leaksuite.register_exchange_key(api_key, key.secret, key.passphrase)


@contextmanager
def quiet_client_logs() -> Iterator[None]:
    """The test client's request log off (its URLs hold codes); the gateway's stays scanned."""
    quiet = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    before = [log.level for log in quiet]
    for log in quiet:  # their children (httpcore.http11 logs response headers) inherit this
        log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for log, was in zip(quiet, before, strict=True):
            log.setLevel(was)


@asynccontextmanager
async def browser(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping, redirect-following client for the gateway and the simulator."""
    gateway = httpx.ASGITransport(app=stack.app, client=(CLIENT_IP, 40000))
    try:
        with quiet_client_logs():
            async with httpx.AsyncClient(mounts={GATEWAY: gateway}, follow_redirects=True) as c:
                yield c
    finally:
        register_canaries(stack)


async def consent_page(client: httpx.AsyncClient, key: str, account: str) -> httpx.Response:
    """Start at the gateway and land on the simulator's consent page."""
    page = await client.get(START, params={"account": account}, headers=auth(key))
    assert page.status_code == 200 and "Approve" in page.text, page.text
    return page


async def decide(
    client: httpx.AsyncClient,
    page: httpx.Response,
    user: dict[str, Any] | None,
    *,
    groups: list[str] = TRADING,
) -> httpx.Response:
    """Approve as ``user`` (None: Deny) and follow KuCoin's redirect to the callback page."""
    form: dict[str, Any] = dict(_HIDDEN.findall(page.text))
    if user is None:
        form["decision"] = "deny"
    else:
        form.update(
            decision="approve", login=user["apiKey"], password=user["secret"], authGroup=groups
        )
    return await client.post(str(page.url.copy_with(query=None)), data=form)


async def started_state(client: httpx.AsyncClient, key: str, account: str) -> str:
    """Start without following: the signed state in KuCoin's URL (the cookie is kept)."""
    resp = await client.get(
        START, params={"account": account}, headers=auth(key), follow_redirects=False
    )
    assert resp.status_code == 303, resp.text
    return parse_qs(urlsplit(resp.headers["location"]).query)["state"][0]


async def approved_callback(stack: Stack, state: str, uid: str, groups: list[str] = TRADING) -> str:
    """The callback URL KuCoin would send the browser to (the control API's pre-approval)."""
    client_id = next(iter(oauth_server(stack).clients))
    body = {"clientId": client_id, "redirectUri": REDIRECT, "uid": uid, "state": state,
            "authGroups": groups}  # fmt: skip
    return str((await stack.sim_admin("POST", "/_sim/oauth/approve", body))["location"])
