"""Exceptions to HTTP answers, in one table.

Every refusal is a class of the :mod:`kcgateway.errors` tree; :data:`TABLE` maps it to an HTTP
status, a stable error code and the fields it adds to the body. Routes raise; they never build
error JSON. Blame is explicit: 4xx is the caller's, 502/503 the exchange's (or, for an account
that cannot sign, the operator's). Bodies are ``{"error": <code>, "message": <text>, ...}`` and
never echo request input (a failed body can hold an exchange secret).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from kcgateway.errors import (
    AccessDenied,
    AccountBusy,
    AccountNameTaken,
    AccountNotConnected,
    AccountUnusable,
    AmbiguousClientOid,
    AuthError,
    ClientOidTaken,
    ConfigError,
    Conflict,
    CredentialUnreadable,
    ExchangeError,
    ExchangeKeyInvalid,
    ExchangeUnavailable,
    FacadeRefused,
    Forbidden,
    IdempotencyConflict,
    IdempotencyInProgress,
    InvalidQuery,
    KcgatewayError,
    KeyPossiblyCreated,
    KeyRefused,
    NoSuchObject,
    NotCancellable,
    NotSizable,
    OnboardingNotConfigured,
    OnboardingRefused,
    OutcomeUnknown,
    PermissionDenied,
    ProtocolError,
    Refused,
    Rejected,
    RiskRejected,
    SignalRefused,
    TenantNameTaken,
    Unauthenticated,
    ValidationError,
)
from kcgateway.gateway.reasons import MAX_TEXT, hint_for

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kcgateway"'}
Fields = Callable[[Any], dict[str, Any]]


def _none(exc: Any) -> dict[str, Any]:
    return {}


def _message(exc: Any) -> str:
    return str(exc)


def _failures(exc: RiskRejected) -> list[dict[str, str]]:
    """Every failed risk check: its stable code and its sentence."""
    return [{"code": code, "message": message} for code, message in exc.failures]


def _exchange(exc: ExchangeError) -> str:
    return exc.message or type(exc).__name__


#: (class, status, error code, extra body fields, message); the first match wins, so
#: subclasses come before their bases
TABLE: tuple[tuple[type[Exception], int, str, Fields, Callable[[Any], str]], ...] = (
    (ConfigError, 503, "not_configured", _none, _message),
    (InvalidQuery, 422, "invalid_request", lambda e: {"field": e.field}, lambda e: e.message),
    (ValidationError, 400, "invalid_request",
     lambda e: {"field": e.field} if e.field else {}, lambda e: e.message),
    (Unauthenticated, 401, "unauthenticated", _none, _message),
    (SignalRefused, 401, "signal_refused", _none, _message),
    (PermissionDenied, 403, "forbidden", lambda e: {"needed": e.needed}, _message),
    (Forbidden, 403, "forbidden", lambda e: {"field": e.field} if e.field else {}, _message),
    (FacadeRefused, 403, "forbidden", lambda e: {"kucoinCode": e.kc_code}, lambda e: e.message),
    (AccessDenied, 403, "forbidden", _none, _message),
    (NoSuchObject, 404, "not_found", _none, lambda e: f"no such {e.kind}"),
    (ClientOidTaken, 409, "client_oid_taken", lambda e: {"orderId": e.intent_id}, _message),
    (AmbiguousClientOid, 409, "client_oid_ambiguous",
     lambda e: {"accounts": list(e.accounts)}, _message),
    (NotCancellable, 409, "not_cancellable", lambda e: {"state": e.state}, _message),
    (IdempotencyConflict, 409, "idempotency_conflict", _none, _message),
    (IdempotencyInProgress, 409, "idempotency_in_progress", _none, _message),
    (AccountBusy, 409, "account_busy", lambda e: {"liveOrders": e.live}, _message),
    (AccountNameTaken, 409, "account_name_taken", _none, _message),
    (TenantNameTaken, 409, "tenant_name_taken", _none, _message),
    (OnboardingNotConfigured, 409, "onboarding_not_configured", _none, _message),
    (Conflict, 409, "conflict", _none, _message),  # a new Conflict answers this until its row
    (NotSizable, 422, "order_not_sizable", lambda e: {"symbol": e.symbol}, _message),
    (RiskRejected, 422, "risk_rejected", lambda e: {"failures": _failures(e)}, _message),
    (KeyRefused, 422, "exchange_key_refused", _none, _message),
    (OnboardingRefused, 400, "onboarding_refused", lambda e: {"reason": e.reason}, _message),
    (ExchangeKeyInvalid, 422, "exchange_auth_failed",
     lambda e: {"exchangeCode": e.code}, _message),
    (Refused, 422, "refused", _none, _message),  # the default of every gateway refusal
    (AccountNotConnected, 409, "account_not_connected",
     lambda e: {"accountId": e.account_id}, _message),
    (AccountUnusable, 503, "account_unusable",
     lambda e: {"accountId": e.account_id}, _message),
    (CredentialUnreadable, 503, "credential_unreadable", _none,
     lambda e: "a stored credential cannot be decrypted: the operator must check the KEK"),
    (AuthError, 502, "exchange_auth_failed", lambda e: {"exchangeCode": e.code}, _exchange),
    (Rejected, 422, "exchange_rejected", lambda e: {"exchangeCode": e.code}, _exchange),
    (ExchangeUnavailable, 503, "exchange_unavailable",
     lambda e: {"exchangeCode": e.code}, _exchange),
    (KeyPossiblyCreated, 503, "onboarding_key_unknown", _none, _message),
    (OutcomeUnknown, 503, "exchange_outcome_unknown", _none, _message),
    (ExchangeError, 502, "exchange_error", lambda e: {"exchangeCode": e.code}, _exchange),
    (ProtocolError, 502, "exchange_bad_reply", _none,
     lambda e: "the exchange answered with a payload the gateway cannot read"),
)  # fmt: skip


def error_body(status: int, code: str, message: str, **extra: Any) -> str:
    """The JSON text of an error answer."""
    return json.dumps({"error": code, "message": message, **extra}, separators=(",", ":"))


def _why(exc: BaseException) -> dict[str, Any]:
    """What every answer adds: the exchange's own message when it refused, and what to do."""
    extra: dict[str, Any] = {}
    if isinstance(exc, ExchangeError) and exc.message:
        extra["exchangeMessage"] = exc.message[:MAX_TEXT]
    hint = hint_for(exc)
    if hint:
        extra["hint"] = hint
    return extra


def describe(exc: BaseException) -> tuple[int, str] | None:
    """(status, body) for a known exception, else None."""
    for kind, status, code, fields, message in TABLE:
        if isinstance(exc, kind):
            extra = {**_why(exc), **fields(exc)}
            return status, error_body(status, code, message(exc), **extra)
    return None


def _headers(exc: BaseException) -> dict[str, str] | None:
    if not isinstance(exc, Unauthenticated):
        return None
    headers = dict(_CHALLENGE)
    if exc.retry_after_s is not None:
        headers["Retry-After"] = str(exc.retry_after_s if exc.retry_after_s > 0 else 3600)
    return headers


async def _known(request: Request, exc: Exception) -> JSONResponse:
    described = describe(exc)
    if described is None:  # an error of the tree missing from the table: a bug, a 500
        raise exc
    status, body = described
    return JSONResponse(json.loads(body), status_code=status, headers=_headers(exc))


async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type
    problems = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
        for e in exc.errors()
    ]
    body = {
        "error": "invalid_request",
        "message": "the request is invalid",
        "problems": problems,
        "hint": "correct each field listed in problems and send the request again",
    }
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
    app.add_exception_handler(KcgatewayError, _known)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(HTTPException, _http)
