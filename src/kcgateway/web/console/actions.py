"""The console's forms (POST): orders placed and cancelled, keys, the kill switch.

Each checks the session's CSRF token first, then calls the same service as /v1 with the
session's principal, which decides (scopes, tenant, risk, idempotency).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from fastapi import Request
from fastapi.responses import Response

from kcgateway.errors import ValidationError
from kcgateway.gateway.apikeys import Scope, parse_scopes
from kcgateway.gateway.idempotency import Reply, request_hash
from kcgateway.gateway.orders.keyed import KeyedOrder, Outcome, place_keyed
from kcgateway.gateway.orders.markets import SPOT
from kcgateway.gateway.orders.model import OrderRequest
from kcgateway.web.auth import services_of
from kcgateway.web.console.common import context, handled, ip_of, posted, reads_of, router
from kcgateway.web.console.pages import trade_scope
from kcgateway.web.console.render import page, redirect
from kcgateway.web.errors import describe

_ORDER_FIELDS = ("account", "symbol", "side", "type", "price", "size", "funds", "tif")
MAX_KEY_LEN = 100
#: the longest overlap a rotation offers (a week)
MAX_OVERLAP_HOURS = 168


def _decimal(fields: dict[str, str], name: str) -> Decimal | None:
    text = fields.get(name, "").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValidationError(f"{name} must be a decimal number such as 0.001", field=name) from exc
    if not value.is_finite():
        raise ValidationError(f"{name} must be a finite decimal number", field=name)
    return value


def _order(fields: dict[str, str]) -> OrderRequest:
    """The spot order the form describes (the order service validates it further)."""
    side = fields.get("side", "")
    if side not in ("buy", "sell"):
        raise ValidationError("side must be buy or sell", field="side")
    kind = fields.get("type", "limit")
    if kind not in ("limit", "market"):
        raise ValidationError("type must be limit or market", field="type")
    return OrderRequest(
        account=fields.get("account", "")[:200],
        symbol=fields.get("symbol", "").strip().upper()[:40],
        side=side,
        order_type=kind,
        price=_decimal(fields, "price"),
        size=_decimal(fields, "size"),
        funds=_decimal(fields, "funds"),
        time_in_force=fields.get("tif") or None,
    )


def _render(outcome: Outcome) -> Reply:
    """What is stored for the form's idempotency key: the intent id, or the refusal."""
    if outcome.error is not None:
        known = describe(outcome.error)
        if known is None:
            raise outcome.error
        return Reply(*known)
    assert outcome.view is not None  # noqa: S101 - an outcome is a view or an error
    body = {"id": outcome.view.id, "state": outcome.view.state.value}
    return Reply(201, json.dumps(body, separators=(",", ":")))


@router.post("/orders")
@handled
async def place(request: Request) -> Response:
    """Place a spot order once per rendered form (its hidden key is an Idempotency-Key)."""
    session, fields = await posted(request)
    principal = session.require(Scope.TRADE_SPOT)
    req = _order(fields)
    canonical = "&".join(f"{n}={fields.get(n, '')}" for n in _ORDER_FIELDS).encode()
    route = "/ui/orders"
    keyed = KeyedOrder(
        principal.tenant_id, principal.key_id, req.account, None, lambda oid: _with(req, oid),
        SPOT, route, request_hash("POST", route, canonical), ip_of(request),
    )  # fmt: skip
    services = services_of(request)
    once = (fields.get("once") or "")[:MAX_KEY_LEN] or None
    reply = await place_keyed(services.orders, services.idempotency, keyed, once, _render)
    data = json.loads(reply.body)
    if reply.status >= 400:
        return page(
            "error.html", reply.status, code=data.get("error", "error"),
            message=data.get("message", ""), signed_in=True, back="/orders",
        )  # fmt: skip
    return redirect(f"/orders/{data['id']}")


def _with(req: OrderRequest, client_oid: str | None) -> OrderRequest:
    return replace(req, client_oid=client_oid)


@router.post("/orders/{order_id}/cancel")
@handled
async def cancel(request: Request, order_id: str) -> Response:
    """Cancel one order (the trading scope of its market)."""
    session, _ = await posted(request)
    found = await reads_of(request).order(session, order_id[:64])
    market = found.terms.market
    principal = session.require(trade_scope(market))
    await services_of(request).orders.cancel(
        principal.tenant_id, found.id, principal.key_id, market
    )
    return redirect(f"/orders/{found.id}")


def _expiry(text: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        day = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValidationError("expiry must be a date such as 2027-01-31", field="expires") from exc
    return day if day.tzinfo else day.replace(tzinfo=UTC)


@router.post("/keys")
@handled
async def create_key(request: Request) -> Response:
    """Create a key (the key service bounds it by the session's own key); show it once."""
    session, fields = await posted(request)
    principal = session.require(Scope.KEYS_MANAGE)
    wanted = [v for n, v in fields.items() if n.startswith("scope:") and v]
    allow = [a.strip() for a in fields.get("ips", "").replace(",", " ").split() if a.strip()]
    full, made = await services_of(request).keys.create(
        tenant_id=principal.tenant_id,
        owner=fields.get("owner", ""),
        scopes=parse_scopes(wanted),
        ip_allowlist=allow,
        expires_at=_expiry(fields.get("expires", "")),
        actor=principal,
    )
    return page("key_created.html", **context(session, "keys", key=full.reveal(), made=made))


@router.post("/keys/{key_id}/rotate")
@handled
async def rotate_key(request: Request, key_id: str) -> Response:
    """Issue a successor (shown once); the old key keeps working for the chosen overlap."""
    session, fields = await posted(request)
    principal = session.require(Scope.KEYS_MANAGE)
    try:
        hours = int(fields.get("overlap_hours") or "24")
    except ValueError as exc:
        raise ValidationError("the overlap is a whole number of hours", field="overlap") from exc
    if not 0 <= hours <= MAX_OVERLAP_HOURS:
        raise ValidationError(f"the overlap is 0 to {MAX_OVERLAP_HOURS} hours", field="overlap")
    full, made = await services_of(request).keys.rotate(
        principal.tenant_id, key_id[:64], overlap=timedelta(hours=hours), actor=principal
    )
    return page("key_created.html", **context(session, "keys", key=full.reveal(), made=made))


@router.post("/keys/{key_id}/revoke")
@handled
async def revoke_key(request: Request, key_id: str) -> Response:
    """Revoke one of the tenant's keys (its console sessions end with it)."""
    session, _ = await posted(request)
    principal = session.require(Scope.KEYS_MANAGE)
    done = await services_of(request).keys.revoke(principal.tenant_id, key_id[:64], actor=principal)
    if not done:
        return page("error.html", 404, code="not_found", message="no such key",
                    signed_in=True, back="/keys")  # fmt: skip
    return redirect("/keys")


@router.post("/risk/halt")
@handled
async def halt(request: Request) -> Response:
    """The kill switch, in two steps: a confirmation page, then the halt itself."""
    session, fields = await posted(request)
    principal = session.require(Scope.RISK_MANAGE)
    level, target = fields.get("level", ""), fields.get("target", "")[:200]
    if fields.get("confirm") != "yes":
        return page(
            "confirm_halt.html",
            **context(session, "risk", level=level, target=target, label=fields.get("label", "")),
        )
    risk = services_of(request).risk
    if risk is None:  # pragma: no cover - main.build_services always wires it
        raise ValidationError("risk control is not configured")
    await risk.halt(
        level, target, fields.get("reason", ""), principal, fields.get("cancel_open") == "yes"
    )
    return redirect("/risk")


@router.post("/risk/resume")
@handled
async def resume(request: Request) -> Response:
    """Back to ACTIVE (the service decides who may lift what)."""
    session, fields = await posted(request)
    principal = session.require(Scope.RISK_MANAGE)
    risk = services_of(request).risk
    if risk is None:  # pragma: no cover - main.build_services always wires it
        raise ValidationError("risk control is not configured")
    await risk.resume(
        fields.get("level", ""), fields.get("target", "")[:200], fields.get("reason", ""),
        principal,
    )  # fmt: skip
    return redirect("/risk")
