"""The console's pages (GET): Overview, Orders (list, table, detail), Keys, Risk.

A page shows what the session's key may use and nothing more (``can`` in the templates);
each read is refused by the service layer anyway when the key lacks the scope.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from kcgateway.errors import ValidationError
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.console.reads import MARKETS, OrderFilter
from kcgateway.gateway.console.sessions import ConsoleSession
from kcgateway.store.types import OrderState
from kcgateway.web.auth import services_of
from kcgateway.web.console.charts import line_chart
from kcgateway.web.console.common import context, handled, reads_of, router, session_of
from kcgateway.web.console.render import page, redirect

_LIVE = (OrderState.ACKED, OrderState.OPEN)
#: how far back the overview's equity charts go
EQUITY_SPAN = timedelta(hours=24)
_SYMBOL = re.compile(r"[A-Z0-9]{1,20}-[A-Z0-9]{1,20}")
_TRADE_SCOPE = {"spot": Scope.TRADE_SPOT, "margin": Scope.TRADE_MARGIN}
_TRADE_SCOPE["futures"] = Scope.TRADE_FUTURES


def trade_scope(market: str) -> Scope:
    """The scope that places and cancels orders of ``market``."""
    return _TRADE_SCOPE.get(market, Scope.TRADE_SPOT)


@router.get("")
@handled
async def overview(request: Request) -> Response:
    """Accounts and balances, open orders, the risk state of each level, recent alerts."""
    session = await session_of(request)
    reads = reads_of(request)
    data = await reads.overview(session)
    accounts = [a.account for a in data.accounts]
    since = datetime.now(UTC) - EQUITY_SPAN  # only the chart's span; the samples are stored
    curves = await reads.equity_curves(session, accounts, since)
    charts = {
        a.id: line_chart(
            f"Equity of {a.name} (USDT), last 24 hours", curves.get(a.id, []), with_zero=False
        )
        for a in accounts
    }
    return page("overview.html", **context(session, "overview", data=data, charts=charts))


MAX_TZ_MINUTES = 840
"""The widest offset from UTC there is (UTC+14)."""


def _filter(request: Request) -> OrderFilter:
    q = request.query_params
    state = q.get("state") or None
    if state is not None and state not in {s.value for s in OrderState}:
        raise ValidationError("state must be one of the order states listed", field="state")
    market = q.get("market") or None
    if market is not None and market not in MARKETS:
        raise ValidationError("market must be spot, margin or futures", field="market")
    try:
        number = int(q.get("page") or 1)
    except ValueError as exc:
        raise ValidationError("page must be a whole number", field="page") from exc
    tz = _tz(q.get("tz"))
    since, until = _day(q.get("from"), "from", tz), _day(q.get("to"), "to", tz)
    if since is not None and until is not None and until < since:
        raise ValidationError("'to' must be the same day as 'from' or later", field="to")
    return OrderFilter(
        account=(q.get("account") or None),
        symbol=(q.get("symbol") or "").strip()[:40] or None,
        state=OrderState(state) if state else None,
        market=market,
        page=number,
        since=since,
        until=None if until is None else until + timedelta(days=1),  # the whole 'to' day
    )


def _tz(text: str | None) -> int:
    """The viewer's offset from UTC in minutes; 0 (UTC) when absent.

    As JavaScript's ``getTimezoneOffset`` gives it (UTC minus local: -60 in Paris in winter);
    console.js fills it in.
    """
    if not text:
        return 0
    try:
        minutes = int(text)
    except ValueError as exc:
        raise ValidationError("tz must be a whole number of minutes", field="tz") from exc
    if not -MAX_TZ_MINUTES <= minutes <= MAX_TZ_MINUTES:
        raise ValidationError("tz must be between -840 and 840 minutes", field="tz")
    return minutes


def _day(text: str | None, name: str, tz: int = 0) -> datetime | None:
    """A ``YYYY-MM-DD`` filter day: its midnight in the viewer's time zone, None when empty."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text.strip()[:10])
    except ValueError as exc:
        raise ValidationError(f"{name} must be a date such as 2026-12-31", field=name) from exc
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=tz)


def _days(request: Request) -> dict[str, Any]:
    """The filter's days and offset as the viewer gave them (the form and the paging links)."""
    q = request.query_params
    return {
        "from": (q.get("from") or "").strip()[:10],
        "to": (q.get("to") or "").strip()[:10],
        "tz": str(_tz(q.get("tz"))) if q.get("tz") else "",
    }


def _query(which: OrderFilter, page_number: int, days: dict[str, Any]) -> str:
    parts = {
        "account": which.account or "",
        "symbol": which.symbol or "",
        "state": which.state.value if which.state else "",
        "market": which.market or "",
        "from": days["from"] if which.since else "",
        "to": days["to"] if which.until else "",
        "tz": days["tz"] if which.since or which.until else "",
        "page": str(page_number),
    }
    return urlencode({k: v for k, v in parts.items() if v})


async def _orders_context(request: Request, session: ConsoleSession) -> dict[str, Any]:
    which = _filter(request)
    days = _days(request)
    reads = reads_of(request)
    found = await reads.orders(session, which)
    names = {a.id: a.name for a in await reads.accounts(session)}
    return {
        "which": which,
        "found": found,
        "names": names,
        "states": [s.value for s in OrderState],
        "markets": MARKETS,
        "this_query": _query(which, found.page, days),
        "prev_query": _query(which, found.page - 1, days) if found.page > 1 else None,
        "next_query": _query(which, found.page + 1, days) if found.page < found.pages else None,
        "days": days,
        "live": _LIVE,
        "one_day": timedelta(days=1),
    }


@router.get("/orders")
@handled
async def orders(request: Request) -> Response:
    """The orders list (filters, server paging) and, for a trading key, the place form."""
    session = await session_of(request)
    extra = await _orders_context(request, session)
    once = secrets.token_urlsafe(16)  # the form's Idempotency-Key: a double submit places once
    return page("orders.html", **context(session, "orders", once=once, **extra))


@router.get("/orders/table")
@handled
async def orders_table(request: Request) -> Response:
    """The orders table alone (htmx refreshes it in place every few seconds).

    The refresh is the page's, not the user's: it does not hold the session open.
    """
    session = await session_of(request, touch=False)
    extra = await _orders_context(request, session)
    return page("orders_table.html", **context(session, "orders", **extra))


@router.get("/orders/{order_id}")
@handled
async def order(request: Request, order_id: str) -> Response:
    """One order: its terms, state, its audited history (why it was refused); cancel."""
    session = await session_of(request)
    reads = reads_of(request)
    found = await reads.order(session, order_id[:64])
    steps = await reads.history(session, found.id)
    market = found.terms.market
    cancellable = found.state in _LIVE and session.can(trade_scope(market))
    extra = {"order": found, "market": market, "cancellable": cancellable, "steps": steps}
    return page("order.html", **context(session, "orders", **extra))


@router.get("/fills")
@handled
async def fills(request: Request) -> Response:
    """An account's spot fills on one symbol, and its open futures positions."""
    session = await session_of(request)
    q = request.query_params
    symbol = (q.get("symbol") or "BTC-USDT").strip().upper()[:40]
    if not _SYMBOL.fullmatch(symbol):
        raise ValidationError("symbol must look like BTC-USDT", field="symbol")
    found = await reads_of(request).trades(session, (q.get("account") or None), symbol)
    return page("fills.html", **context(session, "fills", found=found, accounts=found.accounts))


@router.get("/audit")
@handled
async def audit(request: Request) -> Response:
    """The tenant's audit log (admin): filters by action prefix and subject, server paging."""
    session = await session_of(request)
    q = request.query_params
    action = (q.get("action") or "").strip()[:100]
    subject = (q.get("subject") or "").strip()[:200]
    try:
        number = int(q.get("page") or 1)
    except ValueError as exc:
        raise ValidationError("page must be a whole number", field="page") from exc
    found = await reads_of(request).audit(session, action=action, subject=subject, page=number)
    base = {k: v for k, v in (("action", action), ("subject", subject)) if v}
    prev_q = urlencode({**base, "page": found.page - 1}) if found.page > 1 else None
    next_q = urlencode({**base, "page": found.page + 1}) if found.page < found.pages else None
    extra = {"found": found, "action": action, "subject": subject, "prev_query": prev_q,
             "next_query": next_q}  # fmt: skip
    return page("audit.html", **context(session, "audit", **extra))


@router.get("/audit/verify")
@handled
async def audit_verify(request: Request) -> Response:
    """The audit chain's verification state: every record's keyed hash walked now (admin)."""
    session = await session_of(request)
    report = await reads_of(request).verify_audit(session)
    return page("audit_verify.html", **context(session, "audit", report=report))


@router.get("/keys")
@handled
async def keys(request: Request) -> Response:
    """The tenant's keys (never a secret) and the create form (keys:manage)."""
    session = await session_of(request)
    principal = session.require(Scope.KEYS_MANAGE)
    listed = await services_of(request).keys.list(principal.tenant_id)
    grantable = [s.value for s in Scope if session.can(s) and s is not Scope.ADMIN]
    if session.can(Scope.ADMIN):
        grantable.append(Scope.ADMIN.value)
    now = datetime.now(UTC)  # only to say "expired" in the list; the key service decides
    extra = {"keys": listed, "scopes": grantable, "now": now}
    return page("keys.html", **context(session, "keys", **extra))


@router.get("/risk")
@handled
async def risk(request: Request) -> Response:
    """Trading states with a kill switch per level, and the limits in force (risk:manage)."""
    session = await session_of(request)
    reads = reads_of(request)
    states = await reads.states(session)
    limits = await reads.limits(session)
    alerts = await reads.alerts(session, limit=20)
    return page(
        "risk.html", **context(session, "risk", states=states, limits=limits, alerts=alerts)
    )


@router.get("/")
async def slash(request: Request) -> Response:
    """``/ui/`` is the overview."""
    return redirect("")
