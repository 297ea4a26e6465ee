"""Sign-in and sign-out: a gateway key, POSTed once, becomes a server-side session.

The sign-in form is protected against login CSRF by a double-submit value (an HttpOnly,
SameSite=Strict cookie and the same value in the form). The key is checked by the key
service (its backoff and suspensions apply); every refusal says the same thing. A one-time
link printed by ``kcgateway console login`` opens a session for its key without pasting it.
"""

from __future__ import annotations

import hmac

from fastapi import Request
from fastapi.responses import Response

from kcgateway.errors import Unauthenticated
from kcgateway.web.console.common import handled, ip_of, posted, router, sessions_of
from kcgateway.web.console.render import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    clear_cookie,
    form,
    login_nonce,
    page,
    redirect,
    set_cookie,
)

_REFUSED = "that key was not accepted: check it, or ask for a new one (`kcgateway keys create`)"
_LINK_REFUSED = (
    "that sign-in link was not accepted: it was already used, is older than 5 minutes, or its "
    "key no longer works; run `kcgateway console login --key KEY_ID` again, or paste a key"
)
_STALE = "the sign-in form expired: it was opened in another session; try again"


def _login_page(request: Request, status: int = 200, message: str = "") -> Response:
    nonce = login_nonce()
    response = page("login.html", status, nonce=nonce, message=message, signed_in=False)
    set_cookie(response, request, LOGIN_COOKIE, nonce)
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    """The sign-in page (a fresh double-submit value each time)."""
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    """Exchange the posted key for a session cookie; back to the form with one message if not."""
    fields = await form(request)
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    nonce = fields.get("nonce", "")
    if not cookie or not hmac.compare_digest(cookie.encode(), nonce.encode()):
        return _login_page(request, 403, _STALE)
    try:
        token, _ = await sessions_of(request).sign_in(fields.get("key", ""), ip_of(request))
    except Unauthenticated:
        return _login_page(request, 401, _REFUSED)
    response = redirect("")
    set_cookie(response, request, SESSION_COOKIE, token.reveal())
    clear_cookie(response, request, LOGIN_COOKIE)
    return response


@router.get("/login/link")
async def login_link(request: Request) -> Response:
    """A one-time link (``kcgateway console login``): spend its token, open a session.

    The token is spent before anything else, so the URL (in a history or a log line) is worth
    nothing afterwards; the answer is a redirect, and no page the token reached sends a
    Referer.
    """
    token = request.query_params.get("t", "")
    try:
        secret, _ = await sessions_of(request).redeem_link(token, ip_of(request))
    except Unauthenticated:
        return _login_page(request, 401, _LINK_REFUSED)
    response = redirect("")
    set_cookie(response, request, SESSION_COOKIE, secret.reveal())
    return response


@router.post("/logout")
@handled
async def logout(request: Request) -> Response:
    """Revoke the session in the database and forget the cookie."""
    await posted(request)  # the CSRF token: no other page can sign a user out
    await sessions_of(request).sign_out(request.cookies.get(SESSION_COOKIE))
    response = redirect("/login")
    clear_cookie(response, request, SESSION_COOKIE)
    return response
