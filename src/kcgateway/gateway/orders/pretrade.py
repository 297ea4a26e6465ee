"""The order request as the risk engine sees it, and the engine's answer as the order path uses it.

Pure: :func:`proposed` builds the :class:`~kcgateway.risk.ProposedOrder` of a request,
:func:`amended_request` turns an amended order (a market order sent as an IOC limit at the
collar) back into a request, :func:`rejection` makes the refusal that carries every failure.
"""

from __future__ import annotations

import dataclasses

from kcgateway.errors import RiskRejected
from kcgateway.gateway.orders.model import OrderRequest
from kcgateway.risk import Decision, MarketKind, OrderType, ProposedOrder, Side


def proposed(req: OrderRequest, tenant_id: str, account_id: str, key_id: str) -> ProposedOrder:
    """The order the risk engine checks (``close_order`` reduces, as ``reduce_only`` does)."""
    t = req.terms
    return ProposedOrder(
        tenant_id=tenant_id,
        account_id=account_id,
        key_id=key_id,
        market=MarketKind(t.market),
        symbol=req.symbol,
        side=Side(req.side),
        order_type=OrderType(req.order_type),
        price=req.price,
        size=req.size,
        funds=req.funds,
        leverage=t.leverage,
        reduce_only=t.reduce_only or t.close_order,
        time_in_force=req.time_in_force,
    )


def amended_request(req: OrderRequest, order: ProposedOrder) -> OrderRequest:
    """``req`` as the engine amended it (type, price, size, funds, time in force)."""
    return dataclasses.replace(
        req,
        order_type=order.order_type.value,
        price=order.price,
        size=order.size,
        funds=order.funds,
        time_in_force=order.time_in_force,
    )


def rejection(decision: Decision) -> RiskRejected:
    """The refusal of a denied order: every failed check's code and sentence."""
    failures = tuple((f.code, f.message) for f in decision.failures)
    listed = "; ".join(f"{code}: {message}" for code, message in failures)
    return RiskRejected(
        f"the risk checks refused the order ({listed or 'no reason given'}); change the order "
        "or ask the operator about the limit",
        failures,
    )


def account_unknown(decision: Decision, account_id: str) -> bool:
    """True when a failure is the account's own figures missing or stale (balances, equity)."""
    marker = f"account {account_id}"
    return any(f.code == "risk.stale_data" and marker in f.message for f in decision.failures)
