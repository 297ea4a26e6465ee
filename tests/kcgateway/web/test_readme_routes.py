"""Every route of the OpenAPI spec appears in the README's route table (docs drift caught here).

The table is the one under "## The gateway service": each ``METHOD /path`` in it (a bare
``/path`` is a GET) counts; path parameters match whatever their name, queries are ignored.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
_ROUTE = re.compile(r"`(?:(GET|POST|PUT|PATCH|DELETE) )?(/[^`?\s]*)")
_PARAM = re.compile(r"\{[^}]*\}")


def _table() -> set[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The gateway service", 1)[1].split("\n## ", 1)[0]
    routes = set()
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cells = line.split("|")[1]  # the route column
        for method, path in _ROUTE.findall(cells):
            routes.add((method or "GET", _PARAM.sub("{}", path.rstrip("/") or "/")))
    return routes


def _spec() -> set[tuple[str, str]]:
    spec = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    return {
        (method.upper(), _PARAM.sub("{}", path))
        for path, operations in spec["paths"].items()
        for method in operations
    }


def test_every_route_of_the_spec_is_in_the_readme_table() -> None:
    missing = sorted(f"{m} {p}" for m, p in _spec() - _table())
    assert not missing, f"add these routes to the README's route table: {missing}"
