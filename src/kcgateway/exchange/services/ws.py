"""WebSocket tokens: ``POST /api/v1/bullet-public`` and ``bullet-private``, spot and futures."""

from __future__ import annotations

from kcgateway.exchange.services.base import Service
from kcgateway.kucoin import models as m


class WsTokenService(Service):
    """``client.ws``: tokens and instance servers for the WebSocket feeds (token is a Secret)."""

    async def public_token(self) -> m.BulletToken:
        """Spot/margin public token (unsigned)."""
        return m.parse_bullet(await self._client.call("ws.bullet_public"))

    async def private_token(self) -> m.BulletToken:
        """Spot/margin private token (signed)."""
        return m.parse_bullet(await self._client.call("ws.bullet_private"))

    async def futures_public_token(self) -> m.BulletToken:
        """Futures public token (futures host)."""
        return m.parse_bullet(await self._client.call("ws.futures_bullet_public"))

    async def futures_private_token(self) -> m.BulletToken:
        """Futures private token (futures host, signed)."""
        return m.parse_bullet(await self._client.call("ws.futures_bullet_private"))
