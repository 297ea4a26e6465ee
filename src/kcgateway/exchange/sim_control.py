"""The paper simulator's control API, as far as the paper mirror uses it: ``POST /_sim/books``.

A ``kcgateway sim`` (or the simulator dev mode embeds) answers its control API on loopback
only; the gateway uses it to make the paper market quote a reference market's book (see
``gateway/bots/mirror.py``). Plain JSON, no KuCoin envelope, no signature.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal

from kcgateway.errors import ExchangeUnavailable
from kcgateway.exchange.transport import Transport

Level = tuple[Decimal, Decimal]
_OK = 200


class SimControl:
    """Pushes books into one simulator (``base_url``: its spot host)."""

    def __init__(self, base_url: str, transport: Transport, *, timeout_s: float = 5.0) -> None:
        self._url = base_url.rstrip("/") + "/_sim/books"
        self._transport = transport
        self._timeout_s = timeout_s

    async def mirror(self, symbol: str, bids: Sequence[Level], asks: Sequence[Level]) -> None:
        """Make the simulator's ``symbol`` book quote exactly these levels (best first)."""
        body = json.dumps(
            {
                "symbol": symbol,
                "bids": [[str(p), str(s)] for p, s in bids],
                "asks": [[str(p), str(s)] for p, s in asks],
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        reply = await self._transport.request(
            "POST", self._url, headers, body, timeout=self._timeout_s
        )
        if reply.status != _OK:
            raise ExchangeUnavailable(
                "paper_mirror",
                f"the paper simulator refused the book: {reply.body[:200]!r}",
                http_status=reply.status,
                request_path="/_sim/books",
            )

    async def aclose(self) -> None:
        """Close the transport's connections."""
        await self._transport.aclose()
