"""Suite-wide leak scan (issue #7): every test of a directory runs under the vault's leak scanner.

A directory opts in from its ``conftest.py``::

    from tests.helpers import leaksuite

    def pytest_configure(config: pytest.Config) -> None:
        leaksuite.activate(config, Path(__file__).parent)

For each test under such a directory the plugin

- opens a :class:`Registry` of canaries. The helpers register every secret where they make it
  (``tests/helpers/gateway.py``: the pepper, the KEK bytes, the gateway keys;
  ``EmbeddedSim.create_account`` is wrapped here: each simulator key's secret, passphrase and
  passphrase HMAC). A test registers secrets it makes itself with :func:`register`.
- captures every log record at DEBUG on the root logger (message, traceback, stack and ``extra``
  fields), every response and WebSocket message of every gateway app a helper wrapped with
  :func:`capture_app`, every ``CliRunner.invoke`` output, the test's captured stdout/stderr, and
  the gateway database files :func:`scan_store` reads when a ``gateway_stack`` ends (the SQLite
  file and its WAL while open, and again after close).
- after the test, searches all of it for every canary in every encoding
  (:class:`tests.helpers.leakscan.LeakScanner`) and fails the test with the hit list: canary
  name, encoding form and where. Never the value.

The one response that creates or rotates a gateway key shows that key by design (SECURITY.md
section 2): the key is registered from that response and allowed in it, and only in it.

``KCGW_LEAKSUITE_REPORT=<file>`` appends one JSON line with the totals at the end of the run.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Generator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.leakscan import MIN_NEEDLE, Hit, LeakScanner, forms, passphrase_hmac

PLUGIN_NAME = "kcgw-leaksuite"
_KEY_ROUTE = re.compile(r"^/v1/keys(/[^/]+/rotate)?$")
#: the console's page that shows a key it just created or rotated, once (web/console)
_CONSOLE_KEY_ROUTE = re.compile(r"^/ui/keys(/[^/]+/rotate)?$")
_CONSOLE_KEY = re.compile(rb'<output id="new-key"[^>]*>(kgw_[A-Za-z0-9_]+)</output>')
_BOT_ROUTE = re.compile(r"^/v1/bots(/[^/]+/rotate-secret)?$")
_FACADE_ROUTE = re.compile(r"^/v1/keys/[^/]+/kucoin-credentials$")
_BULLET_PRIVATE = "/api/v1/bullet-private"
_SEPARATOR = b"\n\x00\x00\n"
_STANDARD_RECORD_KEYS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

# Loggers opened up for the test: the root at DEBUG, and SQLAlchemy (which sets itself to WARN)
# at INFO, so statements and their parameters are scanned on PostgreSQL too (on SQLite the
# aiosqlite DEBUG records already carry them). Not DEBUG: result rows come from the database
# files, which are scanned as files.
LEVELS = {"": logging.DEBUG, "sqlalchemy": logging.INFO}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass
class Capture:
    """Bytes the code under test produced, where they came from, and canaries allowed there."""

    where: str
    data: bytes
    allowed: set[str] = field(default_factory=set)


@dataclass
class Registry:
    """The canaries and the captured output of one test."""

    test_id: str
    canaries: dict[str, str | bytes] = field(default_factory=dict)
    captures: list[Capture] = field(default_factory=list)
    shown_once: int = 0  # keys registered from (and allowed in) their creating response

    def register(self, name: str, value: str | bytes) -> str:
        """Add a canary; returns its (made unique) name. A value already known is not re-added."""
        for known, old in self.canaries.items():
            if old == value:
                return known
        if len(value) < MIN_NEEDLE:
            raise ValueError(f"canary {name} is shorter than {MIN_NEEDLE} characters")
        unique, n = name, 1
        while unique in self.canaries:
            n += 1
            unique = f"{name} #{n}"
        self.canaries[unique] = value
        return unique

    def capture(self, where: str, data: bytes, allowed: set[str] | None = None) -> None:
        """Keep ``data`` for the scan at the end of the test."""
        if data:
            self.captures.append(Capture(where, data, allowed or set()))

    def scan(self) -> list[Hit]:
        """Every canary in every capture, minus the ones allowed where they were found.

        One pass per needle over the concatenated captures (linear in the captured bytes);
        a hit is mapped back to its capture and must lie wholly inside it.
        """
        if not self.canaries or not self.captures:
            return []
        scanner = LeakScanner(self.canaries)
        blob = _SEPARATOR.join(c.data for c in self.captures)
        starts, pos = [], 0
        for c in self.captures:
            starts.append(pos)
            pos += len(c.data) + len(_SEPARATOR)
        lengths = {
            (name, form): len(needle)
            for name, value in self.canaries.items()
            for form, needle in forms(value).items()
        }
        hits = []
        for raw in scanner.scan_bytes(blob, "captures"):
            index = bisect.bisect_right(starts, raw.offset) - 1
            found = self.captures[index]
            offset = raw.offset - starts[index]
            if offset + lengths[(raw.canary, raw.form)] > len(found.data):
                continue  # spans two captures: not a leak of either
            if raw.canary not in found.allowed:
                hits.append(Hit(raw.canary, raw.form, found.where, offset))
        return hits


class _Active:
    """The registry of the running scanned test (None outside one)."""

    registry: Registry | None = None


def current() -> Registry | None:
    """The registry of the running scanned test (None outside one)."""
    return _Active.registry


def register(name: str, value: str | bytes) -> None:
    """Register a secret the test made; a no-op outside a scanned test."""
    if _Active.registry is not None:
        _Active.registry.register(name, value)


def register_exchange_key(api_key: str, secret: str, passphrase: str) -> None:
    """An exchange (simulator) key: its secret, passphrase and the passphrase HMAC v2/v3 send."""
    register(f"exchange key {api_key} secret", secret)
    register(f"exchange key {api_key} passphrase", passphrase)
    register(
        f"exchange key {api_key} passphrase HMAC",
        passphrase_hmac(secret=secret, passphrase=passphrase),
    )


def _key_parts(full_key: str) -> tuple[str, str] | None:
    from kcgateway.gateway.apikeys import parse_key

    presented = parse_key(full_key)
    if presented is None:
        return None
    return presented.key_id, full_key.split("_")[2]


def register_gateway_key(full_key: str, registry: Registry | None = None) -> str | None:
    """A gateway key (``kgw_<id>_<secret>_<crc>``): its secret part is the canary."""
    registry = _Active.registry if registry is None else registry
    parts = _key_parts(full_key)
    if parts is None or registry is None:
        return None
    return registry.register(f"gateway key {parts[0]} secret", parts[1])


# --- capture points ---------------------------------------------------------------------------


class _LogCapture(logging.Handler):
    """Keeps each record as text: message, traceback, stack and any ``extra`` fields."""

    def __init__(self, registry: Registry) -> None:
        super().__init__(logging.DEBUG)
        self.registry = registry
        self.count = 0
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception as exc:  # a broken record is still scanned, by its parts
            text = f"{record.msg!r} {record.args!r} ({exc!r})"
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_RECORD_KEYS}
        if extras:
            text += f" extra={extras!r}"
        self.count += 1
        self.registry.capture(f"log {record.name} {record.levelname} #{self.count}", text.encode())


def capture_app(app: Any) -> Any:
    """Record every HTTP response (head and body) and WebSocket message ``app`` produces.

    Added as the outermost middleware, so ``app`` itself is returned (still a FastAPI app).
    """
    app.add_middleware(_CaptureMiddleware)
    return app


class _CaptureMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        registry = _Active.registry
        if registry is None or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        head: list[bytes] = []
        chunks: list[bytes] = []
        status: list[int] = []

        async def keep(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                status.append(message["status"])
                head.extend(b"%s: %s\n" % (k, v) for k, v in message.get("headers", []))
            elif kind == "http.response.body":
                chunks.append(message.get("body", b""))
            elif kind == "websocket.send":
                text = message.get("text")
                chunks.append(text.encode() if text is not None else message.get("bytes") or b"")
                chunks.append(b"\n")
            elif kind in ("websocket.close", "websocket.http.response.start"):
                chunks.append(str(message).encode())
            await send(message)

        try:
            await self.app(scope, receive, keep)
        finally:
            code = status[0] if status else 0
            _record_response(registry, scope, code, b"".join(head), b"".join(chunks))


def _record_response(
    registry: Registry, scope: Scope, status: int, head: bytes, body: bytes
) -> None:
    method = scope.get("method", "WS")
    path = scope.get("path", "")
    allowed: set[str] = set()
    if method == "POST" and status == 201 and _KEY_ROUTE.match(path):
        # the one answer that shows a new key (SECURITY.md section 2): allowed here only
        try:
            full = json.loads(body)["key"]
        except (ValueError, KeyError, TypeError):
            full = None
        name = register_gateway_key(full, registry) if isinstance(full, str) else None
        if name is not None:
            allowed.add(name)
            registry.shown_once += 1
    shown = (
        _CONSOLE_KEY.search(body) if method == "POST" and _CONSOLE_KEY_ROUTE.match(path) else None
    )
    if shown is not None and status == 200:
        name = register_gateway_key(shown.group(1).decode(), registry)
        if name is not None:
            allowed.add(name)
            registry.shown_once += 1
    if method == "POST" and status in (200, 201) and _BOT_ROUTE.match(path):
        allowed |= _bot_secret(registry, path, body)
    if method == "POST" and status == 201 and _FACADE_ROUTE.match(path):
        allowed |= _register_facade_credentials(registry, body)
    if method == "POST" and status == 200 and path == _BULLET_PRIVATE:
        allowed |= _register_ws_token(registry, body)
    registry.capture(f"response {method} {path} -> {status}", head + body, allowed)


def _bot_secret(registry: Registry, path: str, body: bytes) -> set[str]:
    """A new bot signal secret: registered from the one answer that shows it, allowed there."""
    try:
        secret = json.loads(body)["secret"]
    except (ValueError, KeyError, TypeError):
        return set()
    if not isinstance(secret, str):
        return set()
    registry.shown_once += 1
    return {registry.register(f"bot signal secret ({path})", secret)}


def _register_facade_credentials(registry: Registry, body: bytes) -> set[str]:
    """KuCoin-form credentials the facade issued: canaries everywhere but in this answer."""
    try:
        made = json.loads(body)
        api_key, secret, passphrase = made["apiKey"], made["secret"], made["passphrase"]
    except (ValueError, KeyError, TypeError):
        return set()
    registry.shown_once += 1
    return {
        registry.register(f"facade key {api_key} secret", secret),
        registry.register(f"facade key {api_key} passphrase", passphrase),
    }


def _register_ws_token(registry: Registry, body: bytes) -> set[str]:
    """A private WebSocket token of the facade: a canary everywhere but in its bullet answer."""
    try:
        token = json.loads(body)["data"]["token"]
    except (ValueError, KeyError, TypeError):
        return set()
    if not isinstance(token, str):
        return set()
    registry.shown_once += 1
    return {registry.register("facade WebSocket token", token)}


def scan_store(data_dir: Path, db: Any, moment: str) -> None:
    """Capture the gateway's files: everything under ``data_dir`` and the SQLite file + WAL."""
    registry = _Active.registry
    if registry is None:
        return
    paths = {p for p in data_dir.rglob("*") if p.is_file()} if data_dir.is_dir() else set()
    database = db.engine.url.database if db.is_sqlite else None
    if database and database != ":memory:":
        base = Path(database)
        paths |= {Path(f"{base}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")}
    for path in sorted(paths):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        registry.capture(f"file {path.name} ({moment}) {path}", data)


def _patched_create_account(original: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    def create_account(self: Any, spec: dict[str, Any]) -> dict[str, Any]:
        account = original(self, spec)
        register_exchange_key(account["apiKey"], account["secret"], account["passphrase"])
        return account

    return create_account


def _patched_invoke(original: Callable[..., Any]) -> Callable[..., Any]:
    def invoke(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if _Active.registry is not None:
            out = result.stdout_bytes + b"\n" + (result.stderr_bytes or b"")
            if result.exception is not None:
                out += b"\n" + repr(result.exception).encode()
            n = sum(c.where.startswith("cli output") for c in _Active.registry.captures) + 1
            _Active.registry.capture(f"cli output #{n}", out)  # not the args: they may hold one
        return result

    return invoke


# --- the pytest plugin ------------------------------------------------------------------------


@dataclass
class Totals:
    tests: int = 0
    tests_with_canaries: int = 0
    canaries: int = 0
    captured_bytes: int = 0
    keys_shown_once: int = 0
    hits: int = 0
    scan_seconds: float = 0.0
    failed_tests: list[str] = field(default_factory=list)


class LeakSuitePlugin:
    """Runs the scan for every test under an activated directory."""

    def __init__(self) -> None:
        self.dirs: set[Path] = set()
        self.totals = Totals()
        self._handler: _LogCapture | None = None
        self._levels: dict[str, int] = {}
        self._undo: list[Callable[[], None]] = []
        self._reported: set[Hit] = set()

    def applies(self, item: pytest.Item) -> bool:
        return any(item.path.is_relative_to(d) for d in self.dirs)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if not self.applies(item):
            return
        _Active.registry = Registry(item.nodeid)
        self._reported = set()
        self._handler = _LogCapture(_Active.registry)
        root = logging.getLogger()
        root.addHandler(self._handler)
        for name, level in LEVELS.items():
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(level)
        self._patch()

    def _patch(self) -> None:
        from typer.testing import CliRunner

        from kcgateway.devmode import EmbeddedSim

        for owner, name, wrap in (
            (EmbeddedSim, "create_account", _patched_create_account),
            (CliRunner, "invoke", _patched_invoke),
        ):
            original = vars(owner)[name]
            setattr(owner, name, wrap(original))
            self._undo.append(lambda owner=owner, name=name, original=original: setattr(
                owner, name, original
            ))  # fmt: skip

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        registry = _Active.registry
        if registry is None or not self.applies(item):
            return report
        if call.when == "call":
            registry.capture("captured stdout", report.capstdout.encode())
            registry.capture("captured stderr", report.capstderr.encode())
            self._check(report, registry, call.when)
        elif call.when == "teardown":
            try:
                self._check(report, registry, call.when)  # what fixtures did while closing
            finally:
                self._finish(registry)
        return report

    def _check(self, report: pytest.TestReport, registry: Registry, when: str) -> None:
        started = time.perf_counter()
        hits = [h for h in registry.scan() if h not in self._reported]
        self.totals.scan_seconds += time.perf_counter() - started
        if not hits:
            return
        self._reported.update(hits)
        self.totals.hits += len(hits)
        self.totals.failed_tests.append(registry.test_id)
        listing = "\n".join(f"  {hit}" for hit in hits[:50])
        more = f"\n  ... and {len(hits) - 50} more" if len(hits) > 50 else ""
        text = f"leak scan ({when}): {len(hits)} canary leak(s):\n{listing}{more}"
        if report.failed:
            report.sections.append(("leak scan", text))
        else:
            report.outcome = "failed"
            report.longrepr = text

    def _finish(self, registry: Registry) -> None:
        self.totals.tests += 1
        self.totals.canaries += len(registry.canaries)
        self.totals.tests_with_canaries += bool(registry.canaries)
        self.totals.keys_shown_once += registry.shown_once
        self.totals.captured_bytes += sum(len(c.data) for c in registry.captures)
        root = logging.getLogger()
        if self._handler is not None:
            root.removeHandler(self._handler)
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
        self._levels.clear()
        while self._undo:
            self._undo.pop()()
        self._handler = None
        _Active.registry = None

    def summary(self) -> str:
        t = self.totals
        return (
            f"leak scan: {t.tests} tests scanned ({t.tests_with_canaries} with canaries), "
            f"{t.canaries} canaries registered ({t.keys_shown_once} keys from the response "
            f"that shows them once), {t.captured_bytes} bytes captured, "
            f"{t.hits} hits; {t.scan_seconds:.2f} s scanning"
        )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.totals.tests:
            terminalreporter.write_line(self.summary())
            if self.totals.failed_tests:
                terminalreporter.write_line(
                    "leak scan failed in: " + ", ".join(self.totals.failed_tests)
                )
        out = os.environ.get("KCGW_LEAKSUITE_REPORT")
        if out:
            with open(out, "a", encoding="utf-8") as f:
                f.write(json.dumps(vars(self.totals)) + "\n")


def activate(config: pytest.Config, directory: Path) -> None:
    """Scan every test under ``directory`` (call from that directory's ``pytest_configure``)."""
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if plugin is None:
        plugin = LeakSuitePlugin()
        config.pluginmanager.register(plugin, PLUGIN_NAME)
    plugin.dirs |= {directory, directory.resolve()}
