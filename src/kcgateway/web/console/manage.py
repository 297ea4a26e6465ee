"""The console's Accounts and Broker pages.

Accounts (``accounts:manage``): the tenant's connected KuCoin accounts, connect one by key
(checked at the exchange, then sealed by the same service as ``POST /v1/accounts``), remove one
after a confirmation step. Broker (``admin``): the gateway's ND-broker settings without the
key, and the tenant's sub-accounts.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import Response

from kcgateway.errors import AuthError, ExchangeKeyInvalid, OnboardingNotConfigured
from kcgateway.gateway.accounts import ConnectRequest
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.console.broker_reads import broker_page
from kcgateway.secret import Secret
from kcgateway.web.auth import services_of
from kcgateway.web.console.common import context, handled, posted, reads_of, router, session_of
from kcgateway.web.console.render import page, redirect
from kcgateway.web.onboarding import bind_browser

MAX_FIELD = 200


@router.get("/accounts")
@handled
async def accounts(request: Request) -> Response:
    """The tenant's accounts, the connect form and a remove button each (accounts:manage)."""
    session = await session_of(request)
    session.require(Scope.ACCOUNTS_MANAGE)
    listed = await reads_of(request).accounts(session)
    onboarding = services_of(request).onboarding
    configured = onboarding is not None and await onboarding.settings() is not None
    extra = {"accounts": listed, "onboarding": configured}
    return page("accounts.html", **context(session, "accounts", **extra))


@router.post("/accounts")
@handled
async def connect(request: Request) -> Response:
    """Connect a pasted KuCoin key: checked at the exchange first, then sealed in the vault."""
    session, fields = await posted(request)
    principal = session.require(Scope.ACCOUNTS_MANAGE)
    wanted = ConnectRequest(
        name=fields.get("name", "").strip()[:MAX_FIELD],
        api_key=fields.get("api_key", "").strip()[:MAX_FIELD],
        secret=Secret(fields.get("secret", "").strip()[:MAX_FIELD]),
        passphrase=Secret(fields.get("passphrase", "")[:MAX_FIELD]),
    )
    try:
        await services_of(request).accounts.connect(principal.tenant_id, principal.key_id, wanted)
    except AuthError as exc:  # the user typed this key: theirs to fix, as over /v1
        raise ExchangeKeyInvalid(exc.code, exc.message) from None
    return redirect("/accounts")


@router.post("/accounts/kucoin")
@handled
async def connect_with_kucoin(request: Request) -> Response:
    """Start "Connect with KuCoin" (the OAuth flow): a page linking to KuCoin's consent page.

    A link, not a redirect: the console's CSP allows forms to post to this origin only, and
    a browser applies that to a form's redirect too. The attempt's browser-binding cookie is
    set here, as ``GET /v1/onboarding/kucoin/start`` sets it.
    """
    session, fields = await posted(request)
    principal = session.require(Scope.ACCOUNTS_MANAGE)
    onboarding = services_of(request).onboarding
    if onboarding is None:  # pragma: no cover - main.build_services always wires it
        raise OnboardingNotConfigured("Connect with KuCoin is not available in this gateway")
    name = fields.get("name", "").strip()[:MAX_FIELD]
    started = await onboarding.start(principal.tenant_id, principal.name, name)
    extra = {"location": started.location, "name": name}
    response = page("kucoin_consent.html", **context(session, "accounts", **extra))
    bind_browser(response, started)
    return response


@router.post("/accounts/{account_id}/remove")
@handled
async def remove(request: Request, account_id: str) -> Response:
    """Remove an account in two steps: a confirmation page, then the removal itself."""
    session, fields = await posted(request)
    principal = session.require(Scope.ACCOUNTS_MANAGE)
    account_id = account_id[:64]
    if fields.get("confirm") != "yes":
        found = {a.id: a for a in await reads_of(request).accounts(session)}
        extra = {"account": found.get(account_id), "account_id": account_id}
        return page("confirm_remove.html", **context(session, "accounts", **extra))
    await services_of(request).accounts.remove(
        principal.tenant_id, account_id, principal.key_id, force=fields.get("force") == "yes"
    )
    return redirect("/accounts")


@router.get("/broker")
@handled
async def broker(request: Request) -> Response:
    """The ND-broker settings (never the key) and the tenant's sub-accounts (admin)."""
    session = await session_of(request)
    today = datetime.now(UTC).date()  # the rebate file's days are UTC days
    found = await broker_page(services_of(request), session, today)
    return page("broker.html", **context(session, "broker", found=found))
