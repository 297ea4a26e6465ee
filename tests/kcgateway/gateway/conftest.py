"""Every test here runs under the suite-wide leak scan (tests/helpers/leaksuite.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import leaksuite
from tests.helpers.databases import db, db_url, pg_database, pg_url  # noqa: F401


def pytest_configure(config: pytest.Config) -> None:
    leaksuite.activate(config, Path(__file__).parent)
