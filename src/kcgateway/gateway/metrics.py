"""The gateway's Prometheus series, one registry per :class:`GatewayMetrics` (tests build many).

Every series the operator dashboard needs (issue #7):

- ``kcgateway_http_requests_total{route,method,status}``: counted by the web middleware; a
  method outside the standard seven is counted as ``other`` (a caller may send any token as a
  method, and each would otherwise create a series);
- ``kcgateway_exchange_calls_total{endpoint,method,status,code}``: every attempt the KuCoin
  client sends, by endpoint *template*, HTTP status (0: no reply) and KuCoin code;
- ``kcgateway_exchange_rate_remaining{client,pool}`` and ``..._rate_limit{client,pool}``: the
  pool budget the exchange reported in the last ``gw-ratelimit-*`` headers. ``client`` is
  ``public`` (market data), ``onboarding`` (keys being checked) or ``private`` (every connected
  account). KuCoin counts private pools per account, so ``private`` shows the *tightest* one:
  the lowest remaining weight any account's client last saw in a window not yet over (a window
  that is over counts as full again). ``/metrics`` is public, so no label names an account or a
  credential.
- ``kcgw_rate_budget_mode{mode}``: 1 for the rate budgets' mode, 0 for the others: ``local``
  (no Redis configured: each process its own budgets), ``shared`` (one budget per KuCoin UID
  in Redis for every instance) or ``local_share`` (Redis is away: each instance holds 1/N);
- ``kcgateway_order_intents{state}``: intents by state (refreshed on each scrape);
- ``kcgateway_reconcile_passes_total{result}`` and
  ``kcgateway_reconcile_resolved_total{outcome}``: background reconciliation;
- ``kcgateway_ws_gaps_total{kind}`` and ``kcgateway_ws_reconnects_total{kind}``: the stream
  feeds call :meth:`GatewayMetrics.on_ws_gap` / :meth:`GatewayMetrics.on_ws_reconnect`, or
  :meth:`GatewayMetrics.on_stream_event` as a ``hook(kind, event)`` (plus
  ``kcgateway_ws_resyncs_total{kind}``);
- ``kcgw_leases_owned`` (the account leases this instance holds) and
  ``kcgw_stale_epoch_writes_total`` (writes refused because their lease epoch was stale:
  another instance had taken the account; see ``gateway/cluster/leases.py``).

No label ever carries a secret, a body, a rendered path or a query string.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from kcgateway.kucoin.endpoints import Endpoint

#: the ``client`` label of the unsigned market-data client
PUBLIC_CLIENT = "public"
#: the ``client`` label of the clients that check a key being connected
ONBOARDING_CLIENT = "onboarding"
#: the ``client`` label of the connected accounts' signed clients (their tightest budget)
PRIVATE_CLIENT = "private"
#: the values of ``kcgw_rate_budget_mode``'s ``mode`` label
BUDGET_MODES = ("shared", "local_share", "local")
#: the methods counted under their own name in ``kcgateway_http_requests_total``
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: the ``method`` label of every other method
OTHER_METHOD = "other"


def method_label(method: str) -> str:
    """``method`` when it is a standard one, else ``other`` (bounded label values)."""
    return method if method in HTTP_METHODS else OTHER_METHOD


class GatewayMetrics:
    """The registry and its series; hand :meth:`exchange_observer` to each KuCoin client."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """``clock``: seconds on a monotonic scale (when a reported rate window is over)."""
        self.clock = clock
        self.registry = CollectorRegistry()
        self._request_counters: dict[tuple[str, str, int], Counter] = {}
        self._observers: weakref.WeakSet[ExchangeObserver] = weakref.WeakSet()
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
        self.registry.register(_RateBudgets(self))
        #: the rate budgets' mode now (build_services points it at the shared budgets)
        self.budget_mode: Callable[[], str] = lambda: "local"
        self.registry.register(_BudgetMode(self))
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

        self.leases_owned = Gauge(
            "kcgw_leases_owned",
            "Account leases (stream, reconciliation, stray scan) this instance holds",
            registry=self.registry,
        )
        self.stale_epoch_writes = Counter(
            "kcgw_stale_epoch_writes",
            "Writes refused because their lease epoch was stale (another instance took over)",
            registry=self.registry,
        )

    def on_stale_epoch_write(self) -> None:
        """A write made under a lease was refused: the lease had moved."""
        self.stale_epoch_writes.inc()

    def exchange_observer(self, client: str = PUBLIC_CLIENT) -> ExchangeObserver:
        """A :class:`~kcgateway.exchange.rest.CallObserver` whose budgets count under ``client``.

        ``client`` is one of :data:`PUBLIC_CLIENT`, :data:`ONBOARDING_CLIENT` and
        :data:`PRIVATE_CLIENT`: a label value, never an account's or a credential's id. The
        observer is held weakly: when its KuCoin client goes, so do its budgets.
        """
        observer = ExchangeObserver(self, client)
        self._observers.add(observer)
        return observer

    def observers(self) -> list[ExchangeObserver]:
        """The exchange observers whose clients are alive."""
        return list(self._observers)

    def on_request(self, route: str, method: str, status: int) -> None:
        """One HTTP request answered (``route``: the route template, or ``unmatched``)."""
        key = (route, method_label(method), status)
        counter = self._request_counters.get(key)
        if counter is None:
            counter = self.requests.labels(key[0], key[1], str(status))
            self._request_counters[key] = counter
        counter.inc()

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
        #: pool -> (limit, remaining, when the window is over on the metrics clock)
        self.budgets: dict[str, tuple[int, int, float]] = {}

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
            limit, remaining, reset_ms = ratelimit
            until = self._metrics.clock() + max(reset_ms, 0) / 1000
            self.budgets[endpoint.pool.value] = (limit, remaining, until)


def tightest_budgets(
    observers: Iterable[ExchangeObserver], now: float
) -> dict[tuple[str, str], tuple[int, int]]:
    """(client, pool) -> (limit, remaining) of the lowest remaining weight among ``observers``.

    A window that is over at ``now`` counts as full again (remaining = limit). Pure.
    """
    tightest: dict[tuple[str, str], tuple[int, int]] = {}
    for observer in observers:
        for pool, (limit, remaining, until) in observer.budgets.items():
            left = limit if until <= now else remaining
            key = (observer.client, pool)
            if key not in tightest or left < tightest[key][1]:
                tightest[key] = (limit, left)
    return tightest


class _BudgetMode:
    """``kcgw_rate_budget_mode{mode}``: 1 for the current mode, 0 for the others."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Metric]:
        """The family without samples."""
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        """The mode asked now."""
        family = self._family()
        mode = self._metrics.budget_mode()
        for name in BUDGET_MODES:
            family.add_metric([name], 1 if name == mode else 0)
        return [family]

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "kcgw_rate_budget_mode",
            "Rate budgets: local (no Redis), shared (Redis, per KuCoin UID across instances) "
            "or local_share (Redis unreachable: 1/N of each quota per instance)",
            labels=["mode"],
        )


class _RateBudgets:
    """The two rate-budget gauges, computed from the live observers at each scrape."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Metric]:
        """The two families without samples (the registry checks their names are free)."""
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        """``kcgateway_exchange_rate_remaining`` and ``kcgateway_exchange_rate_limit``."""
        remaining, limit = self._families()
        budgets = tightest_budgets(self._metrics.observers(), self._metrics.clock())
        for (client, pool), (quota, left) in sorted(budgets.items()):
            remaining.add_metric([client, pool], left)
            limit.add_metric([client, pool], quota)
        return [remaining, limit]

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        remaining = GaugeMetricFamily(
            "kcgateway_exchange_rate_remaining",
            "Rate-limit weight left in the pool's window as the exchange last reported it "
            "(client=private: the connected account with the least left)",
            labels=["client", "pool"],
        )
        limit = GaugeMetricFamily(
            "kcgateway_exchange_rate_limit",
            "Rate-limit quota of the pool's window as the exchange last reported it "
            "(client=private: that of the account with the least left)",
            labels=["client", "pool"],
        )
        return remaining, limit


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
