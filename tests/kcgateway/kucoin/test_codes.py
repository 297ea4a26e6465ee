from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcgateway import errors
from kcgateway.kucoin import codes

# Every code named in PROTOCOL.md section 3, with the remedy class we expect for it.
PROTOCOL_CODES: dict[str, type[errors.ExchangeError]] = {
    "200001": errors.TradingSuspended,
    "200002": errors.TradingSuspended,
    "200003": errors.TooManyOrders,
    "200004": errors.InsufficientFunds,
    "200009": errors.AccountRestricted,
    "400001": errors.AuthError,
    "400002": errors.ClockSkew,
    "400003": errors.AuthError,
    "400004": errors.AuthError,
    "400005": errors.AuthError,
    "400006": errors.AuthError,
    "400007": errors.AuthError,
    "400008": errors.AuthError,
    "400009": errors.AuthError,
    "400100": errors.InvalidParameter,
    "400200": errors.AuthError,
    "400201": errors.AuthError,
    "400202": errors.AuthError,
    "400500": errors.AccountRestricted,
    "400600": errors.TradingSuspended,
    "400700": errors.AccountRestricted,
    "400800": errors.Rejected,
    "404000": errors.NotFound,
    "411100": errors.AccountRestricted,
    "415000": errors.InvalidParameter,
    "429000": errors.RateLimited,
    "500000": errors.ExchangeUnavailable,
    "503000": errors.ExchangeUnavailable,
    "600100": errors.SizeTooSmall,
    "600101": errors.SizeTooSmall,
    "900001": errors.SymbolNotFound,
    "126013": errors.InsufficientFunds,
    "126043": errors.OrderNotFound,
    "126044": errors.DuplicateClientOid,
    "300000": errors.Rejected,
    "300003": errors.InsufficientFunds,
    "300009": errors.Rejected,
}


@pytest.mark.parametrize(("code", "expected"), sorted(PROTOCOL_CODES.items()))
def test_every_protocol_code_maps_to_its_remedy(
    code: str, expected: type[errors.ExchangeError]
) -> None:
    exc = codes.error_for(code, "some text", http_status=400, request_path="/api/v1/hf/orders")
    assert type(exc) is expected
    assert codes.CODES[code].error is expected
    assert exc.code == code
    assert exc.message == "some text"
    assert exc.http_status == 400
    assert exc.request_path == "/api/v1/hf/orders"


def test_table_is_read_only_and_well_formed() -> None:
    with pytest.raises(TypeError):
        codes.CODES["999999"] = codes.CodeSpec(errors.Rejected, "x")  # type: ignore[index]
    for code, spec in codes.CODES.items():
        assert code.isdigit() and len(code) == 6, code
        assert issubclass(spec.error, errors.ExchangeError)
        assert spec.error is not errors.UnknownExchangeError
        assert spec.meaning
    assert not (codes.SUCCESS_CODES & set(codes.CODES))


def test_transient_codes_are_exactly_the_retryable_ones() -> None:
    transient = {c for c, s in codes.CODES.items() if issubclass(s.error, errors.TransientError)}
    assert {"400002", "429000", "500000", "503000"} <= transient
    assert all(
        not issubclass(s.error, errors.TransientError)
        for c, s in codes.CODES.items()
        if c.startswith("4000") and c != "400002"
    )


@pytest.mark.parametrize("code", ["999999", "", "200001x", "1015", "200 000", "2000000"])
def test_unknown_code_is_an_error_never_success(code: str) -> None:
    exc = codes.error_for(code, "?", http_status=200, request_path="/p", request_id="rid")
    assert type(exc) is errors.UnknownExchangeError
    assert exc.code == code
    assert exc.request_id == "rid"
    assert not codes.is_success(code)


@pytest.mark.parametrize("code", ["200000", "200"])
def test_success_codes(code: str) -> None:
    assert codes.is_success(code)
    with pytest.raises(ValueError, match="success code"):
        codes.error_for(code, "", http_status=200, request_path="/p")


def test_rate_limited_keeps_reset_and_fields() -> None:
    exc = codes.error_for(
        "429000",
        "Too Many Requests",
        http_status=429,
        request_path="/api/v1/orders",
        request_id="abc",
        reset_ms=1200,
    )
    assert isinstance(exc, errors.RateLimited)
    assert (exc.reset_ms, exc.http_status, exc.request_id) == (1200, 429, "abc")


def test_reset_is_dropped_on_other_errors() -> None:
    exc = codes.error_for("400100", "bad", http_status=400, request_path="/p", reset_ms=5)
    assert not hasattr(exc, "reset_ms")


@given(st.text(max_size=200))
def test_the_message_never_changes_the_class(message: str) -> None:
    # "429000" in the text of a 400100 must not make it a rate limit (nobody reads the text)
    exc = codes.error_for("400100", message + " 429000", http_status=400, request_path="/p")
    assert type(exc) is errors.InvalidParameter


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, errors.RateLimited),
        (500, errors.ExchangeUnavailable),
        (502, errors.ExchangeUnavailable),
        (503, errors.ExchangeUnavailable),
        (599, errors.ExchangeUnavailable),
        (404, errors.NotFound),
        (401, errors.UnknownExchangeError),
        (403, errors.UnknownExchangeError),
        (418, errors.UnknownExchangeError),
    ],
)
def test_error_for_status(status: int, expected: type[errors.ExchangeError]) -> None:
    exc = codes.error_for_status(status, 1234, request_path="/api/v1/accounts", request_id="r")
    assert type(exc) is expected
    assert exc.code == codes.status_code(status) == f"http_{status}"
    assert exc.http_status == status
    assert "1234 bytes" in exc.message
    assert exc.request_id == "r"


def test_error_for_status_429_keeps_reset() -> None:
    exc = codes.error_for_status(429, 0, request_path="/p", reset_ms=700)
    assert isinstance(exc, errors.RateLimited)
    assert exc.reset_ms == 700
