"""Why a request was refused, in words a bot author can act on: code, field, exchange, remedy.

Every refusal is an exception of :mod:`kcgateway.errors`. :func:`hint_for` says what to do
about it (the remedy of its class, or of the exchange's code when the exchange refused);
:func:`reason_of` is the whole reason of a refused ORDER, which its intent keeps (the
``order_intents.reason`` column) so ``GET /v1/orders/{id}``, the lists and ``kcgateway orders``
show it long after the answer was sent. The HTTP error bodies (``kcgateway.web.errors``) carry
the same ``hint``.

Pure: no I/O. Nothing here echoes request input or a secret; exchange messages are KuCoin's
fixed texts (``"Balance insufficient!"``), cut to :data:`MAX_TEXT` characters.

Sample (a spot buy the simulator refused for funds)::

    {"code": "exchange_rejected", "message": "Balance insufficient!",
     "exchangeCode": "200004", "exchangeMessage": "Balance insufficient!",
     "hint": "the account's available balance is too small: deposit, free funds held by ..."}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kcgateway.errors import (
    AccessDenied,
    AccountNotConnected,
    AccountRestricted,
    AccountUnusable,
    AuthError,
    ClockSkew,
    ConfigError,
    Conflict,
    CredentialUnreadable,
    DuplicateClientOid,
    ExchangeError,
    ExchangeKeyInvalid,
    ExchangeUnavailable,
    InsufficientFunds,
    InvalidParameter,
    KeyRefused,
    NoSuchObject,
    OrderNotFound,
    OutcomeUnknown,
    ProtocolError,
    RateLimited,
    Refused,
    Rejected,
    RiskRejected,
    SizeTooSmall,
    SymbolNotFound,
    TooManyOrders,
    TradingSuspended,
    Unauthenticated,
    ValidationError,
)

MAX_TEXT = 300

#: what to do, by the exchange's code where the class alone is too vague
_BY_EXCHANGE_CODE: dict[str, str] = {
    "400003": "the exchange does not know this API key: re-enter it (`kcgateway accounts "
    "connect`) with the key KuCoin shows",
    "400004": "the passphrase is wrong: re-enter the account's key with the passphrase chosen "
    "when the key was created",
    "400005": "the signature was refused: re-enter the account's secret exactly as KuCoin "
    "showed it",
    "400006": "the gateway's address is not in the key's IP whitelist: add the gateway's "
    "egress address to the key on KuCoin",
    "400007": "the exchange key lacks the permission this market needs (Spot, Margin or "
    "Futures): grant it to the key on KuCoin, or connect a key that has it",
    "400200": "the broker (partner) configuration is wrong: check `kcgateway broker` settings",
    "400201": "the broker (partner) signature was refused: check the broker key",
    "400202": "the broker's IP whitelist refuses the gateway's address: add it on KuCoin",
}

#: what to do, by class; the first match wins, so subclasses come before their bases
_BY_CLASS: tuple[tuple[type[Exception], str], ...] = (
    (ValidationError, "correct the field named and send the request again"),
    (ConfigError, "the operator must fix the gateway's configuration, as the message says"),
    (AccountNotConnected, "connect an exchange key to the account (`kcgateway accounts connect`)"),
    (AccountUnusable, "the operator must fix the account's credential (re-enter it, or the KEK)"),
    (CredentialUnreadable, "the operator must check the KEK configuration"),
    (Unauthenticated, "send a valid gateway key: Authorization: Bearer <key>"),
    (AccessDenied, "use a gateway key with the scope named in `needed`, or ask an admin"),
    (NoSuchObject, "check the id or name; list what exists (e.g. GET /v1/orders, /v1/accounts)"),
    (Conflict, "look at the object's current state, then decide"),
    (RiskRejected, "change the order as each failure says (smaller, closer to the market); "
     "risk.stale_data on a symbol's rules or prices may mean the symbol does not exist "
     "(GET /v1/symbols)"),
    (KeyRefused, "connect a key with only the permissions the gateway accepts, as the message "
     "says (an IP whitelist in prod)"),
    (ExchangeKeyInvalid, "re-check the apiKey, secret, passphrase and keyVersion on KuCoin"),
    (Refused, "the gateway's rules refused the request: change it as the message says"),
    (InsufficientFunds, "the account's available balance is too small: deposit, free funds held "
     "by open orders (cancel them), or make the order smaller"),
    (SizeTooSmall, "raise the size (or funds) to at least the symbol's minimum (GET /v1/symbols)"),
    (SymbolNotFound, "use a symbol the exchange lists (GET /v1/symbols, or the contracts)"),
    (TradingSuspended, "the exchange is not taking orders on this symbol now: try later"),
    (TooManyOrders, "cancel some open orders on the account or symbol first"),
    (DuplicateClientOid, "use a new clientOid (or look the existing order up)"),
    (OrderNotFound, "the order is no longer active at the exchange: look it up"),
    (AccountRestricted, "the exchange restricts this account (KYC, region, risk): see KuCoin"),
    (InvalidParameter, "the exchange refused a parameter: check the order against the "
     "symbol's rules (tick, lot, minimum) and the exchange's message"),
    (Rejected, "the exchange refused the order: change it as the exchange's message says; "
     "never resend it unchanged"),
    (AuthError, "the exchange refused the account's key: check it on KuCoin and re-enter it"),
    (RateLimited, "slow down: retry after the rate-limit window (Retry-After when given)"),
    (ClockSkew, "the gateway's clock is off: retry; the operator should check NTP"),
    (ExchangeUnavailable, "the exchange or the network failed: retry later (same clientOid)"),
    (OutcomeUnknown, "the order may exist: look it up by clientOid; never resend with a new one"),
    (ExchangeError, "the exchange answered with an error: see exchangeCode and exchangeMessage"),
    (ProtocolError, "the exchange's answer could not be read: retry later, report if it stays"),
)  # fmt: skip


def hint_for(exc: BaseException) -> str:
    """What the caller (or the operator) should do about ``exc``; "" when nothing is known."""
    if isinstance(exc, ExchangeError) and exc.code in _BY_EXCHANGE_CODE:
        return _BY_EXCHANGE_CODE[exc.code]
    for kind, hint in _BY_CLASS:
        if isinstance(exc, kind):
            return hint
    return ""


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an order was refused: what the intent keeps and every view of it shows.

    ``code`` is the stable code of the HTTP error table (``invalid_request``,
    ``exchange_rejected``, ``exchange_auth_failed``, ``account_unusable`` ...); ``field`` the
    offending argument of a local refusal; ``exchange_code``/``exchange_message`` KuCoin's
    answer when the exchange refused; ``hint`` what to do.
    """

    code: str
    message: str
    hint: str
    field: str | None = None
    exchange_code: str | None = None
    exchange_message: str | None = None

    def to_json(self) -> dict[str, str]:
        """The stored (and shown) form: camelCase keys, absent fields left out."""
        out = {"code": self.code, "message": self.message, "hint": self.hint}
        optional = {
            "field": self.field,
            "exchangeCode": self.exchange_code,
            "exchangeMessage": self.exchange_message,
        }
        out.update({k: v for k, v in optional.items() if v})
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reason:
        """The stored form back (unknown keys ignored, so old rows stay readable)."""
        return cls(
            code=str(data.get("code", "refused")),
            message=str(data.get("message", "")),
            hint=str(data.get("hint", "")),
            field=data.get("field"),
            exchange_code=data.get("exchangeCode"),
            exchange_message=data.get("exchangeMessage"),
        )


def _code_of(exc: BaseException) -> str:
    """The web error table's code for the exceptions an order's send can end in."""
    if isinstance(exc, ValidationError):
        return "invalid_request"
    if isinstance(exc, AccountNotConnected):
        return "account_not_connected"
    if isinstance(exc, AccountUnusable):
        return "account_unusable"
    if isinstance(exc, AuthError):
        return "exchange_auth_failed"
    if isinstance(exc, Rejected):
        return "exchange_rejected"
    return "not_placed"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def reason_of(exc: BaseException) -> Reason:
    """The reason an order's send ended in ``exc`` (a refusal, or it was never sent)."""
    if isinstance(exc, ValidationError):
        return Reason("invalid_request", _cut(exc.message), hint_for(exc), field=exc.field)
    if isinstance(exc, ExchangeError):
        said = _cut(exc.message) or None
        message = said or f"the exchange refused the order ({exc.code})"
        return Reason(
            _code_of(exc), message, hint_for(exc), exchange_code=exc.code, exchange_message=said
        )
    return Reason(_code_of(exc), _cut(str(exc)) or type(exc).__name__, hint_for(exc))


#: the reconciler's verdict on an intent the exchange never got (its lookups found nothing)
NOT_FOUND_AFTER_GRACE = Reason(
    "not_placed",
    "the exchange has no order with this clientOid after the grace period: it was never placed",
    "place the order again if you still want it (a new clientOid)",
)
#: an intent stored but never sent (the process stopped between commit and call)
NEVER_SENT = Reason(
    "not_placed",
    "the gateway stopped before sending the order: it was never placed",
    "place the order again if you still want it (a new clientOid)",
)
