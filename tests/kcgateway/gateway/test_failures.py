from __future__ import annotations

from kcgateway.gateway.failures import (
    FailureOutcome,
    FailureTracker,
    address_subject,
    pair_subject,
)


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


def test_suspensions_are_never_forgotten_to_bound_memory() -> None:
    t = FailureTracker(max_subjects=2, suspend_after=2)
    t.record_failure("ip:a", 0)
    assert t.record_failure("ip:a", 0).alert
    for i in range(10):
        t.record_failure(f"ip:flood{i}", 0)
    assert t.is_suspended("ip:a") and t.retry_after_ms("ip:a", 0) == -1


def test_loaded_suspensions_do_not_alert_again_and_lift_restarts_the_count() -> None:
    t = FailureTracker(backoff_after=10, suspend_after=2)
    t.suspend(["key:k@a"])
    assert t.record_failure("key:k@a", 0) == FailureOutcome(-1, suspended=True, alert=False)
    t.lift("key:k@a")
    assert not t.is_suspended("key:k@a")
    assert not t.record_failure("key:k@a", 0).suspended


def test_subjects_never_name_a_key_id_alone() -> None:
    assert address_subject("192.0.2.1") == "ip:192.0.2.1"
    assert pair_subject("abc", "::1") == "key:abc@::1"
