"""ND broker: partner headers required, sub-accounts are real users, transfers, rebate CSV."""

from __future__ import annotations

import secrets

from kucoin_sim.config import SimConfig
from tests.kucoin_sim.harness import running_sim

ORDER = {"side": "buy", "symbol": "BTC-USDT", "type": "limit", "price": "20000", "size": "0.001"}


async def test_nd_broker_flow() -> None:
    partner = {
        "partner": "TESTPARTNER_ND",
        "name": "TESTBROKER",
        "key": secrets.token_hex(8),
        "balances": {"USDT": "5000"},
    }
    async with running_sim(
        SimConfig(tick_ms=0, engine={"market_makers": []}, partners=(partner,))
    ) as sim:
        broker = next(a for a in sim.apps.created_accounts if a.get("partner"))
        assert broker["brokerKey"] == partner["key"]
        # without partner headers: 400200; wrong partner key: 400201
        status, body, _ = await sim.call(broker, "GET", "/api/v1/broker/nd/info")
        assert (status, body["code"]) == (400, "400200")
        bad = {**broker, "brokerKey": secrets.token_hex(8)}
        status, body, _ = await sim.call(broker, "GET", "/api/v1/broker/nd/info", broker=bad)
        assert body["code"] == "400201"
        info = await sim.ok(broker, "GET", "/api/v1/broker/nd/info", broker=broker)
        assert info["accountSize"] == 0
        sub = await sim.ok(
            broker, "POST", "/api/v1/broker/nd/account", {"accountName": "sub1"}, broker=broker
        )
        listed = await sim.ok(broker, "GET", "/api/v1/broker/nd/account", broker=broker)
        assert [i["uid"] for i in listed["items"]] == [sub["uid"]]
        phrase = secrets.token_hex(6)
        key = await sim.ok(
            broker,
            "POST",
            "/api/v1/broker/nd/account/apikey",
            {
                "uid": sub["uid"],
                "passphrase": phrase,
                "label": "bot-1",
                "permissions": ["general", "spot"],
                "ipWhitelist": ["127.0.0.1"],
            },
            broker=broker,
        )
        assert key["apiVersion"] == 3 and sorted(key["permissions"]) == ["General", "Spot"]
        sub_acct = {"apiKey": key["apiKey"], "secret": key["secretKey"], "passphrase": phrase}
        # fund the sub-account from the broker (OUT), main -> trade
        move = {
            "currency": "USDT",
            "amount": "1000",
            "direction": "OUT",
            "accountType": "TRADE",
            "specialUid": sub["uid"],
            "specialAccountType": "TRADE",
            "clientOid": "t-1",
        }
        transfer = await sim.ok(broker, "POST", "/api/v1/broker/nd/transfer", move, broker=broker)
        detail = await sim.ok(
            broker,
            "GET",
            f"/api/v3/broker/nd/transfer/detail?orderId={transfer['orderId']}",
            broker=broker,
        )
        assert detail["status"] == "SUCCESS" and detail["toUid"] == int(sub["uid"])
        balances = await sim.ok(sub_acct, "GET", "/api/v1/accounts?type=trade")
        assert balances[0]["available"] == "1000"
        # the sub-account key really trades
        placed = await sim.ok(sub_acct, "POST", "/api/v1/orders", {**ORDER, "clientOid": "s1"})
        assert placed["orderId"]
        status, body, _ = await sim.call(
            broker,
            "POST",
            "/api/v1/broker/nd/transfer",
            {**move, "amount": "1000000"},
            broker=broker,
        )
        assert body["code"] == "200004"
        keys = await sim.ok(
            broker, "GET", f"/api/v1/broker/nd/account/apikey?uid={sub['uid']}", broker=broker
        )
        assert keys[0]["ipWhitelist"] == ["127.**.1"]
        rebate = await sim.ok(
            broker,
            "GET",
            "/api/v1/broker/nd/rebase/download?begin=20240101&end=20240131&tradeType=1",
            broker=broker,
        )
        async with sim.session.get(rebate["url"]) as resp:
            assert resp.status == 200
            text = await resp.text()
        assert text.startswith("Date,BrokerUID") and sub["uid"] in text
        assert (
            await sim.ok(
                broker,
                "DELETE",
                f"/api/v1/broker/nd/account/apikey?uid={sub['uid']}&apiKey={key['apiKey']}",
                broker=broker,
            )
            is True
        )
        status, body, _ = await sim.call(sub_acct, "GET", "/api/v1/accounts")
        assert body["code"] == "400003"
