"""The /v1 management routes: gateway keys and exchange accounts. Each declares its scope."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from kcgateway.errors import AuthError, ExchangeKeyInvalid, NoSuchObject
from kcgateway.gateway.apikeys import parse_scopes
from kcgateway.gateway.lists import PAGE_MAX, KeyState
from kcgateway.web.auth import AccountManager, KeyManager, Reader, services_of
from kcgateway.web.list_params import Cursor, From, To, next_cursor, paged_responses, window
from kcgateway.web.schemas import (
    AUTHED,
    EXCHANGE,
    AccountBody,
    AccountOut,
    CreatedKeyOut,
    KeyBody,
    KeyOut,
    LiftBody,
    RotateBody,
    SuspensionOut,
    account_json,
    error_responses,
    key_json,
    suspension_json,
)

router = APIRouter(prefix="/v1")


#: a response that carries a newly issued key must never be kept by a cache or a proxy
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post(
    "/keys",
    status_code=201,
    response_model=CreatedKeyOut,
    responses=error_responses(*AUTHED, 400),
)
async def create_key(
    body: KeyBody, request: Request, response: Response, principal: KeyManager
) -> dict[str, Any]:
    """Issue a key. The full key is in this answer only; it is never shown again.

    A key can grant only scopes it holds itself (``admin`` may grant any, and only ``admin``
    grants ``admin``), only addresses inside its own IP allow-list, and no later expiry than its
    own (without ``expiresAt`` the new key expires with the caller): 403 naming the field.
    """
    full, view = await services_of(request).keys.create(
        tenant_id=principal.tenant_id,
        owner=body.owner,
        scopes=parse_scopes(body.scopes),
        ip_allowlist=body.ip_allowlist,
        expires_at=body.expires_at,
        actor=principal,
    )
    response.headers.update(NO_STORE)
    return {"key": full.reveal(), **key_json(view)}


@router.get("/keys", response_model=list[KeyOut], responses=paged_responses(*AUTHED))
async def list_keys(  # noqa: PLR0917 - FastAPI passes route parameters positionally
    request: Request,
    response: Response,
    principal: KeyManager,
    state: Annotated[KeyState | None, Query(description="active (not revoked) or revoked")] = None,
    since: From = None,
    until: To = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 100,
) -> list[dict[str, Any]]:
    """The tenant's keys (never their secrets), newest first; paged by ``X-Next-Cursor``."""
    keys = services_of(request).keys
    found = await keys.page(principal.tenant_id, state, window(limit, since, until, cursor))
    return [key_json(v) for v in next_cursor(response, found)]


@router.delete(
    "/keys/{key_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(*AUTHED, 404),
)
async def revoke_key(key_id: str, request: Request, principal: KeyManager) -> Response:
    """Revoke one of the tenant's keys (takes effect on the next request).

    403 for a key holding a scope the caller does not (only ``admin`` revokes ``admin``).
    """
    revoked = await services_of(request).keys.revoke(principal.tenant_id, key_id, actor=principal)
    if not revoked:
        raise NoSuchObject("key")
    return Response(status_code=204)


@router.post(
    "/keys/{key_id}/rotate",
    status_code=201,
    response_model=CreatedKeyOut,
    responses=error_responses(*AUTHED, 404),
)
async def rotate_key(
    key_id: str, body: RotateBody, request: Request, response: Response, principal: KeyManager
) -> dict[str, Any]:
    """A successor key (shown once); the old one stops working after ``overlapSeconds``.

    403 for a key holding a scope the caller does not (only ``admin`` rotates ``admin``) or
    allowing addresses outside the caller's allow-list; the successor expires no later than the
    caller.
    """
    # NoSuchKey is a NoSuchObject: the error table answers 404 without echoing the id
    full, view = await services_of(request).keys.rotate(
        principal.tenant_id,
        key_id,
        overlap=timedelta(seconds=body.overlap_seconds),
        actor=principal,
    )
    response.headers.update(NO_STORE)
    return {"key": full.reveal(), **key_json(view)}


@router.get(
    "/keys/suspensions",
    response_model=list[SuspensionOut],
    responses=error_responses(*AUTHED),
)
async def list_suspensions(request: Request, principal: KeyManager) -> list[dict[str, Any]]:
    """Suspended key ids of this tenant, each from one address, after repeated failures.

    A correct key is never refused because of such a suspension: it records that someone at
    that address presented wrong secrets for the key. Suspended source addresses cover every
    tenant and are listed by the operator (`kcgateway keys suspensions`).
    """
    views = await services_of(request).keys.suspensions(actor=principal)
    return [suspension_json(v) for v in views]


@router.post(
    "/keys/suspensions/lift",
    response_model=SuspensionOut,
    responses=error_responses(*AUTHED, 404),
)
async def lift_suspension(
    body: LiftBody, request: Request, principal: KeyManager
) -> dict[str, Any]:
    """Lift a suspension (``<keyId>@<address>``, as listed); audited with ``reason``.

    404 when this tenant has no such suspension; 403 for an address suspension (the operator's)
    or a key holding a scope the caller does not.
    """
    view = await services_of(request).keys.unsuspend(
        body.suspension, actor=principal, reason=body.reason
    )
    return suspension_json(view)


@router.post(
    "/accounts",
    status_code=201,
    response_model=AccountOut,
    responses=error_responses(*AUTHED, *EXCHANGE, 400, 409),
)
async def connect_account(
    body: AccountBody, request: Request, principal: AccountManager
) -> dict[str, Any]:
    """Connect a KuCoin API key: checked at the exchange first, then sealed in the vault.

    A key the exchange does not accept is the caller's to fix (422 ``exchange_auth_failed``),
    not an exchange failure: the caller typed it.
    """
    try:
        view = await services_of(request).accounts.connect(
            principal.tenant_id, principal.key_id, body.to_request()
        )
    except AuthError as exc:  # the caller typed this key: theirs to fix (422), not the exchange's
        raise ExchangeKeyInvalid(exc.code, exc.message) from None
    return account_json(view)


@router.get("/accounts", response_model=list[AccountOut], responses=paged_responses(*AUTHED))
async def list_accounts(  # noqa: PLR0917 - FastAPI passes route parameters positionally
    request: Request,
    response: Response,
    principal: Reader,
    since: From = None,
    until: To = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 100,
) -> list[dict[str, Any]]:
    """The tenant's connected accounts, newest first (by connection time); paged."""
    accounts = services_of(request).accounts
    found = await accounts.page(principal.tenant_id, window(limit, since, until, cursor))
    return [account_json(v) for v in next_cursor(response, found)]


@router.delete("/accounts/{account_id}", responses=error_responses(*AUTHED, 404, 409))
async def remove_account(
    account_id: str, request: Request, principal: AccountManager, force: bool = False
) -> Any:
    """Remove an account: its sealed credential is deleted, its order history kept.

    409 ``account_busy`` while it has pending or open orders, unless ``?force=true``; 404 for
    an account of another tenant (or one already removed).
    """
    removed = await services_of(request).accounts.remove(
        principal.tenant_id, account_id, principal.key_id, force=force
    )  # NoSuchAccount (404) and AccountBusy (409) are answered by the error table
    return {
        "id": removed.id,
        "name": removed.name,
        "credentialsDeleted": removed.credentials_deleted,
        "liveOrders": removed.live_orders,
    }
