"""The simulator's own checker against every shared signing vector, and each failure code."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict

from kucoin_sim.auth import (
    ApiKey,
    AuthFailure,
    Partner,
    Permission,
    SignedRequest,
    authenticate,
    hmac_b64,
)
from tests.conftest import shared_dir


def _vectors() -> list[dict[str, Any]]:
    path = Path(shared_dir()) / "kucoin" / "signing_vectors.json"
    vectors = json.loads(path.read_text())
    usable = [v for v in vectors if v.get("headers") and "KC-API-SIGN" in v["headers"]]
    for vector in usable:
        # python-kucoin's internal-sign vectors hold only TIMESTAMP and SIGN; on the wire that
        # library adds the key and a plain-text passphrase without a version header (v1 style).
        headers = vector["headers"]
        headers.setdefault("KC-API-KEY", vector["inputs"]["api_key"])
        headers.setdefault("KC-API-PASSPHRASE", vector["inputs"]["passphrase"])
    return usable


VECTORS = _vectors()


def _key_for(vector: dict[str, Any], **overrides: Any) -> ApiKey:
    inputs = vector["inputs"]
    fields: dict[str, Any] = {
        "api_key": inputs["api_key"],
        "uid": "u-broker",
        "secret": inputs["secret"],
        "passphrase": inputs["passphrase"],
    }
    fields.update(overrides)
    return ApiKey(**fields)


def _partners(vector: dict[str, Any]) -> dict[str, Partner]:
    inputs = vector["inputs"]
    partner = Partner(
        partner=inputs["broker_partner"],
        key=inputs["broker_key"],
        name=inputs["broker_name"],
        broker_uid="u-broker",
    )
    return {partner.partner: partner}


def _request(vector: dict[str, Any], **overrides: Any) -> SignedRequest:
    path, _, query = vector["wire_path"].partition("?")
    fields: dict[str, Any] = {
        "method": vector["method"],
        "path": path,
        "raw_query": query,
        "body": vector["body"].encode(),
        "headers": CIMultiDict(vector["headers"]),
        "remote": "127.0.0.1",
    }
    fields.update(overrides)
    return SignedRequest(**fields)


def _auth(vector: dict[str, Any], req: SignedRequest | None = None, **kw: Any) -> Any:
    key = kw.pop("key", _key_for(vector))
    return authenticate(
        req or _request(vector),
        keys={key.api_key: key},
        partners=_partners(vector),
        now_ms=kw.pop("now_ms", vector["inputs"]["timestamp"]),
        permission=kw.pop("permission", Permission.GENERAL),
        **kw,
    )


def _code(fn: Any) -> str:
    with pytest.raises(AuthFailure) as info:
        fn()
    return info.value.code


def test_there_are_many_vectors() -> None:
    assert len(VECTORS) >= 50


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_every_vector_verifies(vector: dict[str, Any]) -> None:
    ctx = _auth(vector)
    assert ctx.key.api_key == vector["inputs"]["api_key"]
    partner = vector["headers"].get("KC-API-PARTNER")
    if partner == vector["inputs"]["broker_partner"]:
        assert ctx.partner is not None and ctx.partner.partner == partner
    else:
        assert ctx.partner is None  # unknown library partners are tolerated, not attributed


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_flipped_prehash_byte_is_400005(vector: dict[str, Any]) -> None:
    req = _request(vector)
    if req.body:
        body = bytearray(req.body)
        body[len(body) // 2] ^= 0x01
        bad = _request(vector, body=bytes(body))
    else:
        bad = _request(vector, path=req.path[:-1] + chr(ord(req.path[-1]) ^ 0x01))
    assert _code(lambda: _auth(vector, bad)) == "400005"


@pytest.mark.parametrize("vector", VECTORS[::5], ids=[v["id"] for v in VECTORS[::5]])
def test_flipped_passphrase_is_400004(vector: dict[str, Any]) -> None:
    headers = CIMultiDict(vector["headers"])
    phrase = headers["KC-API-PASSPHRASE"]
    headers["KC-API-PASSPHRASE"] = phrase[:-2] + ("A" if phrase[-2] != "A" else "B") + phrase[-1]
    assert _code(lambda: _auth(vector, _request(vector, headers=headers))) == "400004"


@pytest.mark.parametrize("vector", VECTORS[::5], ids=[v["id"] for v in VECTORS[::5]])
def test_flipped_timestamp_is_400005_or_400002(vector: dict[str, Any]) -> None:
    headers = CIMultiDict(vector["headers"])
    ts = int(headers["KC-API-TIMESTAMP"])
    headers["KC-API-TIMESTAMP"] = str(ts + 1)  # within skew: the signature no longer matches
    assert _code(lambda: _auth(vector, _request(vector, headers=headers))) == "400005"
    headers["KC-API-TIMESTAMP"] = str(ts + 5_001)
    assert _code(lambda: _auth(vector, _request(vector, headers=headers))) == "400002"
    assert _code(lambda: _auth(vector, now_ms=ts - 5_001)) == "400002"
    assert _auth(vector, now_ms=ts + 5_000).key.uid == "u-broker"


V = VECTORS[0]


def test_missing_header_is_400001() -> None:
    for name in ("KC-API-KEY", "KC-API-SIGN", "KC-API-TIMESTAMP", "KC-API-PASSPHRASE"):
        headers = CIMultiDict(V["headers"])
        del headers[name]
        assert _code(lambda h=headers: _auth(V, _request(V, headers=h))) == "400001"


def test_non_numeric_timestamp_is_400002() -> None:
    headers = CIMultiDict(V["headers"])
    headers["KC-API-TIMESTAMP"] = "17e11"
    assert _code(lambda: _auth(V, _request(V, headers=headers))) == "400002"


def test_unknown_key_is_400003() -> None:
    other = _key_for(V, api_key="someone-else")
    assert _code(lambda: _auth(V, key=other)) == "400003"


def test_bad_key_version_is_400009() -> None:
    headers = CIMultiDict(V["headers"])
    headers["KC-API-KEY-VERSION"] = "4"
    assert _code(lambda: _auth(V, _request(V, headers=headers))) == "400009"


def test_v1_plain_passphrase_without_version_header() -> None:
    headers = CIMultiDict(V["headers"])
    del headers["KC-API-KEY-VERSION"]
    assert _code(lambda: _auth(V, _request(V, headers=headers))) == "400004"
    headers["KC-API-PASSPHRASE"] = V["inputs"]["passphrase"]
    assert _auth(V, _request(V, headers=headers)).key.api_key == V["inputs"]["api_key"]


def test_ip_whitelist_is_400006() -> None:
    key = _key_for(V, ip_whitelist=("10.0.0.1",))
    assert _code(lambda: _auth(V, key=key)) == "400006"
    allowed = _key_for(V, ip_whitelist=("127.0.0.1",))
    assert _auth(V, key=allowed).key is allowed


def test_missing_permission_is_400007() -> None:
    key = _key_for(V, permissions=frozenset({Permission.GENERAL}))
    with pytest.raises(AuthFailure) as info:
        _auth(V, key=key, permission=Permission.SPOT)
    assert (info.value.code, info.value.http_status) == ("400007", 403)


def _partner_vector() -> dict[str, Any]:
    return next(v for v in VECTORS if v["id"].startswith("ccxt/C6_broker_nd_info/internal-sign"))


def test_known_partner_with_bad_sign_and_verify_is_400201() -> None:
    vector = _partner_vector()
    headers = CIMultiDict(vector["headers"])
    headers["KC-API-PARTNER-SIGN"] = hmac_b64(secrets.token_hex(8), b"x")
    req = _request(vector, headers=headers)
    assert _code(lambda: _auth(vector, req)) == "400201"
    headers["KC-API-PARTNER-VERIFY"] = "false"
    ctx = _auth(vector, _request(vector, headers=headers))
    assert ctx.partner is None  # tolerated, not attributed


def test_broker_route_rules() -> None:
    vector = _partner_vector()
    assert _auth(vector, broker_route=True).partner is not None
    headers = CIMultiDict(vector["headers"])
    headers["KC-API-PARTNER"] = "ccxt"
    assert _code(lambda: _auth(vector, _request(vector, headers=headers), broker_route=True)) == (
        "400200"
    )
    del headers["KC-API-PARTNER-VERIFY"]
    headers["KC-API-PARTNER"] = vector["headers"]["KC-API-PARTNER"]
    headers["KC-API-PARTNER-SIGN"] = "bm9wZQ=="
    assert _code(lambda: _auth(vector, _request(vector, headers=headers), broker_route=True)) == (
        "400201"
    )
    stranger = _key_for(vector, uid="u-other")
    assert _code(lambda: _auth(vector, key=stranger, broker_route=True)) == "400200"


def test_broker_partner_ip_is_400202() -> None:
    vector = _partner_vector()
    inputs = vector["inputs"]
    partner = Partner(
        partner=inputs["broker_partner"],
        key=inputs["broker_key"],
        name=inputs["broker_name"],
        broker_uid="u-broker",
        ip_whitelist=("10.9.9.9",),
    )
    key = _key_for(vector)
    with pytest.raises(AuthFailure) as info:
        authenticate(
            _request(vector),
            keys={key.api_key: key},
            partners={partner.partner: partner},
            now_ms=inputs["timestamp"],
            permission=None,
            broker_route=True,
        )
    assert info.value.code == "400202"


def test_repr_hides_secrets() -> None:
    key = _key_for(V)
    assert V["inputs"]["secret"] not in repr(key)
    assert V["inputs"]["passphrase"] not in repr(key)


def _first(prefix: str) -> dict[str, Any]:
    return next(v for v in VECTORS if v["id"].startswith(prefix))


@pytest.mark.parametrize("prefix", ["ccxt/C3_post_spot_order/wire", "kucoin-universal-sdk/C2"])
def test_every_single_byte_flip_of_path_query_and_body_is_400005(prefix: str) -> None:
    vector = _first(prefix)
    req = _request(vector)
    for field in ("path", "raw_query", "body"):
        value = getattr(req, field)
        for i in range(len(value)):
            if field == "body":
                flipped: Any = bytes(value[:i]) + bytes([value[i] ^ 0x20]) + bytes(value[i + 1 :])
            else:
                flipped = value[:i] + chr(ord(value[i]) ^ 0x20) + value[i + 1 :]
            bad = _request(vector, **{field: flipped})
            assert _code(lambda b=bad: _auth(vector, b)) == "400005", (field, i)
    method = "PUT" if req.method != "PUT" else "GET"
    assert _code(lambda: _auth(vector, _request(vector, method=method))) == "400005"
