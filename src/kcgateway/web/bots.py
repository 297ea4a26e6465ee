"""``/v1/bots`` (scope ``bots:manage``), ``GET /v1/signals`` and ``POST /v1/signals/{botId}``.

The signal route is public (no gateway key): the bot's own profile authenticates it in the
gateway (``gateway/bots/intake.py``). The route reads at most 20 KB of the body and answers
every refusal with the same 401 ``signal_refused``; an accepted signal gets 202 and its id.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.bots import Incoming, SignalBots
from kcgateway.gateway.bots.log import SignalView
from kcgateway.gateway.bots.model import BotSpec, OrderStyle, Profile, Sizing
from kcgateway.gateway.bots.profiles import MAX_BODY
from kcgateway.gateway.bots.service import BotView
from kcgateway.gateway.keys import Principal
from kcgateway.gateway.lists import VERDICTS
from kcgateway.web.auth import PUBLIC, caller_ip, require, services_of
from kcgateway.web.decimals import DecimalString
from kcgateway.web.list_params import Cursor, From, To, next_cursor, paged_responses, window
from kcgateway.web.schemas import AUTHED, error_responses

router = APIRouter(prefix="/v1")
BotManager = Annotated[Principal, Depends(require(Scope.BOTS_MANAGE))]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_IN = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=to_camel)
_OUT = ConfigDict(alias_generator=to_camel, populate_by_name=True)
_ID = Annotated[str, Field(max_length=100)]
_VERDICT = f"only signals with this verdict: {', '.join(VERDICTS)}"


class BotBody(BaseModel):
    """``POST /v1/bots``: a new bot (it starts in paper mode)."""

    model_config = _IN

    name: str = Field(min_length=1, max_length=100)
    account: str = Field(min_length=1, max_length=200, description="live account (id or name)")
    paper_account: str = Field(default="paper", min_length=1, max_length=200)
    symbols: list[Annotated[str, Field(max_length=41)]] = Field(min_length=1, max_length=50)
    sizing: Sizing
    sizing_value: DecimalString
    max_position: DecimalString = Field(description="largest |position| in base units")
    profile: Profile
    order_style: OrderStyle = OrderStyle.MARKET
    limit_offset_pct: DecimalString | None = None
    limit_timeout_s: int | None = Field(default=None, ge=1, le=3600)
    ip_allowlist: list[Annotated[str, Field(max_length=50)]] = Field(
        default_factory=list, max_length=50,
        description="tradingview/3commas senders; tradingview defaults to its published list",
    )  # fmt: skip


class BotOut(BaseModel):
    """A bot (never its secret)."""

    model_config = _OUT

    id: str
    name: str
    account_id: str
    paper_account_id: str | None
    symbols: list[str]
    sizing: str
    sizing_value: str
    order_style: str
    limit_offset_pct: str | None
    limit_timeout_s: int | None
    max_position: str
    profile: str
    ip_allowlist: list[str]
    mode: str = Field(description="paper or live")
    state: str = Field(description="active or paused")
    positions: dict[str, str] = Field(description="symbol -> signed base size, current mode")
    created_at: str
    updated_at: str


class CreatedBotOut(BotOut):
    """A new bot with its credentials, shown in this answer only."""

    secret: str = Field(description="the signal secret (whsec_... for standard)")
    url_token: str | None = Field(description="tradingview: append ?token=... to the URL")
    signal_path: str = Field(description="where signals go (add ?token= for tradingview)")


class RotateBotBody(BaseModel):
    """How long the current secrets keep working beside the new one."""

    model_config = _IN

    overlap_seconds: int = Field(default=3600, ge=0, le=604_800)


class SecretOut(BaseModel):
    """A new signal secret, shown once."""

    secret: str


class SignalOut(BaseModel):
    """One signal from the log."""

    model_config = _OUT

    id: str
    bot_id: str
    source: str
    mode: str
    symbol: str | None
    action: str | None
    payload: dict[str, Any]
    status: str = Field(description="queued, executing, done, held, rejected, failed, refused")
    reason: str | None
    plan: dict[str, Any] | None = Field(description="the order decided: side, size, target")
    orders: list[str]
    received_at: str
    finished_at: str | None


class AckOut(BaseModel):
    """The signal is stored and queued."""

    model_config = _OUT

    signal_id: str
    status: str


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def bot_json(view: BotView) -> dict[str, Any]:
    """The JSON of a bot (camelCase)."""
    return {
        "id": view.id, "name": view.name, "accountId": view.account_id,
        "paperAccountId": view.paper_account_id, "symbols": list(view.symbols),
        "sizing": view.sizing, "sizingValue": str(view.sizing_value),
        "orderStyle": view.order_style, "limitOffsetPct": _dec(view.limit_offset_pct),
        "limitTimeoutS": view.limit_timeout_s, "maxPosition": str(view.max_position),
        "profile": view.profile, "ipAllowlist": list(view.ip_allowlist), "mode": view.mode,
        "state": view.state, "positions": {k: str(v) for k, v in view.positions.items()},
        "createdAt": view.created_at.isoformat(), "updatedAt": view.updated_at.isoformat(),
    }  # fmt: skip


def signal_json(view: SignalView) -> dict[str, Any]:
    """The JSON of a logged signal."""
    return {
        "id": view.id, "botId": view.bot_id, "source": view.source, "mode": view.mode,
        "symbol": view.symbol, "action": view.action, "payload": view.payload,
        "status": view.status, "reason": view.reason, "plan": view.plan,
        "orders": list(view.orders),
        "receivedAt": view.received_at.isoformat(),
        "finishedAt": None if view.finished_at is None else view.finished_at.isoformat(),
    }  # fmt: skip


def _bots(request: Request) -> SignalBots:
    found = services_of(request).signals
    if found is None:
        raise HTTPException(503, "signal bots are not enabled in this gateway")
    return found


@router.post(
    "/bots", status_code=201, response_model=CreatedBotOut,
    responses=error_responses(*AUTHED, 400, 404, 409, 503), tags=["bots"],
)  # fmt: skip
async def create_bot(
    body: BotBody, request: Request, response: Response, principal: BotManager
) -> dict[str, Any]:
    """Create a paper bot. Its secret (and TradingView URL token) are in this answer only."""
    spec = BotSpec(
        body.name, body.account, tuple(body.symbols), body.sizing, body.sizing_value,
        body.max_position, body.profile, body.order_style, body.limit_offset_pct,
        body.limit_timeout_s, body.paper_account, tuple(body.ip_allowlist),
    )  # fmt: skip
    new = await _bots(request).bots.create(principal, principal.tenant_id, spec)
    response.headers.update(NO_STORE)
    token = None if new.url_token is None else new.url_token.reveal()
    return {
        **bot_json(new.bot), "secret": new.secret.reveal(), "urlToken": token,
        "signalPath": f"/v1/signals/{new.bot.id}",
    }  # fmt: skip


@router.get(
    "/bots", response_model=list[BotOut], responses=error_responses(*AUTHED, 503), tags=["bots"]
)
async def list_bots(request: Request, principal: BotManager) -> list[dict[str, Any]]:
    """The tenant's bots with their positions."""
    return [bot_json(v) for v in await _bots(request).bots.list(principal, principal.tenant_id)]


@router.get(
    "/bots/{bot_id}", response_model=BotOut,
    responses=error_responses(*AUTHED, 404, 503), tags=["bots"],
)  # fmt: skip
async def get_bot(bot_id: _ID, request: Request, principal: BotManager) -> dict[str, Any]:
    """One bot (by id or name)."""
    return bot_json(await _bots(request).bots.get(principal, principal.tenant_id, bot_id))


async def _act(request: Request, principal: Principal, bot_id: str, verb: str) -> dict[str, Any]:
    bots = _bots(request).bots
    method = {"pause": bots.pause, "resume": bots.resume, "promote": bots.promote}[verb]
    return bot_json(await method(principal, principal.tenant_id, bot_id))


class SymbolPerformanceOut(BaseModel):
    """One symbol of a bot's report (money as decimal strings)."""

    model_config = _OUT

    symbol: str
    trades: int = Field(description="fills of the bot's own orders")
    position: str
    average_cost: str
    realized_pnl: str = Field(description="quote currency, average-cost method, before fees")
    unrealized_pnl: str | None = Field(description="the position marked at last; null: no price")
    last: str | None
    fees: dict[str, str] = Field(description="currency -> fees paid")


class EquityPointOut(BaseModel):
    """The bot's P&L at one time."""

    model_config = _OUT

    at: int = Field(description="ms since the epoch: a fill's time, then the report's")
    equity: str = Field(description="realized + unrealized P&L less quote-currency fees")


class PerformanceOut(BaseModel):
    """A bot's performance from its fills in its current mode (paper or live)."""

    model_config = _OUT

    bot_id: str
    mode: str
    symbols: list[SymbolPerformanceOut]
    equity: list[EquityPointOut] = Field(description="P&L after each fill, then now (last 500)")
    max_drawdown: str = Field(description="largest fall of the equity from a previous peak")


@router.get(
    "/bots/{bot_id}/performance", response_model=PerformanceOut,
    responses=error_responses(*AUTHED, 404, 502, 503), tags=["bots"],
)  # fmt: skip
async def bot_performance(bot_id: _ID, request: Request, principal: BotManager) -> dict[str, Any]:
    """Trades, fees, realized and unrealized P&L of the bot's own fills."""
    report = await _bots(request).performance(principal, principal.tenant_id, bot_id)
    rows = []
    for symbol, book in sorted(report.symbols.items()):
        last = report.last.get(symbol)
        unrealized = book.unrealized(last)
        rows.append({
            "symbol": symbol, "trades": book.trades, "position": str(book.position),
            "averageCost": str(book.cost), "realizedPnl": str(book.realized),
            "unrealizedPnl": _dec(unrealized), "last": _dec(last),
            "fees": {k: str(v) for k, v in book.fees.items()},
        })  # fmt: skip
    equity = [{"at": p.at, "equity": str(p.equity)} for p in report.equity[-500:]]
    return {
        "botId": report.bot_id, "mode": report.mode, "symbols": rows, "equity": equity,
        "maxDrawdown": str(report.max_drawdown),
    }  # fmt: skip


@router.post(
    "/bots/{bot_id}/pause", response_model=BotOut,
    responses=error_responses(*AUTHED, 404, 503), tags=["bots"],
)  # fmt: skip
async def pause_bot(bot_id: _ID, request: Request, principal: BotManager) -> dict[str, Any]:
    """Stop executing new signals (they are logged and answered 409)."""
    return await _act(request, principal, bot_id, "pause")


@router.post(
    "/bots/{bot_id}/resume", response_model=BotOut,
    responses=error_responses(*AUTHED, 404, 503), tags=["bots"],
)  # fmt: skip
async def resume_bot(bot_id: _ID, request: Request, principal: BotManager) -> dict[str, Any]:
    """Execute signals again."""
    return await _act(request, principal, bot_id, "resume")


@router.post(
    "/bots/{bot_id}/promote", response_model=BotOut,
    responses=error_responses(*AUTHED, 404, 409, 503), tags=["bots"],
)  # fmt: skip
async def promote_bot(bot_id: _ID, request: Request, principal: BotManager) -> dict[str, Any]:
    """Paper -> live: later signals trade the bot's real account (audited; 409 if live)."""
    return await _act(request, principal, bot_id, "promote")


@router.post(
    "/bots/{bot_id}/rotate-secret", response_model=SecretOut,
    responses=error_responses(*AUTHED, 400, 404, 503), tags=["bots"],
)  # fmt: skip
async def rotate_bot_secret(
    bot_id: _ID, body: RotateBotBody, request: Request, response: Response, principal: BotManager
) -> dict[str, str]:
    """A new signal secret (shown once); the current ones work ``overlapSeconds`` more."""
    overlap = timedelta(seconds=body.overlap_seconds)
    secret = await _bots(request).bots.rotate_secret(
        principal, principal.tenant_id, bot_id, overlap
    )
    response.headers.update(NO_STORE)
    return {"secret": secret.reveal()}


@router.delete(
    "/bots/{bot_id}", status_code=204, response_class=Response,
    responses=error_responses(*AUTHED, 404, 503), tags=["bots"],
)  # fmt: skip
async def delete_bot(bot_id: _ID, request: Request, principal: BotManager) -> Response:
    """Delete the bot; its signals are refused from now on (its log stays)."""
    await _bots(request).bots.delete(principal, principal.tenant_id, bot_id)
    return Response(status_code=204)


@router.get(
    "/signals", response_model=list[SignalOut],
    responses=paged_responses(*AUTHED, 404, 503), tags=["bots"],
)  # fmt: skip
async def list_signals(  # noqa: PLR0917 - FastAPI passes route parameters positionally
    request: Request,
    response: Response,
    principal: BotManager,
    bot: Annotated[str | None, Query(max_length=100, description="bot id or name")] = None,
    verdict: Annotated[str | None, Query(max_length=16, description=_VERDICT)] = None,
    status: Annotated[str | None, Query(max_length=16, description="the same as verdict")] = None,
    since: From = None,
    until: To = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """The signal log, newest first: source, verdict, orders, and why one was refused.

    Paged by ``X-Next-Cursor``; an unknown ``bot`` is a 404.
    """
    found = await _bots(request).signal_page(
        principal, principal.tenant_id, bot=bot, verdict=verdict or status,
        window=window(limit, since, until, cursor),
    )  # fmt: skip
    return [signal_json(v) for v in next_cursor(response, found)]


_SIGNAL_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
        "description": "the profile's JSON (see README: Signal bots), at most 20 KB",
    }
}


async def _read_capped(request: Request) -> bytes | None:
    """The body, or None as soon as it passes MAX_BODY bytes (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/signals/{bot_id}", status_code=202, response_model=AckOut,
    responses=error_responses(400, 401, 409, 413, 503), tags=["bots"], openapi_extra=_SIGNAL_BODY,
)  # fmt: skip
async def receive_signal(
    bot_id: _ID,
    request: Request,
    _public: Annotated[None, Depends(PUBLIC)],
    token: Annotated[str | None, Query(max_length=100, description="tradingview URL token")] = None,
) -> dict[str, str]:
    """A bot's signal, authenticated by its profile (no gateway key). 401 for every refusal."""
    bots = _bots(request)
    incoming = Incoming(
        bot_id, await _read_capped(request), request.headers, token,
        caller_ip(request, services_of(request)),
    )  # fmt: skip
    ack = await bots.receive(incoming)
    return {"signalId": ack.signal_id, "status": ack.status}
