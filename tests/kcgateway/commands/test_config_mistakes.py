"""Configuration mistakes end in one or two lines that say what to fix, never a traceback.

Each test runs the real ``kcgateway`` command (typer's CliRunner, or a subprocess holding the
data directory) with one mistake: a pepper file of raw random bytes (accepted) or too few of
them, a database that is unreachable, a role or a database that does not exist, a second
``serve`` on a data directory another process serves.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from kcgateway.cli import app
from kcgateway.main import pepper_text
from tests.helpers.databases import postgres_user_or_skip


def _cli(tmp_path: Path, *args: str, **env: str) -> Result:
    base = {"KCGW_DATA_DIR": str(tmp_path / "data"), "KCGW_MODE": "dev"}
    return CliRunner().invoke(app, list(args), env={**base, **env})


def _short(result: Result, code: int = 1) -> str:
    """The output of a failed command: at most two lines, no traceback."""
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.output
    assert "Traceback" not in result.output and "│" not in result.output, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    return result.output


def _raw_bytes(n: int) -> bytes:
    while True:  # random bytes that are not UTF-8 text (nearly always the first draw)
        raw = os.urandom(n)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw


def _pepper(tmp_path: Path, raw: bytes) -> str:
    path = tmp_path / "pepper.bin"
    path.write_bytes(raw)
    path.chmod(0o600)
    return str(path)


def test_a_pepper_of_raw_random_bytes_is_accepted(tmp_path: Path) -> None:
    raw = _raw_bytes(32)
    pepper = _pepper(tmp_path, raw)
    result = _cli(tmp_path, "tenants", "create", "acme", KCGW_PEPPER_FILE=pepper)
    assert result.exit_code == 0, result.output
    assert pepper_text(Path(pepper)) == raw.hex()  # the same pepper on every start


def test_a_pepper_of_too_few_raw_bytes_is_refused_in_one_line(tmp_path: Path) -> None:
    pepper = _pepper(tmp_path, _raw_bytes(16))
    out = _short(_cli(tmp_path, "tenants", "list", KCGW_PEPPER_FILE=pepper))
    assert "too short" in out and "32+ random bytes" in out


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_an_unreachable_database_is_named(tmp_path: Path, closed_port: int) -> None:
    password = secrets.token_hex(8)  # never shown
    url = f"postgresql+asyncpg://kcgw:{password}@127.0.0.1:{closed_port}/kcgw"
    out = _short(_cli(tmp_path, "tenants", "list", KCGW_DATABASE_URL=url))
    assert f"127.0.0.1:{closed_port}" in out and "connection refused" in out
    assert password not in out
    out = _short(_cli(tmp_path, "tenants", "list", KCGW_DATABASE_URL=url.replace(
        "127.0.0.1", "no-such-host.invalid")))  # fmt: skip
    assert "does not resolve" in out


def test_a_missing_role_and_a_missing_database_are_named(tmp_path: Path) -> None:
    user = postgres_user_or_skip()  # a failure in CI, where PostgreSQL is required
    url = "postgresql+asyncpg://no_such_role_kcgw@127.0.0.1:5432/test"
    out = _short(_cli(tmp_path, "tenants", "list", KCGW_DATABASE_URL=url))
    assert "role 'no_such_role_kcgw'" in out and "CREATE ROLE" in out
    url = f"postgresql+asyncpg://{user}@127.0.0.1:5432/no_such_db_kcgw"
    out = _short(_cli(tmp_path, "tenants", "list", KCGW_DATABASE_URL=url))
    assert "database 'no_such_db_kcgw' does not exist" in out and "createdb" in out


def test_a_data_directory_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = _cli(tmp_path, "tenants", "list", KCGW_DATA_DIR=str(blocker / "data"))
    assert "cannot create the data directory" in _short(result)


HOLDER = """
import sys, time
from pathlib import Path
from kcgateway.runlock import hold_data_dir
with hold_data_dir(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_second_serve_on_the_same_data_directory_names_the_first(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    with subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", HOLDER, str(data)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    ) as holder:  # fmt: skip
        assert holder.stdin is not None and holder.stdout is not None
        try:
            assert holder.stdout.readline().strip() == "held"
            out = _short(_cli(tmp_path, "serve", "--port", "0"))
            assert f"pid {holder.pid}" in out and str(data) in out
            assert "another kcgateway serve" in out
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)
    assert (data / "serve.lock").read_text() == ""  # the holder emptied it on the way out
