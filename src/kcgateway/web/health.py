"""The ``/readyz`` answer: ready or not, and each exchange host's reachability.

Sample::

    {"status": "not ready",
     "exchange": {"spot": {"url": "http://127.0.0.1:8130", "reachable": true, "detail": "HTTP 200"},
                  "futures": {"url": null, "reachable": false, "detail": "not configured"},
                  "broker": {"url": "http://127.0.0.1:8130", "reachable": true, ...}}}

A host that is not configured does not make the gateway unready; a configured one that does not
answer does. ``redis`` (``ok``, ``down``, ``unused``) and ``rate_budget`` (``shared``,
``local_share``, ``local``) say whether the rate budgets are shared with the other instances;
Redis being down does not make the gateway unready (each instance then holds 1/N of each quota).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from kcgateway.exchange.reach import HostReach


class HostOut(BaseModel):
    """One exchange REST host."""

    url: str | None = Field(description="its base URL; null when not configured")
    reachable: bool
    detail: str = Field(description="e.g. HTTP 200, not configured, cannot connect (refused)")


class ReadyOut(BaseModel):
    """Readiness, with each exchange host (spot, futures, broker), Redis and the rate budgets."""

    status: str = Field(description="ready or not ready")
    exchange: dict[str, HostOut] = Field(default_factory=dict)
    redis: str = Field(
        default="unused", description="ok, down, or unused (no KCGW_REDIS_URL configured)"
    )
    rate_budget: str = Field(
        default="local",
        description="local (no Redis), shared (one budget per KuCoin UID across instances) or "
        "local_share (Redis unreachable: each instance holds 1/N of each quota)",
    )


def host_json(reach: HostReach) -> dict[str, object]:
    """:class:`HostOut` as JSON-ready data."""
    return {"url": reach.url, "reachable": reach.reachable, "detail": reach.detail}
