from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import hmac
import json
import pickle
import secrets
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcgateway.kucoin.signing import (
    BrokerCredentials,
    Credentials,
    partner_sign,
    passphrase_header,
    prehash,
    sign_request,
)
from kcgateway.secret import Secret
from tests.conftest import shared_dir

DOC = json.loads((Path(__file__).parent / "public_vectors.json").read_text())


def _load_shared_vectors() -> list[dict[str, Any]]:
    path = shared_dir() / "kucoin" / "signing_vectors.json"
    vectors: list[dict[str, Any]] = json.loads(path.read_text())
    return vectors


SHARED = _load_shared_vectors()
SIGNED = [v for v in SHARED if v.get("headers")]


def _key_version(vector: dict[str, Any]) -> int:
    """The key version a vector's client used: its version header, else v1 (plain passphrase)."""
    headers: dict[str, str] = vector["headers"]
    version = headers.get("KC-API-KEY-VERSION")
    if version is not None:
        return int(version)
    return 1 if "KC-API-PASSPHRASE" in headers else 3


def _creds(inputs: dict[str, Any], key_version: int) -> Credentials:
    return Credentials(
        inputs["api_key"],
        Secret(inputs["secret"]),
        Secret(inputs["passphrase"]),
        key_version=key_version,
    )


def _test_broker(vector: dict[str, Any]) -> BrokerCredentials | None:
    """The broker partner of the vector's inputs, when the vector carries its partner sign.

    Vectors whose library added its own built-in partner (ccxt, python-kucoin) leave that
    partner's signature out, so there is nothing to reproduce for them.
    """
    inputs = vector["inputs"]
    headers = vector["headers"]
    if "KC-API-PARTNER-SIGN" not in headers:
        return None
    assert headers["KC-API-PARTNER"] == inputs["broker_partner"]
    return BrokerCredentials(
        inputs["broker_partner"], inputs["broker_name"], Secret(inputs["broker_key"])
    )


def test_shared_vectors_are_all_there() -> None:
    # The suite must not shrink silently if the vector file changes shape.
    assert len(SHARED) == 61
    assert len(SIGNED) == 60
    assert sum("KC-API-PARTNER-SIGN" in v["headers"] for v in SIGNED) == 9
    assert sum("KC-API-PASSPHRASE" in v["headers"] for v in SIGNED) == 54


@pytest.mark.parametrize("vector", SIGNED, ids=[v["id"] for v in SIGNED])
def test_shared_vector(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    expected: dict[str, str] = vector["headers"]
    version = _key_version(vector)
    timestamp = int(expected["KC-API-TIMESTAMP"])
    body = vector["body"].encode()
    assert timestamp == inputs["timestamp"]
    assert (
        prehash(timestamp_ms=timestamp, method=vector["method"], path=vector["path_with_query"])
        + body
    ).decode() == vector["prehash"]

    broker = _test_broker(vector)
    headers = sign_request(
        _creds(inputs, version),
        method=vector["method"],
        path=vector["path_with_query"],
        body=body,
        timestamp_ms=timestamp,
        broker=broker,
    )
    assert headers["KC-API-SIGN"] == expected["KC-API-SIGN"]
    assert headers["KC-API-TIMESTAMP"] == expected["KC-API-TIMESTAMP"]
    for name in ("KC-API-KEY", "KC-API-PASSPHRASE", "KC-API-KEY-VERSION"):
        if name in expected:
            assert headers[name] == expected[name], name
    if "KC-API-PASSPHRASE" in expected:
        assert ("KC-API-KEY-VERSION" in headers) == ("KC-API-KEY-VERSION" in expected)
    if broker is not None:
        assert headers["KC-API-PARTNER-SIGN"] == expected["KC-API-PARTNER-SIGN"]
        assert headers["KC-API-PARTNER-VERIFY"] == expected["KC-API-PARTNER-VERIFY"]
        if "KC-BROKER-NAME" in expected:
            assert headers["KC-BROKER-NAME"] == expected["KC-BROKER-NAME"]


def test_old_docs_vector() -> None:
    v: dict[str, Any] = DOC["old_docs"]
    creds = Credentials("doc-key", Secret(v["secret"]), Secret("unused"))
    ts, rest = v["prehash"][:13], v["prehash"][13:]
    method, path_body = rest[:4], rest[4:]
    path, body = path_body.split("{", 1)
    headers = sign_request(
        creds, method=method, path=path, body=("{" + body).encode(), timestamp_ms=int(ts)
    )
    assert headers["KC-API-SIGN"] == v["sign"]


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
    assert passphrase_header(creds) == v["passphrase_hmac"]
    assert (
        partner_sign(broker, timestamp_ms=v["timestamp"], api_key=v["api_key"])
        == (v["partner_sign"])
    )


def test_credentials_repr_and_pickle_hide_secrets() -> None:
    secret, passphrase = secrets.token_hex(16), secrets.token_hex(8)
    creds = Credentials("k", Secret(secret), Secret(passphrase))
    for text in (repr(creds), str(creds)):
        assert secret not in text
        assert passphrase not in text
        assert passphrase_header(creds) not in text
    with pytest.raises(TypeError):
        pickle.dumps(creds)
    with pytest.raises(ValueError, match="key_version"):
        Credentials("k", Secret("s"), Secret("p"), key_version=4)


def test_credentials_equality_ignores_nothing_secret() -> None:
    secret = secrets.token_hex(16)
    a = Credentials("k", Secret(secret), Secret("p"))
    assert a == Credentials("k", Secret(secret), Secret("p"))
    assert a != Credentials("k", Secret(secret), Secret("q"))
    assert hash(a) == hash(Credentials("k", Secret(secret), Secret("p")))


def test_v1_key_sends_plain_passphrase_and_no_version() -> None:
    passphrase = secrets.token_hex(8)
    creds = Credentials("k", Secret("s"), Secret(passphrase), key_version=1)
    headers = sign_request(creds, method="get", path="/api/v1/accounts", timestamp_ms=1)
    assert headers["KC-API-PASSPHRASE"] == passphrase
    assert "KC-API-KEY-VERSION" not in headers


def test_broker_without_verify_omits_verify_header() -> None:
    creds = Credentials("k", Secret("s"), Secret("p"))
    broker = BrokerCredentials("p", "n", Secret("bk"), verify=False)
    headers = sign_request(creds, method="GET", path="/x", timestamp_ms=1, broker=broker)
    assert headers["KC-API-PARTNER"] == "p"
    assert headers["KC-BROKER-NAME"] == "n"
    assert "KC-API-PARTNER-VERIFY" not in headers
    assert "bk" not in repr(broker)
    with pytest.raises(TypeError):
        pickle.dumps(broker)


def _reference_b64_hmac(key: str, msg: bytes) -> str:
    """Independent stdlib re-computation: base64(HMAC-SHA256(key, msg))."""
    return base64.b64encode(hmac.new(key.encode(), msg, hashlib.sha256).digest()).decode()


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
# Secrets longer than the SHA-256 block (64 bytes) are hashed first: cover both sides of that.
_secret = st.text(min_size=1, max_size=150)


@given(
    secret=_secret,
    passphrase=st.text(min_size=1, max_size=40),
    api_key=_text,
    method=st.sampled_from(["GET", "POST", "DELETE", "get", "post", "delete", "Put"]),
    path=_text.map(lambda s: "/api/v1/" + s),
    body=st.binary(max_size=300),
    timestamp_ms=st.integers(min_value=0, max_value=10**14),
    version=st.sampled_from([1, 2, 3]),
    partner=st.none() | st.tuples(_text, _text, _secret, st.booleans()),
)
def test_signature_verifies_under_independent_recomputation(
    secret: str,
    passphrase: str,
    api_key: str,
    method: str,
    path: str,
    body: bytes,
    timestamp_ms: int,
    version: int,
    partner: tuple[str, str, str, bool] | None,
) -> None:
    creds = Credentials(api_key, Secret(secret), Secret(passphrase), key_version=version)
    broker = None
    if partner is not None:
        name, broker_name, key, verify = partner
        broker = BrokerCredentials(name, broker_name, Secret(key), verify=verify)
    headers = sign_request(
        creds, method=method, path=path, body=body, timestamp_ms=timestamp_ms, broker=broker
    )

    msg = str(timestamp_ms).encode() + method.upper().encode() + path.encode() + body
    assert headers["KC-API-SIGN"] == _reference_b64_hmac(secret, msg)
    assert headers["KC-API-KEY"] == api_key
    assert headers["KC-API-TIMESTAMP"] == str(timestamp_ms)
    if version == 1:
        assert headers["KC-API-PASSPHRASE"] == passphrase
        assert "KC-API-KEY-VERSION" not in headers
    else:
        assert headers["KC-API-PASSPHRASE"] == _reference_b64_hmac(secret, passphrase.encode())
        assert headers["KC-API-KEY-VERSION"] == str(version)
    if partner is None:
        assert not any("PARTNER" in name or "BROKER" in name for name in headers)
    else:
        partner_msg = f"{timestamp_ms}{partner[0]}{api_key}".encode()
        assert headers["KC-API-PARTNER-SIGN"] == _reference_b64_hmac(partner[2], partner_msg)
        assert headers["KC-API-PARTNER"] == partner[0]
        assert headers["KC-BROKER-NAME"] == partner[1]
        assert ("KC-API-PARTNER-VERIFY" in headers) == partner[3]


def test_key_material_is_not_printable_or_picklable() -> None:
    secret = secrets.token_hex(16)
    creds = Credentials("k", Secret(secret), Secret("p"))
    mac = creds._mac
    assert repr(mac) == "_Mac(***)"
    with pytest.raises(TypeError):
        pickle.dumps(mac)
    assert copy.copy(mac) is mac
    assert copy.deepcopy(mac) is mac
    fields = dataclasses.asdict(creds)  # works as before the derived state was added
    assert fields["secret"] == Secret(secret)


def test_replace_recomputes_the_derived_state() -> None:
    passphrase = secrets.token_hex(8)
    creds = Credentials("k", Secret(secrets.token_hex(16)), Secret(passphrase))
    v1 = dataclasses.replace(creds, key_version=1)
    assert passphrase_header(v1) == passphrase
    assert passphrase_header(creds) != passphrase
    other = dataclasses.replace(creds, secret=Secret(secrets.token_hex(16)))
    args: dict[str, Any] = {"method": "GET", "path": "/api/v1/accounts", "timestamp_ms": 5}
    assert sign_request(other, **args)["KC-API-SIGN"] != sign_request(creds, **args)["KC-API-SIGN"]


@pytest.mark.parametrize("length", [1, 63, 64, 65, 200])
def test_secret_lengths_around_the_hash_block(length: int) -> None:
    # RFC 2104: keys longer than the 64-byte block are hashed first, shorter ones zero-padded.
    secret = secrets.token_hex(length)[:length]
    creds = Credentials("k", Secret(secret), Secret("p"))
    headers = sign_request(creds, method="POST", path="/api/v1/orders", body=b"{}", timestamp_ms=7)
    assert headers["KC-API-SIGN"] == _reference_b64_hmac(secret, b"7POST/api/v1/orders{}")
    assert headers["KC-API-PASSPHRASE"] == _reference_b64_hmac(secret, b"p")
