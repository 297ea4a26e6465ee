"""The console's Broker page: the ND-broker settings (never the key), sub-accounts, commission.

Admin only. The broker settings are the operator's, gateway-wide; the sub-accounts and the
commission are the session's tenant's: the commission by day is read from KuCoin's rebate
file (``GET /api/v1/broker/nd/rebase/download`` with the master account, then the CSV it
links to) and only the rows of the tenant's own sub-accounts are summed, so no tenant sees
another's business.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

import aiohttp

from kcgateway.errors import KcgatewayError
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.console.sessions import ConsoleSession
from kcgateway.gateway.services import GatewayServices
from kcgateway.gateway.subaccounts import SubAccountView
from kcgateway.store.broker_store import BrokerPublic, SqlBrokerStore

log = logging.getLogger("kcgateway.gateway.console")
#: the days of commission shown (today included)
DAYS = 7
#: the largest rebate file read (a week of a broker's sub-accounts is far smaller)
MAX_FILE = 4 * 1024 * 1024
FETCH_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class CommissionDay:
    """One day of the tenant's sub-accounts' trading: volume and the broker's commission."""

    day: str  # YYYYMMDD, as KuCoin's file writes it
    volume: Decimal
    commission: Decimal


@dataclass(frozen=True, slots=True)
class BrokerPage:
    """What the Broker page shows: ``settings`` None when no broker is configured.

    ``commission_problem`` says why the commission could not be read (no master account, the
    exchange refused or did not answer); the rest of the page still shows.
    """

    settings: BrokerPublic | None
    subaccounts: Sequence[SubAccountView]
    commission: Sequence[CommissionDay] = field(default_factory=tuple)
    commission_problem: str | None = None


def commission_by_day(text: str, uids: Iterable[str]) -> list[CommissionDay]:
    """The rebate CSV's rows of ``uids``, summed per day, oldest first. Pure.

    A row that cannot be read (a missing or non-decimal amount) is skipped, not guessed.
    """
    wanted = set(uids)
    days: dict[str, tuple[Decimal, Decimal]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("UID") not in wanted:
            continue
        try:
            volume = Decimal(row.get("Volume") or "")
            commission = Decimal(row.get("BrokerCommission") or "")
        except InvalidOperation:
            continue
        day = (row.get("Date") or "").strip()
        before = days.get(day, (Decimal(0), Decimal(0)))
        days[day] = (before[0] + volume, before[1] + commission)
    return [CommissionDay(d, v, c) for d, (v, c) in sorted(days.items())]


async def _rebate_file(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise ValueError("the rebate link is not an HTTP URL")
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as resp:
        resp.raise_for_status()
        body = await resp.content.read(MAX_FILE + 1)
    if len(body) > MAX_FILE:
        raise ValueError("the rebate file is larger than expected")
    return body.decode("utf-8-sig")


async def _commission(
    services: GatewayServices, subs: Sequence[SubAccountView], today: date
) -> tuple[list[CommissionDay], str | None]:
    if services.subaccounts is None or not subs:
        return [], None
    begin = today - timedelta(days=DAYS - 1)
    try:
        client = await services.subaccounts.master_client()
        link = await client.broker.rebate_download(f"{begin:%Y%m%d}", f"{today:%Y%m%d}")
        text = await _rebate_file(link.url)
    except KcgatewayError as exc:
        log.info("console: rebate file unavailable (%s)", type(exc).__name__)
        return [], f"commission unavailable: {exc}"
    except (aiohttp.ClientError, TimeoutError, ValueError, UnicodeDecodeError) as exc:
        log.info("console: rebate file unreadable (%s)", type(exc).__name__)
        return (
            [],
            f"commission unavailable: the rebate file could not be read ({type(exc).__name__})",
        )
    return commission_by_day(text, (s.uid for s in subs)), None


async def broker_page(
    services: GatewayServices, session: ConsoleSession, today: date
) -> BrokerPage:
    """Settings, the tenant's sub-accounts and their commission by day (needs ``admin``)."""
    principal = session.require(Scope.ADMIN)
    settings = await SqlBrokerStore(services.db).public()
    subs = services.subaccounts
    found = [] if subs is None else await subs.list(principal.tenant_id)
    commission, problem = await _commission(services, found, today)
    return BrokerPage(settings, found, commission, problem)
