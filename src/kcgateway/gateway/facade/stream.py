"""The facade's private WebSocket use case: tokens for signed bots, one account's events out.

``POST /api/v1/bullet-private`` (scope ``read``) calls :meth:`FacadeStream.bullet`: a
single-use token (``ws_tokens.py``) bound to the caller's gateway key and exchange account, in
KuCoin's bullet envelope whose ``instanceServers`` endpoint is the facade's own WebSocket path.
The front end redeems the token with :meth:`FacadeStream.open` (KuCoin's 401 frame when it is
unknown, used or expired, or the client address is outside the key's IP allow-list) and pumps
:meth:`FacadeStream.follow`: the gateway event log (``gateway/event_feed.py``) from the moment
of connection on, restricted to the bound account's order, fill and balance events, each once
and in id order; for the futures topics it re-reads the account's position and futures wallet
from the exchange (:meth:`FacadeStream.position`, :meth:`FacadeStream.wallet`, signed with the
account's real credentials: ``ws_futures.py``). The stream ends when the gateway key
or its facade credential is revoked or expires (checked every ``EventFeed.recheck_s``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from kcgateway.errors import FacadeRefused
from kcgateway.gateway import apikeys
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.event_feed import EventFeed, EventKind, StoredEvent, filter_for
from kcgateway.gateway.facade.credentials import FacadePrincipal, key_usable
from kcgateway.gateway.facade.ws_tokens import WsGrant, WsTokens
from kcgateway.gateway.venue import Venues
from kcgateway.store.database import Database
from kcgateway.store.facade_store import facade_by_api_key
from kcgateway.store.repositories import gateway_key

Now = Callable[[], datetime]
#: the path of the facade's private WebSocket on the facade listener
WS_PATH = "/facade-ws"
#: KuCoin's bullet values (PROTOCOL.md section 7)
PING_INTERVAL_MS = 18_000
PING_TIMEOUT_MS = 10_000
KINDS = frozenset({EventKind.ORDER.value, EventKind.FILL.value, EventKind.BALANCE.value})
#: KuCoin's connect refusal; the wording makes ccxt.pro fetch a new token on reconnect [?]
EXPIRED = "token is expired"
#: open connections per gateway key (KuCoin's per-user limit, PROTOCOL.md section 7)
MAX_CONNECTIONS = 50
BUSY = "exceed max connection count limitation of 50"


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


class FacadeStream:
    """Issues private WebSocket tokens and follows the bound account's events."""

    def __init__(
        self,
        db: Database,
        feed: EventFeed,
        venues: Venues,
        *,
        now: Now,
        tokens: WsTokens | None = None,
    ) -> None:
        self._db = db
        self._feed = feed
        self._venues = venues
        self._now = now
        self.tokens = tokens or WsTokens()
        #: settle currency per futures symbol (a contract's never changes)
        self._settle: dict[str, str] = {}
        #: open connections per gateway key
        self.connections: dict[str, int] = {}

    def __repr__(self) -> str:
        return "FacadeStream()"

    def bullet(self, principal: FacadePrincipal, api_key: str, endpoint: str) -> dict[str, Any]:
        """KuCoin's private bullet ``data`` for ``principal`` (its token shown here only)."""
        principal.require(Scope.READ)
        grant = WsGrant(
            principal.tenant_id, principal.key_id, principal.account_id, api_key,
            principal.scopes,
        )  # fmt: skip
        token = self.tokens.issue(grant, _ms(self._now()))
        server = {
            "endpoint": endpoint,
            "encrypt": endpoint.startswith("wss:"),
            "protocol": "websocket",
            "pingInterval": PING_INTERVAL_MS,
            "pingTimeout": PING_TIMEOUT_MS,
        }
        return {"token": token, "instanceServers": [server]}

    async def open(self, token: str, ip: str) -> WsGrant:
        """The grant of ``token`` (used up now) for a client at ``ip``.

        FacadeRefused 401 when the token is unknown, used or expired, the key or its facade
        credential is no longer live, or ``ip`` is outside the key's IP allow-list; 509 when
        the key already holds :data:`MAX_CONNECTIONS` connections (:meth:`close` each one).
        """
        grant = self.tokens.redeem(token, _ms(self._now()))
        if grant is None or not await self._allowed(grant, ip):
            raise FacadeRefused("401", EXPIRED)
        held = self.connections.get(grant.key_id, 0)
        if held >= MAX_CONNECTIONS:
            raise FacadeRefused("509", BUSY)
        self.connections[grant.key_id] = held + 1
        return grant

    def close(self, grant: WsGrant) -> None:
        """A connection :meth:`open` granted has ended."""
        held = self.connections.pop(grant.key_id, 0) - 1
        if held > 0:
            self.connections[grant.key_id] = held

    def now_ms(self) -> int:
        """The gateway's clock, in ms (when held messages are due)."""
        return _ms(self._now())

    async def start(self) -> int:
        """Where a new connection starts following: KuCoin replays nothing from before it."""
        return await self._feed.last_id()

    async def follow(self, grant: WsGrant, after: int) -> AsyncIterator[StoredEvent | None]:
        """The account's events after ``after``, live; None on an idle poll."""
        which = filter_for(grant.tenant_id, grant.scopes, KINDS)

        async def still_allowed() -> bool:
            return await self._allowed(grant)

        async for event in self._feed.follow(which, after=after, still_allowed=still_allowed):
            if event is None or event.account_id == grant.account_id:
                yield event

    async def position(self, grant: WsGrant, symbol: str) -> dict[str, Any]:
        """The account's position in ``symbol``, as the exchange answers it now."""
        return await self._call(grant, "futures.position", query={"symbol": symbol})

    async def wallet(self, grant: WsGrant, symbol: str) -> dict[str, Any]:
        """The account's futures overview in ``symbol``'s settle currency, read now."""
        currency = self._settle.get(symbol)
        if currency is None:
            contract = await self._call(grant, "futures.contract", path_params={"symbol": symbol})
            currency = self._settle[symbol] = str(contract.get("settleCurrency") or "USDT")
        return await self._call(grant, "futures.account_overview", query={"currency": currency})

    async def _call(self, grant: WsGrant, name: str, **kw: Any) -> dict[str, Any]:
        venue = await self._venues.for_account(grant.account_id)
        # numbers keep their exact text (no float on the way)
        data = json.loads(bytes(await venue.client.call(name, **kw)), parse_float=str)
        return data if isinstance(data, dict) else {}

    async def _allowed(self, grant: WsGrant, ip: str | None = None) -> bool:
        """The facade credential and its gateway key are still live (and allow ``ip``)."""
        async with self._db.hot_read() as ex:
            cred = await facade_by_api_key(ex, grant.api_key)
            key = None if cred is None else await gateway_key(ex, cred.key_id)
        if cred is None or key is None or cred.revoked_at is not None:
            return False
        if ip is not None and not apikeys.ip_allowed(ip, key.ip_allowlist):
            return False
        return cred.key_id == grant.key_id and key_usable(key, self._now())
