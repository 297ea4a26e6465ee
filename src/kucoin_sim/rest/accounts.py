"""Accounts, API-key info, account mode, HF flag and inner transfers."""

from __future__ import annotations

from decimal import Decimal

from kucoin_sim.auth import Permission
from kucoin_sim.engine import AccountType
from kucoin_sim.ratelimit import Pool
from kucoin_sim.rest import views
from kucoin_sim.rest.orders import engine_call
from kucoin_sim.rest.params import ApiError, Params, bad
from kucoin_sim.rest.routing import Call, RouteTable

routes = RouteTable()
GENERAL = Permission.GENERAL
_TYPES = [t.value for t in AccountType]
_WIRE_TYPES = {"MAIN": "main", "TRADE": "trade", "TRADE_HF": "trade_hf", "MARGIN": "margin",
               "CONTRACT": "futures", "FUTURES": "futures"}  # fmt: skip


@routes.add("GET", "/api/v1/accounts", pool=Pool.MANAGEMENT, weight=5, permission=GENERAL)
def list_accounts(call: Call) -> object:
    """``?currency=&type=`` -> ``[{id, currency, type, balance, available, holds}]``."""
    account = call.query.choice("type", _TYPES)
    balances = call.state.exchange.balances(
        call.uid, AccountType(account) if account else None, call.query.text("currency")
    )
    return [views.account(b) for b in balances]


@routes.add(
    "GET", "/api/v1/accounts/{accountId}", pool=Pool.MANAGEMENT, weight=5, permission=GENERAL
)
def get_account(call: Call) -> object:
    """One account by id."""
    found = call.state.exchange.account(call.path("accountId"))
    if found is None or found.uid != call.uid:
        raise ApiError("400100", "account not exist")
    view = views.account(found)
    return {k: view[k] for k in ("currency", "balance", "available", "holds")}


@routes.add("GET", "/api/v1/accounts/ledgers", pool=Pool.MANAGEMENT, weight=2, permission=GENERAL)
def ledgers(call: Call) -> object:
    """Balance changes (``currency``, ``startAt``, ``endAt``), newest first, paginated."""
    q = call.query
    page, size = q.page(50, 500)
    entries = call.state.exchange.ledger_entries(
        call.uid,
        currency=q.text("currency"),
        start_ms=q.integer("startAt"),
        end_ms=q.integer("endAt"),
    )
    items = [
        {
            "id": e.id, "currency": e.currency, "amount": views.num(abs(e.amount)),
            "fee": "0", "balance": views.num(e.balance),
            "accountType": e.account_type.value.upper(),
            "bizType": e.biz_type, "direction": e.direction, "createdAt": e.created_at_ms,
            "context": e.context,
        }
        for e in entries
        if e.account_type in (AccountType.MAIN, AccountType.TRADE, AccountType.MARGIN)
    ]  # fmt: skip
    return views.paginate(items, page, size)


@routes.add("GET", "/api/v1/user/api-key", pool=Pool.MANAGEMENT, weight=20, permission=GENERAL)
def api_key_info(call: Call) -> object:
    """The calling key's permissions, whitelist and owner."""
    assert call.auth is not None  # noqa: S101 - private route
    key = call.auth.key
    user = call.state.user(key.uid)
    return {
        "remark": key.label,
        "apiKey": key.api_key,
        "apiVersion": key.key_version,
        "permission": ",".join(sorted(key.permissions)),
        "ipWhitelist": ",".join(key.ip_whitelist),
        "createdAt": key.created_at_ms,
        "uid": int(key.uid) if key.uid.isdigit() else key.uid,
        "isMaster": user.is_master,
    }


@routes.add("GET", "/api/ua/v1/account/mode", pool=Pool.MANAGEMENT, weight=5, permission=GENERAL)
def account_mode(call: Call) -> object:
    """Classic accounts (not unified); ccxt 4.5.90 reads ``selfAccountMode``."""
    return {"accountMode": "CLASSIC", "selfAccountMode": "CLASSIC", "thisAccountMode": "CLASSIC"}


@routes.add("GET", "/api/v1/hf/accounts/opened", pool=Pool.MANAGEMENT, weight=3, permission=GENERAL)
def hf_opened(call: Call) -> object:
    """True when the account trades through ``trade_hf`` (chooses ccxt's HF or classic paths)."""
    return call.state.user(call.uid).hf


def _account_type(p: Params, name: str) -> AccountType:
    raw = p.req(name)
    value = _WIRE_TYPES.get(raw.upper())
    if value is None:
        raise bad(name, "is not a valid account type")
    return AccountType(value)


def _amount(p: Params) -> Decimal:
    amount = p.decimal("amount", required=True)
    if amount is None or amount <= 0:
        raise bad("amount", "must be positive")
    return amount


@routes.add(
    "POST",
    "/api/v2/accounts/inner-transfer",
    pool=Pool.MANAGEMENT,
    weight=10,
    permission=Permission.SPOT,
)
def inner_transfer(call: Call) -> object:
    """Move funds between two of the caller's accounts -> ``{orderId}``."""
    p = call.json
    p.req("clientOid")
    currency = p.req("currency", max_len=16)
    source, target = _account_type(p, "from"), _account_type(p, "to")
    amount = _amount(p)
    engine_call(
        lambda: call.state.exchange.transfer(
            call.uid, currency, source=source, target=target, amount=amount, now_ms=call.now_ms
        )
    )
    return {"orderId": call.state.new_id()}


@routes.add(
    "POST",
    "/api/v3/accounts/universal-transfer",
    pool=Pool.MANAGEMENT,
    weight=4,
    permission=Permission.TRANSFER,
)
def universal_transfer(call: Call) -> object:
    """``type: INTERNAL`` between the caller's accounts -> ``{orderId}``."""
    p = call.json
    p.req("clientOid")
    if p.text("type") != "INTERNAL":
        raise bad("type", "only INTERNAL is simulated")
    currency = p.req("currency", max_len=16)
    source, target = _account_type(p, "fromAccountType"), _account_type(p, "toAccountType")
    amount = _amount(p)
    engine_call(
        lambda: call.state.exchange.transfer(
            call.uid, currency, source=source, target=target, amount=amount, now_ms=call.now_ms
        )
    )
    return {"orderId": call.state.new_id()}
