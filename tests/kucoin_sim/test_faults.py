from __future__ import annotations

import random

import pytest

from kucoin_sim.faults import FaultKind, Faults, FaultSpecError, ServiceStatus, parse_rule


def test_count_rule_fires_n_times_on_matching_requests_only() -> None:
    faults = Faults()
    faults.add(
        parse_rule(
            {"kind": "error_5xx", "pathPrefix": "/api/v1/orders", "count": 2, "method": "post"}
        )
    )
    rng = random.Random(1)
    assert faults.fire("GET", "/api/v1/orders", rng) == []
    assert faults.fire("POST", "/api/v1/accounts", rng) == []
    assert [r.kind for r in faults.fire("POST", "/api/v1/orders", rng)] == [FaultKind.ERROR_5XX]
    assert len(faults.fire("POST", "/api/v1/orders/x", rng)) == 1
    assert faults.fire("POST", "/api/v1/orders", rng) == []
    assert faults.rules == []


def test_probability_rule_uses_the_seeded_rng() -> None:
    def run(seed: int) -> list[bool]:
        faults = Faults()
        faults.add(parse_rule({"kind": "rate_limit", "probability": 0.5}))
        rng = random.Random(seed)
        return [bool(faults.fire("GET", "/api/v1/timestamp", rng)) for _ in range(200)]

    first = run(7)
    assert first == run(7)
    assert 60 < sum(first) < 140


def test_control_paths_are_never_faulted() -> None:
    faults = Faults()
    faults.add(parse_rule({"kind": "error_5xx", "count": None}))
    assert faults.fire("GET", "/_sim/state", random.Random(1)) == []


def test_clear_restores_everything() -> None:
    faults = Faults()
    faults.add(parse_rule({"kind": "latency", "latencyMs": 5}))
    faults.clock_offset_ms = 9_000
    faults.status = ServiceStatus.CLOSE
    faults.clear()
    assert faults.as_json() == {"rules": [], "clockOffsetMs": 0, "status": "open", "statusMsg": ""}


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "nope"},
        {"kind": "latency", "latencyMs": -1},
        {"kind": "latency", "pathPrefix": "api"},
        {"kind": "latency", "method": 3},
        {"kind": "error_5xx", "status": 404},
        {"kind": "error_5xx", "probability": 2},
        {"kind": "error_5xx", "probability": True},
        {"kind": "error_5xx", "count": "x"},
    ],
)
def test_invalid_specs_are_refused(spec: dict[str, object]) -> None:
    with pytest.raises(FaultSpecError):
        parse_rule(spec)
