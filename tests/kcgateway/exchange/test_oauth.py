"""The Fast API OAuth client: pure URL builders and parsers, and how failures are classified."""

from __future__ import annotations

import json
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest

from kcgateway.errors import ExchangeUnavailable, KeyPossiblyCreated, ProtocolError
from kcgateway.exchange.oauth import (
    FastApiClient,
    FastApiClientConfig,
    FastApiRejected,
    authorize_url,
    parse_created_key,
    parse_tokens,
    token_url,
)
from kcgateway.exchange.testing import MockTransport, SentRequest
from kcgateway.exchange.transport import RawResponse, TransportError
from kcgateway.secret import Secret

CONFIG = FastApiClientConfig("https://www.kucoin.com/", "cid", "https://gw.example/cb")
API_KEY, SECRET, PASSPHRASE = secrets.token_hex(12), secrets.token_hex(16), secrets.token_hex(8)
KEY = {
    "apiName": "b",
    "apiKey": API_KEY,
    "secret": SECRET,
    "passphrase": PASSPHRASE,
    "brokerId": "b",
    "authGroup": "API_COMMON,API_SPOT",
    "ipWhiteList": "1.2.3.4",
}


def _raw(body: object, status: int = 200) -> RawResponse:
    return RawResponse(status, {}, json.dumps(body).encode())


def test_authorize_url_keeps_the_redirect_readable_and_encodes_the_state() -> None:
    url = authorize_url(CONFIG, "a.b&c")
    assert url.startswith("https://www.kucoin.com/oauth?response_type=code&client_id=cid&")
    assert "redirect_uri=https://gw.example/cb&" in url
    query = parse_qs(urlsplit(url).query)
    assert query["state"] == ["a.b&c"] and query["scope"] == ["OAUTH_CREATE_API"]


def test_token_url() -> None:
    query = parse_qs(urlsplit(token_url(CONFIG, "c0de")).query)
    assert query == {
        "grant_type": ["authorization_code"],
        "code": ["c0de"],
        "redirect_uri": ["https://gw.example/cb"],
        "client_id": ["cid"],
    }


def test_parse_tokens_hides_them() -> None:
    pair = parse_tokens(
        _raw({"access_token": "a" * 20, "refresh_token": "r" * 20, "expires_in": 3600})
    )
    assert pair.access_token.reveal() == "a" * 20 and pair.expires_in == 3600
    assert "a" * 20 not in repr(pair) and "r" * 20 not in repr(pair)


@pytest.mark.parametrize(
    ("resp", "error"),
    [
        (_raw({"error": "invalid_grant", "error_description": "used"}, 400), FastApiRejected),
        (_raw({"access_token": "a", "refresh_token": "r"}), ProtocolError),
        (_raw({"access_token": "a", "refresh_token": "r", "expires_in": True}), ProtocolError),
        (_raw({"access_token": "", "refresh_token": "r", "expires_in": 1}), ProtocolError),
        (RawResponse(200, {}, b"<html>"), ProtocolError),
        (_raw([1]), ProtocolError),
    ],
)
def test_parse_tokens_failures(resp: RawResponse, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_tokens(resp)


def test_parse_created_key() -> None:
    key = parse_created_key(_raw({"success": True, "code": "200", "data": KEY}))
    assert key.api_key == API_KEY and key.auth_groups == ("API_COMMON", "API_SPOT")
    assert key.secret.reveal() == SECRET and SECRET not in repr(key) and PASSPHRASE not in repr(key)
    with pytest.raises(FastApiRejected) as refused:
        parse_created_key(_raw({"success": False, "code": "400100", "msg": "apiName exists"}))
    assert refused.value.code == "400100" and refused.value.message == "apiName exists"
    with pytest.raises(ProtocolError):
        parse_created_key(_raw({"success": True, "code": "200", "data": None}))


async def test_network_failures_are_classified() -> None:
    def connect(req: SentRequest) -> RawResponse:
        raise TransportError("connect", sent=False)

    def timeout(req: SentRequest) -> RawResponse:
        raise TransportError("timeout", sent=True)

    def failing(req: SentRequest) -> RawResponse:
        return _raw({"code": "500000"}, 502)

    for handler, exchange_error, create_error in (
        (connect, ExchangeUnavailable, ExchangeUnavailable),
        (timeout, ExchangeUnavailable, KeyPossiblyCreated),
        (failing, ExchangeUnavailable, KeyPossiblyCreated),
    ):
        transport = MockTransport(handler)
        client = FastApiClient(transport, CONFIG, timeout=1.0)
        with pytest.raises(exchange_error):
            await client.exchange_code("c")
        with pytest.raises(create_error):
            await client.create_key(Secret("tok"))
        assert transport.sent[-1].headers == {"Authorization": "bearer tok"}
        await client.aclose()
        assert transport.closed
