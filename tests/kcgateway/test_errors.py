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


def test_account_errors_name_the_account_and_a_fixed_reason() -> None:
    exc = errors.AccountUnusable("acct-1", reason="its credential cannot be decrypted")
    assert (exc.account_id, exc.reason) == ("acct-1", "its credential cannot be decrypted")
    assert "acct-1" in str(exc) and isinstance(exc, errors.LocalError)
    missing = errors.AccountNotConnected("acct-2")
    assert missing.account_id == "acct-2" and isinstance(missing, errors.AccountUnusable)
    assert isinstance(missing, LookupError), "still caught where a LookupError was"


def test_refusals_are_named_by_remedy_and_carry_fields() -> None:
    assert errors.Unauthenticated(retry_after_s=5).retry_after_s == 5
    assert str(errors.Unauthenticated()) == "invalid or missing API key"
    denied = errors.PermissionDenied("trade:spot")
    assert denied.needed == "trade:spot" and "trade:spot" in str(denied)
    assert str(errors.PermissionDenied("admin", "only admin touches admin")) == (
        "only admin touches admin"
    )
    assert isinstance(denied, errors.AccessDenied) and isinstance(denied, errors.Refused)
    taken = errors.ClientOidTaken("i-1")
    assert taken.intent_id == "i-1" and isinstance(taken, errors.Conflict)
    both = errors.AmbiguousClientOid("oid-1", ("a", "b"))
    assert both.accounts == ("a", "b") and "a, b" in str(both) and "account" in str(both)
    assert errors.NotCancellable("filled").state == "filled"
    assert "Idempotency-Key" in str(errors.IdempotencyConflict())
    pending = errors.IdempotencyInProgress()
    assert isinstance(pending, errors.Conflict) and "retry it" in str(pending)
    busy = errors.AccountBusy("main", 2)
    assert (busy.name, busy.live) == ("main", 2) and "--force" not in str(busy)
    lost = errors.LeaseLost("acc-1", 7)
    assert (lost.account_id, lost.epoch) == ("acc-1", 7) and "stale" in str(lost)
    assert isinstance(lost, errors.Conflict)
    assert errors.RiskRejected("too big").reason == "too big"
    unsized = errors.NotSizable("BTC-USDT", reason="no ticker price")
    assert unsized.symbol == "BTC-USDT" and "no ticker price" in str(unsized)
    assert isinstance(unsized, errors.RiskRejected)
    assert errors.KeyRefused("no IP list").reason == "no IP list"
    bad_key = errors.ExchangeKeyInvalid("400003", "KC-API-KEY not exists")
    assert bad_key.code == "400003" and "KC-API-KEY not exists" in str(bad_key)
    assert "400004" in str(errors.ExchangeKeyInvalid("400004"))
    for name_taken in (errors.AccountNameTaken("x"), errors.TenantNameTaken("y")):
        assert isinstance(name_taken, errors.Conflict)


def test_no_such_object_names_its_kind_and_optionally_what_was_asked() -> None:
    assert str(errors.NoSuchObject()) == "no such object"
    order = errors.NoSuchObject("order")
    assert (order.kind, order.name, order.hint) == ("order", None, "")
    assert isinstance(order, LookupError) and isinstance(order, errors.Refused)
    assert str(errors.NoSuchKey("k1")) == "no such key 'k1'"
    assert errors.NoSuchAccount("main").kind == "account"
    tenant = errors.NoSuchTenant("acme", hint="see tenants list")
    assert str(tenant) == "no such tenant 'acme': see tenants list"
    assert str(errors.NoSuchTenant(hint="no key k")) == "no such tenant: no key k"
    lifted = errors.NoSuchSuspension("k1@192.0.2.1")
    assert lifted.kind == "suspension" and isinstance(lifted, errors.NoSuchObject)
    assert str(lifted) == "no such suspension 'k1@192.0.2.1': see `kcgateway keys suspensions`"


def test_forbidden_is_access_denied_and_names_what_exceeds_the_callers_rights() -> None:
    refused = errors.Forbidden("scopes beyond your own: admin", field="scopes")
    assert isinstance(refused, errors.AccessDenied) and isinstance(refused, errors.Refused)
    assert (refused.message, refused.field) == ("scopes beyond your own: admin", "scopes")
    assert errors.Forbidden("no").field is None


@pytest.mark.parametrize("kind", [errors.InvalidTenantName, errors.InvalidBrokerSettings])
def test_invalid_names_are_validation_errors_and_value_errors(
    kind: type[errors.ValidationError],
) -> None:
    exc = kind("the name is empty")
    assert isinstance(exc, errors.ValidationError) and isinstance(exc, ValueError)
    assert exc.message == "the name is empty"


def test_onboarding_errors() -> None:
    refused = errors.OnboardingRefused("replayed", "this answer was already used")
    assert isinstance(refused, errors.Refused) and refused.reason == "replayed"
    assert str(refused) == refused.message == "this answer was already used"
    assert isinstance(errors.OnboardingNotConfigured("configure it"), errors.Conflict)
    unknown = errors.KeyPossiblyCreated("timeout")
    assert isinstance(unknown, errors.OutcomeUnknown) and unknown.reason == "timeout"
    assert str(unknown) == "a KuCoin API key may have been created: timeout"
    assert isinstance(errors.NoBrokerMaster("name one"), errors.Conflict)
    assert isinstance(errors.SubAccountOrphaned("clean up"), errors.Conflict)


def test_signal_and_facade_refusals_are_access_denied_and_say_no_more_than_their_code() -> None:
    signal = errors.SignalRefused()
    assert isinstance(signal, errors.AccessDenied) and str(signal) == "signal refused"
    facade = errors.FacadeRefused("400005", "Invalid KC-API-SIGN")
    assert isinstance(facade, errors.AccessDenied)
    assert (facade.kc_code, facade.message, facade.http_status) == (
        "400005", "Invalid KC-API-SIGN", 401,
    )  # fmt: skip
    assert str(facade) == "400005: Invalid KC-API-SIGN"
    assert errors.FacadeRefused("400007", "no permission", http_status=403).http_status == 403
