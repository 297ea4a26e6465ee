"""serve's services run the alert delivery loop beside the reconciler, on the shared /metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.helpers.gateway import gateway_stack


async def test_services_start_and_stop_the_delivery_loop(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        alerts = stack.services.alerts
        assert alerts is not None and not alerts.running
        stack.services.start()  # what `kcgateway serve` calls (main._serve_on)
        assert alerts.running
        await alerts.raise_alert("gateway.test", "info", [], "a test alert", {}, datetime.now(UTC))
        exposition = (await stack.services.refresh_metrics()).decode()
        assert 'kcgateway_alerts_total{kind="gateway.test",severity="info"} 1.0' in exposition
        await stack.services.aclose()  # gateway_stack closes again: closing twice is fine
        assert not alerts.running
