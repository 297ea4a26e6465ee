"""Backoff and suspension after repeated authentication failures (SECURITY.md section 2). Pure.

A subject is a string: :func:`address_subject` (``ip:<address>``) for everything one source
address presents, :func:`pair_subject` (``key:<key id>@<address>``) for one key id presented from
one address. There is deliberately no subject for a key id alone: anyone can learn a key id, so
counting failures per key id would let anyone lock its owner out (issue 12, finding 3). What the
counts do to an answer is decided by :class:`~kcgateway.gateway.keys.KeyService`.

Invariants:
- a subject with fewer than ``backoff_after`` consecutive failures is never delayed;
- from then on each failure doubles the wait, capped at ``cap_ms``;
- at ``suspend_after`` consecutive failures the subject is suspended until an operator lifts it,
  and :meth:`FailureTracker.record_failure` reports ``alert=True`` exactly once;
- a success resets the count (but never lifts a suspension);
- at most ``max_subjects`` counters are remembered (oldest forgotten first), so a flood of
  random keys cannot exhaust memory; suspensions are kept apart from the counters and never
  forgotten that way (each one took ``suspend_after`` failures, and they are persisted).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass


def address_subject(address: str) -> str:
    """The subject counting every failure from one source address."""
    return f"ip:{address}"


def pair_subject(key_id: str, address: str) -> str:
    """The subject counting failures for one key id presented from one source address."""
    return f"key:{key_id}@{address}"


@dataclass(slots=True)
class _State:
    consecutive: int = 0
    blocked_until_ms: int = 0


@dataclass(frozen=True, slots=True)
class FailureOutcome:
    """What one more failure did: the wait it imposes, and whether to alert the owner now."""

    retry_after_ms: int
    suspended: bool
    alert: bool


class FailureTracker:
    """Counts consecutive authentication failures per subject."""

    def __init__(
        self,
        *,
        backoff_after: int = 5,
        suspend_after: int = 20,
        base_ms: int = 1_000,
        cap_ms: int = 300_000,
        max_subjects: int = 100_000,
    ) -> None:
        self.backoff_after = backoff_after
        self.suspend_after = suspend_after
        self.base_ms = base_ms
        self.cap_ms = cap_ms
        self.max_subjects = max_subjects
        self._states: OrderedDict[str, _State] = OrderedDict()
        self._suspended: set[str] = set()

    def retry_after_ms(self, subject: str, now_ms: int) -> int | None:
        """None when the subject may try now; else how long to wait (-1: suspended)."""
        if subject in self._suspended:
            return -1
        state = self._states.get(subject)
        if state is None:
            return None
        if now_ms < state.blocked_until_ms:
            return state.blocked_until_ms - now_ms
        return None

    def is_suspended(self, subject: str) -> bool:
        """True while an operator has not lifted the subject's suspension."""
        return subject in self._suspended

    def record_failure(self, subject: str, now_ms: int) -> FailureOutcome:
        """Count one failure and return what it imposes."""
        if subject in self._suspended:
            return FailureOutcome(retry_after_ms=-1, suspended=True, alert=False)
        state = self._state(subject)
        state.consecutive += 1
        if state.consecutive >= self.suspend_after:
            del self._states[subject]
            self._suspended.add(subject)
            return FailureOutcome(retry_after_ms=-1, suspended=True, alert=True)
        wait = 0
        if state.consecutive >= self.backoff_after:
            doublings = state.consecutive - self.backoff_after
            wait = min(self.cap_ms, self.base_ms * (2 ** min(doublings, 32)))
            state.blocked_until_ms = now_ms + wait
        return FailureOutcome(retry_after_ms=wait, suspended=False, alert=False)

    def record_success(self, subject: str) -> None:
        """Reset the failure count of a subject (a suspension stays)."""
        self._states.pop(subject, None)

    def suspend(self, subjects: Iterable[str]) -> None:
        """Mark subjects suspended without an alert (suspensions loaded from the database)."""
        for subject in subjects:
            self._states.pop(subject, None)
            self._suspended.add(subject)

    def lift(self, subject: str) -> None:
        """An operator lifts a suspension (and the count starts again from zero)."""
        self._states.pop(subject, None)
        self._suspended.discard(subject)

    def _state(self, subject: str) -> _State:
        state = self._states.get(subject)
        if state is None:
            state = _State()
            self._states[subject] = state
            if len(self._states) > self.max_subjects:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(subject)
        return state
