"""``/v1/onboarding/kucoin/start`` and ``/callback``: "Connect with KuCoin" over HTTP.

``start`` (scope ``accounts:manage``) answers 303 to KuCoin's consent page and sets the
browser-binding cookie (HttpOnly, SameSite=Lax so it rides KuCoin's top-level redirect back,
Secure when the redirect URL is https, scoped to these two paths, 10 minutes). ``callback`` is
where KuCoin sends the browser: it carries no gateway key (the signed state and the cookie are
its authentication) and answers a plain HTML page, never a code, a token or a secret. The rules
live in :mod:`kcgateway.gateway.onboarding`; this module parses and renders.
"""

from __future__ import annotations

import html
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kcgateway.errors import KcgatewayError, OnboardingNotConfigured, OnboardingRefused
from kcgateway.gateway.onboarding import FastApiOnboarding, Started
from kcgateway.web.auth import PUBLIC, AccountManager, services_of
from kcgateway.web.errors import describe
from kcgateway.web.schemas import AUTHED, error_responses

router = APIRouter(prefix="/v1/onboarding/kucoin", tags=["onboarding"])
COOKIE = "kcgw_onboarding"
COOKIE_PATH = "/v1/onboarding/kucoin"
_CALLBACK_PARAMS = ("code", "state", "error", "error_description")
#: refusals before the attempt is claimed: the browser's cookie stays (its own flow may still
#: finish; a stray or forged URL must not end it)
_UNCLAIMED = frozenset({"state_invalid", "state_expired", "cookie_mismatch", "replayed"})


def _service(request: Request) -> FastApiOnboarding:
    service = services_of(request).onboarding
    if service is None:
        raise OnboardingNotConfigured("Connect with KuCoin is not available in this gateway")
    return service


@router.get(
    "/start",
    status_code=303,
    response_class=RedirectResponse,
    responses={
        303: {"description": "To KuCoin's login-and-consent page; sets the onboarding cookie."},
        **error_responses(*AUTHED, 400, 409),
    },
)
async def start(
    request: Request,
    principal: AccountManager,
    account: Annotated[str, Query(min_length=1, max_length=200)],
) -> RedirectResponse:
    """Start connecting a new account: the user logs in at KuCoin and approves a new key."""
    started = await _service(request).start(principal.tenant_id, principal.name, account)
    response = RedirectResponse(started.location, status_code=303)
    bind_browser(response, started)
    return response


def bind_browser(response: Response, started: Started) -> None:
    """Set the cookie that binds the attempt to this browser (the callback checks it)."""
    response.set_cookie(
        COOKIE, started.cookie, max_age=started.max_age_s, path=COOKIE_PATH,
        secure=started.secure, httponly=True, samesite="lax",
    )  # fmt: skip


def _page(title: str, text: str, status: int, *, forget: bool = True) -> HTMLResponse:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(text)}</p></body></html>"
    )
    response = HTMLResponse(body, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the URL held the code
    if forget:
        response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


@router.get("/callback", dependencies=[Depends(PUBLIC)], include_in_schema=False)
async def callback(request: Request) -> HTMLResponse:
    """KuCoin's redirect back: finish the attempt and show what happened."""
    params = {k: request.query_params.get(k, "") for k in _CALLBACK_PARAMS}
    try:
        view = await _service(request).callback(params, request.cookies.get(COOKIE))
    except KcgatewayError as exc:
        described = describe(exc)
        status, body = described if described is not None else (500, "{}")
        message = str(json.loads(body).get("message", "the connection failed"))
        claimed = not (isinstance(exc, OnboardingRefused) and exc.reason in _UNCLAIMED)
        return _page("The KuCoin account was not connected", message, status, forget=claimed)
    text = (
        f"The KuCoin account {view.name!r} is connected (permissions: "
        f"{', '.join(view.permissions)}). You can close this page."
    )
    return _page("KuCoin account connected", text, 200)
