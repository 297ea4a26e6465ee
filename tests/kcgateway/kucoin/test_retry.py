from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcgateway import errors
from kcgateway.kucoin.retry import Decision, RetryPolicy, classify

POLICY = RetryPolicy()


def _exc(cls: type[errors.ExchangeError], code: str = "x") -> errors.ExchangeError:
    return cls(code, "m", http_status=400, request_path="/api/v1/hf/orders")


CASES: list[tuple[BaseException, Decision, Decision]] = [
    # exception, idempotent decision, non-idempotent decision (attempt 1)
    (_exc(errors.AuthError, "400005"), Decision.STOP, Decision.STOP),
    (_exc(errors.InvalidParameter, "400100"), Decision.STOP, Decision.STOP),
    (_exc(errors.InsufficientFunds, "200004"), Decision.STOP, Decision.STOP),
    (_exc(errors.OrderNotFound, "126043"), Decision.STOP, Decision.STOP),
    (_exc(errors.DuplicateClientOid, "126044"), Decision.STOP, Decision.RECONCILE),
    (_exc(errors.ClockSkew, "400002"), Decision.RESYNC_CLOCK, Decision.RESYNC_CLOCK),
    (errors.RateLimited(reset_ms=100), Decision.WAIT_RATE_LIMIT, Decision.WAIT_RATE_LIMIT),
    (_exc(errors.ExchangeUnavailable, "500000"), Decision.RETRY, Decision.RECONCILE),
    (_exc(errors.UnknownExchangeError, "999999"), Decision.RETRY, Decision.RECONCILE),
    (errors.OutcomeUnknown("c1", reason="timeout"), Decision.RETRY, Decision.RECONCILE),
    (errors.ProtocolError("bad json", path="data"), Decision.STOP, Decision.RECONCILE),
    (TimeoutError(), Decision.RETRY, Decision.RECONCILE),
    (ConnectionResetError(), Decision.RETRY, Decision.RECONCILE),
    (errors.ValidationError("size", field="size"), Decision.STOP, Decision.STOP),
    (errors.ConfigError("no key"), Decision.STOP, Decision.STOP),
    (ValueError("bug"), Decision.STOP, Decision.STOP),
    (KeyboardInterrupt(), Decision.STOP, Decision.STOP),
]


@pytest.mark.parametrize(("exc", "idem", "non_idem"), CASES)
def test_decision_table(exc: BaseException, idem: Decision, non_idem: Decision) -> None:
    assert classify(exc, idempotent=True, attempt=1, policy=POLICY) is idem
    assert classify(exc, idempotent=False, attempt=1, policy=POLICY) is non_idem


def test_clock_skew_resyncs_only_once() -> None:
    exc = _exc(errors.ClockSkew, "400002")
    assert classify(exc, idempotent=False, attempt=2, policy=POLICY) is Decision.STOP


@pytest.mark.parametrize(("exc", "idem", "non_idem"), CASES)
def test_exhausted_attempts_stop_but_reconcile_survives(
    exc: BaseException, idem: Decision, non_idem: Decision
) -> None:
    for idempotent, first in ((True, idem), (False, non_idem)):
        last = classify(exc, idempotent=idempotent, attempt=4, policy=POLICY)
        expected = Decision.RECONCILE if first is Decision.RECONCILE else Decision.STOP
        assert last is expected


def test_retry_continues_below_max_attempts() -> None:
    exc = _exc(errors.ExchangeUnavailable, "503000")
    assert classify(exc, idempotent=True, attempt=3, policy=POLICY) is Decision.RETRY
    one_shot = RetryPolicy(max_attempts=1)
    assert classify(exc, idempotent=True, attempt=1, policy=one_shot) is Decision.STOP


def test_attempt_is_one_based() -> None:
    with pytest.raises(ValueError, match="1-based"):
        classify(TimeoutError(), idempotent=True, attempt=0, policy=POLICY)
    with pytest.raises(ValueError, match="1-based"):
        POLICY.backoff_ms(0, lambda: 0.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"base_ms": 0}, "base_ms"),
        ({"base_ms": 10, "cap_ms": 5}, "base_ms"),
    ],
)
def test_policy_validation(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RetryPolicy(**kwargs)


def test_backoff_is_exponential_capped_and_jittered() -> None:
    top = lambda: 0.999999  # noqa: E731
    assert [POLICY.backoff_ms(n, top) for n in range(1, 8)] == [99, 199, 399, 799, 1599, 3199, 4999]
    assert POLICY.backoff_ms(1, lambda: 0.0) == 0
    assert POLICY.backoff_ms(3, lambda: 0.5) == 200
    assert POLICY.backoff_ms(10_000, lambda: 0.5) == 2500  # huge attempts do not overflow


def test_backoff_clamps_a_misbehaving_random_source() -> None:
    assert POLICY.backoff_ms(1, lambda: 7.0) == 100
    assert POLICY.backoff_ms(1, lambda: -1.0) == 0


@given(st.integers(1, 200), st.floats(0, 1, exclude_max=True))
def test_backoff_bounds(attempt: int, r: float) -> None:
    delay = POLICY.backoff_ms(attempt, lambda: r)
    assert 0 <= delay <= min(POLICY.cap_ms, POLICY.base_ms * 2 ** (attempt - 1))


def test_wait_uses_the_rate_limit_reset_when_known() -> None:
    assert POLICY.wait_ms(errors.RateLimited(reset_ms=1234), 1, lambda: 0.5) == 1234
    assert POLICY.wait_ms(errors.RateLimited(reset_ms=-3), 1, lambda: 0.5) == 0
    assert POLICY.wait_ms(errors.RateLimited(), 2, lambda: 0.5) == 100
    assert POLICY.wait_ms(TimeoutError(), 1, lambda: 0.5) == 50


def test_decision_is_pure() -> None:
    exc = _exc(errors.ExchangeUnavailable)
    results = {classify(exc, idempotent=False, attempt=2, policy=POLICY) for _ in range(5)}
    assert results == {Decision.RECONCILE}


ALL_ERRORS: list[BaseException] = (
    [exc for exc, _, _ in CASES]
    + [
        _exc(cls)
        for cls in (
            errors.TradingSuspended,
            errors.TooManyOrders,
            errors.SizeTooSmall,
            errors.SymbolNotFound,
            errors.AccountRestricted,
            errors.NotFound,
            errors.Rejected,
            errors.TransientError,
            errors.ExchangeError,
        )
    ]
    + [OSError(), ConnectionRefusedError(), RuntimeError(), SystemExit()]
)


@given(st.sampled_from(ALL_ERRORS), st.integers(1, 10), st.integers(1, 6))
def test_an_order_is_never_blindly_resent(
    exc: BaseException, attempt: int, max_attempts: int
) -> None:
    # the safety property behind ARCHITECTURE.md 3.5: a non-idempotent call is only resent when
    # the exchange said it did nothing (429, 400002); otherwise it is reconciled or raised
    decision = classify(
        exc, idempotent=False, attempt=attempt, policy=RetryPolicy(max_attempts=max_attempts)
    )
    assert decision is not Decision.RETRY
    if decision in (Decision.WAIT_RATE_LIMIT, Decision.RESYNC_CLOCK):
        assert isinstance(exc, errors.RateLimited | errors.ClockSkew)
        assert attempt < max_attempts


@given(st.sampled_from(ALL_ERRORS), st.booleans(), st.integers(1, 10))
def test_every_failure_gets_a_decision_and_loops_end(
    exc: BaseException, idem: bool, attempt: int
) -> None:
    decision = classify(exc, idempotent=idem, attempt=attempt, policy=POLICY)
    assert isinstance(decision, Decision)
    if attempt >= POLICY.max_attempts:
        assert decision in (Decision.STOP, Decision.RECONCILE)
