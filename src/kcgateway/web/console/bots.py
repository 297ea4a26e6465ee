"""The console's Bots and signals pages (``bots:manage``).

The list: every bot with its mode (paper or live) and state, pause/resume, promote (paper to
live, confirmed by a checkbox), and the signal log with verdicts and reasons. A bot's page:
its performance per symbol and its equity and drawdown curves (server-side SVG) from its own
fills. The bot service checks the scope and the tenant on every call, as for ``/v1/bots``.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from kcgateway.errors import ConfigError, ValidationError
from kcgateway.gateway.bots import SignalBots
from kcgateway.gateway.console.curves import drawdown, equity_curve
from kcgateway.gateway.lists import VERDICTS
from kcgateway.web.auth import services_of
from kcgateway.web.console.charts import line_chart
from kcgateway.web.console.common import context, handled, posted, router, session_of
from kcgateway.web.console.render import page, redirect

MAX_NAME = 100
SIGNALS_SHOWN = 50


def _bots(request: Request) -> SignalBots:
    found = services_of(request).signals
    if found is None:  # pragma: no cover - main.build_services always wires it
        raise ConfigError("signal bots are not configured")
    return found


def _verdict(request: Request) -> str | None:
    verdict = request.query_params.get("verdict") or None
    if verdict is not None and verdict not in VERDICTS:
        raise ValidationError(f"verdict must be one of {', '.join(VERDICTS)}", field="verdict")
    return verdict


@router.get("/bots")
@handled
async def bots(request: Request) -> Response:
    """The tenant's bots and its signal log (filtered by verdict)."""
    session = await session_of(request)
    verdict = _verdict(request)
    service, who = _bots(request), session.principal
    listed = await service.bots.list(who, who.tenant_id)
    log = await service.signals(who, who.tenant_id, status=verdict, limit=SIGNALS_SHOWN)
    names = {b.id: b.name for b in listed}
    extra = {"bots": listed, "signals": log, "names": names, "verdict": verdict or "",
             "verdicts": VERDICTS}  # fmt: skip
    return page("bots.html", **context(session, "bots", **extra))


@router.get("/bots/{bot}")
@handled
async def bot(request: Request, bot: str) -> Response:
    """One bot: performance per symbol, equity and drawdown charts, its signals."""
    session = await session_of(request)
    service, who = _bots(request), session.principal
    view, fills = await service.fills(who, who.tenant_id, bot[:MAX_NAME])
    report = await service.report(view, fills)
    curve = equity_curve(fills)
    charts = [
        line_chart("Equity (cumulative realized P&L)", curve),
        line_chart("Drawdown from the peak", drawdown(curve)),
    ]
    log = await service.signals(who, who.tenant_id, bot=view.id, limit=SIGNALS_SHOWN)
    extra = {"bot": view, "report": report, "charts": charts, "signals": log,
             "names": {view.id: view.name}}  # fmt: skip
    return page("bot.html", **context(session, "bots", **extra))


@router.post("/bots/{bot}/{action}")
@handled
async def change(request: Request, bot: str, action: str) -> Response:
    """Pause, resume or promote a bot; promote needs its confirmation box ticked."""
    session, fields = await posted(request)
    service, who = _bots(request), session.principal
    bot = bot[:MAX_NAME]
    if action == "pause":
        await service.bots.pause(who, who.tenant_id, bot)
    elif action == "resume":
        await service.bots.resume(who, who.tenant_id, bot)
    elif action == "promote":
        if fields.get("confirm") != "yes":
            raise ValidationError(
                "promoting trades the bot's real account: tick the confirmation box first",
                field="confirm",
            )
        await service.bots.promote(who, who.tenant_id, bot)
    else:
        raise ValidationError("the action is pause, resume or promote", field="action")
    return redirect("/bots")
