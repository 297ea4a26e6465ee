"""What the gateway refused, as exceptions that carry its reasons (never a parsed message).

Every error answer of ``/v1`` is ``{"error": <stable code>, "message": <what to do>, ...}``
with optional members (``field``, ``exchangeCode``, ``problems``, ``failures``). A rejected
order is answered 422 with the order itself (``state: "rejected"``) and its reason.

    GatewayError
    ├── RequestRefused        4xx: we sent something the gateway refuses; do not resend as is
    │   ├── Unauthenticated   401: the key is wrong, expired, revoked or not from this address
    │   ├── Forbidden         403: the key lacks a scope
    │   ├── NotFound          404
    │   ├── ConflictError     409: clientOid taken, idempotency key reused, not cancellable
    │   ├── InvalidRequest    422: bad input or a risk refusal (``problems``, ``failures``)
    │   └── OrderRejected     422: the order was stored and refused (``order``, ``reason``)
    └── GatewayUnavailable    429, 5xx, or no answer: retried by the client, then raised
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConflictError",
    "Forbidden",
    "GatewayError",
    "GatewayUnavailable",
    "InvalidRequest",
    "NotFound",
    "OrderRejected",
    "RequestRefused",
    "Unauthenticated",
    "error_for",
]


class GatewayError(Exception):
    """An answer that is not a success. ``body``: the gateway's JSON answer (or empty)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        #: the stable code, e.g. ``not_found``, ``risk_rejected``, ``exchange_rejected``
        self.error: str = str(body.get("error") or "")
        self.message: str = str(body.get("message") or "")
        self.field: str | None = body.get("field")
        self.exchange_code: str | None = body.get("exchangeCode")
        #: failed risk checks: ``[{"code": "risk.price_collar", "message": ...}]``
        self.failures: list[dict[str, Any]] = list(body.get("failures") or [])
        #: invalid parts of the request: ``[{"field": "body.price", "message": ...}]``
        self.problems: list[dict[str, Any]] = list(body.get("problems") or [])
        super().__init__(f"{status} {self.error or 'error'}: {self.message}")


class RequestRefused(GatewayError):
    """The gateway refused what we sent (4xx): change the request before sending it again."""


class Unauthenticated(RequestRefused):
    """401: the key is wrong, expired, revoked, suspended, or not allowed from this address."""


class Forbidden(RequestRefused):
    """403: the key does not hold the scope the route needs."""


class NotFound(RequestRefused):
    """404: no such object of this tenant."""


class ConflictError(RequestRefused):
    """409: clientOid already used, Idempotency-Key reused with another body, not cancellable."""


class InvalidRequest(RequestRefused):
    """422 with an error code: local validation (``problems``) or risk (``failures``)."""


class OrderRejected(RequestRefused):
    """422 with the order: stored, sent or checked, and refused. ``order`` is its JSON."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.order = body
        reason = body.get("reason")
        #: why, as the gateway recorded it (a sentence, or a dict with a code), if it says
        self.reason: Any = reason
        if not self.message:
            self.message = str(reason or "the order was rejected")
            self.args = (f"{status} order rejected: {self.message}",)


class GatewayUnavailable(GatewayError):
    """429, 5xx or no answer at all (after the client's retries)."""


_BY_STATUS: dict[int, type[GatewayError]] = {
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: ConflictError,
    422: InvalidRequest,
}


def error_for(status: int, body: Any) -> GatewayError:
    """The exception for an error answer (``body``: its decoded JSON, anything)."""
    data: dict[str, Any] = body if isinstance(body, dict) else {}
    if status == 422 and "error" not in data and data.get("state") == "rejected":
        return OrderRejected(status, data)
    if status == 429 or status >= 500:
        return GatewayUnavailable(status, data)
    return _BY_STATUS.get(status, RequestRefused)(status, data)
