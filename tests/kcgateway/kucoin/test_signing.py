from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from kcgateway.kucoin.signing import BrokerCredentials, Credentials, sign_request
from kcgateway.secret import Secret

DOC = json.loads((Path(__file__).parent / "public_vectors.json").read_text())


def test_broker_doc_vector() -> None:
    v: dict[str, Any] = DOC["broker_doc"]
    creds = Credentials(v["api_key"], Secret(v["secret"]), Secret(v["passphrase"]), key_version=2)
    broker = BrokerCredentials(v["partner"], "name", Secret(v["broker_key"]))
    headers = sign_request(
        creds,
        method=v["method"],
        path=v["path"],
        body=v["body"].encode(),
        timestamp_ms=v["timestamp"],
        broker=broker,
    )
    assert headers["KC-API-SIGN"] == v["sign"]
    assert headers["KC-API-PASSPHRASE"] == v["passphrase_hmac"]
    assert headers["KC-API-PARTNER-SIGN"] == v["partner_sign"]
    assert headers["KC-API-PARTNER-VERIFY"] == "true"


def test_credentials_repr_and_pickle_hide_secrets() -> None:
    creds = Credentials("k", Secret("canary-secret"), Secret("canary-pass"))
    assert "canary" not in repr(creds)
    with pytest.raises(TypeError):
        pickle.dumps(creds)
    with pytest.raises(ValueError, match="key_version"):
        Credentials("k", Secret("s"), Secret("p"), key_version=4)


def test_v1_key_sends_plain_passphrase_and_no_version() -> None:
    creds = Credentials("k", Secret("s"), Secret("plain-pass"), key_version=1)
    headers = sign_request(creds, method="get", path="/api/v1/accounts", timestamp_ms=1)
    assert headers["KC-API-PASSPHRASE"] == "plain-pass"
    assert "KC-API-KEY-VERSION" not in headers


def test_broker_without_verify_omits_verify_header() -> None:
    creds = Credentials("k", Secret("s"), Secret("p"))
    broker = BrokerCredentials("p", "n", Secret("bk"), verify=False)
    headers = sign_request(creds, method="GET", path="/x", timestamp_ms=1, broker=broker)
    assert headers["KC-API-PARTNER"] == "p"
    assert headers["KC-BROKER-NAME"] == "n"
    assert "KC-API-PARTNER-VERIFY" not in headers
    with pytest.raises(TypeError):
        pickle.dumps(broker)
