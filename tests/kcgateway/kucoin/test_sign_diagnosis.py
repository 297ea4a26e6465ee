from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

import pytest

from kcgateway.kucoin.sign_diagnosis import (
    Finding,
    Status,
    decoded_path,
    diagnose,
    parse_header_lines,
)
from kcgateway.kucoin.signing import BrokerCredentials, Credentials, sign_request
from kcgateway.secret import Secret

TS = 1_700_000_000_000
ORDER = {"clientOid": "abc-1", "side": "buy", "symbol": "BTC-USDT", "price": "20000"}
COMPACT = json.dumps(ORDER, separators=(",", ":")).encode()
SPACED = json.dumps(ORDER).encode()


@pytest.fixture
def creds() -> Credentials:
    return Credentials("key-1", Secret(secrets.token_hex(16)), Secret(secrets.token_hex(6)))


@pytest.fixture
def broker() -> BrokerCredentials:
    return BrokerCredentials("PARTNER", "BROKER", Secret(secrets.token_hex(8)))


def _signed(
    creds: Credentials,
    method: str = "POST",
    path: str = "/api/v1/orders",
    body: bytes = COMPACT,
    ts: int = TS,
    broker: BrokerCredentials | None = None,
) -> dict[str, str]:
    return sign_request(creds, method=method, path=path, body=body, timestamp_ms=ts, broker=broker)


def _by_part(findings: list[Finding]) -> dict[str, Finding]:
    parts = [f.part for f in findings]
    assert len(parts) == len(set(parts)), parts
    return {f.part: f for f in findings}


def _run(
    creds: Credentials,
    sent: dict[str, str],
    *,
    method: str = "POST",
    path: str = "/api/v1/orders",
    body: bytes = COMPACT,
    now: int = TS,
    broker: BrokerCredentials | None = None,
) -> dict[str, Finding]:
    return _by_part(
        diagnose(creds, method=method, path=path, body=body, sent=sent, now_ms=now, broker=broker)
    )


def test_decoded_path() -> None:
    assert (
        decoded_path("/api/v1/prices?currencies=BTC%2CETH") == "/api/v1/prices?currencies=BTC,ETH"
    )
    assert decoded_path("/api/v1/accounts") == "/api/v1/accounts"
    assert decoded_path("/x?a=%21%40%2311") == "/x?a=!@#11"


def test_parse_header_lines_tolerates_curl_and_case() -> None:
    text = """
    -H 'kc-api-key: abc'
    KC-API-SIGN:   x/y+z=
    "Content-Type: application/json"
    not a header
    : no name
    """
    assert parse_header_lines(text) == {
        "KC-API-KEY": "abc",
        "KC-API-SIGN": "x/y+z=",
        "Content-Type": "application/json",
    }


def test_everything_matches(creds: Credentials) -> None:
    found = _run(creds, _signed(creds), now=TS + 1200)
    assert {p: f.status for p, f in found.items()} == {
        "KC-API-KEY": Status.OK,
        "KC-API-TIMESTAMP": Status.OK,
        "KC-API-PASSPHRASE": Status.OK,
        "KC-API-SIGN": Status.OK,
    }
    assert "-1200 ms" in found["KC-API-TIMESTAMP"].message


def test_lower_case_header_names_are_accepted(creds: Credentials) -> None:
    sent = {name.lower(): value for name, value in _signed(creds).items()}
    assert all(f.status is Status.OK for f in _run(creds, sent).values())


def test_missing_headers(creds: Credentials) -> None:
    found = _run(creds, {})
    assert set(found) == {"KC-API-KEY", "KC-API-SIGN", "KC-API-TIMESTAMP", "KC-API-PASSPHRASE"}
    assert all(f.status is Status.DIFF and f.message == "missing" for f in found.values())


def test_other_key(creds: Credentials) -> None:
    sent = _signed(creds) | {"KC-API-KEY": "another"}
    assert _run(creds, sent)["KC-API-KEY"].status is Status.DIFF


@pytest.mark.parametrize(
    ("value", "now", "fragment"),
    [
        ("17000000000x", TS, "not an integer"),
        (str(TS // 1000), TS, "looks like seconds"),
        (str(TS + 7_500), TS, "7.5 s ahead of"),
        (str(TS - 60_000), TS, "60.0 s behind"),
    ],
)
def test_bad_timestamps(creds: Credentials, value: str, now: int, fragment: str) -> None:
    sent = _signed(creds) | {"KC-API-TIMESTAMP": value}
    finding = _run(creds, sent, now=now)["KC-API-TIMESTAMP"]
    assert finding.status is Status.DIFF
    assert fragment in finding.message


def test_invalid_timestamp_skips_the_signature_check(creds: Credentials) -> None:
    sent = _signed(creds) | {"KC-API-TIMESTAMP": "soon"}
    assert "KC-API-SIGN" not in _run(creds, sent)


def test_invalid_key_version(creds: Credentials) -> None:
    sent = _signed(creds) | {"KC-API-KEY-VERSION": "4"}
    assert _run(creds, sent)["KC-API-KEY-VERSION"].status is Status.DIFF


@pytest.mark.parametrize("version", [None, "1"])
def test_hmac_passphrase_without_version(creds: Credentials, version: str | None) -> None:
    sent = _signed(creds)
    del sent["KC-API-KEY-VERSION"]
    if version is not None:
        sent["KC-API-KEY-VERSION"] = version
    finding = _run(creds, sent)["KC-API-PASSPHRASE"]
    assert finding.status is Status.DIFF
    assert "KC-API-KEY-VERSION is missing" in finding.message


def test_hmac_passphrase_with_a_v1_key(creds: Credentials) -> None:
    v1 = Credentials(creds.api_key, creds.secret, creds.passphrase, key_version=1)
    finding = _run(v1, _signed(creds))["KC-API-PASSPHRASE"]
    assert finding.status is Status.WARN
    assert "--key-version is 1" in finding.message


def test_version_2_header_with_v3_key_is_a_warning(creds: Credentials) -> None:
    sent = _signed(creds) | {"KC-API-KEY-VERSION": "2"}
    finding = _run(creds, sent)["KC-API-PASSPHRASE"]
    assert finding.status is Status.WARN
    assert "ccxt sends 2" in finding.message


def test_plain_passphrase_with_version_header(creds: Credentials) -> None:
    sent = _signed(creds) | {"KC-API-PASSPHRASE": creds.passphrase.reveal()}
    finding = _run(creds, sent)["KC-API-PASSPHRASE"]
    assert finding.status is Status.DIFF
    assert "plain text with KC-API-KEY-VERSION 3" in finding.message
    assert creds.passphrase.reveal() not in finding.message


def test_plain_passphrase_v1_style_with_v3_key(creds: Credentials) -> None:
    v1 = Credentials(creds.api_key, creds.secret, creds.passphrase, key_version=1)
    sent = _signed(v1)
    finding = _run(creds, sent)["KC-API-PASSPHRASE"]
    assert finding.status is Status.DIFF
    assert "v1 style" in finding.message
    assert _run(v1, sent)["KC-API-PASSPHRASE"].status is Status.OK


def test_wrong_passphrase(creds: Credentials) -> None:
    sent = _signed(creds) | {"KC-API-PASSPHRASE": "nope"}
    finding = _run(creds, sent)["KC-API-PASSPHRASE"]
    assert finding.status is Status.DIFF
    assert "neither" in finding.message


def _sign_finding(
    creds: Credentials,
    *,
    signed_method: str = "POST",
    signed_path: str = "/api/v1/orders",
    signed_body: bytes = COMPACT,
    signed_ts: int = TS,
    header_ts: int = TS,
    method: str = "POST",
    path: str = "/api/v1/orders",
    body: bytes = COMPACT,
) -> Finding:
    sent = _signed(creds, signed_method, signed_path, signed_body, signed_ts)
    sent["KC-API-TIMESTAMP"] = str(header_ts)
    return _run(creds, sent, method=method, path=path, body=body)["KC-API-SIGN"]


def test_encoded_query_as_given_was_signed(creds: Credentials) -> None:
    wire = "/api/v1/prices?base=USD&currencies=BTC%2CETH"
    finding = _sign_finding(
        creds,
        signed_method="GET",
        signed_path=wire,
        signed_body=b"",
        method="GET",
        path=wire,
        body=b"",
    )
    assert finding.status is Status.DIFF
    assert "URL-encoded query" in finding.message
    assert "currencies=BTC,ETH" in finding.message


def test_decoded_path_given_but_encoded_signed(creds: Credentials) -> None:
    finding = _sign_finding(
        creds,
        signed_method="GET",
        signed_path="/api/v1/x?a=b%20c",
        signed_body=b"",
        method="GET",
        path="/api/v1/x?a=b c",
        body=b"",
    )
    assert finding.status is Status.DIFF
    assert "'/api/v1/x?a=b%20c'" in finding.message


def test_query_left_out(creds: Credentials) -> None:
    finding = _sign_finding(
        creds,
        signed_method="GET",
        signed_path="/api/v1/orders",
        signed_body=b"",
        method="GET",
        path="/api/v1/orders?status=active",
        body=b"",
    )
    assert "without its query" in finding.message


def test_decoded_query_signed_is_ok(creds: Credentials) -> None:
    finding = _sign_finding(
        creds,
        signed_method="GET",
        signed_path="/api/v1/prices?currencies=BTC,ETH",
        signed_body=b"",
        method="GET",
        path="/api/v1/prices?currencies=BTC%2CETH",
        body=b"",
    )
    assert finding == Finding("KC-API-SIGN", Status.OK, "matches")


def test_lower_case_method(creds: Credentials) -> None:
    sent = _signed(creds)
    # A client that forgot to upper-case: reproduce its prehash by hand.
    msg = f"{TS}post/api/v1/orders".encode() + COMPACT
    digest = hmac.new(creds.secret.reveal().encode(), msg, hashlib.sha256).digest()
    sent["KC-API-SIGN"] = base64.b64encode(digest).decode()
    finding = _run(creds, sent)["KC-API-SIGN"]
    assert finding.status is Status.DIFF
    assert "lower case" in finding.message


def test_body_reserialised_spaced(creds: Credentials) -> None:
    finding = _sign_finding(creds, signed_body=SPACED)
    assert finding.status is Status.DIFF
    assert "spaced JSON" in finding.message


def test_body_reserialised_compact(creds: Credentials) -> None:
    finding = _sign_finding(creds, signed_body=COMPACT, body=SPACED)
    assert "compact JSON" in finding.message


def test_non_ascii_body_signed_escaped(creds: Credentials) -> None:
    obj = {"remark": "café"}
    raw = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    escaped = json.dumps(obj, separators=(",", ":")).encode()
    finding = _sign_finding(creds, signed_body=escaped, body=raw)
    assert "ASCII-escaped" in finding.message


def test_body_left_out_of_prehash(creds: Credentials) -> None:
    assert "an empty body" in _sign_finding(creds, signed_body=b"").message


def test_timestamp_mistakes(creds: Credentials) -> None:
    seconds = _sign_finding(creds, signed_ts=TS // 1000)
    assert "timestamp in seconds" in seconds.message
    millis = _sign_finding(creds, signed_ts=TS, header_ts=TS // 1000)
    assert "timestamp in milliseconds" in millis.message


def test_two_mistakes_are_both_named(creds: Credentials) -> None:
    finding = _sign_finding(creds, signed_body=SPACED, signed_ts=TS // 1000)
    assert "spaced JSON" in finding.message
    assert "seconds" in finding.message


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe"])
def test_wrong_secret_or_odd_body_matches_nothing(creds: Credentials, body: bytes) -> None:
    other = Credentials(creds.api_key, Secret(secrets.token_hex(16)), creds.passphrase)
    sent = _signed(other, body=body)
    finding = _run(creds, sent, body=body)["KC-API-SIGN"]
    assert finding.status is Status.DIFF
    assert "none of the usual mistakes" in finding.message


def test_partner_headers_without_broker_settings(
    creds: Credentials, broker: BrokerCredentials
) -> None:
    found = _run(creds, _signed(creds, broker=broker))
    assert found["partner"].status is Status.WARN
    assert "KUCOIN_BROKER_KEY" in found["partner"].message


def test_partner_all_good(creds: Credentials, broker: BrokerCredentials) -> None:
    found = _run(creds, _signed(creds, broker=broker), broker=broker)
    assert found["KC-API-PARTNER-SIGN"] == Finding("KC-API-PARTNER-SIGN", Status.OK, "matches")
    assert all(f.status is Status.OK for f in found.values())


def test_partner_headers_missing(creds: Credentials, broker: BrokerCredentials) -> None:
    found = _run(creds, _signed(creds), broker=broker)
    assert found["KC-API-PARTNER"].status is Status.DIFF
    assert found["KC-API-PARTNER-SIGN"].message == "missing"
    assert found["KC-API-PARTNER-VERIFY"].status is Status.WARN


def test_partner_name_and_broker_name_differ(creds: Credentials, broker: BrokerCredentials) -> None:
    sent = _signed(creds, broker=broker) | {"KC-API-PARTNER": "x", "KC-BROKER-NAME": "y"}
    found = _run(creds, sent, broker=broker)
    assert "differs" in found["KC-API-PARTNER"].message
    assert found["KC-BROKER-NAME"].status is Status.WARN


@pytest.mark.parametrize("delta", [1, 3, -2])
def test_partner_sign_from_a_second_clock_read(
    creds: Credentials, broker: BrokerCredentials, delta: int
) -> None:
    sent = _signed(creds, broker=broker)
    sent["KC-API-PARTNER-SIGN"] = _signed(creds, ts=TS + delta, broker=broker)[
        "KC-API-PARTNER-SIGN"
    ]
    finding = _run(creds, sent, broker=broker)["KC-API-PARTNER-SIGN"]
    assert finding.status is Status.DIFF
    assert f"timestamp {TS + delta}" in finding.message


def test_partner_sign_with_other_key(creds: Credentials, broker: BrokerCredentials) -> None:
    other = BrokerCredentials(broker.partner, broker.name, Secret(secrets.token_hex(8)))
    finding = _run(creds, _signed(creds, broker=other), broker=broker)["KC-API-PARTNER-SIGN"]
    assert "check KUCOIN_BROKER_KEY" in finding.message


def test_partner_sign_not_checked_without_timestamp(
    creds: Credentials, broker: BrokerCredentials
) -> None:
    sent = _signed(creds, broker=broker) | {"KC-API-TIMESTAMP": "x"}
    assert "KC-API-PARTNER-SIGN" not in _run(creds, sent, broker=broker)


def test_findings_never_contain_secrets(creds: Credentials, broker: BrokerCredentials) -> None:
    sent = _signed(creds, body=SPACED, broker=broker) | {
        "KC-API-PASSPHRASE": creds.passphrase.reveal()
    }
    text = repr(
        diagnose(
            creds,
            method="POST",
            path="/api/v1/orders",
            body=COMPACT,
            sent=sent,
            now_ms=TS,
            broker=broker,
        )
    )
    for secret in (creds.secret.reveal(), creds.passphrase.reveal(), broker.key.reveal()):
        assert secret not in text
