"""``serve --kucoin-port`` / ``KCGW_KUCOIN_PORT`` add the facade's listener beside /v1."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kcgateway.main import facade_server
from kcgateway.settings import Settings, load_settings


def test_the_kucoin_port_setting_adds_a_facade_server_without_proxy_headers() -> None:
    assert load_settings({"KCGW_KUCOIN_PORT": "8141"}).kucoin_port == 8141
    services: Any = SimpleNamespace(facade=SimpleNamespace(stream=None))
    assert facade_server(services, Settings()) is None  # no port: no listener
    server = facade_server(services, Settings(kucoin_port=8141))
    assert server is not None
    assert server.config.port == 8141 and server.config.proxy_headers is False
    futures = Settings(kucoin_port=8141, kucoin_futures_port=8142)
    assert load_settings({"KCGW_KUCOIN_FUTURES_PORT": "8142"}).kucoin_futures_port == 8142
    server = facade_server(services, futures, futures=True)
    assert server is not None and server.config.port == 8142
    assert facade_server(services, Settings(kucoin_port=8141), futures=True) is None
