"""Read-only account data per market: fills, margin and futures balances, positions, contracts.

Every account read first checks that the account is the tenant's (another tenant's account
id or name is :class:`~kcgateway.errors.NoSuchObject`, a 404), then asks the exchange
through the account's signed client.
"""

from __future__ import annotations

from datetime import timedelta

from kcgateway.exchange.rest import KuCoinClient
from kcgateway.gateway.orders.lifecycle import owned_account
from kcgateway.gateway.orders.markets import trade_type
from kcgateway.gateway.paging import Window, in_window, to_millis
from kcgateway.gateway.venue import AccountVenue, Venues
from kcgateway.kucoin import models as m
from kcgateway.store.database import Database

MAX_ROWS = 500
#: KuCoin answers spot fills for a window of at most 7 days (PROTOCOL.md, fills)
SPOT_FILLS_SPAN = timedelta(days=7)


def _checked(window: Window | None, limit: int, span: timedelta | None = None) -> Window:
    """The fills window (InvalidQuery naming the parameter for a bad one); none: everything."""
    if window is None:
        return Window(limit=min(limit, MAX_ROWS))
    window.check_exchange(MAX_ROWS, span)
    return window


class AccountReads:
    """What the read routes of the margin and futures API (and spot fills) ask the exchange."""

    def __init__(self, db: Database, venues: Venues, market: KuCoinClient) -> None:
        self._db = db
        self._venues = venues
        self._market = market

    async def _venue(self, tenant_id: str, account: str) -> AccountVenue:
        async with self._db.read() as session:
            row = await owned_account(session, tenant_id, account)
        return await self._venues.for_account(row.id)

    async def spot_fills(
        self,
        tenant_id: str,
        account: str,
        symbol: str,
        *,
        limit: int = 100,
        window: Window | None = None,
    ) -> list[m.Fill]:
        """The account's spot fills on ``symbol``, newest first (HF or classic by its mode).

        ``window``'s from/to go to the exchange (``startAt``/``endAt``, at most 7 days apart).
        """  # fmt: skip
        window = _checked(window, limit, SPOT_FILLS_SPAN)
        venue = await self._venue(tenant_id, account)
        limit = min(limit, MAX_ROWS)
        start, end = to_millis(window.since), to_millis(window.until)
        if await venue.is_hf():
            source = venue.client.spot.hf.fills(symbol, start_ms=start, end_ms=end, limit=limit)
        else:
            source = venue.client.spot.classic.fills(
                symbol=symbol, start_ms=start, end_ms=end, limit=limit
            )
        return [f async for f in source if in_window(f.created_at, window)]

    async def margin_fills(
        self,
        tenant_id: str,
        account: str,
        symbol: str,
        margin_mode: str,
        *,
        limit: int = 100,
        window: Window | None = None,
    ) -> list[m.Fill]:
        """The account's margin fills on ``symbol`` (cross or isolated), newest first.

        ``window``'s from/to select among the newest ``limit`` fills the exchange returns.
        """  # fmt: skip
        window = _checked(window, limit)
        venue = await self._venue(tenant_id, account)
        source = venue.client.margin.fills(
            symbol, trade_type=trade_type(margin_mode), limit=min(limit, MAX_ROWS)
        )
        return [f async for f in source if in_window(f.created_at, window)]

    async def margin_balances(self, tenant_id: str, account: str) -> list[m.MarginAsset]:
        """The cross-margin account's currencies."""
        venue = await self._venue(tenant_id, account)
        return list((await venue.client.margin.cross_account()).accounts)

    async def futures_fills(
        self,
        tenant_id: str,
        account: str,
        symbol: str | None,
        *,
        limit: int = 100,
        window: Window | None = None,
    ) -> list[m.FuturesFill]:
        """The account's futures fills (on ``symbol`` if given), newest first.

        ``window``'s from/to select among the newest ``limit`` fills the exchange returns.
        """  # fmt: skip
        window = _checked(window, limit)
        venue = await self._venue(tenant_id, account)
        source = venue.client.futures.fills(symbol=symbol, limit=min(limit, MAX_ROWS))
        return [f async for f in source if in_window(f.created_at, window)]

    async def positions(self, tenant_id: str, account: str) -> list[m.Position]:
        """The account's futures positions."""
        venue = await self._venue(tenant_id, account)
        return await venue.client.futures.positions()

    async def futures_overview(
        self, tenant_id: str, account: str, currency: str
    ) -> m.AccountOverview:
        """The futures account in one settlement currency."""
        venue = await self._venue(tenant_id, account)
        return await venue.client.futures.account_overview(currency)

    async def contracts(self) -> list[m.FuturesContract]:
        """The exchange's active futures contracts (public data)."""
        return await self._market.futures.contracts()
