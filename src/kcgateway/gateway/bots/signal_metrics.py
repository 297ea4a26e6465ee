"""Prometheus series of the signal bots, on the gateway's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class SignalMetrics:
    """Signals received by verdict, refusals by reason, executions by outcome, ack latency."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter(
            "kcgateway_signals_received",
            "Signals received, by profile and verdict (accepted, refused, invalid, paused)",
            ["profile", "verdict"],
            registry=registry,
        )
        self.refused = Counter(
            "kcgateway_signals_refused",
            "Refused signals by reason code (unknown_bot, signature, stale, replay, ...)",
            ["reason"],
            registry=registry,
        )
        self.executed = Counter(
            "kcgateway_signals_executed",
            "Queued signals finished, by outcome (done, held, rejected, failed)",
            ["outcome"],
            registry=registry,
        )
        self.ack_seconds = Histogram(
            "kcgateway_signal_ack_seconds",
            "Time from a signal's arrival to its acknowledgement",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
            registry=registry,
        )
