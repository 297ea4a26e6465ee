"""Every test here runs under the suite-wide leak scan (tests/helpers/leaksuite.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import leaksuite


def pytest_configure(config: pytest.Config) -> None:
    leaksuite.activate(config, Path(__file__).parent)
