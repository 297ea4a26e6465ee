"""ND-broker calls (``api-broker.kucoin.com``): sub-accounts, their API keys, transfers, rebates.

Every call here carries the partner headers with ``KC-API-PARTNER-VERIFY: true`` (a bad
partner signature is then refused instead of silently losing the attribution); the client
must be built with ``broker=BrokerCredentials(...)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

from kcgateway.exchange.services.base import Service, check_client_oid, text
from kcgateway.kucoin import models as m
from kcgateway.secret import Secret


class BrokerService(Service):
    """``client.broker``: the ND-broker API."""

    async def info(self, begin: str, end: str, trade_type: str = "1") -> m.BrokerInfo:
        """``GET /api/v1/broker/nd/info`` (dates ``yyyymmdd``; trade type 1 spot, 2 futures)."""
        query = {"begin": begin, "end": end, "tradeType": trade_type}
        return m.parse_broker_info(await self._client.call("broker.nd.info", query=query))

    async def create_subaccount(self, account_name: str) -> m.SubAccount:
        """``POST /api/v1/broker/nd/account`` (name globally unique; not idempotent)."""
        body = {"accountName": account_name}
        data = await self._client.call("broker.nd.create_subaccount", body=body)
        return m.parse_sub_account(data)

    def subaccounts(
        self, *, uid: str | None = None, page_size: int = 100, limit: int | None = None
    ) -> AsyncIterator[m.SubAccount]:
        """``GET /api/v1/broker/nd/account``, page after page."""
        return self._pages(
            "broker.nd.list_subaccounts",
            m.parse_sub_accounts,
            query={"uid": uid},
            page_size=page_size,
            limit=limit,
        )

    async def create_subaccount_key(
        self,
        uid: str,
        *,
        passphrase: Secret,
        permissions: Sequence[str],
        label: str,
        ip_whitelist: Sequence[str] = (),
    ) -> m.CreatedSubAccountKey:
        """``POST /api/v1/broker/nd/account/apikey``: the only time ``secretKey`` is shown.

        The returned ``secret_key`` is a :class:`Secret`; store it in the vault at once.
        """
        body = {
            "uid": uid,
            "passphrase": passphrase.reveal(),
            "ipWhitelist": list(ip_whitelist),
            "permissions": list(permissions),
            "label": label,
        }
        data = await self._client.call("broker.nd.create_subaccount_key", body=body)
        return m.parse_created_sub_account_key(data)

    async def subaccount_keys(self, uid: str, api_key: str | None = None) -> list[m.SubAccountKey]:
        """``GET /api/v1/broker/nd/account/apikey``."""
        query = {"uid": uid, "apiKey": api_key}
        data = await self._client.call("broker.nd.list_subaccount_keys", query=query)
        return m.parse_sub_account_keys(data)

    async def modify_subaccount_key(
        self,
        uid: str,
        api_key: str,
        *,
        permissions: Sequence[str],
        label: str,
        ip_whitelist: Sequence[str] = (),
    ) -> m.SubAccountKey:
        """``POST /api/v1/broker/nd/account/update-apikey`` (sets, so repeating is harmless)."""
        body = {
            "uid": uid,
            "apiKey": api_key,
            "ipWhitelist": list(ip_whitelist),
            "permissions": list(permissions),
            "label": label,
        }
        data = await self._client.call("broker.nd.modify_subaccount_key", body=body)
        return m.parse_sub_account_key(data)

    async def delete_subaccount_key(self, uid: str, api_key: str) -> bool:
        """``DELETE /api/v1/broker/nd/account/apikey?uid=&apiKey=``."""
        query = {"uid": uid, "apiKey": api_key}
        data = await self._client.call("broker.nd.delete_subaccount_key", query=query)
        return m.parse_as(bool, data)

    async def transfer(
        self,
        currency: str,
        amount: Decimal,
        *,
        direction: str,
        special_uid: str,
        account_type: str = "MAIN",
        special_account_type: str = "MAIN",
        client_oid: str | None = None,
    ) -> m.TransferResult:
        """``POST /api/v1/broker/nd/transfer``: ``OUT`` broker -> sub, ``IN`` sub -> broker.

        Not idempotent: an unknown outcome raises OutcomeUnknown carrying the clientOid.
        """
        oid = check_client_oid(client_oid)
        body = {
            "currency": currency,
            "amount": text(amount),
            "clientOid": oid,
            "direction": direction,
            "accountType": account_type,
            "specialUid": special_uid,
            "specialAccountType": special_account_type,
        }
        data = await self._client.call("broker.nd.transfer", body=body, client_oid=oid)
        return m.parse_transfer(data)

    async def transfer_detail(self, order_id: str) -> m.TransferDetail:
        """``GET /api/v3/broker/nd/transfer/detail?orderId=``."""
        data = await self._client.call("broker.nd.transfer_detail", query={"orderId": order_id})
        return m.parse_transfer_detail(data)

    async def rebate_download(self, begin: str, end: str, trade_type: str = "1") -> m.DownloadLink:
        """``GET /api/v1/broker/nd/rebase/download``: a link to the rebate CSV (valid a day)."""
        query = {"begin": begin, "end": end, "tradeType": trade_type}
        data = await self._client.call("broker.nd.rebate_download", query=query)
        return m.parse_download_link(data)
