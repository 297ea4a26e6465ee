"""Alerts: raised by the gateway's detectors, stored, logged, counted, delivered to a webhook.

:meth:`AlertService.raise_alert` is the one way in. It stores the alert (``alerts``), logs one
line (kind, severity, subjects, summary: never the evidence, never a secret), counts it in
``kcgateway_alerts_total{kind,severity}`` and, when the operator configured a webhook, queues a
delivery (``alert_deliveries``) and wakes the delivery loop.

The delivery loop (:meth:`AlertService.start`, started by ``serve`` beside the reconciler)
POSTs each due delivery, signed in the Standard Webhooks format
(:mod:`kcgateway.gateway.alert_delivery`). A 2xx answer delivers it; anything else (another
status, a refused connection, a timeout, a missing or unreadable secret file) counts as a failed
attempt and schedules the next one after a capped, jittered backoff. Attempt count, next attempt
time and last error are persisted after each attempt, so a restarted gateway resumes where the
last one stopped. After :attr:`DeliveryPolicy.max_attempts` failures the delivery is ``dead``:
visible in the alert list, counted in ``kcgateway_alert_deliveries_total{result="dead"}`` and
``kcgateway_alert_deliveries_dead``, and sent again only when the operator asks
(:meth:`AlertService.retry_dead`, ``kcgateway alerts retry``).

Delivery is at least once: a gateway killed between the POST and the write of its outcome sends
that delivery again after a restart, with the same ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge

from kcgateway.errors import ValidationError
from kcgateway.gateway.alert_delivery import DeliveryPolicy, check_url, shown_url
from kcgateway.gateway.event_feed import alert_event
from kcgateway.gateway.paging import Paged, Position, Window, cut
from kcgateway.secret import Secret
from kcgateway.store.alert_store import (
    AlertFilter,
    AlertView,
    DeliveryState,
    DeliveryView,
    SqlAlertStore,
    WebhookSetting,
)
from kcgateway.store.database import Database
from kcgateway.tasks import stop_task
from kcgateway.vault.webhook import (
    InvalidWebhook,
    check_secret,
    read_secret_file,
    signed_headers,
    write_secret_file,
)

__all__ = [
    "AiohttpSender",
    "AlertFilter",
    "AlertMetrics",
    "AlertService",
    "AlertView",
    "DeliveryState",
    "DeliveryView",
    "InvalidAlert",
    "InvalidWebhook",
    "Severity",
    "WebhookView",
]

log = logging.getLogger("kcgateway.alerts")

#: the most alerts one page holds
ALERT_PAGE_MAX = 500
Now = Callable[[], datetime]
KIND = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
MAX_SUBJECTS = 100
MAX_SUMMARY = 2000
MAX_SUBJECT = 200
MAX_EVIDENCE = 64_000
MAX_ERROR = 300
EVENT_TYPE = "alert.raised"


class Severity(StrEnum):
    """How urgent an alert is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


_LOG_LEVEL = {Severity.INFO: logging.INFO, Severity.WARNING: logging.WARNING}


class InvalidAlert(ValidationError, ValueError):
    """An alert that cannot be stored as given; the message says which part is wrong."""


@dataclass(frozen=True, slots=True)
class WebhookView:
    """What may be shown about the webhook: the URL (query masked), the secret file's path."""

    url: str
    secret_path: str
    updated_at: datetime


class Sender(Protocol):
    """Sends one POST and returns the HTTP status (raises on no answer)."""

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
        """POST ``body`` to ``url``."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class AiohttpSender:
    """The production :class:`Sender`: one aiohttp session, made on first use, no redirects."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> int:
        """POST and read the answer; return its status."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with self._session.post(
            url, data=body, headers=dict(headers), allow_redirects=False
        ) as response:
            await response.read()
            return response.status

    async def aclose(self) -> None:
        """Close the session."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class AlertMetrics:
    """The alert series, registered on the gateway's registry (``/metrics``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.raised = Counter(
            "kcgateway_alerts",
            "Alerts raised, by kind and severity",
            ["kind", "severity"],
            registry=registry,
        )
        self.deliveries = Counter(
            "kcgateway_alert_deliveries",
            "Alert webhook delivery attempts by result (delivered, failed, dead)",
            ["result"],
            registry=registry,
        )
        self.dead = Gauge(
            "kcgateway_alert_deliveries_dead",
            "Alert webhook deliveries that gave up (dead letters waiting for `alerts retry`)",
            registry=registry,
        )


def _jsonable(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)  # money stays exact: a decimal string, never a float
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _evidence(evidence: Mapping[str, Any]) -> dict[str, Any]:
    try:
        text = json.dumps(dict(evidence), default=_jsonable, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidAlert(f"the evidence must be JSON-serialisable: {exc}") from None
    if len(text) > MAX_EVIDENCE:
        raise InvalidAlert(
            f"the evidence is {len(text)} characters as JSON; at most {MAX_EVIDENCE}: keep the "
            "orders and prices that show the pattern, not the whole history"
        )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _subject_ok(subject: object) -> bool:
    return isinstance(subject, str) and 0 < len(subject) <= MAX_SUBJECT and subject.isprintable()


def _checked(kind: str, severity: str, subjects: Sequence[str], summary: str) -> Severity:
    if not KIND.match(kind):
        raise InvalidAlert(f"alert kind {kind!r} must match {KIND.pattern} (a code, not a text)")
    try:
        level = Severity(severity)
    except ValueError:
        valid = ", ".join(s.value for s in Severity)
        raise InvalidAlert(f"unknown severity {severity!r}; valid: {valid}") from None
    if not summary.strip() or len(summary) > MAX_SUMMARY or not summary.isprintable():
        raise InvalidAlert(
            f"an alert needs a summary sentence of 1 to {MAX_SUMMARY} printable characters "
            "(one log line: no line breaks)"
        )
    if len(subjects) > MAX_SUBJECTS or not all(_subject_ok(s) for s in subjects):
        raise InvalidAlert(
            f"subjects must be 0 to {MAX_SUBJECTS} printable strings of 1 to {MAX_SUBJECT} "
            "characters (e.g. account:ID, key:ID, symbol:XYZ-USDT)"
        )
    return level


def alert_json(alert: AlertView) -> dict[str, Any]:
    """The JSON form of an alert (webhook ``data``, the API's answer)."""
    delivery = alert.delivery
    return {
        "id": alert.id,
        "tenantId": alert.tenant_id,
        "kind": alert.kind,
        "severity": alert.severity,
        "subjects": list(alert.subjects),
        "summary": alert.summary,
        "evidence": alert.evidence,
        "createdAt": alert.created_at.astimezone(UTC).isoformat(),
        "delivery": None if delivery is None else delivery_json(delivery),
    }


def delivery_json(delivery: DeliveryView) -> dict[str, Any]:
    """The JSON form of a delivery's state."""

    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(UTC).isoformat()

    return {
        "id": delivery.id,
        "state": delivery.state.value,
        "attempts": delivery.attempts,
        "nextAttemptAt": iso(delivery.next_attempt_at),
        "lastError": delivery.last_error,
        "deliveredAt": iso(delivery.delivered_at),
    }


def webhook_body(alert: AlertView) -> bytes:
    """The delivery body: the same bytes on every attempt (the delivery state left out)."""
    data = alert_json(alert)
    del data["delivery"]
    payload = {"type": EVENT_TYPE, "timestamp": data["createdAt"], "data": data}
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")


class AlertService:
    """Raise, list and deliver alerts; configure the webhook; requeue dead deliveries."""

    def __init__(
        self,
        db: Database,
        *,
        registry: CollectorRegistry | None = None,
        sender: Sender | None = None,
        policy: DeliveryPolicy | None = None,
        now: Now = lambda: datetime.now(UTC),
        rand: Callable[[], float] = random.random,
        poll_s: float = 2.0,
        batch: int = 50,
    ) -> None:
        self._store = SqlAlertStore(db)
        self.metrics = AlertMetrics(registry if registry is not None else CollectorRegistry())
        self._sender: Sender = sender if sender is not None else AiohttpSender()
        self.policy = policy if policy is not None else DeliveryPolicy()
        self._now = now
        self._rand = rand
        self._poll_s = poll_s
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        #: called after an alert (and its event) was stored: wakes the event followers
        self.on_stored: Callable[[], None] = lambda: None
        self._wake: asyncio.Event | None = None

    async def raise_alert(  # noqa: PLR0917 - the brief's call shape: what, how bad, about whom, why, proof, when
        self,
        kind: str,
        severity: Severity | str,
        subjects: Sequence[str],
        summary: str,
        evidence: Mapping[str, Any],
        now: datetime,
        *,
        tenant_id: str | None = None,
    ) -> AlertView:
        """Store, log, count and (with a webhook configured) queue delivery of one alert.

        ``tenant_id`` None makes a gateway-wide alert (only admin keys list those).
        ``evidence``: JSON-serialisable (Decimal and datetime are written as strings).
        """
        level = _checked(kind, str(severity), subjects, summary)
        alert = AlertView(
            str(uuid.uuid4()), tenant_id, kind, level.value, tuple(subjects), summary,
            _evidence(evidence), now, None,
        )  # fmt: skip
        webhook = await self._store.webhook()
        delivery_id = None if webhook is None else f"msg_{uuid.uuid4().hex}"
        await self._store.add(alert, delivery_id=delivery_id, now=now, events=[alert_event(alert)])
        self.on_stored()
        self.metrics.raised.labels(kind, level.value).inc()
        log.log(
            _LOG_LEVEL.get(level, logging.ERROR),
            "alert %s (%s) on %s: %s [alert %s]",
            kind, level.value, ", ".join(subjects) or "-", summary, alert.id,
        )  # fmt: skip
        if delivery_id is not None:
            self._poke()
            return replace(alert, delivery=DeliveryView(
                delivery_id, DeliveryState.PENDING, 0, now, None, None
            ))  # fmt: skip
        return alert

    async def find(self, which: AlertFilter) -> list[AlertView]:
        """The alerts ``which`` selects, newest first, each with its delivery state."""
        return await self._store.find(which)

    async def page(self, which: AlertFilter, window: Window) -> Paged[AlertView]:
        """A page of :meth:`find` (:mod:`~kcgateway.gateway.paging`); InvalidQuery if malformed."""
        after = window.check(ALERT_PAGE_MAX)
        paged = replace(which, since=window.since, until=window.until, limit=window.limit + 1,
                        after=None if after is None else (after.created_at, after.id))  # fmt: skip
        rows = await self._store.find(paged)
        return cut(rows, window.limit, lambda a: Position(a.created_at, a.id), lambda a: a)

    async def set_webhook(
        self, url: str, secret_path: Path, secret: Secret | None, *, actor: str
    ) -> WebhookView:
        """Point deliveries at ``url``; write ``secret`` to ``secret_path`` (0600) if given.

        Without ``secret`` the file must already hold a valid one (an operator-managed file).
        """
        check_url(url)
        if secret is not None:
            check_secret(secret)
            write_secret_file(secret_path, secret)
        else:
            read_secret_file(secret_path)
        setting = await self._store.set_webhook(url, str(secret_path), now=self._now())
        log.info("alert webhook set to %s by %s", shown_url(url), actor)
        return _webhook_view(setting)

    async def webhook(self) -> WebhookView | None:
        """The webhook setting (never the secret), or None."""
        setting = await self._store.webhook()
        return None if setting is None else _webhook_view(setting)

    async def clear_webhook(self, *, actor: str) -> bool:
        """Stop queueing deliveries for new alerts (pending ones fail and go dead)."""
        cleared = await self._store.clear_webhook()
        if cleared:
            log.info("alert webhook cleared by %s", actor)
        return cleared

    async def retry_dead(
        self, alert_ids: Iterable[str] = (), *, actor: str, which: AlertFilter | None = None
    ) -> int:
        """Send dead deliveries (all, or those of ``alert_ids``) again, from attempt 1.

        ``which``: only those of the alerts its tenant/gateway fields select (a tenant's key).
        """
        count = await self._store.requeue_dead(self._now(), tuple(alert_ids), which=which)
        log.info("%d dead alert deliveries requeued by %s", count, actor)
        await self.refresh_gauges()
        self._poke()
        return count

    async def deliver_due(self) -> int:
        """One pass: attempt every delivery due now (up to the batch size); how many tried."""
        due = await self._store.due(self._now(), limit=self._batch)
        if due:
            webhook = await self._store.webhook()
            for alert in due:
                await self._attempt(alert, webhook)
        await self.refresh_gauges()
        return len(due)

    async def refresh_gauges(self) -> None:
        """Set the dead-letter gauge from the database."""
        counts = await self._store.count_by_state()
        self.metrics.dead.set(counts.get(DeliveryState.DEAD.value, 0))

    async def _attempt(self, alert: AlertView, webhook: WebhookSetting | None) -> None:
        delivery = alert.delivery
        assert delivery is not None  # noqa: S101 - due() selects alerts with a delivery
        at = self._now()
        error = await self._send(alert, delivery, webhook, at)
        if error is None:
            done = replace(
                delivery, state=DeliveryState.DELIVERED, attempts=delivery.attempts + 1,
                next_attempt_at=None, last_error=None, delivered_at=at,
            )  # fmt: skip
            self.metrics.deliveries.labels("delivered").inc()
        else:
            done = self._failed(delivery, error[:MAX_ERROR], at)
        await self._store.record(done, now=at)

    def _failed(self, delivery: DeliveryView, error: str, at: datetime) -> DeliveryView:
        attempts = delivery.attempts + 1
        if self.policy.is_dead(attempts):
            self.metrics.deliveries.labels("dead").inc()
            log.warning(
                "alert delivery %s is dead after %d attempts (%s): fix the receiver, then run "
                "`kcgateway alerts retry`", delivery.id, attempts, error,
            )  # fmt: skip
            return replace(
                delivery, state=DeliveryState.DEAD, attempts=attempts, next_attempt_at=None,
                last_error=error,
            )  # fmt: skip
        self.metrics.deliveries.labels("failed").inc()
        later = at + self.policy.delay(attempts, self._rand())
        log.info("alert delivery %s attempt %d failed (%s)", delivery.id, attempts, error)
        return replace(delivery, attempts=attempts, next_attempt_at=later, last_error=error)

    async def _send(
        self, alert: AlertView, delivery: DeliveryView, webhook: WebhookSetting | None, at: datetime
    ) -> str | None:
        """None when the receiver took it; else why not (never a secret, never the URL)."""
        if webhook is None:
            return "no webhook configured: run `kcgateway alerts webhook set`"
        try:
            secret = read_secret_file(Path(webhook.secret_path))
        except InvalidWebhook as exc:
            return str(exc)
        body = webhook_body(alert)
        headers = signed_headers(secret, delivery.id, at, body)
        try:
            status = await self._sender.post(webhook.url, headers, body)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return f"no answer from the receiver ({type(exc).__name__})"
        return None if 200 <= status < 300 else f"the receiver answered HTTP {status}"

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def start(self) -> None:
        """Run the delivery loop in the background (call from a running event loop)."""
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def running(self) -> bool:
        """True while the delivery loop runs."""
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        assert self._wake is not None  # noqa: S101 - set by start()
        while True:
            self._wake.clear()  # before the pass: an alert raised during it wakes the next
            try:
                await self.deliver_due()
            except Exception:  # a failed pass (e.g. the database is busy) is retried next time
                log.exception("alert delivery pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)

    async def aclose(self) -> None:
        """Stop the loop and close the sender."""
        task, self._task = self._task, None
        await stop_task(task)
        await self._sender.aclose()


def _webhook_view(setting: WebhookSetting) -> WebhookView:
    return WebhookView(shown_url(setting.url), setting.secret_path, setting.updated_at)
