"""The risk CONTROL plane: trading states, limit overrides and the symbol block list.

The pure :mod:`kcgateway.risk` decides one order from its inputs; this service holds two of
them, per level (gateway, tenant, account, key), and changes them:

- **Trading states** (ACTIVE, REDUCING, HALTED). :meth:`RiskControl.halt` is the kill switch: the
  state is set in memory BEFORE anything is written, so an order checked after ``halt`` was
  entered is refused even while the write is still under way; then it is persisted with its
  audit record, and with ``cancel_open`` the injected :class:`OpenOrderCanceller` cancels every
  open order under the target. :meth:`RiskControl.resume` is the opposite direction and the
  opposite order: persisted first, relaxed in memory only once committed (a failed write leaves
  the target halted). A reason is required for both.
- **Limits.** The gateway holds a complete :class:`~kcgateway.risk.Limits` (settings and
  defaults, with the fields the operator set at the gateway level replacing them, and the
  blocked symbols added to its deny-list); a tenant, an account and a key hold
  :class:`~kcgateway.risk.LimitOverrides`, which can only tighten.
- **Blocked symbols**: the gateway-wide deny-list, which the stolen-key detector's
  ``block_symbol`` action adds to (:meth:`RiskControl.block_symbol`).

The order path calls :meth:`RiskControl.states_for` and :meth:`RiskControl.limits_for` per order:
both read memory only (dictionary lookups; the resolved limits are cached per tenant, account
and key). Every change is persisted and written to the audit log with its actor and reason in
the same transaction, and bumps a generation number; the other gateway instances are told the
new number at once (:attr:`RiskControl.on_change` feeds the change bus) and reload, and a
running gateway also reads that number every ``refresh_every_s`` (0.5 s) and reloads when
another process (the CLI) changed something.

Who may act (enforced here, whatever the front end): a key needs ``risk:manage`` and acts on its
own tenant, accounts and keys only (anyone else's is :class:`NoSuchTarget`, as if it did not
exist); the gateway level and the block list need ``admin`` (or the operator). A state set by the
operator or the risk engine is lifted only by an ``admin`` key or the operator, so a stolen key
that holds ``risk:manage`` cannot resume what the detector halted.
"""

from kcgateway.gateway.risk_control.access import GATEWAY
from kcgateway.gateway.risk_control.service import ENGINE, RiskControl
from kcgateway.gateway.risk_control.views import (
    BlockedSymbol,
    CancelReport,
    HaltResult,
    LimitsView,
    NoSuchTarget,
    OpenOrderCanceller,
    StateView,
    Target,
)

__all__ = [
    "ENGINE",
    "GATEWAY",
    "BlockedSymbol",
    "CancelReport",
    "HaltResult",
    "LimitsView",
    "NoSuchTarget",
    "OpenOrderCanceller",
    "RiskControl",
    "StateView",
    "Target",
]
