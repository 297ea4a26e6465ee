"""The gateway's Prometheus series, one registry per :class:`GatewayMetrics` (tests build many).

Every series the operator dashboard needs (issue #7):

- ``kcgateway_http_requests_total{route,method,status}``: counted by the web middleware;
- ``kcgateway_exchange_calls_total{endpoint,method,status,code}``: every attempt the KuCoin
  client sends, by endpoint *template*, HTTP status (0: no reply) and KuCoin code;
- ``kcgateway_exchange_rate_remaining{client,pool}`` and ``..._rate_limit{client,pool}``: the
  pool budget the exchange reported in the last ``gw-ratelimit-*`` headers, per client
  (``public``, ``onboarding`` or the credential id: KuCoin counts private pools per account);
- ``kcgateway_order_intents{state}``: intents by state (refreshed on each scrape);
- ``kcgateway_reconcile_passes_total{result}`` and
  ``kcgateway_reconcile_resolved_total{outcome}``: background reconciliation;
- ``kcgateway_ws_gaps_total{kind}`` and ``kcgateway_ws_reconnects_total{kind}``: the stream
  feeds call :meth:`GatewayMetrics.on_ws_gap` / :meth:`GatewayMetrics.on_ws_reconnect`, or
  :meth:`GatewayMetrics.on_stream_event` as a ``hook(kind, event)`` (plus
  ``kcgateway_ws_resyncs_total{kind}``).

No label ever carries a secret, a body, a rendered path or a query string.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from kcgateway.kucoin.endpoints import Endpoint

#: the ``client`` label of the unsigned market-data client
PUBLIC_CLIENT = "public"


class GatewayMetrics:
    """The registry and its series; hand :meth:`exchange_observer` to each KuCoin client."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kcgateway_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.intents = Gauge(
            "kcgateway_order_intents",
            "Order intents by state",
            ["state"],
            registry=self.registry,
        )
        self.exchange_calls = Counter(
            "kcgateway_exchange_calls",
            "KuCoin REST attempts by endpoint template, method, HTTP status (0: no reply) "
            "and KuCoin code (200000: success)",
            ["endpoint", "method", "status", "code"],
            registry=self.registry,
        )
        self.rate_remaining = Gauge(
            "kcgateway_exchange_rate_remaining",
            "Rate-limit weight left in the pool's window, as the exchange last reported it",
            ["client", "pool"],
            registry=self.registry,
        )
        self.rate_limit = Gauge(
            "kcgateway_exchange_rate_limit",
            "Rate-limit quota of the pool's window, as the exchange last reported it",
            ["client", "pool"],
            registry=self.registry,
        )
        self.reconcile_passes = Counter(
            "kcgateway_reconcile_passes",
            "Background reconciliation passes by result (ok, failed)",
            ["result"],
            registry=self.registry,
        )
        self.reconcile_resolved = Counter(
            "kcgateway_reconcile_resolved",
            "Intents the reconciler settled, by the state it moved them to",
            ["outcome"],
            registry=self.registry,
        )
        self.ws_gaps = Counter(
            "kcgateway_ws_gaps",
            "WebSocket sequence gaps (book or private stream discarded and resynced), by kind",
            ["kind"],
            registry=self.registry,
        )
        self.ws_reconnects = Counter(
            "kcgateway_ws_reconnects",
            "WebSocket connections lost and re-opened, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.ws_resyncs = Counter(
            "kcgateway_ws_resyncs",
            "Books rebuilt from a snapshot (or private orders reconciled after a resubscribe)",
            ["kind"],
            registry=self.registry,
        )

    def exchange_observer(self, client: str = PUBLIC_CLIENT) -> ExchangeObserver:
        """A :class:`~kcgateway.exchange.rest.CallObserver` labelling budgets with ``client``."""
        return ExchangeObserver(self, client)

    def on_reconcile_pass(self, *, failed: bool) -> None:
        """One background reconciliation pass finished (or raised)."""
        self.reconcile_passes.labels("failed" if failed else "ok").inc()

    def on_resolved(self, outcome: str) -> None:
        """The reconciler moved an intent to ``outcome`` (a state value)."""
        self.reconcile_resolved.labels(outcome).inc()

    def on_ws_gap(self, kind: str) -> None:
        """A stream of ``kind`` (e.g. ``book``, ``private``) saw a sequence gap."""
        self.ws_gaps.labels(kind).inc()

    def on_ws_reconnect(self, kind: str) -> None:
        """A stream connection of ``kind`` was lost and is being re-opened."""
        self.ws_reconnects.labels(kind).inc()

    def on_stream_event(self, kind: str, event: str) -> None:
        """``hook(kind, event)`` for a stream counter: ``gap``, ``reconnect`` or ``resync``."""
        if event == "gap":
            self.on_ws_gap(kind)
        elif event == "reconnect":
            self.on_ws_reconnect(kind)
        elif event == "resync":
            self.ws_resyncs.labels(kind).inc()

    def stream_metrics(self, kind: str) -> StreamObserver:
        """A :class:`~kcgateway.exchange.ws.StreamMetrics` for the feeds of ``kind``.

        Hand it to a ``WsConnection``/``BookFeed`` (``metrics=``): its gaps and reconnects are
        counted under ``kind`` (symbols are not labels: they would explode the series).
        """
        return StreamObserver(self, kind)

    def set_intents(self, counts: Mapping[str, int], states: list[str]) -> None:
        """Set the intents gauge for every state (0 where ``counts`` has none)."""
        for state in states:
            self.intents.labels(state).set(counts.get(state, 0))

    def exposition(self) -> bytes:
        """The Prometheus text format of every series."""
        return generate_latest(self.registry)


class ExchangeObserver:
    """Counts one KuCoin client's attempts and records its pools' budgets."""

    def __init__(self, metrics: GatewayMetrics, client: str) -> None:
        self._metrics = metrics
        self.client = client
        # labelled children, cached: ``labels()`` takes a lock and hashes every call
        self._calls: dict[tuple[str, str, int, str], Counter] = {}
        self._pools: dict[str, tuple[Gauge, Gauge]] = {}

    def on_call(
        self,
        endpoint: Endpoint,
        *,
        http_status: int,
        code: str,
        ratelimit: tuple[int, int, int] | None,
    ) -> None:
        """Count the attempt; remember the budget the reply's headers reported."""
        key = (endpoint.path, endpoint.method.value, http_status, code)
        counter = self._calls.get(key)
        if counter is None:
            counter = self._metrics.exchange_calls.labels(key[0], key[1], str(http_status), code)
            self._calls[key] = counter
        counter.inc()
        if ratelimit is not None:
            limit, remaining, _reset_ms = ratelimit
            pool = endpoint.pool.value
            gauges = self._pools.get(pool)
            if gauges is None:
                gauges = (
                    self._metrics.rate_limit.labels(self.client, pool),
                    self._metrics.rate_remaining.labels(self.client, pool),
                )
                self._pools[pool] = gauges
            gauges[0].set(limit)
            gauges[1].set(remaining)


class StreamObserver:
    """The stream feeds' metrics hooks, counted under one ``kind``."""

    def __init__(self, metrics: GatewayMetrics, kind: str) -> None:
        self._metrics = metrics
        self.kind = kind

    def reconnected(self, reason: str) -> None:
        """A connection was lost and is being re-opened."""
        self._metrics.on_ws_reconnect(self.kind)

    def gap(self, symbol: str) -> None:
        """A book or stream saw a sequence gap."""
        self._metrics.on_ws_gap(self.kind)

    def resynced(self, symbol: str) -> None:
        """A book was rebuilt from a snapshot."""
        self._metrics.on_stream_event(self.kind, "resync")

    def lag(self, symbol: str, lag_ms: int) -> None:
        """Update lag: not exported yet."""
