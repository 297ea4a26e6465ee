"""Settings: defaults, TOML, KCGW_* variables, and prod refusing dev defaults."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kcgateway.errors import ConfigError
from kcgateway.settings import Mode, load_settings


def test_defaults_are_dev_and_embedded() -> None:
    s = load_settings({})
    assert s.mode is Mode.DEV and s.is_dev
    assert s.sqlite_url().endswith("data/kcgateway.db")
    assert s.pepper_path() == Path("data/pepper.key")


def test_toml_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text('port = 9000\nmax_notional = "250.5"\ntrusted_proxies = ["10.0.0.0/8"]\n')
    s = load_settings({"KCGW_PORT": "9100", "KCGW_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.2"}, path)
    assert s.port == 9100
    assert s.max_notional == Decimal("250.5")
    assert s.trusted_proxies == ("10.0.0.1", "10.0.0.2")
    assert load_settings({"KCGW_CONFIG": str(path)}).trusted_proxies == ("10.0.0.0/8",)


def test_invalid_values_say_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="port"):
        load_settings({"KCGW_PORT": "eighty"})
    with pytest.raises(ConfigError, match="mode"):
        load_settings({"KCGW_MODE": "staging"})
    bad = tmp_path / "bad.toml"
    bad.write_text("port = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({}, bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({}, tmp_path / "missing.toml")
    extra = tmp_path / "extra.toml"
    extra.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="colour: Extra inputs are not permitted"):
        load_settings({}, extra)


def test_prod_refuses_dev_defaults() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"KCGW_MODE": "prod"})
    message = str(info.value)
    for needed in (
        "KCGW_DATABASE_URL",
        "KCGW_PEPPER_FILE",
        "KCGW_EXCHANGE_URL",
        "KCGW_AUDIT_KEY_FILE",
    ):
        assert needed in message
    s = load_settings(
        {
            "KCGW_MODE": "prod",
            "KCGW_DATABASE_URL": "postgresql://db/kcgw",
            "KCGW_PEPPER_FILE": "/etc/kcgw/pepper",
            "KCGW_AUDIT_KEY_FILE": "/etc/kcgw/audit.keys",
            "KCGW_EXCHANGE_URL": "https://api.kucoin.com",
        }
    )
    assert not s.is_dev and s.sqlite_url() == "postgresql://db/kcgw"
    assert str(s.audit_key_path()) == "/etc/kcgw/audit.keys"
