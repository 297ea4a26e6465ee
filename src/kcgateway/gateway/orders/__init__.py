"""The order path: one trip per order, each room entered once.

- ``router.py``: place, cancel, get, list (:class:`OrderRouter`);
- ``markets.py``: one object per market (spot, margin, futures) answering checks, sizing,
  placement, resolution and cancels;
- ``keyed.py``: Idempotency-Key placement and the same-order rule, returning values that each
  front end renders;
- ``lifecycle.py``: the intent state machine (every move is a compare-and-set plus audit);
- ``reconcile.py``: unknown intents, stray adoption, open refresh;
- ``model.py``: the request, its pure checks and the intent's view.
"""

from __future__ import annotations

from kcgateway.errors import ClientOidTaken, NoSuchObject, NotCancellable, RiskRejected
from kcgateway.gateway.orders.lifecycle import PENDING, TRANSITIONS, owned_account
from kcgateway.gateway.orders.model import (
    IntentView,
    OrderRequest,
    idempotent_client_oid,
    risk_check,
    state_of,
    validate,
    view,
)
from kcgateway.gateway.orders.reconcile import OPEN_REFRESH_BATCH, RECONCILE_CONCURRENCY
from kcgateway.gateway.orders.router import OrderRouter

__all__ = [
    "OPEN_REFRESH_BATCH",
    "PENDING",
    "RECONCILE_CONCURRENCY",
    "TRANSITIONS",
    "ClientOidTaken",
    "IntentView",
    "NoSuchObject",
    "NotCancellable",
    "OrderRequest",
    "OrderRouter",
    "RiskRejected",
    "idempotent_client_oid",
    "owned_account",
    "risk_check",
    "state_of",
    "validate",
    "view",
]
