"""Every service method against a mock transport: request shape, signature, parsing."""

from __future__ import annotations

import inspect
import json
import secrets
from typing import Any

import pytest

from kcgateway.secret import Secret
from tests.kcgateway.kucoin import model_samples as sample

from . import cases_broker, cases_margin_futures, cases_market_account, cases_spot
from .helpers import Exchange, assert_partner, assert_signed
from .service_cases import BROKER, BROKER_KEY, KEYS, Case

CASES: list[Case] = [
    *cases_market_account.CASES,
    *cases_spot.CASES,
    *cases_margin_futures.CASES,
    *cases_broker.CASES,
]


async def _run(value: Any) -> Any:
    if inspect.isasyncgen(value) or hasattr(value, "__anext__"):
        return [item async for item in value]
    return await value


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_service_method(case: Case) -> None:
    ex = Exchange()
    if case.path != "/api/v1/timestamp":
        ex.on(case.method, case.path, case.reply)
    async with ex.client(
        KEYS, broker=BROKER if case.broker else None, validate_orders=False
    ) as client:
        result = await _run(case.call(client))
    assert case.check(result), result
    req = ex.transport.sent[-1]
    assert req.method == case.method
    assert req.url.startswith(case.host + case.path)
    assert req.signed_path == case.path + (f"?{case.query}" if case.query else "")
    if case.body is None:
        assert req.body == b""
    else:
        assert json.loads(req.body) == case.body
        assert list(json.loads(req.body)) == list(case.body)  # key order kept
    if case.private:
        assert_signed(req, KEYS)
    else:
        assert "KC-API-SIGN" not in req.headers
    if case.broker:
        assert_partner(req, BROKER, BROKER_KEY)


async def test_create_subaccount_key_sends_passphrase_and_wraps_secret() -> None:
    ex = Exchange()
    passphrase = secrets.token_hex(8)
    sub_secret = secrets.token_hex(16)
    ex.on("POST", "/api/v1/broker/nd/account/apikey", {**sample.SUB_KEY, "secretKey": sub_secret})
    async with ex.client(KEYS, broker=BROKER) as client:
        created = await client.broker.create_subaccount_key(
            "226383154",
            passphrase=Secret(passphrase),
            permissions=["general", "spot"],
            label="bot-1",
        )
    assert created.secret_key.reveal() == sub_secret
    assert sub_secret not in repr(created)
    req = ex.calls[-1]
    assert json.loads(req.body) == {
        "uid": "226383154",
        "passphrase": passphrase,
        "ipWhitelist": [],
        "permissions": ["general", "spot"],
        "label": "bot-1",
    }
    assert_partner(req, BROKER, BROKER_KEY)


# issue 4's list: every one of these endpoints has a service method (and a case above)
REQUIRED = [
    "market.timestamp",
    "market.status",
    "market.symbols",
    "market.currencies",
    "market.ticker",
    "market.all_tickers",
    "market.stats",
    "market.level2_20",
    "market.level2_100",
    "market.level2_full",
    "market.candles",
    "market.histories",
    "account.list",
    "account.get",
    "account.api_key_info",
    "account.hf_opened",
    "account.inner_transfer",
    "spot.hf.place",
    "spot.hf.test",
    "spot.hf.batch",
    "spot.hf.cancel_by_id",
    "spot.hf.cancel_by_client_oid",
    "spot.hf.cancel_all_by_symbol",
    "spot.hf.cancel_all",
    "spot.hf.get_by_id",
    "spot.hf.get_by_client_oid",
    "spot.hf.active",
    "spot.hf.done",
    "spot.hf.fills",
    "spot.classic.place",
    "spot.classic.test",
    "spot.classic.batch",
    "spot.classic.cancel_by_id",
    "spot.classic.cancel_by_client_oid",
    "spot.classic.cancel_all",
    "spot.classic.list",
    "spot.classic.get_by_id",
    "spot.classic.get_by_client_oid",
    "spot.classic.fills",
    "spot.stop.place",
    "spot.stop.list",
    "spot.stop.get_by_id",
    "spot.stop.cancel_by_id",
    "margin.hf.place",
    "margin.hf.cancel_by_id",
    "margin.borrow",
    "margin.repay",
    "margin.cross_account",
    "futures.contracts_active",
    "futures.ticker",
    "futures.level2_snapshot",
    "futures.kline",
    "futures.place",
    "futures.cancel_by_id",
    "futures.cancel_by_client_oid",
    "futures.get_by_id",
    "futures.get_by_client_oid",
    "futures.list",
    "futures.position",
    "futures.positions",
    "futures.margin_mode",
    "futures.change_margin_mode",
    "futures.cross_leverage",
    "futures.change_cross_leverage",
    "futures.account_overview",
    "broker.nd.info",
    "broker.nd.create_subaccount",
    "broker.nd.list_subaccounts",
    "broker.nd.create_subaccount_key",
    "broker.nd.list_subaccount_keys",
    "broker.nd.modify_subaccount_key",
    "broker.nd.delete_subaccount_key",
    "broker.nd.transfer",
    "broker.nd.transfer_detail",
    "broker.nd.rebate_download",
    "ws.bullet_public",
    "ws.bullet_private",
    "ws.futures_bullet_public",
    "ws.futures_bullet_private",
]
HOSTS = {
    "SPOT": "https://spot.test",
    "FUTURES": "https://futures.test",
    "BROKER": "https://broker.test",
}


def _covered(name: str) -> bool:
    from kcgateway.kucoin.endpoints import ENDPOINTS

    ep = ENDPOINTS[name]
    extra = [("POST", "https://broker.test", "/api/v1/broker/nd/account/apikey")]
    return any(
        meth == ep.method.value and host == HOSTS[ep.host.name] and _matches(path, ep.path)
        for meth, host, path in [(c.method, c.host, c.path) for c in CASES] + extra
    )


def test_issue_endpoint_list_is_covered() -> None:
    assert [name for name in REQUIRED if not _covered(name)] == []


def test_every_case_calls_a_table_endpoint() -> None:
    from kcgateway.kucoin.endpoints import ENDPOINTS

    for case in CASES:
        assert any(
            case.method == ep.method.value
            and case.host == HOSTS[ep.host.name]
            and _matches(case.path, ep.path)
            for ep in ENDPOINTS.values()
        ), case.id


def _matches(concrete: str, template: str) -> bool:
    import re

    pattern = re.sub(r"\\\{[A-Za-z]+\\\}", "[^/]+", re.escape(template))
    return re.fullmatch(pattern, concrete) is not None
