"""Accounts: balances, one account, the API key's own info, HF detection, inner transfers."""

from __future__ import annotations

from decimal import Decimal

from kcgateway.exchange.services.base import Service, check_client_oid, text
from kcgateway.kucoin import models as m


class AccountService(Service):
    """``client.account``: balances and key information (management pool)."""

    async def accounts(
        self, *, currency: str | None = None, account_type: str | None = None
    ) -> list[m.Account]:
        """``GET /api/v1/accounts``; ``account_type`` main, trade, trade_hf or margin."""
        query = {"currency": currency, "type": account_type}
        return m.parse_accounts(await self._client.call("account.list", query=query))

    async def account(self, account_id: str) -> m.AccountBalance:
        """``GET /api/v1/accounts/{accountId}``."""
        data = await self._client.call("account.get", path_params={"accountId": account_id})
        return m.parse_account_balance(data)

    async def api_key_info(self) -> m.ApiKeyInfo:
        """``GET /api/v1/user/api-key``: permissions, IP whitelist, uid of this key."""
        return m.parse_api_key_info(await self._client.call("account.api_key_info"))

    async def is_hf(self) -> bool:
        """``GET /api/v1/hf/accounts/opened``: True for an HF account (trade with spot.hf)."""
        return m.parse_as(bool, await self._client.call("account.hf_opened"))

    async def inner_transfer(
        self,
        currency: str,
        amount: Decimal,
        *,
        from_account: str,
        to_account: str,
        client_oid: str | None = None,
    ) -> m.TransferResult:
        """``POST /api/v2/accounts/inner-transfer`` between this user's accounts.

        Not idempotent: an unknown outcome raises OutcomeUnknown carrying the clientOid.
        """
        oid = check_client_oid(client_oid)
        body = {
            "clientOid": oid,
            "currency": currency,
            "from": from_account,
            "to": to_account,
            "amount": text(amount),
        }
        data = await self._client.call("account.inner_transfer", body=body, client_oid=oid)
        return m.parse_transfer(data)
