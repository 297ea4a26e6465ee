"""Accounts, API-key info, ND-broker sub-accounts and keys, transfers, WebSocket tokens.

Secrets that KuCoin returns (a new sub-account key's ``secretKey``, a bullet ``token``) are
decoded straight into :class:`~kcgateway.secret.Secret`, so no repr or log line shows them.
"""

from __future__ import annotations

from decimal import Decimal

from kcgateway.kucoin.models._base import Model, Paginated, parse_as
from kcgateway.secret import Secret


class Account(Model, frozen=True, kw_only=True):
    """One item of ``GET /api/v1/accounts``.

    ``{"id":"548674591753","currency":"USDT","type":"trade","balance":"26.66759503",
    "available":"26.66759503","holds":"0"}``
    """

    id: str
    currency: str
    type: str
    balance: Decimal
    available: Decimal
    holds: Decimal


class AccountBalance(Model, frozen=True, kw_only=True):
    """``GET /api/v1/accounts/{accountId}``.

    ``{"currency":"USDT","balance":"26.66759503","available":"26.66759503","holds":"0"}``
    """

    currency: str
    balance: Decimal
    available: Decimal
    holds: Decimal


class ApiKeyInfo(Model, frozen=True, kw_only=True):
    """``GET /api/v1/user/api-key``: what the calling key may do.

    ``{"remark":"account1","apiKey":"<api key>","apiVersion":3,
    "permission":"General,Futures,Spot,Earn,InnerTransfer,Transfer,Margin",
    "ipWhitelist":"203.**.154,103.**.34","createdAt":1728443843000,"uid":165111215,
    "isMaster":true}``
    """

    remark: str | None = None
    api_key: str
    api_version: int
    permission: str
    ip_whitelist: str | None = None
    created_at: int
    uid: int
    is_master: bool = False

    @property
    def permissions(self) -> frozenset[str]:
        """The permission names, e.g. ``{"General", "Spot"}``."""
        return frozenset(p.strip() for p in self.permission.split(",") if p.strip())


class BrokerInfo(Model, frozen=True, kw_only=True):
    """``GET /api/v1/broker/nd/info``: ``{"accountSize":0,"maxAccountSize":null,"level":0}``."""

    account_size: int
    max_account_size: int | None = None
    level: int


class SubAccount(Model, frozen=True, kw_only=True):
    """An ND-broker sub-account (create response and list items).

    ``{"accountName":"Account15","uid":"226383154","createdAt":1729819381908,"level":0}``
    """

    account_name: str
    uid: str
    created_at: int
    level: int = 0


class SubAccountKey(Model, frozen=True, kw_only=True):
    """An ND-broker sub-account API key as listed (``GET /api/v1/broker/nd/account/apikey``).

    ``{"uid":"226383154","label":"This is remarks","apiKey":"<api key>",
    "apiVersion":3,"permissions":["General","Spot"],"ipWhitelist":["127.**.1","203.**.1"],
    "createdAt":1729821494000}``
    """

    uid: str
    label: str = ""
    api_key: str
    api_version: int
    permissions: list[str]
    ip_whitelist: list[str]
    created_at: int


class CreatedSubAccountKey(SubAccountKey, frozen=True, kw_only=True):
    """The response to creating a sub-account key: the only time KuCoin shows ``secretKey``."""

    secret_key: Secret


class TransferResult(Model, frozen=True, kw_only=True):
    """``POST /api/v1/broker/nd/transfer`` (and inner transfers): ``{"orderId":"..."}``."""

    order_id: str


class TransferDetail(Model, frozen=True, kw_only=True):
    """``GET /api/v3/broker/nd/transfer/detail``.

    ``{"orderId":"id0003","currency":"USDT","amount":"1","fromUid":165111215,
    "fromAccountType":"MAIN","fromAccountTag":"DEFAULT","toUid":226383154,
    "toAccountType":"MAIN","toAccountTag":"DEFAULT","status":"SUCCESS","reason":null,
    "createdAt":1729842689000}``
    """

    order_id: str
    currency: str
    amount: Decimal
    from_uid: int
    from_account_type: str
    from_account_tag: str | None = None
    to_uid: int
    to_account_type: str
    to_account_tag: str | None = None
    status: str
    reason: str | None = None
    created_at: int


class DownloadLink(Model, frozen=True, kw_only=True):
    """``GET /api/v1/broker/nd/rebase/download``: ``{"url":"https://..."}`` (valid one day)."""

    url: str


class InstanceServer(Model, frozen=True, kw_only=True):
    """One WebSocket server of a bullet response."""

    endpoint: str
    encrypt: bool = True
    protocol: str = "websocket"
    ping_interval: int
    ping_timeout: int


class BulletToken(Model, frozen=True, kw_only=True):
    """``POST /api/v1/bullet-public`` / ``bullet-private`` (spot and futures).

    ``{"token":"<token>",
    "instanceServers":[{"endpoint":"wss://ws-api-spot.kucoin.com/","encrypt":true,
    "protocol":"websocket","pingInterval":18000,"pingTimeout":10000}]}``
    """

    token: Secret
    instance_servers: list[InstanceServer]


def parse_accounts(data: object) -> list[Account]:
    """``GET /api/v1/accounts``."""
    return parse_as(list[Account], data)


def parse_account_balance(data: object) -> AccountBalance:
    """``GET /api/v1/accounts/{accountId}``."""
    return parse_as(AccountBalance, data)


def parse_api_key_info(data: object) -> ApiKeyInfo:
    """``GET /api/v1/user/api-key``."""
    return parse_as(ApiKeyInfo, data)


def parse_broker_info(data: object) -> BrokerInfo:
    """``GET /api/v1/broker/nd/info``."""
    return parse_as(BrokerInfo, data)


def parse_sub_account(data: object) -> SubAccount:
    """``POST /api/v1/broker/nd/account``."""
    return parse_as(SubAccount, data)


def parse_sub_accounts(data: object) -> Paginated[SubAccount]:
    """``GET /api/v1/broker/nd/account``."""
    return parse_as(Paginated[SubAccount], data)


def parse_created_sub_account_key(data: object) -> CreatedSubAccountKey:
    """``POST /api/v1/broker/nd/account/apikey``."""
    return parse_as(CreatedSubAccountKey, data)


def parse_sub_account_key(data: object) -> SubAccountKey:
    """``POST /api/v1/broker/nd/account/update-apikey``."""
    return parse_as(SubAccountKey, data)


def parse_sub_account_keys(data: object) -> list[SubAccountKey]:
    """``GET /api/v1/broker/nd/account/apikey``."""
    return parse_as(list[SubAccountKey], data)


def parse_transfer(data: object) -> TransferResult:
    """``POST /api/v1/broker/nd/transfer`` and ``POST /api/v2/accounts/inner-transfer``."""
    return parse_as(TransferResult, data)


def parse_transfer_detail(data: object) -> TransferDetail:
    """``GET /api/v3/broker/nd/transfer/detail``."""
    return parse_as(TransferDetail, data)


def parse_download_link(data: object) -> DownloadLink:
    """``GET /api/v1/broker/nd/rebase/download``."""
    return parse_as(DownloadLink, data)


def parse_bullet(data: object) -> BulletToken:
    """Bullet (WebSocket token) responses."""
    return parse_as(BulletToken, data)
