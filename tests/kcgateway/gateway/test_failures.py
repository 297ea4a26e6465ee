from __future__ import annotations

from kcgateway.gateway.failures import FailureTracker


def test_no_delay_before_backoff_threshold_then_doubling() -> None:
    t = FailureTracker(backoff_after=5, suspend_after=20, base_ms=1000, cap_ms=8000)
    waits = [t.record_failure("k", now_ms=0).retry_after_ms for _ in range(9)]
    assert waits == [0, 0, 0, 0, 1000, 2000, 4000, 8000, 8000]
    assert t.retry_after_ms("k", now_ms=7999) == 1
    assert t.retry_after_ms("k", now_ms=8000) is None


def test_suspension_alerts_once_and_success_does_not_lift_it() -> None:
    t = FailureTracker(backoff_after=2, suspend_after=4)
    outcomes = [t.record_failure("ip", now_ms=0) for _ in range(6)]
    assert [o.alert for o in outcomes] == [False, False, False, True, False, False]
    assert all(o.suspended for o in outcomes[3:])
    t.record_success("ip")
    assert t.retry_after_ms("ip", now_ms=10**12) == -1
    t.lift("ip")
    assert t.retry_after_ms("ip", now_ms=0) is None


def test_success_resets_the_count() -> None:
    t = FailureTracker(backoff_after=2)
    t.record_failure("k", 0)
    t.record_success("k")
    assert t.record_failure("k", 0).retry_after_ms == 0
    t.record_success("unknown")  # nothing remembered: no error
    assert t.retry_after_ms("unknown", 0) is None


def test_memory_is_bounded() -> None:
    t = FailureTracker(max_subjects=3)
    for i in range(10):
        t.record_failure(f"s{i}", 0)
    t.record_failure("s9", 0)
    assert len(t._states) == 3
    assert t.retry_after_ms("s0", 0) is None
