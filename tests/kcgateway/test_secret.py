from __future__ import annotations

import copy
import logging
import pickle

import pytest

from kcgateway.secret import Secret


def test_secret_never_shows_its_value(caplog: pytest.LogCaptureFixture) -> None:
    s = Secret("canary-s3cr3t")
    assert "canary" not in repr(s)
    assert "canary" not in str(s)
    assert "canary" not in f"{s}"
    assert "canary" not in f"{s!r}"
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("t").debug("value %s %r", s, s)
    assert "canary" not in caplog.text
    assert s.reveal() == "canary-s3cr3t"


def test_secret_cannot_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Secret("x"))


def test_secret_equality_hash_bool_copy() -> None:
    a, b = Secret("x"), Secret("x")
    assert a == b
    assert a != Secret("y")
    assert (a == "x") is False
    assert hash(a) == hash(b)
    assert bool(a) and not bool(Secret(""))
    assert copy.copy(a) is a
    assert copy.deepcopy(a) is a
    with pytest.raises(TypeError):
        Secret(b"bytes")  # type: ignore[arg-type]
