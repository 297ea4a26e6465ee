"""The one table of web/errors.py answers every error of the tree (a new class needs a row)."""

from __future__ import annotations

import inspect
import json

from kcgateway import errors
from kcgateway.gateway.reasons import hint_for
from kcgateway.web.errors import TABLE, describe

#: the bases no code raises as such
_ABSTRACT = {errors.KcgatewayError, errors.LocalError}


def _tree() -> list[type[errors.KcgatewayError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.KcgatewayError) and cls not in _ABSTRACT
    ]


def test_every_error_of_the_tree_has_a_row() -> None:
    kinds = [row[0] for row in TABLE]
    missing = [cls.__name__ for cls in _tree() if not any(issubclass(cls, k) for k in kinds)]
    assert not missing, f"add a row to web/errors.py TABLE for: {missing}"


def test_subclasses_come_before_their_bases() -> None:
    kinds = [row[0] for row in TABLE]
    for i, kind in enumerate(kinds):
        for later in kinds[i + 1 :]:
            assert not issubclass(later, kind), f"{later.__name__} is shadowed by {kind.__name__}"


def test_answers_carry_fields_not_request_input() -> None:
    status, body = describe(errors.AmbiguousClientOid("oid-1", ("a", "b"))) or (0, "")
    assert status == 409
    assert json.loads(body) == {
        "error": "client_oid_ambiguous",
        "message": str(errors.AmbiguousClientOid("oid-1", ("a", "b"))),
        "accounts": ["a", "b"],
        "hint": hint_for(errors.AmbiguousClientOid("oid-1", ("a", "b"))),
    }
    status, body = describe(errors.NoSuchAccount("typed-by-the-caller")) or (0, "")
    assert status == 404 and "typed-by-the-caller" not in body, "404s never echo input"
    status, body = describe(errors.ProtocolError("bad", path="data.price")) or (0, "")
    assert status == 502 and json.loads(body)["error"] == "exchange_bad_reply"
    assert describe(ValueError("not ours")) is None
