"""Which change goes on the bus, and what each instance drops when it hears of one.

Every cache an instance keeps of something another instance may change is listed here, with
the message that invalidates it and the re-read that is its safety net
(:mod:`kcgateway.gateway.cluster.bus`):

============  ==========================================  ========================================
topic         kept in memory                              on a message / on the periodic re-read
============  ==========================================  ========================================
risk          trading states, overrides, blocked symbols  :meth:`RiskControl.refresh` (reloads when
              (:class:`RiskControl`)                      the generation moved)
key           key rows (:class:`KeyService`, 1 s)         forget that key's row / forget every row
suspension    suspended sources (:class:`KeyService`)     read that one / read every suspension
account       the account's client and its credential's   forget both / sweep every removed account
              sealed record (venues, the signer's cache)
broker        the sealed broker record (CachedBroker)     read it again at the next signature
events        nothing: followers read from the database   wake the followers (they poll anyway)
============  ==========================================  ========================================
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Gauge

from kcgateway.gateway.cluster.bus import ChangeBus, PgBus, Topic
from kcgateway.gateway.services import GatewayServices


def propagate(
    bus: ChangeBus, services: GatewayServices, *, broker_changed: Callable[[], None]
) -> None:
    """Send this instance's changes on ``bus`` and apply the other instances' ones.

    ``broker_changed``: drops the signer's cached broker record (the vault's CachedBroker).
    """
    services.bus = bus
    _measure(bus, services)
    keys, accounts = services.keys, services.accounts
    keys.on_change = lambda key_id: bus.publish(Topic.KEY, key_id)
    keys.on_suspension = lambda subject: bus.publish(Topic.SUSPENSION, subject)
    accounts.on_removed = lambda account_id: bus.publish(Topic.ACCOUNT, account_id)

    async def key_changed(key_id: str) -> None:
        keys.forget_row(key_id)

    async def forget_keys() -> None:
        keys.forget_rows()

    async def sweep_accounts() -> None:
        await accounts.sweep_removed()

    async def broker(_: str = "") -> None:
        broker_changed()

    bus.subscribe(Topic.KEY, key_changed, forget_keys)
    bus.subscribe(Topic.SUSPENSION, keys.suspension_changed, keys.reload_suspensions)
    bus.subscribe(Topic.ACCOUNT, accounts.removed_elsewhere, sweep_accounts)
    bus.subscribe(Topic.BROKER, broker, broker)
    risk = services.risk
    if risk is not None:
        risk.on_change = lambda generation: bus.publish(Topic.RISK, str(generation))

        async def risk_changed(_: str) -> None:
            await risk.refresh()

        async def reread_risk() -> None:
            await risk.refresh()

        bus.subscribe(Topic.RISK, risk_changed, reread_risk)
    feed = services.event_feed
    if feed is not None:
        feed.hub.relay = lambda: bus.publish(Topic.EVENTS)

        async def events_appended(_: str) -> None:
            feed.hub.wake()

        bus.subscribe(Topic.EVENTS, events_appended)


def _measure(bus: ChangeBus, services: GatewayServices) -> None:
    """``/metrics``: whether the listener hears the others, and how much it heard."""
    registry = services.metrics.registry
    if isinstance(bus, PgBus):
        listening = Gauge(
            "kcgw_change_bus_listening",
            "1 while this instance hears the other instances' changes (LISTEN/NOTIFY)",
            registry=registry,
        )
        listening.set_function(lambda: float(bus.listening))
    received = Gauge(
        "kcgw_change_bus_received",
        "Changes made by other instances that this instance applied since it started",
        registry=registry,
    )
    received.set_function(lambda: float(bus.received))


def broker_settings_changed(bus: ChangeBus) -> Callable[[], None]:
    """What ``kcgateway broker set/clear`` calls after its commit: tell every instance."""
    return lambda: bus.publish(Topic.BROKER)
