"""Backoff and suspension after repeated authentication failures (SECURITY.md section 2). Pure.

Invariants:
- a subject (a key id or a client IP) with fewer than ``backoff_after`` consecutive failures is
  never delayed;
- from then on each failure doubles the wait, capped at ``cap_ms``;
- at ``suspend_after`` consecutive failures the subject is suspended until an operator lifts it,
  and :meth:`FailureTracker.record_failure` reports ``alert=True`` exactly once;
- a success resets the count (but never lifts a suspension);
- at most ``max_subjects`` subjects are remembered (oldest forgotten first), so a flood of
  random keys cannot exhaust memory.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class _State:
    consecutive: int = 0
    blocked_until_ms: int = 0
    suspended: bool = False


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

    def retry_after_ms(self, subject: str, now_ms: int) -> int | None:
        """None when the subject may try now; else how long to wait (-1: suspended)."""
        state = self._states.get(subject)
        if state is None:
            return None
        if state.suspended:
            return -1
        if now_ms < state.blocked_until_ms:
            return state.blocked_until_ms - now_ms
        return None

    def record_failure(self, subject: str, now_ms: int) -> FailureOutcome:
        """Count one failure and return what it imposes."""
        state = self._state(subject)
        state.consecutive += 1
        if state.consecutive >= self.suspend_after:
            alert = not state.suspended
            state.suspended = True
            return FailureOutcome(retry_after_ms=-1, suspended=True, alert=alert)
        wait = 0
        if state.consecutive >= self.backoff_after:
            doublings = state.consecutive - self.backoff_after
            wait = min(self.cap_ms, self.base_ms * (2 ** min(doublings, 32)))
            state.blocked_until_ms = now_ms + wait
        return FailureOutcome(retry_after_ms=wait, suspended=False, alert=False)

    def record_success(self, subject: str) -> None:
        """Reset the failure count of a subject that is not suspended."""
        state = self._states.get(subject)
        if state is not None and not state.suspended:
            del self._states[subject]

    def lift(self, subject: str) -> None:
        """An operator lifts a suspension."""
        self._states.pop(subject, None)

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
