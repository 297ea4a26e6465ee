"""The one exception tree of kcgateway, named by what the caller should do.

::

    KcgatewayError
    ├── LocalError                 we (or our caller) got something wrong; nothing was sent
    │   ├── ConfigError            bad or missing settings; fix the configuration
    │   ├── ValidationError        a request failed local checks (symbol rules, arguments)
    │   │   └── InvalidTenantName, InvalidBrokerSettings, InvalidQuery
    │   ├── CredentialUnreadable   a stored credential does not decrypt: check the KEK, re-enter it
    │   └── AccountUnusable        an account cannot sign: connect or re-enter its credential
    │       └── AccountNotConnected  it has no stored credential at all
    ├── Refused                    the gateway refused on its own rules: change the request
    │   ├── AccessDenied           who is asking may not do this
    │   │   ├── Unauthenticated    no usable API key: present a valid one
    │   │   ├── PermissionDenied   the key lacks what the action needs: use a stronger key
    │   │   ├── SignalRefused      a bot signal failed authentication (one answer for every cause)
    │   │   ├── Forbidden          it would exceed the caller's own rights (scopes, IPs, expiry)
    │   │   └── FacadeRefused      a KuCoin-facade request refused with KuCoin's own code
    │   ├── NoSuchObject           ask for something that exists (and is yours)
    │   │   └── NoSuchKey, NoSuchAccount, NoSuchTenant, NoSuchSuspension
    │   ├── Conflict               the current state forbids it: look, then decide
    │   │   ├── ClientOidTaken, AmbiguousClientOid, NotCancellable, IdempotencyConflict,
    │   │   │   IdempotencyInProgress
    │   │   ├── AccountNameTaken, TenantNameTaken, AccountBusy
    │   │   ├── LeaseLost         another instance took the account's lease: this one stops
    │   │   ├── OnboardingNotConfigured  Fast API onboarding has no client yet: configure it
    │   │   └── NoBrokerMaster, SubAccountOrphaned  ND sub-accounts: name the master; clean up
    │   ├── RiskRejected           a risk limit refused the order: make it smaller
    │   │   └── NotSizable         the order's value cannot be known: give a price or funds
    │   ├── KeyRefused             an exchange key may not be connected: fix the key
    │   ├── OnboardingRefused      a "Connect with KuCoin" step was refused: start again
    │   └── ExchangeKeyInvalid     the exchange refused a key the caller typed: re-check it
    ├── ProtocolError              the exchange answered with a payload we cannot parse
    ├── OutcomeUnknown             an order may or may not exist: reconcile by clientOid
    │   └── KeyPossiblyCreated     a Fast API key may exist at KuCoin: the operator looks
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

Exceptions carry fields (code, HTTP status, message, request path, request id, the object's
kind), never a header value or a secret; ``kcgateway.web.errors`` maps each class to an HTTP
status and an error code in one table (add a class here, then its row there).

"Blame" is explicit: :class:`LocalError` means we sent nothing or the fault is ours;
:class:`Refused` means the gateway's own rules said no (the caller changes the request);
:class:`ExchangeError` means the exchange said no; :class:`ExchangeUnavailable` and
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


class InvalidQuery(ValidationError):
    """A list's filter or paging value is invalid (a cursor not given out, an empty range).

    ``field`` names the query parameter; the message says what a valid value is.
    """


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


class AccountUnusable(LocalError):
    """An account cannot sign exchange requests now: nothing was sent for it.

    ``account_id`` names the account; ``reason`` is a fixed phrase (never key material). Fix the
    credential (``accounts connect`` again, or the KEK), then the reconciler resumes its orders.
    """

    def __init__(self, account_id: str, *, reason: str) -> None:
        super().__init__(f"account {account_id} cannot sign: {reason}")
        self.account_id = account_id
        self.reason = reason


class AccountNotConnected(AccountUnusable, LookupError):
    """The account has no stored exchange credential."""

    def __init__(self, account_id: str) -> None:
        super().__init__(account_id, reason="it has no stored credential")


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


class InvalidTenantName(ValidationError, ValueError):
    """A tenant name is empty, too long or has control characters; the message says which."""


class InvalidBrokerSettings(ValidationError, ValueError):
    """A partner id, name or key is empty or too long; the message says which."""


class Refused(KcgatewayError):
    """The gateway refused the request on its own rules; nothing was sent because of it."""


class AccessDenied(Refused):
    """The caller may not do this."""


class Unauthenticated(AccessDenied):
    """The presented key is not usable. Deliberately says nothing about why.

    ``retry_after_s`` is set when the caller is in backoff or suspended.
    """

    def __init__(self, retry_after_s: int | None = None) -> None:
        super().__init__("invalid or missing API key")
        self.retry_after_s = retry_after_s


class PermissionDenied(AccessDenied):
    """The caller's key lacks what the action needs; ``needed`` says what (a scope, "admin")."""

    def __init__(self, needed: str, message: str | None = None) -> None:
        super().__init__(message or f"this key lacks the {needed} scope")
        self.needed = needed


class SignalRefused(AccessDenied):
    """A bot signal failed authentication; the sender is told nothing more (the log says why)."""

    def __init__(self) -> None:
        super().__init__("signal refused")


class Forbidden(AccessDenied):
    """The caller is known but may not do this (e.g. grant a scope it does not hold).

    ``field`` names what exceeds the caller's own rights (``scopes``, ``ipAllowlist``,
    ``expiresAt``, ...); the message says what to do instead.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class FacadeRefused(AccessDenied):
    """The KuCoin facade refused a request with KuCoin's code (``kc_code``, e.g. ``400005``).

    ``message`` is KuCoin's own wording (``Invalid KC-API-SIGN``); ``http_status`` the status
    KuCoin answers it with. Never carries a header value or a secret.
    """

    def __init__(self, kc_code: str, message: str, *, http_status: int = 401) -> None:
        super().__init__(f"{kc_code}: {message}")
        self.kc_code = kc_code
        self.message = message
        self.http_status = http_status


class NoSuchObject(Refused, LookupError):
    """The object does not exist for this tenant (another tenant's object looks the same).

    ``kind`` names what was looked for (account, order, key, tenant); ``name`` is what the
    caller asked for, when the front end may echo it (the CLI does; HTTP answers never echo).
    ``hint`` says where to look.
    """

    def __init__(self, kind: str = "object", *, name: str | None = None, hint: str = "") -> None:
        text = f"no such {kind}" + (f" {name!r}" if name else "") + (f": {hint}" if hint else "")
        super().__init__(text)
        self.kind = kind
        self.name = name
        self.hint = hint


class NoSuchKey(NoSuchObject):
    """The tenant has no usable key with this id."""

    def __init__(self, key_id: str | None = None) -> None:
        super().__init__("key", name=key_id)


class NoSuchAccount(NoSuchObject):
    """The tenant has no (live) account with this id or name; others' accounts look the same."""

    def __init__(self, account: str | None = None) -> None:
        super().__init__("account", name=account)


class NoSuchSuspension(NoSuchObject):
    """Nothing the caller may see is suspended under this name."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__("suspension", name=name, hint="see `kcgateway keys suspensions`")


class NoSuchTenant(NoSuchObject):
    """No tenant has this name (or id); ``hint`` says how to find or create one."""

    def __init__(self, name: str | None = None, *, hint: str = "") -> None:
        super().__init__("tenant", name=name, hint=hint)


class ExchangeKeyInvalid(Refused):
    """The exchange refused a key the caller typed (``code`` is the exchange's): re-check it."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(
            f"the exchange refused this key ({message or code}): check apiKey, secret, "
            "passphrase and keyVersion"
        )
        self.code = code


class Conflict(Refused):
    """The object's current state forbids the request: look at it, then decide."""


class ClientOidTaken(Conflict):
    """This clientOid already names an intent of the account; ``intent_id`` is that intent."""

    def __init__(self, intent_id: str) -> None:
        super().__init__("clientOid already used on this account")
        self.intent_id = intent_id


class AmbiguousClientOid(Conflict):
    """Several of the tenant's accounts have an order with this clientOid: name the account.

    ``accounts`` are their names (or ids), sorted.
    """

    def __init__(self, client_oid: str, accounts: tuple[str, ...]) -> None:
        super().__init__(
            f"clientOid {client_oid} is used on several accounts ({', '.join(accounts)}): "
            "say which with the account parameter"
        )
        self.client_oid = client_oid
        self.accounts = accounts


class NotCancellable(Conflict):
    """The intent is in a state where a cancel makes no sense; ``state`` is that state."""

    def __init__(self, state: str) -> None:
        super().__init__(f"an order in state {state} cannot be cancelled")
        self.state = state


class IdempotencyConflict(Conflict):
    """This Idempotency-Key was first used with another request body."""

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was used with a different request")


class IdempotencyInProgress(Conflict):
    """The first request under this Idempotency-Key is still being answered."""

    def __init__(self) -> None:
        super().__init__(
            "the first request with this Idempotency-Key is still being processed; retry it in "
            "a few seconds with the same key and body"
        )


class AccountNameTaken(Conflict):
    """The tenant already has an account with this name."""


class TenantNameTaken(Conflict):
    """A tenant with this name exists."""


class AccountBusy(Conflict):
    """The account still has pending or open orders; ``live`` is how many."""

    def __init__(self, name: str, live: int) -> None:
        super().__init__(
            f"account {name!r} has {live} pending or open order(s): cancel them and wait until "
            "they settle, or force the removal (the gateway then stops tracking them)"
        )
        self.name = name
        self.live = live


class LeaseLost(Conflict):
    """A write on behalf of an account's lease was refused: another instance took the lease.

    Raised inside the refused transaction (nothing was written). The instance stops that
    account's background work; the lease's new owner carries it on. ``epoch`` is the stale one.
    """

    def __init__(self, account_id: str, epoch: int) -> None:
        super().__init__(
            f"account {account_id}: lease epoch {epoch} is stale (another gateway instance "
            "owns the account now); the write was refused"
        )
        self.account_id = account_id
        self.epoch = epoch


class RiskRejected(Refused):
    """A risk limit refused the order; ``reason`` says which limit.

    ``failures`` holds every failed check as ``(code, sentence)`` (the risk engine's stable
    codes, e.g. ``risk.price_collar``); the HTTP answer lists them.
    """

    def __init__(self, reason: str, failures: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.failures = failures


class NotSizable(RiskRejected):
    """The order's value cannot be known, so no limit can be checked: it is refused.

    ``symbol`` is the order's; ``reason`` says what was missing. Give a limit price (or funds).
    """

    def __init__(self, symbol: str, *, reason: str) -> None:
        super().__init__(
            f"the {symbol} order cannot be valued ({reason}), so its size cannot be checked: "
            "give a limit price or funds"
        )
        self.symbol = symbol


class KeyRefused(Refused):
    """The exchange key must not be connected; ``reason`` says why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OnboardingRefused(Refused):
    """A "Connect with KuCoin" step was refused; ``reason`` is a stable code.

    Reasons: ``state_invalid``, ``state_expired``, ``cookie_mismatch``, ``replayed``,
    ``denied``, ``no_code``, ``key_refused`` (the message says what to do).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class OnboardingNotConfigured(Conflict):
    """Fast API onboarding needs the broker's client id and redirect URL first."""


class KeyPossiblyCreated(OutcomeUnknown):
    """The Fast API key-creation call got no usable answer: KuCoin may have made the key.

    Never retried (a retry would make a second key); the attempt is flagged for the operator.
    """

    def __init__(self, reason: str) -> None:
        super().__init__("", reason=reason)
        self.args = (f"a KuCoin API key may have been created: {reason}",)


class NoBrokerMaster(Conflict):
    """No ND broker master account is set: the operator names one first."""


class SubAccountOrphaned(Conflict):
    """An ND sub-account exists at KuCoin but the gateway could not seal its key."""
