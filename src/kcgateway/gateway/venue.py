"""The exchange as the order use case sees it: one signed client per account, through the vault.

Each connected account has a stored credential; its :class:`~kcgateway.exchange.rest.KuCoinClient`
gets a :class:`BoundSigner` (the vault's Signer fixed to that credential id) instead of
credentials, so no secret is ever held by a client object. Whether an account trades through
the HF or the classic spot endpoints is asked once (``GET /api/v1/hf/accounts/opened``) and
cached for the client's lifetime.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sqlalchemy import select

from kcgateway.errors import AccountNotConnected
from kcgateway.exchange.rest import KuCoinClient
from kcgateway.exchange.services.base import NotFound, Placed
from kcgateway.exchange.services.orders import OrderOptions, SpotOrder
from kcgateway.kucoin import models as m
from kcgateway.store.database import Database
from kcgateway.store.tables import CredentialRow, ExchangeAccount


class CredentialSigner(Protocol):
    """The vault Signer's shape (``kcgateway.vault.signer.Signer`` satisfies it)."""

    async def sign(
        self, credential_id: str, *, method: str, path: str, body: bytes, timestamp_ms: int
    ) -> dict[str, str]:
        """KuCoin headers for one request signed with the stored credential."""
        ...


@dataclass(frozen=True, slots=True)
class BoundSigner:
    """The vault Signer fixed to one credential: the client's ``RequestSigner``.

    ``uid`` is the KuCoin UID of the credential's account when known (``sub_uid``).
    """

    signer: CredentialSigner
    credential_id: str
    uid: str | None = None

    @property
    def budget_key(self) -> str:
        """Whose rate budget this client spends (KuCoin counts private pools per UID).

        ``uid:<KuCoin UID>``, or ``credential:<id>`` when the account's UID is not known.
        """
        return f"uid:{self.uid}" if self.uid else f"credential:{self.credential_id}"

    async def sign(
        self, *, method: str, path: str, body: bytes, timestamp_ms: int
    ) -> dict[str, str]:
        """Delegate to the vault (which decrypts for this one call only)."""
        return await self.signer.sign(
            self.credential_id, method=method, path=path, body=body, timestamp_ms=timestamp_ms
        )


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    """What the gateway needs to know about an order at the exchange."""

    order_id: str
    active: bool
    cancelled: bool
    deal_size: Decimal


@dataclass(frozen=True, slots=True)
class ActiveOrder:
    """An order open at the exchange, as listed (for finding orders nobody asked us for)."""

    order_id: str
    client_oid: str | None
    symbol: str
    side: str
    order_type: str
    price: Decimal
    size: Decimal


def _from_hf(o: m.HfOrder) -> ExchangeOrder:
    return ExchangeOrder(o.id, o.active, o.cancel_exist, o.deal_size)


def _from_classic(o: m.ClassicOrder) -> ExchangeOrder:
    return ExchangeOrder(o.id, o.is_active, o.cancel_exist, o.deal_size)


ClientFactory = Callable[[BoundSigner], KuCoinClient]


class AccountVenue:
    """Spot trading for one account, in its mode (HF or classic)."""

    def __init__(self, client: KuCoinClient) -> None:
        self.client = client
        self._hf: bool | None = None

    async def is_hf(self) -> bool:
        """Asked once, then cached."""
        if self._hf is None:
            self._hf = await self.client.account.is_hf()
        return self._hf

    async def place(self, order: SpotOrder) -> m.OrderPlaced:
        """Place through the family the account uses; OutcomeUnknown when unsure."""
        if await self.is_hf():
            return await self.client.spot.hf.place_order(order)
        return await self.client.spot.classic.place_order(order)

    async def resolve(self, client_oid: str, symbol: str) -> ExchangeOrder | None:
        """The order with this clientOid, or None when the exchange does not know it."""
        if await self.is_hf():
            hf = await self.client.spot.hf.resolve(client_oid, symbol)
            return _from_hf(hf.order) if isinstance(hf, Placed) else None
        classic = await self.client.spot.classic.resolve(client_oid)
        if isinstance(classic, NotFound):
            return None
        return _from_classic(classic.order)

    async def cancel(self, client_oid: str, symbol: str) -> None:
        """Request a cancel by clientOid (confirm with :meth:`resolve`)."""
        if await self.is_hf():
            await self.client.spot.hf.cancel_by_client_oid(client_oid, symbol)
        else:
            await self.client.spot.classic.cancel_by_client_oid(client_oid)

    async def active(self, symbols: list[str]) -> list[ActiveOrder]:
        """Every open order of the account on ``symbols`` (HF lists per symbol)."""
        found: list[m.HfOrder | m.ClassicOrder] = []
        if await self.is_hf():
            for symbol in symbols:
                found += await self.client.spot.hf.active_list(symbol)
        else:
            found = [o async for o in self.client.spot.classic.orders(status="active")]
        return [
            ActiveOrder(o.id, o.client_oid, o.symbol, o.side, o.type, o.price, o.size)
            for o in found
            if o.symbol in symbols or not symbols
        ]

    async def balances(self) -> list[m.Account]:
        """Every balance of the account."""
        return await self.client.account.accounts()


class Venues:
    """One :class:`AccountVenue` per account, created on first use; closes them all."""

    def __init__(self, db: Database, signer: CredentialSigner, factory: ClientFactory) -> None:
        self._db = db
        self._signer = signer
        self._factory = factory
        self._venues: dict[str, AccountVenue] = {}
        self._credentials: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def for_account(self, account_id: str) -> AccountVenue:
        """The venue of an account (AccountNotConnected when it has no credential)."""
        async with self._lock:
            venue = self._venues.get(account_id)
            if venue is None:
                credential_id, uid = await self._credential_of(account_id)
                signer = BoundSigner(self._signer, credential_id, uid)
                venue = AccountVenue(self._factory(signer))
                self._venues[account_id] = venue
                self._credentials[account_id] = credential_id
            return venue

    async def _credential_of(self, account_id: str) -> tuple[str, str | None]:
        """The account's newest credential id and the account's KuCoin UID (None: unknown)."""
        query = (
            select(CredentialRow.id, ExchangeAccount.sub_uid)
            .join(ExchangeAccount, ExchangeAccount.id == CredentialRow.account_id)
            .where(CredentialRow.account_id == account_id)
            .order_by(CredentialRow.created_at.desc())
            .limit(1)
        )
        async with self._db.read() as session:
            row = (await session.execute(query)).first()
        if row is None:
            raise AccountNotConnected(account_id)
        return row[0], row[1]

    async def forget(self, account_id: str) -> str | None:
        """Drop (and close) the account's client: its credential was removed.

        Returns the credential id that client signed with (None when none was cached).
        """
        async with self._lock:
            venue = self._venues.pop(account_id, None)
            credential_id = self._credentials.pop(account_id, None)
        if venue is not None:
            await venue.client.aclose()
        return credential_id

    async def aclose(self) -> None:
        """Close every client."""
        venues, self._venues = list(self._venues.values()), {}
        for venue in venues:
            await venue.client.aclose()


def spot_order(
    *,
    client_oid: str,
    symbol: str,
    side: str,
    order_type: str,
    price: Decimal | None,
    size: Decimal | None,
    funds: Decimal | None,
    time_in_force: str | None,
) -> SpotOrder:
    """The exchange order for an intent (the clientOid is the intent's, never a new one)."""
    return SpotOrder(
        symbol=symbol,
        side=side,
        order_type=order_type,
        price=price,
        size=size,
        funds=funds,
        client_oid=client_oid,
        options=OrderOptions(time_in_force=time_in_force),
    )
