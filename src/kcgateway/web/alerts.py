"""``GET /v1/alerts`` and ``POST /v1/alerts/retry`` (scope ``risk:manage``).

Alerts carry the full evidence (orders, prices, times), so the scope is ``risk:manage``, not
``read``. A key sees its own tenant's alerts; an ``admin`` key also sees the gateway-wide ones
(alerts raised about no tenant, e.g. a symbol blocked for everyone). Each alert shows its
webhook delivery: pending (with attempts, next attempt and last error), delivered or dead.
``POST /v1/alerts/retry`` requeues the dead deliveries among the alerts the key can list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kcgateway.errors import InvalidQuery
from kcgateway.gateway.alerts import KIND, AlertFilter, AlertService, alert_json
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.keys import Principal
from kcgateway.web.auth import require, services_of
from kcgateway.web.list_params import Cursor, From, To, next_cursor, paged_responses, window
from kcgateway.web.schemas import AUTHED, error_responses

router = APIRouter(prefix="/v1")

RiskManager = Annotated[Principal, Depends(require(Scope.RISK_MANAGE))]
MAX_LIMIT = 500
_OUT = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class DeliveryOut(BaseModel):
    """The alert's webhook delivery."""

    model_config = _OUT

    id: str = Field(description="the webhook-id header of every attempt")
    state: str = Field(description="pending, delivered or dead (gave up: `alerts retry`)")
    attempts: int
    next_attempt_at: str | None = Field(description="ISO 8601 UTC; null unless pending")
    last_error: str | None
    delivered_at: str | None


class AlertOut(BaseModel):
    """One alert: what happened, about whom, and the evidence."""

    model_config = _OUT

    id: str
    tenant_id: str | None = Field(description="null: a gateway-wide alert (admin keys only)")
    kind: str = Field(description="a stable code, e.g. risk.stolen_key")
    severity: str = Field(description="info, warning or critical")
    subjects: list[str] = Field(description="what the alert is about: accounts, keys, symbols")
    summary: str = Field(description="one sentence a person understands")
    evidence: dict[str, Any] = Field(description="orders, prices, times; money as strings")
    created_at: str = Field(description="ISO 8601 UTC")
    delivery: DeliveryOut | None = Field(description="null: no webhook was configured")


def _service(request: Request) -> AlertService:
    alerts = services_of(request).alerts
    if alerts is None:
        raise HTTPException(503, "alerts are not enabled in this gateway")
    return alerts


@router.get(
    "/alerts",
    response_model=list[AlertOut],
    responses=paged_responses(*AUTHED, 503),
    tags=["alerts"],
)
async def list_alerts(  # noqa: PLR0917 - FastAPI passes route parameters positionally
    request: Request,
    response: Response,
    principal: RiskManager,
    kind: Annotated[str | None, Query(max_length=64, pattern=KIND.pattern)] = None,
    since: Annotated[
        datetime | None, Query(description="ISO 8601; without a zone it is UTC (or use from)")
    ] = None,
    start: From = None,
    until: To = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> list[dict[str, Any]]:
    """The tenant's alerts (admin: plus gateway-wide ones), newest first, with evidence.

    ``since`` and ``from`` are the same filter (give one); paged by ``X-Next-Cursor``.
    """
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    if since is not None and start is not None:
        raise InvalidQuery("give since or from, not both", field="from")
    which = AlertFilter(
        tenant_id=principal.tenant_id, gateway=Scope.ADMIN in principal.scopes, kind=kind
    )
    found = await _service(request).page(which, window(limit, start or since, until, cursor))
    return [alert_json(a) for a in next_cursor(response, found)]


class RetryOut(BaseModel):
    """How many dead deliveries were requeued (the gateway sends them within seconds)."""

    requeued: int


@router.post(
    "/alerts/retry",
    response_model=RetryOut,
    responses=error_responses(*AUTHED, 503),
    tags=["alerts"],
)
async def retry_dead_deliveries(
    request: Request,
    principal: RiskManager,
    alert_id: Annotated[
        list[str] | None,
        Query(alias="alertId", max_length=100, description="only these alerts (repeatable)"),
    ] = None,
) -> dict[str, int]:
    """Send dead deliveries again from attempt 1: the tenant's (admin: also gateway-wide)."""
    which = AlertFilter(tenant_id=principal.tenant_id, gateway=Scope.ADMIN in principal.scopes)
    count = await _service(request).retry_dead(alert_id or (), actor=principal.key_id, which=which)
    return {"requeued": count}
