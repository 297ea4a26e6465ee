"""``/v1/broker/subaccounts``: ND-broker sub-accounts as tenant accounts (scope accounts:manage).

``POST`` creates a KuCoin sub-account under the broker's master, creates its API key and seals
it as the tenant's account ``name`` (the secret and passphrase are never shown); ``GET`` lists
the tenant's sub-account-based accounts. Rules live in :mod:`kcgateway.gateway.subaccounts`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kcgateway.errors import NoBrokerMaster
from kcgateway.gateway.subaccounts import DEFAULT_PERMISSIONS, SubAccounts, SubAccountView
from kcgateway.web.auth import AccountManager, services_of
from kcgateway.web.schemas import AUTHED, EXCHANGE, error_responses

router = APIRouter(prefix="/v1/broker", tags=["broker"])
_OUT = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class SubAccountBody(BaseModel):
    """A new sub-account-based account."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="the gateway account name")
    permissions: list[str] = Field(
        default=list(DEFAULT_PERMISSIONS), max_length=4,
        description="General, Spot, Margin, Futures (General always added)",
    )  # fmt: skip


class SubAccountOut(BaseModel):
    """A tenant account living in an ND sub-account."""

    model_config = _OUT

    account_id: str
    name: str
    uid: str = Field(description="the KuCoin sub-account uid")
    kucoin_name: str = Field(description="the sub-account's name at KuCoin")
    created_at: str = Field(description="ISO 8601 UTC")


def _service(request: Request) -> SubAccounts:
    service = services_of(request).subaccounts
    if service is None:
        raise NoBrokerMaster("ND sub-accounts are not available in this gateway")
    return service


def _json(view: SubAccountView) -> dict[str, Any]:
    return SubAccountOut(
        account_id=view.account_id, name=view.name, uid=view.uid, kucoin_name=view.kucoin_name,
        created_at=view.created_at.isoformat(),
    ).model_dump(by_alias=True)  # fmt: skip


@router.post(
    "/subaccounts",
    status_code=201,
    response_model=SubAccountOut,
    responses=error_responses(*AUTHED, *EXCHANGE, 400, 404, 409),
)
async def create(
    request: Request, principal: AccountManager, body: SubAccountBody
) -> dict[str, Any]:
    """Create a KuCoin sub-account and its key, sealed as one of the tenant's accounts."""
    view = await _service(request).create(
        principal.tenant_id, principal.name, body.name, permissions=body.permissions
    )
    return _json(view)


@router.get("/subaccounts", response_model=list[SubAccountOut], responses=error_responses(*AUTHED))
async def list_(request: Request, principal: AccountManager) -> list[dict[str, Any]]:
    """The tenant's sub-account-based accounts."""
    return [_json(v) for v in await _service(request).list(principal.tenant_id)]
