"""Service cases: ND broker."""

from __future__ import annotations

from kcgateway.kucoin import models as m
from tests.kcgateway.kucoin import model_samples as sample

from .service_cases import (
    COID,
    KEY_ID,
    Case,
    D,
)

CASES = [
    # --- broker ND ---
    Case(
        "broker.info",
        lambda c: c.broker.info("20240101", "20240601"),
        "GET",
        "/api/v1/broker/nd/info",
        {"accountSize": 1, "maxAccountSize": None, "level": 0},
        lambda r: r.account_size == 1,
        query="begin=20240101&end=20240601&tradeType=1",
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.create_subaccount",
        lambda c: c.broker.create_subaccount("Account15"),
        "POST",
        "/api/v1/broker/nd/account",
        sample.SUB_ACCOUNT,
        lambda r: r.uid == "226383154",
        body={"accountName": "Account15"},
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.subaccounts",
        lambda c: c.broker.subaccounts(),
        "GET",
        "/api/v1/broker/nd/account",
        sample.page([sample.SUB_ACCOUNT]),
        lambda r: len(r) == 1,
        query="currentPage=1&pageSize=100",
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.subaccount_keys",
        lambda c: c.broker.subaccount_keys("226383154"),
        "GET",
        "/api/v1/broker/nd/account/apikey",
        [sample.SUB_KEY],
        lambda r: r[0].permissions[0] == "General",
        query="uid=226383154",
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.modify_subaccount_key",
        lambda c: c.broker.modify_subaccount_key(
            "226383154", KEY_ID, permissions=["general"], label="lbl1", ip_whitelist=["127.0.0.1"]
        ),
        "POST",
        "/api/v1/broker/nd/account/update-apikey",
        sample.SUB_KEY,
        lambda r: isinstance(r, m.SubAccountKey),
        body={
            "uid": "226383154",
            "apiKey": KEY_ID,
            "ipWhitelist": ["127.0.0.1"],
            "permissions": ["general"],
            "label": "lbl1",
        },
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.delete_subaccount_key",
        lambda c: c.broker.delete_subaccount_key("1", KEY_ID),
        "DELETE",
        "/api/v1/broker/nd/account/apikey",
        True,
        lambda r: r is True,
        query=f"uid=1&apiKey={KEY_ID}",
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.transfer",
        lambda c: c.broker.transfer(
            "USDT", D("5"), direction="OUT", special_uid="2", client_oid=COID
        ),
        "POST",
        "/api/v1/broker/nd/transfer",
        {"orderId": "t1"},
        lambda r: r.order_id == "t1",
        body={
            "currency": "USDT",
            "amount": "5",
            "clientOid": COID,
            "direction": "OUT",
            "accountType": "MAIN",
            "specialUid": "2",
            "specialAccountType": "MAIN",
        },
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.transfer_detail",
        lambda c: c.broker.transfer_detail("tr-0001"),
        "GET",
        "/api/v3/broker/nd/transfer/detail",
        sample.TRANSFER_DETAIL,
        lambda r: r.status == "SUCCESS",
        query="orderId=tr-0001",
        host="https://broker.test",
        broker=True,
    ),
    Case(
        "broker.rebate_download",
        lambda c: c.broker.rebate_download("20240101", "20240131"),
        "GET",
        "/api/v1/broker/nd/rebase/download",
        {"url": "https://x/r.csv"},
        lambda r: r.url == "https://x/r.csv",
        query="begin=20240101&end=20240131&tradeType=1",
        host="https://broker.test",
        broker=True,
    ),
]
