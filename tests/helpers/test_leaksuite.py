"""The suite-wide leak scan can fail: a planted leak fails its test, naming the canary only."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pytest

from tests.helpers.leaksuite import Registry, _LogCapture, _record_response

pytest_plugins = ["pytester"]

PLANTED = """
import logging
import secrets

from tests.helpers import leaksuite

VALUE = "{value}"


def test_logs_a_registered_secret():
    leaksuite.register("planted", VALUE)
    logging.getLogger("kcgateway.somewhere").debug("connecting with %s", VALUE)


def test_prints_a_registered_secret():
    leaksuite.register("printed", VALUE)
    print("hmac", VALUE)


def test_clean():
    leaksuite.register("unused", secrets.token_hex(16))
    logging.getLogger("kcgateway.somewhere").debug("nothing to see")
"""

CONFTEST = """
from pathlib import Path

from tests.helpers import leaksuite


def pytest_configure(config):
    leaksuite.activate(config, Path(__file__).parent)
"""


def test_a_planted_leak_fails_its_test_without_showing_the_value(
    pytester: pytest.Pytester,
) -> None:
    value = secrets.token_hex(16)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_planted=PLANTED.format(value=value))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--show-capture=no")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    result.stdout.re_match_lines(
        [
            r"_+ test_logs_a_registered_secret _+",
            r"leak scan \(call\): 1 canary leak\(s\):",
            r"  planted \(raw\) in log kcgateway.somewhere DEBUG #\d+ at byte \d+",
            r"_+ test_prints_a_registered_secret _+",
            r"  printed \(raw\) in captured stdout at byte 5",
            r"leak scan: 3 tests scanned \(3 with canaries\), 3 canaries registered .* 2 hits",
        ]
    )
    assert value not in out and value.upper() not in out, "the report never shows the value"


def _registry_with(name: str, value: str) -> Registry:
    registry = Registry("t")
    registry.register(name, value)
    return registry


def test_log_extras_and_tracebacks_are_scanned() -> None:
    secret = secrets.token_hex(16)
    registry = _registry_with("s", secret)
    handler = _LogCapture(registry)
    log = logging.getLogger("leaksuite.selftest")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        log.debug("plain", extra={"headers": {"KC-API-SECRET": secret}})
        try:
            raise RuntimeError(f"bad {secret}")
        except RuntimeError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    wheres = {(h.where, h.form) for h in registry.scan()}
    assert wheres == {
        ("log leaksuite.selftest DEBUG #1", "raw"),
        ("log leaksuite.selftest ERROR #2", "raw"),
    }


def test_the_key_creating_response_is_allowed_once_and_only_there() -> None:
    from kcgateway.gateway.apikeys import issue_key
    from kcgateway.secret import Secret

    full = issue_key(Secret(secrets.token_hex(32))).full.reveal()
    registry = Registry("t")
    body = f'{{"key":"{full}","id":"x"}}'.encode()
    create = {"type": "http", "method": "POST", "path": "/v1/keys"}
    _record_response(registry, create, 201, b"content-type: application/json\n", body)
    assert len(registry.canaries) == 1, "the key in the creating answer is registered"
    assert registry.shown_once == 1
    assert registry.scan() == [], "and allowed in that answer"
    listing = {"type": "http", "method": "GET", "path": "/v1/keys"}
    _record_response(registry, listing, 200, b"", body)
    hits = registry.scan()
    assert [(h.form, h.where) for h in hits] == [("raw", "response GET /v1/keys -> 200")]


def test_a_hit_spanning_two_captures_is_not_a_leak_and_offsets_are_per_capture() -> None:
    secret = secrets.token_hex(16)
    registry = _registry_with("s", secret)
    registry.capture("a", b"xx" + secret[:10].encode())
    registry.capture("b", secret[10:].encode() + b"yy")
    registry.capture("c", b"zzz" + secret.encode())
    assert [(h.where, h.offset) for h in registry.scan() if h.form == "raw"] == [("c", 3)]


def test_short_canaries_are_refused_and_duplicates_share_a_name() -> None:
    registry = Registry("t")
    with pytest.raises(ValueError, match="shorter"):
        registry.register("short", "abc")
    value = secrets.token_hex(16)
    assert registry.register("a", value) == "a"
    assert registry.register("b", value) == "a"
    assert registry.register("a", secrets.token_hex(16)) == "a #2"


def test_scan_store_reads_the_data_dir_and_the_sqlite_file_and_wal(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from tests.helpers import leaksuite

    secret, kek = secrets.token_hex(16), secrets.token_bytes(32)
    data_dir, elsewhere = tmp_path / "data", tmp_path / "db"
    data_dir.mkdir()
    elsewhere.mkdir()
    (data_dir / "notes.txt").write_text("sealed only")
    (elsewhere / "gw.db").write_bytes(b"page" + kek)
    (elsewhere / "gw.db-wal").write_text(f"frame {secret}")
    db = SimpleNamespace(is_sqlite=True, engine=SimpleNamespace(url=SimpleNamespace(
        database=str(elsewhere / "gw.db"))))  # fmt: skip
    registry = _registry_with("account secret", secret)
    registry.register("KEK", kek)
    leaksuite._Active.registry = registry
    try:
        leaksuite.scan_store(data_dir, db, "open")
    finally:
        leaksuite._Active.registry = None
    assert {c.where.split(" /")[0] for c in registry.captures} == {
        "file gw.db (open)", "file gw.db-wal (open)", "file notes.txt (open)"
    }  # fmt: skip
    found = {(h.canary, h.form, h.where.split(" /")[0]) for h in registry.scan()}
    assert found == {
        ("account secret", "raw", "file gw.db-wal (open)"),
        ("KEK", "raw", "file gw.db (open)"),
    }
