"""KuCoin response codes mapped to the exception tree of :mod:`kcgateway.errors`, in one table.

The envelope is ``{"code": "<string>", "data": ..., "msg": "..."}``; only ``"200000"`` (and
``"200"`` on a few services such as OAuth) mean success. Every other code is an error: a code
that is not in :data:`CODES` becomes :class:`~kcgateway.errors.UnknownExchangeError`, never
success. The logic keys on the code alone; nothing here reads the message text (KuCoin's
messages vary, e.g. 400100 carries ``"account.available.amount"`` or
``"validation.createOrder.clientOidIsRequired"``).

Example: ``{"code":"429000","msg":"Too Many Requests"}`` with HTTP 429 and
``gw-ratelimit-reset: 1200`` becomes ``RateLimited(code="429000", reset_ms=1200)``.

Why each remedy (PROTOCOL.md section 3):

- 400002 (timestamp outside the 5 s window) is :class:`ClockSkew`: resync, retry once.
- 4000xx header and key failures and 4002xx partner failures are :class:`AuthError`: the
  credentials or the broker configuration are wrong, and retrying only burns the budget.
- 200002 is ambiguous (the current docs: "cancel suspended for the pair"; rate limit 1.0: a
  10 s per-endpoint throttle). Both meanings say "this request did nothing"; it is mapped to
  :class:`TradingSuspended` because a placement or cancel must not be resent blindly.
- 429000 is :class:`RateLimited`; 500000 and 503000 are :class:`ExchangeUnavailable`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from kcgateway.errors import (
    AccountRestricted,
    AuthError,
    ClockSkew,
    DuplicateClientOid,
    ExchangeError,
    ExchangeUnavailable,
    InsufficientFunds,
    InvalidParameter,
    NotFound,
    OrderNotFound,
    RateLimited,
    Rejected,
    SizeTooSmall,
    SymbolNotFound,
    TooManyOrders,
    TradingSuspended,
    UnknownExchangeError,
)

SUCCESS_CODES = frozenset({"200000", "200"})
"""Codes that mean success. Anything else, known or not, is an error."""

RATE_LIMIT_CODE = "429000"
CLOCK_SKEW_CODE = "400002"


@dataclass(frozen=True, slots=True)
class CodeSpec:
    """What a KuCoin code means and which exception class it raises."""

    error: type[ExchangeError]
    meaning: str


def _spec(error: type[ExchangeError], meaning: str) -> CodeSpec:
    return CodeSpec(error=error, meaning=meaning)


_TABLE: dict[str, CodeSpec] = {
    # --- spot business errors ---
    "200001": _spec(TradingSuspended, "order creation suspended for the pair"),
    "200002": _spec(TradingSuspended, "order cancel suspended for the pair (or legacy throttle)"),
    "200003": _spec(TooManyOrders, "too many orders"),
    "200004": _spec(InsufficientFunds, "balance insufficient"),
    "200009": _spec(AccountRestricted, "KYC required"),
    # --- gateway / authentication ---
    "400001": _spec(AuthError, "a KC-API-* header is missing"),
    "400002": _spec(ClockSkew, "invalid KC-API-TIMESTAMP (more than 5 s from server time)"),
    "400003": _spec(AuthError, "KC-API-KEY does not exist"),
    "400004": _spec(AuthError, "invalid KC-API-PASSPHRASE"),
    "400005": _spec(AuthError, "invalid KC-API-SIGN"),
    "400006": _spec(AuthError, "request IP not in the key's whitelist"),
    "400007": _spec(AuthError, "access denied, the key needs more permission"),
    "400008": _spec(AuthError, "V1 and V2 API keys are no longer supported"),
    "400009": _spec(AuthError, "invalid KC-API-KEY-VERSION"),
    "400100": _spec(InvalidParameter, "parameter error"),
    "400200": _spec(AuthError, "unknown partner (broker configuration)"),
    "400201": _spec(AuthError, "invalid KC-API-PARTNER-SIGN"),
    "400202": _spec(AuthError, "invalid request IP for the partner"),
    "400500": _spec(AccountRestricted, "region not supported for this token"),
    "400600": _spec(TradingSuspended, "symbol not yet tradable"),
    "400700": _spec(AccountRestricted, "account risk restriction"),
    "400800": _spec(Rejected, "leverage order failed"),
    "404000": _spec(NotFound, "URL not found"),
    "411100": _spec(AccountRestricted, "user frozen"),
    "415000": _spec(InvalidParameter, "unsupported media type (Content-Type must be JSON)"),
    "429000": _spec(RateLimited, "too many requests: the rate-limit pool is empty"),
    "500000": _spec(ExchangeUnavailable, "internal server error"),
    "503000": _spec(ExchangeUnavailable, "service unavailable (maintenance)"),
    "600100": _spec(SizeTooSmall, "funds below the minimum"),
    "600101": _spec(SizeTooSmall, "size below the minimum"),
    "900001": _spec(SymbolNotFound, "symbol does not exist"),
    # --- spot HF (high-frequency) trading ---
    "126000": _spec(Rejected, "HF: abnormal margin trading"),
    "126001": _spec(AccountRestricted, "HF: the user does not support high-frequency trading"),
    "126002": _spec(AccountRestricted, "HF: account risk problem, trading not allowed"),
    "126003": _spec(SizeTooSmall, "HF: order amount below the minimum"),
    "126004": _spec(SymbolNotFound, "HF: trading pair does not exist or is prohibited"),
    "126005": _spec(AccountRestricted, "HF: the pair requires advanced KYC"),
    "126006": _spec(TradingSuspended, "HF: trading pair not available"),
    "126007": _spec(TradingSuspended, "HF: trading pair suspended"),
    "126009": _spec(TradingSuspended, "HF: order creation suspended for the pair"),
    "126010": _spec(TradingSuspended, "HF: order cancellation suspended for the pair"),
    "126011": _spec(TooManyOrders, "HF: too many orders"),
    "126013": _spec(InsufficientFunds, "HF: insufficient balance"),
    "126015": _spec(TradingSuspended, "HF: orders on this pair are prohibited"),
    "126021": _spec(AccountRestricted, "HF: asset not available in the user's region"),
    "126022": _spec(Rejected, "HF: price protection triggered"),
    "126027": _spec(InvalidParameter, "HF: only limit orders are supported"),
    "126028": _spec(InvalidParameter, "HF: only limit orders before the opening time"),
    "126029": _spec(InvalidParameter, "HF: price above the maximum"),
    "126030": _spec(InvalidParameter, "HF: price below the minimum"),
    "126033": _spec(DuplicateClientOid, "HF: duplicate order"),
    "126036": _spec(Rejected, "HF: margin order creation failed"),
    "126037": _spec(AccountRestricted, "HF: suspended by country or region restrictions"),
    "126038": _spec(ExchangeUnavailable, "HF: internal third-party service call failed"),
    "126039": _spec(ExchangeUnavailable, "HF: third-party service call failed"),
    "126041": _spec(InvalidParameter, "HF: clientTimestamp parameter error"),
    "126042": _spec(Rejected, "HF: maximum position limit exceeded"),
    "126043": _spec(OrderNotFound, "HF: order does not exist"),
    "126044": _spec(DuplicateClientOid, "HF: clientOid duplicate"),
    "126045": _spec(AccountRestricted, "HF: asset not available in the user's region"),
    "126046": _spec(AccountRestricted, "HF: asset not available in the IP's region"),
    "126047": _spec(AccountRestricted, "HF: identity verification required"),
    "126048": _spec(AccountRestricted, "HF: master account authentication required"),
    "400760": _spec(InvalidParameter, "order price outside the allowed range"),
    # --- futures ---
    "100001": _spec(OrderNotFound, "futures: the order does not exist"),
    "300000": _spec(Rejected, "futures: order or position request refused"),
    "300003": _spec(InsufficientFunds, "futures: balance insufficient"),
    "300009": _spec(Rejected, "futures: no open position to close"),
    "330005": _spec(Rejected, "futures: order margin mode differs from the position's"),
    "330008": _spec(InsufficientFunds, "futures: margin and leverage at the open limit"),
    "330012": _spec(Rejected, "futures: one-way order on a hedge-mode account"),
}

CODES: Mapping[str, CodeSpec] = MappingProxyType(_TABLE)
"""Every KuCoin code we know, mapped to its exception class (read-only)."""


def is_success(code: str) -> bool:
    """True when ``code`` is one of :data:`SUCCESS_CODES`."""
    return code in SUCCESS_CODES


def _build(
    error: type[ExchangeError],
    code: str,
    message: str,
    *,
    http_status: int | None,
    request_path: str,
    request_id: str | None,
    reset_ms: int | None,
) -> ExchangeError:
    if error is RateLimited:
        return RateLimited(
            code,
            message,
            reset_ms=reset_ms,
            http_status=http_status,
            request_path=request_path,
            request_id=request_id,
        )
    return error(
        code, message, http_status=http_status, request_path=request_path, request_id=request_id
    )


def error_for(
    code: str,
    message: str,
    *,
    http_status: int | None,
    request_path: str,
    request_id: str | None = None,
    reset_ms: int | None = None,
) -> ExchangeError:
    """The exception for an error envelope ``{"code": code, "msg": message}``.

    ``reset_ms`` (from ``gw-ratelimit-reset``) is kept only on :class:`RateLimited`.
    A success code is a programming error here and raises :class:`ValueError`.
    """
    if code in SUCCESS_CODES:
        raise ValueError(f"code {code!r} is a success code, not an error")
    spec = CODES.get(code)
    error = UnknownExchangeError if spec is None else spec.error
    return _build(
        error,
        code,
        message,
        http_status=http_status,
        request_path=request_path,
        request_id=request_id,
        reset_ms=reset_ms,
    )


def status_code(http_status: int) -> str:
    """The pseudo-code used when only an HTTP status is known (``"http_502"``)."""
    return f"http_{http_status}"


def _error_class_for_status(http_status: int) -> type[ExchangeError]:
    if http_status == 429:
        return RateLimited
    if http_status >= 500:
        return ExchangeUnavailable
    if http_status == 404:
        return NotFound
    return UnknownExchangeError


def error_for_status(
    http_status: int,
    body_len: int,
    *,
    request_path: str,
    request_id: str | None = None,
    reset_ms: int | None = None,
) -> ExchangeError:
    """The exception for a non-2xx reply that carries no KuCoin error code.

    429 is :class:`RateLimited`, 5xx :class:`ExchangeUnavailable`, 404 :class:`NotFound`,
    anything else :class:`UnknownExchangeError`. Used for non-JSON bodies and for a success
    code on an error status. The body itself is never put in the message (it may be an HTML
    page of any size); only its length is.
    """
    return _build(
        _error_class_for_status(http_status),
        status_code(http_status),
        f"HTTP {http_status} without a KuCoin error code (body of {body_len} bytes)",
        http_status=http_status,
        request_path=request_path,
        request_id=request_id,
        reset_ms=reset_ms,
    )
