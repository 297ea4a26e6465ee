"""Every error of the tree says what to do; a refused order's reason keeps the exchange's words."""

from __future__ import annotations

import inspect

from kcgateway import errors
from kcgateway.gateway.reasons import MAX_TEXT, NEVER_SENT, Reason, hint_for, reason_of

#: the bases no code raises as such
_ABSTRACT = {errors.KcgatewayError, errors.LocalError}


def _tree() -> list[type[errors.KcgatewayError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.KcgatewayError) and cls not in _ABSTRACT
    ]


def test_every_class_of_the_tree_has_a_hint() -> None:
    def sample(cls: type[errors.KcgatewayError]) -> BaseException:
        return cls.__new__(cls)  # the hint depends on the class (and an exchange code) only

    missing = [c.__name__ for c in _tree() if not issubclass(c, errors.ExchangeError)
               and not hint_for(sample(c))]  # fmt: skip
    missing += [c.__name__ for c in _tree() if issubclass(c, errors.ExchangeError)
                and not hint_for(c("999999", "x"))]  # fmt: skip
    assert not missing, f"add a hint to gateway/reasons.py for: {missing}"


def test_exchange_codes_get_their_own_remedy() -> None:
    permission = errors.AuthError("400007", "Access denied, require more permission.")
    assert "permission" in hint_for(permission) and "Futures" in hint_for(permission)
    assert "whitelist" in hint_for(errors.AuthError("400006", "Invalid request ip"))
    assert "balance" in hint_for(errors.InsufficientFunds("200004", "Balance insufficient!"))


def test_reason_of_an_exchange_refusal() -> None:
    reason = reason_of(errors.InsufficientFunds("126013", "Balance insufficient!"))
    assert reason.code == "exchange_rejected"
    assert (reason.exchange_code, reason.exchange_message) == ("126013", "Balance insufficient!")
    assert reason.message == "Balance insufficient!" and reason.hint
    bare = reason_of(errors.AuthError("400007"))
    assert bare.code == "exchange_auth_failed" and "400007" in bare.message
    assert bare.exchange_message is None
    long = reason_of(errors.Rejected("400100", "x" * 1000))
    assert long.exchange_message is not None and len(long.exchange_message) == MAX_TEXT


def test_reason_of_local_refusals() -> None:
    tick = reason_of(errors.ValidationError("price 1.05 is not a multiple of 0.1", field="price"))
    assert (tick.code, tick.field) == ("invalid_request", "price")
    unusable = reason_of(errors.AccountUnusable("acc-1", reason="no key"))
    assert unusable.code == "account_unusable" and "acc-1" in unusable.message
    assert reason_of(errors.AccountNotConnected("acc-1")).code == "account_not_connected"
    assert reason_of(errors.ConfigError("x")).code == "not_placed"


def test_reason_round_trips_as_stored() -> None:
    full = reason_of(errors.ValidationError("bad", field="size"))
    assert Reason.from_json(full.to_json()) == full
    assert "field" not in NEVER_SENT.to_json()
    assert Reason.from_json({}).code == "refused"  # an old or partial row stays readable
