"""Write the committed OpenAPI document: ``python -m kcgateway.web.openapi [PATH]`` (make openapi).

The document is deterministic (sorted keys, 2-space indent, trailing newline), so the test in
``tests/kcgateway/web/test_openapi.py`` can fail whenever the routes and the file disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kcgateway.web.app import openapi_text

DEFAULT_PATH = Path("docs/openapi.json")


def write(path: Path = DEFAULT_PATH) -> bool:
    """Write the document to ``path``; True when the file changed."""
    text = openapi_text()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    """Entry point: the path is the only (optional) argument."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_PATH
    changed = write(path)
    sys.stdout.write(f"{path}: {'updated' if changed else 'up to date'}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through make openapi
    raise SystemExit(main())
