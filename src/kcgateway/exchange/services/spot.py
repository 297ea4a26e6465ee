"""``client.spot``: the two spot order families and stop orders, side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kcgateway.exchange.services.spot_classic import ClassicOrders
from kcgateway.exchange.services.spot_hf import HfOrders
from kcgateway.exchange.services.stop import StopOrders

if TYPE_CHECKING:
    from kcgateway.exchange.rest import KuCoinClient


class SpotService:
    """``client.spot.hf`` (HF accounts), ``client.spot.classic`` and ``client.spot.stop``."""

    def __init__(self, client: KuCoinClient) -> None:
        self.hf = HfOrders(client)
        self.classic = ClassicOrders(client)
        self.stop = StopOrders(client)
