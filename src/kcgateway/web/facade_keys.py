"""``POST /v1/keys/{key_id}/kucoin-credentials``: KuCoin-form credentials for a gateway key.

The answer shows the secret and passphrase once (like a new gateway key); the gateway keeps
them sealed and only its facade verifier opens them. The rules (who may issue, which account,
replacing earlier ones) are :class:`~kcgateway.gateway.facade.credentials.FacadeCredentials`'s.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from kcgateway.errors import ConfigError
from kcgateway.web.auth import KeyManager, services_of
from kcgateway.web.schemas import AUTHED, error_responses

router = APIRouter(prefix="/v1")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class FacadeCredentialsBody(BaseModel):
    """Which exchange account the credentials trade (one account per credential)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    account: str = Field(min_length=1, max_length=200, description="account id or name")


class FacadeCredentialsOut(BaseModel):
    """KuCoin-form credentials: ``secret`` and ``passphrase`` are shown in this answer only."""

    model_config = ConfigDict(populate_by_name=True)

    api_key: str = Field(alias="apiKey")
    secret: str = Field(description="shown once: store it now")
    passphrase: str = Field(description="shown once: store it now")
    key_version: str = Field(alias="keyVersion", description='send KC-API-KEY-VERSION "2" or "3"')
    key_id: str = Field(alias="keyId")
    account_id: str = Field(alias="accountId")


@router.post(
    "/keys/{key_id}/kucoin-credentials",
    status_code=201,
    response_model=FacadeCredentialsOut,
    responses=error_responses(*AUTHED, 400, 404),
)
async def issue_kucoin_credentials(
    key_id: str,
    body: FacadeCredentialsBody,
    request: Request,
    response: Response,
    principal: KeyManager,
) -> dict[str, Any]:
    """Issue an apiKey, secret and passphrase that speak KuCoin's API to the facade.

    They carry the gateway key's scopes, IP allow-list and expiry, trade only ``account``, and
    replace the key's earlier KuCoin credentials; revoking or rotating the key revokes them.
    403 when the caller may not manage the key (keys:manage and every scope of the key).
    """
    facade = services_of(request).facade
    if facade is None:
        raise ConfigError("the KuCoin facade is not configured on this gateway")
    made, view = await facade.credentials.issue(
        principal.tenant_id, key_id, body.account, actor=principal
    )
    response.headers.update(NO_STORE)
    return {
        "apiKey": view.api_key,
        "secret": made.secret.reveal(),
        "passphrase": made.passphrase.reveal(),
        "keyVersion": "3",
        "keyId": view.key_id,
        "accountId": view.account_id,
    }
