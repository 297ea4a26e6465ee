"""The console's Broker page: the ND-broker settings (never the key) and sub-accounts.

Admin only: the broker settings are the operator's, gateway-wide; the sub-accounts listed are
the session's tenant's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.console.sessions import ConsoleSession
from kcgateway.gateway.services import GatewayServices
from kcgateway.gateway.subaccounts import SubAccountView
from kcgateway.store.broker_store import BrokerPublic, SqlBrokerStore


@dataclass(frozen=True, slots=True)
class BrokerPage:
    """What the Broker page shows: ``settings`` None when no broker is configured."""

    settings: BrokerPublic | None
    subaccounts: Sequence[SubAccountView]


async def broker_page(services: GatewayServices, session: ConsoleSession) -> BrokerPage:
    """The broker settings' public part and the tenant's sub-accounts (needs ``admin``)."""
    principal = session.require(Scope.ADMIN)
    settings = await SqlBrokerStore(services.db).public()
    subs = services.subaccounts
    found = [] if subs is None else await subs.list(principal.tenant_id)
    return BrokerPage(settings, found)
