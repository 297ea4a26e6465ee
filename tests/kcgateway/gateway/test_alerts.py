"""Alerts: stored, listed, counted, logged, delivered signed (Standard Webhooks), retried, dead.

Deliveries go to a real local aiohttp server; time is an injected clock that the tests move,
so backoff is checked without sleeping (nothing here depends on how loaded the machine is).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry
from standardwebhooks import Webhook, WebhookVerificationError

from kcgateway.gateway.alert_delivery import DeliveryPolicy, check_url, shown_url
from kcgateway.gateway.alerts import (
    AlertFilter,
    AlertService,
    DeliveryState,
    InvalidAlert,
    Severity,
    webhook_body,
)
from kcgateway.secret import Secret
from kcgateway.store.database import Database
from kcgateway.vault.webhook import (
    InvalidWebhook,
    check_secret,
    new_secret,
    read_secret_file,
    signed_headers,
)
from tests.helpers import leaksuite
from tests.helpers.databases import sqlite_database

#: a fixed secret for the hand-computed vector (24 bytes of 0x01..0x18)
FIXED = "whsec_" + base64.b64encode(bytes(range(1, 25))).decode()


def hand_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """The Standard Webhooks signature computed here, without the library."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


class Clock:
    """Wall time that moves only when a test says so (starts at the real time, for verify)."""

    def __init__(self) -> None:
        self.t = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.t

    def advance(self, delta: timedelta) -> None:
        self.t += delta


@dataclass
class Receiver:
    """A local webhook receiver: records each request, answers with the scripted statuses."""

    server: TestServer
    statuses: list[int] = field(default_factory=list)
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/hooks/alerts"))

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((dict(request.headers), await request.read()))
        self.arrived.set()
        status = self.statuses.pop(0) if self.statuses else 204
        return web.Response(status=status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    app = web.Application()
    box: list[Receiver] = []

    async def handle(request: web.Request) -> web.Response:
        return await box[0].handle(request)

    app.router.add_post("/hooks/alerts", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    box.append(Receiver(server))
    try:
        yield box[0]
    finally:
        await server.close()


@pytest.fixture
def secret(tmp_path: Path) -> Secret:
    made = new_secret()
    leaksuite.register("alert webhook secret", made.reveal())
    return made


_OPEN: list[AlertService] = []


@pytest.fixture(autouse=True)
async def _close_services() -> AsyncIterator[None]:
    """Every service a test made is closed, even when the test fails half way."""
    yield
    while _OPEN:
        await _OPEN.pop().aclose()


def service(db: Database, clock: Clock, **kw: Any) -> AlertService:
    kw.setdefault("rand", lambda: 0.5)
    made = AlertService(db, registry=kw.pop("registry", CollectorRegistry()), now=clock, **kw)
    _OPEN.append(made)
    return made


async def configured(
    db: Database, clock: Clock, receiver: Receiver, secret: Secret, tmp_path: Path, **kw: Any
) -> AlertService:
    alerts = service(db, clock, **kw)
    await alerts.set_webhook(receiver.url, tmp_path / "hook.secret", secret, actor="test")
    return alerts


async def raise_one(alerts: AlertService, clock: Clock, **kw: Any) -> Any:
    return await alerts.raise_alert(
        kw.pop("kind", "risk.stolen_key"),
        kw.pop("severity", Severity.CRITICAL),
        kw.pop("subjects", ["account:acc-1", "key:k1"]),
        kw.pop("summary", "key k1 unused for 9 days sold 92% of account acc-1 in 70 s"),
        kw.pop(
            "evidence",
            {"orders": [{"id": "o1", "price": Decimal("0.0123"), "at": clock()}], "share": "0.92"},
        ),
        clock(),
        **kw,
    )


def verify_by_hand(secret: Secret, headers: dict[str, str], body: bytes) -> None:
    expected = hand_signature(
        secret.reveal(), headers["webhook-id"], headers["webhook-timestamp"], body
    )
    assert headers["webhook-signature"] == expected


# --- the format, pure ---------------------------------------------------------------------


def test_signature_matches_a_hand_computed_vector_and_the_library_verifies_it() -> None:
    at = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    body = b'{"hello":"world"}'
    headers = signed_headers(Secret(FIXED), "msg_1", at, body)
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == str(int(at.timestamp())) == "1796126400"
    assert headers["webhook-signature"] == hand_signature(FIXED, "msg_1", "1796126400", body)
    fresh = signed_headers(Secret(FIXED), "msg_2", datetime.now(UTC), body)
    assert Webhook(FIXED).verify(body, fresh) == {"hello": "world"}
    with pytest.raises(WebhookVerificationError):  # and it is the body that is signed
        Webhook(FIXED).verify(b'{"hello":"World"}', fresh)


def test_a_zone_other_than_utc_signs_the_same_instant() -> None:
    utc = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    paris = utc.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert signed_headers(Secret(FIXED), "m", paris, b"{}") == signed_headers(
        Secret(FIXED), "m", utc, b"{}"
    )


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("abc", "whsec_"),
        ("whsec_***notbase64***", "not valid base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "decodes to 5 bytes"),
    ],
)
def test_a_malformed_secret_is_refused_without_echoing_it(value: str, why: str) -> None:
    with pytest.raises(InvalidWebhook, match=why) as info:
        check_secret(Secret(value))
    assert value not in str(info.value)


def test_new_secrets_are_valid_and_differ() -> None:
    one, two = new_secret(), new_secret()
    check_secret(one)
    assert one != two and one.reveal().startswith("whsec_")


def test_urls_are_checked_and_shown_with_the_query_masked() -> None:
    assert check_url("https://hooks.example.com/a?token=x")
    with_credentials = "https://" + "user:pw" + "@example.com/"  # a made-up user:password
    for bad in ("ftp://x/y", "https:///nohost", with_credentials):
        with pytest.raises(InvalidWebhook):
            check_url(bad)
    assert shown_url("https://h.example/p?token=abc") == "https://h.example/p?***"
    assert shown_url("https://h.example/p") == "https://h.example/p"


def test_backoff_grows_is_capped_and_jittered_then_dead() -> None:
    policy = DeliveryPolicy(max_attempts=6, base=timedelta(seconds=10), cap=timedelta(minutes=1))
    low = [policy.delay(n, 0.0) for n in range(1, 6)]
    high = [policy.delay(n, 1.0) for n in range(1, 6)]
    assert low == [timedelta(seconds=s) for s in (5, 10, 20, 30, 30)]
    assert high == [timedelta(seconds=s) for s in (10, 20, 40, 60, 60)]
    assert policy.delay(200, 1.0) == timedelta(minutes=1)  # no overflow far out
    assert not policy.is_dead(5) and policy.is_dead(6)
    with pytest.raises(ValueError, match="1-based"):
        policy.delay(0, 0.5)
    with pytest.raises(ValueError, match="max_attempts"):
        DeliveryPolicy(max_attempts=0)


def test_the_secret_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with pytest.raises(InvalidWebhook, match="missing"):
        read_secret_file(path)
    path.write_text(FIXED)
    path.chmod(0o644)
    with pytest.raises(InvalidWebhook, match="readable by others"):
        read_secret_file(path)
    path.chmod(0o600)
    assert read_secret_file(path) == Secret(FIXED)


# --- the service over a real database -----------------------------------------------------


async def test_an_alert_is_stored_counted_logged_and_delivered_signed(
    db: Database,
    receiver: Receiver,
    secret: Secret,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, registry = Clock(), CollectorRegistry()
    alerts = await configured(db, clock, receiver, secret, tmp_path, registry=registry)
    assert (tmp_path / "hook.secret").stat().st_mode & 0o777 == 0o600
    with caplog.at_level(logging.INFO, logger="kcgateway.alerts"):
        raised = await raise_one(alerts, clock, tenant_id="tenant-a")
        assert await alerts.deliver_due() == 1
    assert raised.delivery is not None and raised.delivery.state is DeliveryState.PENDING
    assert raised.evidence["orders"][0]["price"] == "0.0123"  # money stays an exact string

    [(headers, body)] = receiver.seen
    headers = {k.lower(): v for k, v in headers.items()}
    payload = Webhook(secret.reveal()).verify(body, headers)  # the library agrees
    verify_by_hand(secret, headers, body)  # and so does an independent computation
    assert headers["webhook-id"] == raised.delivery.id
    assert headers["webhook-timestamp"] == str(int(clock().timestamp()))
    assert payload["type"] == "alert.raised"
    assert payload["data"]["id"] == raised.id and payload["data"]["tenantId"] == "tenant-a"
    assert payload["data"]["summary"].startswith("key k1 unused")

    [listed] = await alerts.find(AlertFilter())
    assert listed.delivery is not None
    assert listed.delivery.state is DeliveryState.DELIVERED and listed.delivery.attempts == 1
    assert listed.delivery.delivered_at == clock() and listed.delivery.next_attempt_at is None
    sample = registry.get_sample_value
    labels = {"kind": "risk.stolen_key", "severity": "critical"}
    assert sample("kcgateway_alerts_total", labels) == 1
    assert sample("kcgateway_alert_deliveries_total", {"result": "delivered"}) == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "kcgateway.alerts"]
    assert any("risk.stolen_key (critical)" in line and raised.id in line for line in lines)
    assert not any(secret.reveal() in line for line in lines)
    assert "0.0123" not in "\n".join(lines)  # the evidence is stored, not logged
    await alerts.aclose()


async def test_a_failing_receiver_gets_growing_retries_then_a_dead_letter_then_a_retry(
    db: Database, receiver: Receiver, secret: Secret, tmp_path: Path
) -> None:
    clock, registry = Clock(), CollectorRegistry()
    policy = DeliveryPolicy(max_attempts=4, base=timedelta(seconds=10), cap=timedelta(hours=1))
    alerts = await configured(
        db, clock, receiver, secret, tmp_path, registry=registry, policy=policy
    )
    receiver.statuses = [500] * 4
    raised = await raise_one(alerts, clock)
    delays: list[timedelta] = []
    for attempt in range(1, 5):
        assert await alerts.deliver_due() == 1
        [view] = await alerts.find(AlertFilter())
        assert view.delivery is not None and view.delivery.attempts == attempt
        assert view.delivery.last_error == "the receiver answered HTTP 500"
        if attempt == 4:
            assert view.delivery.state is DeliveryState.DEAD
            assert view.delivery.next_attempt_at is None
            break
        assert view.delivery.state is DeliveryState.PENDING
        assert view.delivery.next_attempt_at is not None
        wait = view.delivery.next_attempt_at - clock()
        delays.append(wait)
        clock.advance(wait - timedelta(seconds=1))
        assert await alerts.deliver_due() == 0  # not due yet: nothing is sent early
        clock.advance(timedelta(seconds=1))
    assert delays == [timedelta(seconds=7.5), timedelta(seconds=15), timedelta(seconds=30)]
    assert len(receiver.seen) == 4
    ids = {h["webhook-id"] for h, _ in receiver.seen}
    assert ids == {raised.delivery.id}  # one id for every attempt: receivers drop repeats
    for headers, body in receiver.seen:  # each attempt signed afresh with its own time
        verify_by_hand(secret, {k.lower(): v for k, v in headers.items()}, body)
    clock.advance(timedelta(days=1))
    assert await alerts.deliver_due() == 0  # dead stays dead until asked
    sample = registry.get_sample_value
    assert sample("kcgateway_alert_deliveries_total", {"result": "failed"}) == 3
    assert sample("kcgateway_alert_deliveries_total", {"result": "dead"}) == 1
    assert sample("kcgateway_alert_deliveries_dead", {}) == 1
    [dead] = await alerts.find(AlertFilter(state=DeliveryState.DEAD))
    assert dead.id == raised.id

    assert await alerts.retry_dead(actor="test") == 1
    assert sample("kcgateway_alert_deliveries_dead", {}) == 0
    assert await alerts.deliver_due() == 1  # the receiver answers 204 now
    [view] = await alerts.find(AlertFilter())
    assert view.delivery is not None and view.delivery.state is DeliveryState.DELIVERED
    assert view.delivery.attempts == 1 and view.delivery.last_error is None
    assert await alerts.find(AlertFilter(state=DeliveryState.DEAD)) == []
    await alerts.aclose()


async def test_a_restarted_service_resumes_pending_deliveries(
    db: Database, receiver: Receiver, secret: Secret, tmp_path: Path
) -> None:
    clock = Clock()
    first = await configured(db, clock, receiver, secret, tmp_path)
    receiver.statuses = [503]
    raised = await raise_one(first, clock)
    await first.deliver_due()
    await first.aclose()  # the gateway stops with the delivery pending

    second = service(db, clock)  # a new process over the same database
    [view] = await second.find(AlertFilter())
    assert view.delivery is not None and view.delivery.attempts == 1
    assert view.delivery.next_attempt_at is not None
    assert await second.deliver_due() == 0
    clock.t = view.delivery.next_attempt_at
    assert await second.deliver_due() == 1
    [view] = await second.find(AlertFilter())
    assert view.delivery is not None
    assert view.delivery.state is DeliveryState.DELIVERED and view.delivery.attempts == 2
    assert [h["webhook-id"] for h, _ in receiver.seen] == [raised.delivery.id] * 2
    await second.aclose()


async def test_the_background_loop_delivers_a_new_alert(
    receiver: Receiver, secret: Secret, tmp_path: Path
) -> None:
    # SQLite only: with the test helper's per-test PostgreSQL schema, a second pooled connection
    # (the loop's, concurrent with the test's) was seen reading the public schema instead
    db = await sqlite_database(tmp_path / "loop.db")
    clock = Clock()
    alerts = await configured(db, clock, receiver, secret, tmp_path, poll_s=3600)
    alerts.start()
    try:
        assert alerts.running
        await raise_one(alerts, clock)  # wakes the loop: no waiting for the (hour) poll
        await asyncio.wait_for(receiver.arrived.wait(), timeout=60)
    finally:
        await alerts.aclose()
    assert not alerts.running
    assert len(receiver.seen) == 1
    await db.aclose()


async def test_without_a_webhook_alerts_are_kept_but_not_queued(db: Database) -> None:
    clock = Clock()
    alerts = service(db, clock)
    raised = await raise_one(alerts, clock)
    assert raised.delivery is None
    assert await alerts.deliver_due() == 0
    [view] = await alerts.find(AlertFilter())
    assert view.id == raised.id and view.delivery is None
    assert await alerts.webhook() is None
    assert not await alerts.clear_webhook(actor="test")


async def test_an_unreachable_or_unusable_webhook_fails_the_attempt_with_a_reason(
    db: Database, receiver: Receiver, secret: Secret, tmp_path: Path
) -> None:
    clock = Clock()
    alerts = await configured(db, clock, receiver, secret, tmp_path)
    (tmp_path / "hook.secret").chmod(0o644)
    await raise_one(alerts, clock)
    await alerts.deliver_due()
    [view] = await alerts.find(AlertFilter())
    assert view.delivery is not None and "readable by others" in (view.delivery.last_error or "")
    assert receiver.seen == []  # nothing sent unsigned
    (tmp_path / "hook.secret").chmod(0o600)
    url = receiver.url
    await receiver.server.close()  # connection refused now
    clock.advance(timedelta(hours=1))
    await alerts.deliver_due()
    [view] = await alerts.find(AlertFilter())
    assert view.delivery is not None and view.delivery.attempts == 2
    assert (view.delivery.last_error or "").startswith("no answer from the receiver")
    assert url not in (view.delivery.last_error or "")
    await alerts.aclose()


async def test_the_webhook_is_shown_without_its_secret_and_an_operator_file_is_used(
    db: Database, receiver: Receiver, tmp_path: Path
) -> None:
    alerts = service(db, Clock())
    own = tmp_path / "operator.secret"
    with pytest.raises(InvalidWebhook, match="missing"):
        await alerts.set_webhook(receiver.url + "?token=abc", own, None, actor="test")
    own.write_text(FIXED + "\n")
    own.chmod(0o600)
    view = await alerts.set_webhook(receiver.url + "?token=abc", own, None, actor="test")
    assert view.url.endswith("/hooks/alerts?***") and view.secret_path == str(own)
    assert FIXED not in repr(view) and "token=abc" not in repr(view)
    assert await alerts.webhook() == view
    assert await alerts.clear_webhook(actor="test")
    assert await alerts.webhook() is None


async def test_tenants_see_their_own_alerts_admins_also_the_gateway_wide(db: Database) -> None:
    clock = Clock()
    alerts = service(db, clock)
    mine = await raise_one(alerts, clock, tenant_id="tenant-a")
    clock.advance(timedelta(seconds=1))
    await raise_one(alerts, clock, tenant_id="tenant-b")
    clock.advance(timedelta(seconds=1))
    wide = await raise_one(alerts, clock, kind="risk.symbol_blocked", subjects=["symbol:XYZ"])
    only_mine = await alerts.find(AlertFilter(tenant_id="tenant-a", gateway=False))
    assert [a.id for a in only_mine] == [mine.id]
    with_wide = await alerts.find(AlertFilter(tenant_id="tenant-a", gateway=True))
    assert [a.id for a in with_wide] == [wide.id, mine.id]  # newest first
    assert len(await alerts.find(AlertFilter())) == 3
    assert len(await alerts.find(AlertFilter(gateway=False))) == 2
    kinds = await alerts.find(AlertFilter(kind="risk.symbol_blocked"))
    assert [a.id for a in kinds] == [wide.id]
    since = await alerts.find(AlertFilter(since=clock() - timedelta(seconds=1)))
    assert len(since) == 2
    assert len(await alerts.find(AlertFilter(limit=1))) == 1


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"kind": "Risk Stolen"}, "alert kind"),
        ({"severity": "urgent"}, "unknown severity"),
        ({"summary": "  "}, "summary sentence"),
        ({"subjects": [""]}, "subjects"),
        ({"subjects": ["x" * 201]}, "subjects"),
        ({"summary": "sold\nFAKE LOG LINE"}, "no line breaks"),
        ({"evidence": {"orders": ["o" * 70_000]}}, "at most 64000"),
        ({"evidence": {"ratio": float("nan")}}, "JSON-serialisable"),
        ({"evidence": {"x": object()}}, "JSON-serialisable"),
        ({"evidence": {"x": 1.5, "bad": {1, 2}}}, "JSON-serialisable"),
    ],
)
async def test_a_malformed_alert_is_refused_and_nothing_is_stored(
    db: Database, change: dict[str, Any], why: str
) -> None:
    clock = Clock()
    alerts = service(db, clock)
    with pytest.raises(InvalidAlert, match=why):
        await raise_one(alerts, clock, **change)
    assert await alerts.find(AlertFilter()) == []


def test_the_body_is_the_same_bytes_on_every_attempt() -> None:
    from kcgateway.store.alert_store import AlertView, DeliveryView

    at = datetime(2026, 1, 1, tzinfo=UTC)
    alert = AlertView("a1", None, "k", "info", ("s",), "text", {"p": "1.5"}, at, None)
    later = AlertView(
        "a1", None, "k", "info", ("s",), "text", {"p": "1.5"}, at,
        DeliveryView("m", DeliveryState.PENDING, 3, at, "HTTP 500", None),
    )  # fmt: skip
    assert webhook_body(alert) == webhook_body(later)
    assert json.loads(webhook_body(alert))["data"]["evidence"] == {"p": "1.5"}


def test_secret_files_are_written_private(tmp_path: Path) -> None:
    from kcgateway.vault.webhook import write_secret_file

    path = tmp_path / "d" / "s"
    write_secret_file(path, Secret(FIXED))
    write_secret_file(path, Secret(FIXED))  # replaced, not appended to
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert path.read_text() == FIXED + "\n"


def test_the_default_policy_gives_a_receiver_hours_not_minutes() -> None:
    policy = DeliveryPolicy()
    gaps = range(1, policy.max_attempts)  # the waits between the first and the last attempt
    shortest = sum((policy.delay(n, 0.0) for n in gaps), timedelta())
    longest = sum((policy.delay(n, 1.0) for n in gaps), timedelta())
    assert timedelta(hours=1.5) < shortest < longest < timedelta(hours=3.5)
