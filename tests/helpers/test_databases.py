from __future__ import annotations

import pytest

from tests.helpers import databases


def test_unreachable_postgres_skips_locally_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(databases, "PG_PORT", 1)  # nothing listens there
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("KCGW_REQUIRE_SERVICES", raising=False)
    where = r"PostgreSQL is not reachable at 127\.0\.0\.1:1 "
    with pytest.raises(pytest.skip.Exception, match=where):
        databases.postgres_user_or_skip()
    monkeypatch.setenv("KCGW_REQUIRE_SERVICES", "1")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is not reachable"):
        databases.postgres_user_or_skip()
