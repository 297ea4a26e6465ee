"""docs/kcgateway.example.toml covers every setting and loads through the settings loader.

A setting added to Settings without a line in the example (set, or commented out as ``# name =
value``), a key the loader refuses, or an environment variable the file does not name fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from kcgateway.settings import _ENV_FIELDS, Mode, Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "kcgateway.example.toml"
_COMMENTED = re.compile(r"^#\s*([a-z_]+)\s*=(.*)$", re.MULTILINE)


def _commented(text: str) -> dict[str, str]:
    """The settings shown commented out: name -> its ``name = value`` line."""
    return {
        m[1]: f"{m[1]} ={m[2]}" for m in _COMMENTED.finditer(text) if m[1] in Settings.model_fields
    }


def test_every_setting_is_in_the_example() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    active = set(tomllib.loads(text))
    commented = _commented(text)
    missing = set(Settings.model_fields) - active - set(commented)
    assert not missing, f"add these settings to {EXAMPLE.name}: {sorted(missing)}"
    assert not active & set(commented), "a setting is both set and commented out"
    unnamed = [var for var in _ENV_FIELDS if var not in text]
    assert not unnamed, f"name these variables in {EXAMPLE.name}: {unnamed}"


def test_the_example_loads_as_written_and_with_every_line_enabled(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    settings = load_settings(environ={}, config_file=EXAMPLE)
    assert settings.mode is Mode.PROD  # prod refuses dev defaults, so the file names them all
    assert set(tomllib.loads(text)) <= settings.model_fields_set
    enabled = tmp_path / "all.toml"
    enabled.write_text(text + "\n" + "\n".join(_commented(text).values()) + "\n")
    everything = load_settings(environ={}, config_file=enabled)
    assert everything.model_fields_set == set(Settings.model_fields)
