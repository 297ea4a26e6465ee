"""The control API under ``/_sim/`` on the spot host: loopback callers only (others get 403).

Plain JSON in and out (no KuCoin envelope, no auth, no rate limit, never faulted); errors are
``{"code": "400100", "msg": ...}`` with HTTP 400. Every route is documented in
``docs/simulator.md``.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from kucoin_sim.accounts import (
    SpecError,
    create_account,
    create_partner,
    key_answer,
    make_key,
    parse_balances,
)
from kucoin_sim.engine import AccountType
from kucoin_sim.engine_adapter import mirror_book, set_price
from kucoin_sim.faults import FaultSpecError, ServiceStatus, parse_rule
from kucoin_sim.ratelimit import Pool as RatePool
from kucoin_sim.rest import views
from kucoin_sim.rest.params import ApiError
from kucoin_sim.rest.routing import parse_object
from kucoin_sim.scenario import ScenarioError, ScenarioRun, parse

if TYPE_CHECKING:
    from kucoin_sim.state import SimState

log = logging.getLogger("kucoin_sim")
AdminHandler = Callable[["SimState", web.Request, Mapping[str, Any]], Any]
MAX_MIRROR_LEVELS = 200
_ACCOUNT_TYPES = ("main", "trade", "trade_hf", "margin", "futures")


def is_loopback(remote: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1."""
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(data), status=status, content_type="application/json"
    )


def _error(msg: str, status: int = 400, code: str = "400100") -> web.Response:
    return _json({"code": code, "msg": msg}, status)


def _bind(state: SimState, handler: AdminHandler) -> Callable[[web.Request], Awaitable[Any]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        if not is_loopback(request.remote):
            return _error("the control API answers loopback callers only", 403, "403000")
        try:
            body = parse_object(await request.read()) if request.can_read_body else {}
            result = handler(state, request, body)
            if inspect.isawaitable(result):
                result = await result
        except (ApiError, SpecError, FaultSpecError, ScenarioError) as exc:
            return _error(exc.msg if isinstance(exc, ApiError) else str(exc))
        except KeyError as exc:
            return _error(f"not found: {exc.args[0]}", 404, "404000")
        except Exception:  # counted like any route's: tests assert there are none
            state.unexpected_errors += 1
            log.exception("unexpected error on %s %s", request.method, request.path)
            return _error("Internal Server Error", 500, "500000")
        if isinstance(result, web.StreamResponse):
            return result
        return _json(result)

    return handle


def _uid(state: SimState, value: object) -> str:
    if not isinstance(value, str) or value not in state.users:
        raise SpecError("uid must name an existing account")
    return value


def post_account(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Create a user with one key (and balances); answer its credentials."""
    return create_account(state, body, state.now_ms())


def post_key(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Add another key to an existing account."""
    uid = _uid(state, request.match_info["uid"])
    return key_answer(make_key(state, uid, body, state.now_ms()))


def post_mode(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Switch an account between classic and HF trading (``{"hf": true}``)."""
    uid = _uid(state, request.match_info["uid"])
    hf = body.get("hf")
    if not isinstance(hf, bool):
        raise SpecError("hf must be a boolean")
    state.users[uid].hf = hf
    return {"uid": uid, "hf": hf}


def post_partner(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Configure an ND broker partner and its master account."""
    return create_partner(state, body, state.now_ms())


def post_fund(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Credit ``{"uid", "accountType"?, "balances": {...}}`` (default: the trading account)."""
    uid = _uid(state, body.get("uid"))
    user = state.users[uid]
    account = body.get("accountType") or ("trade_hf" if user.hf else "trade")
    if account not in _ACCOUNT_TYPES:
        raise SpecError(f"accountType must be one of {list(_ACCOUNT_TYPES)}")
    for currency, amount in parse_balances(body.get("balances")).items():
        state.exchange.fund(uid, AccountType(account), currency, amount)
    return {"uid": uid, "accountType": account, "balances": views.balances(state, uid)}


def post_price(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Set (``price``) or move (``move`` as a relative change, e.g. ``"0.01"``) a mid price."""
    symbol = body.get("symbol")
    if not isinstance(symbol, str):
        raise SpecError("symbol is required")
    if "move" in body:
        current = Decimal(str(state.exchange.ticker(symbol).price or 0))
        price = current * (1 + Decimal(str(body["move"])))
    else:
        price = Decimal(str(body.get("price")))
    if not price.is_finite() or price <= 0:
        raise SpecError("price must be positive")
    set_price(state.exchange, symbol, price, state.now_ms())
    return {"symbol": symbol, "price": str(price)}


def _levels(raw: object, name: str) -> list[tuple[Decimal, Decimal]]:
    if not isinstance(raw, list) or len(raw) > MAX_MIRROR_LEVELS:
        raise SpecError(f"{name} must be a list of at most {MAX_MIRROR_LEVELS} [price, size]")
    out = []
    for level in raw:
        if not isinstance(level, list | tuple) or len(level) != 2:
            raise SpecError(f"{name}: each level is [price, size]")
        try:
            price, size = Decimal(str(level[0])), Decimal(str(level[1]))
        except ArithmeticError:
            raise SpecError(f"{name}: {level!r} is not [price, size] as numbers") from None
        if not (price.is_finite() and size.is_finite()):
            raise SpecError(f"{name}: {level!r} is not finite")
        out.append((price, size))
    return out


def post_book(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Mirror a reference book: ``{"symbol", "bids": [[price, size], ...], "asks": [...]}``.

    The symbol's market maker quotes exactly these levels (best first) until the next call and
    stops its random walk: orders fill at the prices and sizes the reference offered.
    """
    symbol = body.get("symbol")
    if not isinstance(symbol, str):
        raise SpecError("symbol is required")
    bids, asks = _levels(body.get("bids", []), "bids"), _levels(body.get("asks", []), "asks")
    mirror_book(state.exchange, symbol, bids, asks, state.now_ms())
    return {"symbol": symbol, "bids": len(bids), "asks": len(asks)}


def post_fault(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Add one fault rule (see :mod:`kucoin_sim.faults`); answers every fault setting."""
    state.faults.add(parse_rule(body))
    return state.faults.as_json()


def post_clock(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Run the simulator's clock ``offsetMs`` ahead (negative: behind) of the machine's."""
    offset = body.get("offsetMs")
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise SpecError("offsetMs must be an integer")
    state.faults.clock_offset_ms = offset
    return state.faults.as_json()


def post_status(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Maintenance: ``{"status": "open"|"close"|"cancelonly", "msg"?}``."""
    try:
        state.faults.status = ServiceStatus(str(body.get("status")))
    except ValueError as exc:
        raise SpecError("status must be open, close or cancelonly") from exc
    state.faults.status_msg = str(body.get("msg", ""))
    return state.faults.as_json()


def get_faults(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """The active fault rules and settings."""
    return state.faults.as_json()


def delete_faults(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Clear every fault (or only rule ``?id=``)."""
    rule_id = request.query.get("id")
    if rule_id is None:
        state.faults.clear()
    else:
        state.faults.rules = [r for r in state.faults.rules if r.id != rule_id]
    return state.faults.as_json()


def get_orders(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """``?clientOid=`` (and optional ``uid``): how many orders the exchange accepted, and them."""
    client_oid = request.query.get("clientOid", "")
    return {
        "clientOid": client_oid,
        "accepted": state.accepted_by_client_oid.get(client_oid, 0),
        "orders": views.orders_by_client_oid(state, client_oid, request.query.get("uid")),
    }


def get_order_counts(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Every clientOid the exchange accepted an order for, with how many times (bulk checks)."""
    return {"accepted": dict(state.accepted_by_client_oid)}


def get_fills(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """``?uid=`` (required) ``&symbol=``: the user's fills, newest first."""
    uid = _uid(state, request.query.get("uid"))
    return views.fills_of(state, uid, request.query.get("symbol"))


def get_balances(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """``?uid=``: every account of the user."""
    return views.balances(state, _uid(state, request.query.get("uid")))


def get_state(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Counters tests assert on."""
    return {
        "users": len(state.users),
        "keys": len(state.keys),
        "partners": sorted(state.partners),
        "unexpectedErrors": state.unexpected_errors,
        "acceptedOrders": sum(state.accepted_by_client_oid.values()),
        "faults": state.faults.as_json(),
    }


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def get_ratelimit(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """``?pool=&subject=`` (a uid, or ``ip:<address>``): pool sizes, window length and windows.

    Each window says when it started and, from the exchange's side, the weight it used, the
    requests it admitted or refused (``refused``: answered 429).
    """
    limiter = state.limiter
    return {
        "quotas": dict(limiter.quotas),
        "windowMs": limiter.window_ms,
        "windows": limiter.windows(request.query.get("pool"), request.query.get("subject")),
    }


def post_ratelimit(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """``{"quotas": {"spot": 200}, "windowMs": 2000}``: resize pools, forget every window.

    KuCoin's behaviour stays: a window starts at a subject's first request and lasts
    ``windowMs``; a request that does not fit is refused (429) without being debited.
    """
    quotas = body.get("quotas", {})
    pools = {p.value for p in RatePool}
    if not isinstance(quotas, dict) or not all(
        k in pools and _positive(v) for k, v in quotas.items()
    ):
        names = ", ".join(sorted(pools))
        raise ApiError("400100", f"quotas must map pool names ({names}) to positive integers")
    window = body.get("windowMs")
    if window is not None and not _positive(window):
        raise ApiError("400100", "windowMs must be a positive integer (milliseconds)")
    state.limiter.configure(quotas, window)
    return get_ratelimit(state, request, body)


def post_reset(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Forget limiter windows, faults and counters (accounts and books are kept)."""
    state.limiter.reset()
    state.faults.clear()
    state.accepted_by_client_oid.clear()
    state.unexpected_errors = 0
    return get_state(state, request, body)


def post_scenario(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Start a scenario (the body is the script); ``?wait=true`` answers when it has finished.

    Without ``wait`` the answer is ``{id, status: "running"}`` at once; ``GET
    /_sim/scenario/{id}`` reports progress and, when done, the accounts it created.
    """
    run = ScenarioRun(state, parse(body), state.new_id())
    task = asyncio.get_running_loop().create_task(run.run())
    state.scenario_runs[run.id] = (run, task)
    if request.query.get("wait", "").lower() in ("1", "true"):
        return _finished(run, task)
    return run.report()


async def _finished(run: ScenarioRun, task: asyncio.Task[dict[str, Any]]) -> dict[str, Any]:
    await asyncio.shield(task)  # a client that goes away does not cancel the run
    return run.report()


def get_scenario(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """A scenario run's report (status, tallies, accounts, prices)."""
    run, _ = state.scenario_runs[request.match_info["id"]]
    return run.report()


def delete_scenario(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """Stop a running scenario (what it did stays done)."""
    run, task = state.scenario_runs[request.match_info["id"]]
    task.cancel()
    if run.status == "running":
        run.status = "cancelled"
    return run.report()


def get_file(state: SimState, request: web.Request, body: Mapping[str, Any]) -> Any:
    """A file the simulator serves (rebate CSVs)."""
    name = request.match_info["name"]
    return web.Response(body=state.files[name], content_type="text/csv")


ROUTES: tuple[tuple[str, str, AdminHandler], ...] = (
    ("POST", "/_sim/accounts", post_account),
    ("POST", "/_sim/accounts/{uid}/keys", post_key),
    ("POST", "/_sim/accounts/{uid}/mode", post_mode),
    ("POST", "/_sim/partners", post_partner),
    ("POST", "/_sim/fund", post_fund),
    ("POST", "/_sim/prices", post_price),
    ("POST", "/_sim/books", post_book),
    ("GET", "/_sim/faults", get_faults),
    ("POST", "/_sim/faults", post_fault),
    ("DELETE", "/_sim/faults", delete_faults),
    ("POST", "/_sim/clock", post_clock),
    ("POST", "/_sim/status", post_status),
    ("GET", "/_sim/orders", get_orders),
    ("GET", "/_sim/orders/counts", get_order_counts),
    ("GET", "/_sim/fills", get_fills),
    ("GET", "/_sim/balances", get_balances),
    ("GET", "/_sim/state", get_state),
    ("POST", "/_sim/reset", post_reset),
    ("GET", "/_sim/ratelimit", get_ratelimit),
    ("POST", "/_sim/ratelimit", post_ratelimit),
    ("GET", "/_sim/files/{name}", get_file),
    ("POST", "/_sim/scenario", post_scenario),
    ("GET", "/_sim/scenario/{id}", get_scenario),
    ("DELETE", "/_sim/scenario/{id}", delete_scenario),
)


def register(app: web.Application, state: SimState) -> None:
    """Add every control route to the spot application (and stop scenarios on shutdown)."""
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, _bind(state, handler))

    async def stop_scenarios(app: web.Application) -> Any:
        yield
        for _, task in state.scenario_runs.values():
            task.cancel()
        await asyncio.gather(*(t for _, t in state.scenario_runs.values()), return_exceptions=True)

    app.cleanup_ctx.append(stop_scenarios)
