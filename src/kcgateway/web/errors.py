"""Exceptions to HTTP answers, in one table.

Blame is explicit: 4xx is the caller's, 502/503 the exchange's. Bodies are
``{"error": <code>, "message": <text>}`` and never echo request input
(a failed body can hold an exchange secret).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from kcgateway.errors import (
    AuthError,
    ExchangeError,
    ExchangeUnavailable,
    Forbidden,
    OutcomeUnknown,
    Rejected,
    ValidationError,
)
from kcgateway.gateway.accounts import AccountNameTaken, KeyRefused
from kcgateway.gateway.idempotency import IdempotencyConflict
from kcgateway.gateway.orders import ClientOidTaken, NoSuchObject, NotCancellable, RiskRejected
from kcgateway.gateway.risk_control import NoSuchTarget
from kcgateway.gateway.venue import AccountNotConnected

# (exception type, status, error code); the first match wins, so subclasses come first
_TABLE: tuple[tuple[type[Exception], int, str], ...] = (
    (ValidationError, 400, "invalid_request"),
    (Forbidden, 403, "forbidden"),
    (NoSuchObject, 404, "not_found"),
    (NoSuchTarget, 404, "not_found"),
    (ClientOidTaken, 409, "client_oid_taken"),
    (NotCancellable, 409, "not_cancellable"),
    (IdempotencyConflict, 409, "idempotency_conflict"),
    (RiskRejected, 422, "risk_rejected"),
    (KeyRefused, 422, "exchange_key_refused"),
    (AccountNameTaken, 409, "account_name_taken"),
    (AuthError, 502, "exchange_auth_failed"),
    (Rejected, 422, "exchange_rejected"),
    (ExchangeUnavailable, 503, "exchange_unavailable"),
    (OutcomeUnknown, 503, "exchange_outcome_unknown"),
    (ExchangeError, 502, "exchange_error"),
    (AccountNotConnected, 409, "account_not_connected"),
)


def error_body(status: int, code: str, message: str, **extra: Any) -> str:
    """The JSON text of an error answer."""
    return json.dumps({"error": code, "message": message, **extra}, separators=(",", ":"))


def describe(exc: BaseException) -> tuple[int, str] | None:
    """(status, body) for a known exception, else None."""
    for kind, status, code in _TABLE:
        if isinstance(exc, kind):
            extra: dict[str, Any] = {}
            if isinstance(exc, ValidationError | Forbidden) and exc.field:
                extra["field"] = exc.field
            if isinstance(exc, ClientOidTaken):
                extra["orderId"] = exc.intent_id
            if isinstance(exc, ExchangeError):
                extra["exchangeCode"] = exc.code
            return status, error_body(status, code, _message(exc), **extra)
    return None


def _message(exc: BaseException) -> str:
    if isinstance(exc, NoSuchObject):
        return f"no such {exc.args[0] if exc.args else 'object'}"
    if isinstance(exc, ExchangeError):
        return exc.message or type(exc).__name__
    if isinstance(exc, AccountNotConnected):
        return "the account has no usable exchange credential"
    return str(exc)


async def _known(request: Request, exc: Exception) -> JSONResponse:
    described = describe(exc)
    if described is None:  # pragma: no cover - only registered for described types
        raise exc
    status, body = described
    return JSONResponse(json.loads(body), status_code=status)


async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type
    problems = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
        for e in exc.errors()
    ]
    body = {"error": "invalid_request", "message": "the request is invalid", "problems": problems}
    return JSONResponse(body, status_code=422)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for this type
    code = {
        400: "invalid_request",  # e.g. a body that is not JSON (FastAPI's parse error)
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
    }.get(exc.status_code, "error")
    return JSONResponse(
        {"error": code, "message": exc.detail}, status_code=exc.status_code, headers=exc.headers
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    for kind, _status, _code in _TABLE:
        app.add_exception_handler(kind, _known)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(HTTPException, _http)
