"""Fail when detect-secrets finds a likely credential in a tracked file.

Test credentials are generated at test time; the only fixed keys in the tree are the public
test vectors under ../shared (not tracked here) and values explicitly marked `# pragma: allowlist secret`.
"""

from __future__ import annotations

import json
import subprocess
import sys


def main() -> int:
    # Tracked files and new files git does not ignore: a secret must not slip in before `git add`.
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--",
         "src", "tests", "bench", "docs", "README.md", "Makefile", "pyproject.toml"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    if not files:
        return 0
    out = subprocess.run(
        [sys.executable, "-m", "detect_secrets", "scan", "--exclude-files", r"public_vectors", *files],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    results = json.loads(out)["results"]
    for path, hits in results.items():
        for hit in hits:
            print(f"possible secret: {path}:{hit['line_number']} ({hit['type']})")
    if results:
        print("Remove the secret, generate it at test time, or mark a public test value with")
        print("'# pragma: allowlist secret' after checking that it is not a real credential.")
        return 1
    print(f"secrets gate: {len(files)} files clean")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
