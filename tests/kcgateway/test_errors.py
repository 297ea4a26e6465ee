from __future__ import annotations

import pytest

from kcgateway import errors


def test_exchange_error_carries_fields_not_formatted_strings() -> None:
    exc = errors.InvalidParameter(
        "400100", "bad size", http_status=400, request_path="/api/v1/orders", request_id="r1"
    )
    assert (exc.code, exc.message, exc.http_status, exc.request_path, exc.request_id) == (
        "400100",
        "bad size",
        400,
        "/api/v1/orders",
        "r1",
    )
    assert str(exc) == "400100: bad size"
    assert isinstance(exc, errors.Rejected)
    assert not isinstance(exc, errors.TransientError)


def test_exchange_error_without_message_shows_code() -> None:
    assert str(errors.UnknownExchangeError("999999")) == "999999"


def test_rate_limited_defaults_and_reset() -> None:
    exc = errors.RateLimited(reset_ms=1200, request_path="/x")
    assert exc.code == "429000"
    assert exc.http_status == 429
    assert exc.reset_ms == 1200
    assert isinstance(exc, errors.TransientError)


def test_outcome_unknown_names_the_client_oid() -> None:
    exc = errors.OutcomeUnknown("oid-1", reason="timeout", request_path="/api/v1/hf/orders")
    assert exc.client_oid == "oid-1"
    assert exc.reason == "timeout"
    assert "oid-1" in str(exc)
    assert not isinstance(exc, errors.ExchangeError)


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (
            errors.ProtocolError("expected a string", path="data.price"),
            "expected a string at data.price",
        ),
        (errors.ProtocolError("not JSON"), "not JSON"),
    ],
)
def test_protocol_error_names_the_path(exc: errors.ProtocolError, text: str) -> None:
    assert str(exc) == text


def test_validation_error_field() -> None:
    exc = errors.ValidationError("price is not a multiple of 0.1", field="price")
    assert exc.field == "price"
    assert isinstance(exc, errors.LocalError)


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("secret", "credential c1 field secret cannot be decrypted: authentication failed"),
        (None, "credential c1 cannot be decrypted: authentication failed"),
    ],
)
def test_credential_unreadable_names_where_never_what(field: str | None, text: str) -> None:
    exc = errors.CredentialUnreadable("c1", reason="authentication failed", field=field)
    assert str(exc) == text
    assert (exc.credential_id, exc.field, exc.reason) == ("c1", field, "authentication failed")
    assert isinstance(exc, errors.LocalError)
