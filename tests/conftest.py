"""Suite-wide fixtures: where ../shared lives, and whether the database services are required."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The ``../shared`` folder beside the repository; fail loudly when it is absent."""
    path = Path(os.environ.get("KCGW_SHARED_DIR", REPO_ROOT.parent / "shared"))
    if not (path / "kucoin" / "signing_vectors.json").is_file():
        pytest.fail(
            f"shared folder not found at {path}: clone the project beside ../shared "
            "or set KCGW_SHARED_DIR",
            pytrace=False,
        )
    return path


def services_required() -> bool:
    """True in CI: a missing PostgreSQL or Redis is a failure, not a skip."""
    return os.environ.get("KCGW_REQUIRE_SERVICES") == "1" or os.environ.get("CI") == "true"


@pytest.fixture(scope="session")
def shared_path() -> Path:
    """Path of ``../shared``."""
    return shared_dir()
