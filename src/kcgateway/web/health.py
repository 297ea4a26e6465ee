"""The ``/readyz`` answer: ready or not, and each exchange host's reachability.

Sample::

    {"status": "not ready",
     "exchange": {"spot": {"url": "http://127.0.0.1:8130", "reachable": true, "detail": "HTTP 200"},
                  "futures": {"url": null, "reachable": false, "detail": "not configured"},
                  "broker": {"url": "http://127.0.0.1:8130", "reachable": true, ...}}}

A host that is not configured does not make the gateway unready; a configured one that does not
answer does.
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
    """Readiness, with each exchange host (spot, futures, broker)."""

    status: str = Field(description="ready or not ready")
    exchange: dict[str, HostOut] = Field(default_factory=dict)


def host_json(reach: HostReach) -> dict[str, object]:
    """:class:`HostOut` as JSON-ready data."""
    return {"url": reach.url, "reachable": reach.reachable, "detail": reach.detail}
