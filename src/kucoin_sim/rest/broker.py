"""ND broker endpoints (spot host): info, sub-accounts, sub-account keys, transfers, rebates.

Every route needs the partner headers of a configured broker whose master account signs the
request (400200/400201/400202, see :func:`kucoin_sim.auth.check_partner`). Sub-accounts are
real simulator users: their keys trade like any other key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

from kucoin_sim.accounts import SpecError, create_user, ip_list, make_key, parse_permissions
from kucoin_sim.auth import ApiKey
from kucoin_sim.engine import AccountType
from kucoin_sim.ratelimit import Pool
from kucoin_sim.rest import views
from kucoin_sim.rest.orders import engine_call
from kucoin_sim.rest.params import ApiError, Params, bad
from kucoin_sim.rest.routing import Call, RouteTable
from kucoin_sim.state import Transfer, User

routes = RouteTable()
_BROKER: dict[str, Any] = {"pool": Pool.BROKER, "private": True, "broker": True}


def _spec_error(exc: SpecError) -> ApiError:
    return ApiError("400100", str(exc))


def _sub(call: Call, uid: str | None) -> User:
    user = call.state.users.get(uid or "")
    if user is None or user.parent_uid != call.uid:
        raise ApiError("400100", "The sub-account does not belong to this broker")
    return user


def _subs(call: Call) -> list[User]:
    return [call.state.users[u] for u in call.state.user(call.uid).sub_uids]


def _account_view(user: User) -> dict[str, Any]:
    return {
        "accountName": user.account_name,
        "uid": user.uid,
        "createdAt": user.created_at_ms,
        "level": 0,
    }


@routes.add("GET", "/api/v1/broker/nd/info", weight=2, **_BROKER)
def info(call: Call) -> object:
    """``{accountSize, maxAccountSize, level}``."""
    return {"accountSize": len(_subs(call)), "maxAccountSize": None, "level": 0}


@routes.add("POST", "/api/v1/broker/nd/account", weight=3, **_BROKER)
def create_sub(call: Call) -> object:
    """Create a sub-account (``accountName`` globally unique)."""
    name = call.json.req("accountName", max_len=64)
    if any(u.account_name == name for u in call.state.users.values()):
        raise ApiError("400100", "accountName already exists")
    user = create_user(
        call.state, call.now_ms, is_master=False, parent_uid=call.uid, account_name=name
    )
    call.state.user(call.uid).sub_uids.append(user.uid)
    return _account_view(user)


@routes.add("GET", "/api/v1/broker/nd/account", weight=2, **_BROKER)
def list_subs(call: Call) -> object:
    """Paginated sub-accounts (``uid`` filters)."""
    page, size = call.query.page(20, 100)
    uid = call.query.text("uid")
    items = [_account_view(u) for u in _subs(call) if uid in (None, u.uid)]
    return views.paginate(items, page, size)


def _key_view(key: ApiKey, *, secret: bool = False, mask: bool = True) -> dict[str, Any]:
    ips = [
        ip.split(".")[0] + ".**." + ip.split(".")[-1] if mask and "." in ip else ip
        for ip in key.ip_whitelist
    ]
    out: dict[str, Any] = {
        "uid": key.uid,
        "label": key.label,
        "apiKey": key.api_key,
        "apiVersion": key.key_version,
        "permissions": sorted(key.permissions),
        "ipWhitelist": ips,
        "createdAt": key.created_at_ms,
    }
    if secret:
        out["secretKey"] = key.secret
    return out


def _key_spec(p: Params) -> dict[str, Any]:
    label = p.req("label", max_len=32)
    if len(label) < 4:
        raise bad("label", "must be 4 to 32 characters")
    return {
        "passphrase": p.text("passphrase", max_len=32),
        "permissions": p.raw("permissions"),
        "ipWhitelist": p.raw("ipWhitelist"),
        "label": label,
    }


@routes.add("POST", "/api/v1/broker/nd/account/apikey", weight=3, **_BROKER)
def create_sub_key(call: Call) -> object:
    """A v3 key for a sub-account (the secret is shown once)."""
    sub = _sub(call, call.json.text("uid"))
    spec = _key_spec(call.json)
    if not spec["passphrase"]:
        raise bad("passphrase", "is required")
    try:
        key = make_key(call.state, sub.uid, spec, call.now_ms)
    except SpecError as exc:
        raise _spec_error(exc) from exc
    return _key_view(key, secret=True, mask=False)


@routes.add("GET", "/api/v1/broker/nd/account/apikey", weight=2, **_BROKER)
def list_sub_keys(call: Call) -> object:
    """Keys of one sub-account (``apiKey`` filters); IPs masked."""
    sub = _sub(call, call.query.text("uid"))
    wanted = call.query.text("apiKey")
    keys = [k for k in call.state.keys.values() if k.uid == sub.uid and wanted in (None, k.api_key)]
    return [_key_view(k) for k in keys]


def _own_key(call: Call, p: Params) -> ApiKey:
    sub = _sub(call, p.text("uid"))
    key = call.state.keys.get(p.text("apiKey") or "")
    if key is None or key.uid != sub.uid:
        raise ApiError("400100", "apiKey does not exist")
    return key


@routes.add("POST", "/api/v1/broker/nd/account/update-apikey", weight=3, **_BROKER)
def update_sub_key(call: Call) -> object:
    """Change a sub-account key's IPs, permissions and label."""
    key = _own_key(call, call.json)
    p = call.json
    try:
        permissions = p.raw("permissions")
        ips = p.raw("ipWhitelist")
        updated = replace(
            key,
            permissions=key.permissions if permissions is None else parse_permissions(permissions),
            ip_whitelist=key.ip_whitelist if ips is None else ip_list(ips),
            label=p.text("label", max_len=32) or key.label,
        )
    except SpecError as exc:
        raise _spec_error(exc) from exc
    call.state.keys[key.api_key] = updated
    return _key_view(updated)


@routes.add("DELETE", "/api/v1/broker/nd/account/apikey", weight=3, **_BROKER)
def delete_sub_key(call: Call) -> object:
    """Delete a sub-account key -> ``true``."""
    key = _own_key(call, call.query)
    del call.state.keys[key.api_key]
    return True


_TYPES = {"MAIN": AccountType.MAIN, "TRADE": AccountType.TRADE}


def _move(
    call: Call,
    src: tuple[str, AccountType],
    dst: tuple[str, AccountType],
    currency: str,
    amount: Decimal,
) -> None:
    engine_call(
        lambda: call.state.exchange.transfer(
            src[0],
            currency,
            source=src[1],
            target=dst[1],
            amount=amount,
            now_ms=call.now_ms,
            to_uid=dst[0],
        )
    )


@routes.add("POST", "/api/v1/broker/nd/transfer", weight=1, **_BROKER)
def transfer(call: Call) -> object:
    """Move funds broker -> sub (``OUT``) or sub -> broker (``IN``) -> ``{orderId}``."""
    p = call.json
    p.req("clientOid")
    currency = p.req("currency", max_len=16)
    amount = p.decimal("amount", required=True)
    if amount is None or amount <= 0:
        raise bad("amount", "must be positive")
    direction = p.choice("direction", ["OUT", "IN"])
    mine = _TYPES.get(p.text("accountType") or "")
    theirs = _TYPES.get(p.text("specialAccountType") or "")
    if direction is None or mine is None or theirs is None:
        raise bad("direction/accountType/specialAccountType")
    sub = _sub(call, p.text("specialUid"))
    src, dst = ((call.uid, mine), (sub.uid, theirs))
    if direction == "IN":
        src, dst = dst, src
    _move(call, src, dst, currency, amount)
    order_id = call.state.new_id()
    call.state.transfers[order_id] = Transfer(
        order_id=order_id, currency=currency, amount=views.num(amount), from_uid=src[0],
        from_account_type=src[1].value.upper(), to_uid=dst[0], to_account_type=dst[1].value.upper(),
        status="SUCCESS", reason="", created_at_ms=call.now_ms,
    )  # fmt: skip
    return {"orderId": order_id}


@routes.add("GET", "/api/v3/broker/nd/transfer/detail", weight=1, **_BROKER)
def transfer_detail(call: Call) -> object:
    """One transfer made through this broker."""
    t = call.state.transfers.get(call.query.req("orderId"))
    if t is None or call.uid not in (t.from_uid, t.to_uid):
        raise ApiError("400100", "transfer does not exist")
    return {
        "orderId": t.order_id, "currency": t.currency, "amount": t.amount,
        "fromUid": int(t.from_uid), "fromAccountType": t.from_account_type,
        "fromAccountTag": "DEFAULT", "toUid": int(t.to_uid),
        "toAccountType": t.to_account_type, "toAccountTag": "DEFAULT",
        "status": t.status, "reason": t.reason, "createdAt": t.created_at_ms,
    }  # fmt: skip


def _day(p: Params, name: str) -> dt.date:
    raw = p.req(name, max_len=8)
    try:
        return dt.datetime.strptime(raw, "%Y%m%d").replace(tzinfo=dt.UTC).date()
    except ValueError as exc:
        raise bad(name, "must be yyyymmdd") from exc


def _rebate_csv(call: Call, begin: dt.date, end: dt.date) -> bytes:
    start = int(dt.datetime.combine(begin, dt.time(), dt.UTC).timestamp() * 1000)
    stop = int(dt.datetime.combine(end, dt.time(), dt.UTC).timestamp() * 1000) + 86_400_000
    lines = [
        "Date,BrokerUID,AffiliateUID,UID,BizLine,Volume,TotalCommission,BrokerCommission,UserCommission"
    ]
    for sub in _subs(call):
        fills = call.state.exchange.fills(sub.uid, start_ms=start, end_ms=stop)
        volume = sum((f.funds for f in fills), Decimal(0))
        fees = sum((f.fee for f in fills), Decimal(0))
        half = views.num(fees / 2)
        lines.append(
            f"{begin:%Y%m%d},{call.uid},,{sub.uid},Spot,{views.num(volume)},{views.num(fees)},{half},0"
        )
    return ("\n".join(lines) + "\n").encode()


def _rebate(call: Call) -> object:
    begin, end = _day(call.query, "begin"), _day(call.query, "end")
    if end < begin or (end - begin).days > 183:
        raise ApiError("400100", "end must be after begin and within 6 months")
    name = f"rebate-{call.uid}-{begin:%Y%m%d}-{end:%Y%m%d}-{call.state.new_id()}.csv"
    call.state.files[name] = _rebate_csv(call, begin, end)
    return {"url": f"{call.request.url.origin()}/_sim/files/{name}"}


routes.add("GET", "/api/v1/broker/nd/rebase/download", weight=3, **_BROKER)(_rebate)
routes.add("GET", "/api/v1/broker/api/rebase/download", weight=3, **_BROKER)(_rebate)
