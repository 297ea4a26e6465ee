"""The one exception tree of kcgateway, named by what the caller should do.

::

    KcgatewayError
    ├── LocalError                 we (or our caller) got something wrong; nothing was sent
    │   ├── ConfigError            bad or missing settings; fix the configuration
    │   ├── ValidationError        a request failed local checks (symbol rules, arguments)
    │   ├── Forbidden              the caller may not do this; the message names what exceeds it
    │   └── CredentialUnreadable   a stored credential does not decrypt: check the KEK, re-enter it
    ├── ProtocolError              the exchange answered with a payload we cannot parse
    ├── OutcomeUnknown             an order may or may not exist: reconcile by clientOid
    └── ExchangeError              the exchange answered with an error code
        ├── TransientError         retry later (idempotent calls only, or reconcile)
        │   ├── RateLimited        wait until ``reset_ms``
        │   ├── ClockSkew          resync the server clock, then retry once
        │   └── ExchangeUnavailable  5xx, maintenance, network failure
        ├── AuthError              stop and alert: the credentials or their use are wrong
        ├── Rejected               the exchange refused this request; never resend it as is
        │   ├── InvalidParameter, InsufficientFunds, SymbolNotFound, DuplicateClientOid,
        │   ├── OrderNotFound, TooManyOrders, SizeTooSmall, TradingSuspended, NotFound
        │   └── AccountRestricted
        └── UnknownExchangeError   a code we do not know: an error, never success

Exceptions carry fields (code, HTTP status, message, request path, request id), never a header
value or a secret. "Blame" is explicit: :class:`LocalError` means we sent nothing or the fault is
ours; :class:`ExchangeError` means the exchange said no; :class:`ExchangeUnavailable` and
:class:`OutcomeUnknown` mean the exchange or the network failed.
"""

from __future__ import annotations


class KcgatewayError(Exception):
    """Base class of every error kcgateway raises on purpose."""


class LocalError(KcgatewayError):
    """Something on our side is wrong; no request reached the exchange because of it."""


class ConfigError(LocalError):
    """Settings are missing or invalid. The message says what to fix."""


class ValidationError(LocalError):
    """A request failed local validation before anything was sent.

    ``field`` names the offending argument when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Forbidden(LocalError):
    """The caller is known but may not do this (e.g. grant a scope it does not hold).

    ``field`` names what exceeds the caller's own rights (``scopes``, ``ipAllowlist``,
    ``expiresAt``, ...); the message says what to do instead.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class CredentialUnreadable(LocalError):
    """A stored credential cannot be decrypted; nothing was signed or sent.

    The KEK that wraps it is missing or wrong, or the sealed record was altered or moved to
    another row, field or tenant. Never retry: fix the KEK configuration or re-enter the
    credential. ``reason`` is a fixed phrase, never key material.
    """

    def __init__(self, credential_id: str, *, reason: str, field: str | None = None) -> None:
        where = f" field {field}" if field else ""
        super().__init__(f"credential {credential_id}{where} cannot be decrypted: {reason}")
        self.credential_id = credential_id
        self.reason = reason
        self.field = field


class ProtocolError(KcgatewayError):
    """A payload did not match the expected shape.

    ``path`` is where in the payload the problem is (for example ``data.items[3].price``).
    """

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(f"{message} at {path}" if path else message)
        self.message = message
        self.path = path


class OutcomeUnknown(KcgatewayError):
    """An order request may or may not have reached the matching engine.

    Never resend with a new clientOid: look the order up by ``client_oid`` (reconcile).
    """

    def __init__(self, client_oid: str, *, reason: str, request_path: str = "") -> None:
        super().__init__(f"outcome unknown for clientOid {client_oid}: {reason}")
        self.client_oid = client_oid
        self.reason = reason
        self.request_path = request_path


class ExchangeError(KcgatewayError):
    """The exchange answered with an error code (or a transport failure stood in for one)."""

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        http_status: int | None = None,
        request_path: str = "",
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.request_path = request_path
        self.request_id = request_id


class TransientError(ExchangeError):
    """A temporary failure: an idempotent call may be retried after a backoff."""


class RateLimited(TransientError):
    """A rate-limit pool is empty (429000). ``reset_ms`` is how long until it refills, if known."""

    def __init__(
        self,
        code: str = "429000",
        message: str = "Too Many Requests",
        *,
        reset_ms: int | None = None,
        http_status: int | None = 429,
        request_path: str = "",
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            code,
            message,
            http_status=http_status,
            request_path=request_path,
            request_id=request_id,
        )
        self.reset_ms = reset_ms


class ClockSkew(TransientError):
    """The request timestamp was outside the exchange's window (400002): resync the clock."""


class ExchangeUnavailable(TransientError):
    """The exchange or the network failed (5xx, maintenance, connection error, timeout)."""


class AuthError(ExchangeError):
    """The credentials, their version, IP or permissions were refused: stop and alert."""


class Rejected(ExchangeError):
    """The exchange refused the request on its merits: never resend it unchanged."""


class InvalidParameter(Rejected):
    """A parameter was missing or invalid (400100 and relatives)."""


class InsufficientFunds(Rejected):
    """The account's available balance is too small."""


class SymbolNotFound(Rejected):
    """The symbol or contract does not exist."""


class DuplicateClientOid(Rejected):
    """An active order already uses this clientOid."""


class OrderNotFound(Rejected):
    """The order does not exist, or is no longer active."""


class TooManyOrders(Rejected):
    """The open-order limit per account or per symbol is reached."""


class SizeTooSmall(Rejected):
    """Size or funds are below the symbol's minimum."""


class TradingSuspended(Rejected):
    """Order creation or cancellation is suspended for the symbol or the account."""


class AccountRestricted(Rejected):
    """The account is frozen, needs KYC, or is restricted in its region."""


class NotFound(Rejected):
    """The URL does not exist on the exchange (404000)."""


class UnknownExchangeError(ExchangeError):
    """A code missing from our table: treated as an error whose effect is unknown."""
