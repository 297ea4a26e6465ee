"""What to do after a failed KuCoin request: a pure decision, plus capped, jittered backoff.

The REST client runs a plain loop around :func:`classify`; nothing here sleeps or reads a clock.
``attempt`` is the 1-based number of the attempt that just failed.

Decision table (``idempotent`` is :attr:`Endpoint.idempotent`):

=========================================  =====================  ==========================
exception                                  idempotent call        non-idempotent (orders)
=========================================  =====================  ==========================
AuthError, Rejected, LocalError            STOP                   STOP
DuplicateClientOid                         STOP                   RECONCILE (it exists)
ClockSkew (400002), first time             RESYNC_CLOCK           RESYNC_CLOCK
ClockSkew again                            STOP                   STOP
RateLimited (429000)                       WAIT_RATE_LIMIT        WAIT_RATE_LIMIT
ExchangeUnavailable, other transient       RETRY                  RECONCILE
UnknownExchangeError, OutcomeUnknown       RETRY                  RECONCILE
ProtocolError (reply we cannot parse)      STOP                   RECONCILE
TimeoutError, ConnectionError, OSError     RETRY                  RECONCILE
anything else (bugs, cancellation)         STOP                   STOP
=========================================  =====================  ==========================

Why a 429 on an order is retried, not reconciled: KuCoin's gateway refuses the request before
it reaches the matching engine, so the order was *not* placed; resending it with the **same**
``clientOid`` after the reset is safe (a duplicate would be refused, never doubled). The same
holds for 400002: the timestamp check comes before anything else. A 5xx, a timeout or an
unknown code on an order may or may not have placed it, so the order is looked up by
``clientOid`` instead of resent (ARCHITECTURE.md 3.5).

Once ``attempt`` reaches ``policy.max_attempts``, RETRY, RESYNC_CLOCK and WAIT_RATE_LIMIT
become STOP; RECONCILE stays RECONCILE, because an unknown outcome must always be resolved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from kcgateway.errors import (
    ClockSkew,
    DuplicateClientOid,
    ExchangeError,
    OutcomeUnknown,
    ProtocolError,
    RateLimited,
    TransientError,
    UnknownExchangeError,
)


class Decision(Enum):
    """What the request loop does next."""

    RETRY = "retry"
    """Back off (:meth:`RetryPolicy.backoff_ms`), then resend the identical request."""
    RESYNC_CLOCK = "resync_clock"
    """Refresh the server-time offset, then resend once with a new timestamp."""
    WAIT_RATE_LIMIT = "wait_rate_limit"
    """Wait for the pool to refill (:meth:`RetryPolicy.wait_ms`), then resend."""
    RECONCILE = "reconcile"
    """The outcome is unknown: look the order up by clientOid; never resend under a new id."""
    STOP = "stop"
    """Raise the error to the caller."""


_MAX_EXPONENT = 30


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts, and the capped exponential backoff with full jitter between them."""

    max_attempts: int = 4
    base_ms: int = 100
    cap_ms: int = 5_000

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if not 0 < self.base_ms <= self.cap_ms:
            raise ValueError(f"need 0 < base_ms <= cap_ms, not {self.base_ms}, {self.cap_ms}")

    def backoff_ms(self, attempt: int, rand: Callable[[], float]) -> int:
        """Delay before the attempt after ``attempt``: uniform in [0, min(cap, base * 2**(n-1))].

        ``rand`` returns a float in [0, 1) (``random.random`` in production, a constant in
        tests). "Full jitter" spreads retries of many clients over the whole interval.
        """
        if attempt < 1:
            raise ValueError(f"attempt is 1-based, not {attempt}")
        ceiling = min(self.cap_ms, self.base_ms << min(attempt - 1, _MAX_EXPONENT))
        return int(min(max(rand(), 0.0), 1.0) * ceiling)

    def wait_ms(self, exc: BaseException, attempt: int, rand: Callable[[], float]) -> int:
        """Delay before resending after ``exc``: a 429's ``reset_ms`` when known, else backoff."""
        if isinstance(exc, RateLimited) and exc.reset_ms is not None:
            return max(exc.reset_ms, 0)
        return self.backoff_ms(attempt, rand)


def _unknown_outcome(idempotent: bool) -> Decision:
    return Decision.RETRY if idempotent else Decision.RECONCILE


def _decide(exc: BaseException, *, idempotent: bool, attempt: int) -> Decision:
    if isinstance(exc, ClockSkew):
        return Decision.RESYNC_CLOCK if attempt == 1 else Decision.STOP
    if isinstance(exc, RateLimited):
        return Decision.WAIT_RATE_LIMIT
    if isinstance(exc, TransientError | UnknownExchangeError | OutcomeUnknown):
        return _unknown_outcome(idempotent)
    if isinstance(exc, DuplicateClientOid):
        return Decision.STOP if idempotent else Decision.RECONCILE
    if isinstance(exc, ExchangeError):  # AuthError and Rejected
        return Decision.STOP
    if isinstance(exc, ProtocolError):
        return Decision.STOP if idempotent else Decision.RECONCILE
    if isinstance(exc, TimeoutError | OSError):  # ConnectionError is an OSError
        return _unknown_outcome(idempotent)
    return Decision.STOP


def classify(
    exc: BaseException, *, idempotent: bool, attempt: int, policy: RetryPolicy
) -> Decision:
    """Decide what to do after attempt number ``attempt`` failed with ``exc``.

    Pure: the same inputs always give the same decision. See the module table.
    """
    if attempt < 1:
        raise ValueError(f"attempt is 1-based, not {attempt}")
    decision = _decide(exc, idempotent=idempotent, attempt=attempt)
    if decision is Decision.RECONCILE or attempt < policy.max_attempts:
        return decision
    return Decision.STOP
