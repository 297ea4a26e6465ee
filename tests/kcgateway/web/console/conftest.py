"""A real gateway served by uvicorn on loopback (port 0) over the embedded simulator, and one
Chromium per module driven by Playwright.

The gateway runs in its own thread with its own event loop (Playwright's sync API runs in the
test's thread); :meth:`Served.run` runs a coroutine on the gateway's loop. Each test gets a
fresh browser context (no cookie or storage carried over) and, after it, the check that
``localStorage`` and ``sessionStorage`` hold nothing and that no page logged a
Content-Security-Policy violation or a script error.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn

from kcgateway.gateway.apikeys import Scope
from tests.helpers import leaksuite
from tests.helpers.gateway import Stack, Tenant, gateway_stack

playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("KCGW_TEST_ARTIFACTS", "test-artifacts")) / "console"
T = TypeVar("T")
#: the web-storage entries a console page may leave (htmx keeps the current path)
ALLOWED_STORAGE = frozenset({"htmx-current-path-for-history"})


@dataclass
class Served:
    """The served gateway: its URL, the stack, and the keys the tests sign in with."""

    base: str
    stack: Stack
    loop: asyncio.AbstractEventLoop
    keys: dict[str, str] = field(default_factory=dict)
    tenants: dict[str, Tenant] = field(default_factory=dict)

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the gateway's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=60)

    def url(self, path: str) -> str:
        return self.base + path


async def _serve(tmp: Path, ready: Future[Served], stop: asyncio.Event) -> None:
    async with gateway_stack(tmp) as stack:
        t1 = await stack.add_tenant("t1")
        t2 = await stack.add_tenant("t2")
        keys = {
            "admin": t1.admin_key,
            "admin2": t2.admin_key,
            "read": await stack.key(t1, Scope.READ),
        }
        config = uvicorn.Config(
            stack.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
            proxy_headers=False, access_log=False,
        )  # fmt: skip
        server = uvicorn.Server(config)
        task = asyncio.get_running_loop().create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        tenants = {"t1": t1, "t2": t2}
        ready.set_result(Served(f"http://127.0.0.1:{port}", stack, loop, keys, tenants))
        await stop.wait()
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("console")
    ready: Future[Served] = Future()
    stopping: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def main() -> None:
        async def body() -> None:
            stop = asyncio.Event()
            stopping.append((asyncio.get_running_loop(), stop))
            await _serve(tmp, ready, stop)

        try:
            asyncio.run(body())
        except BaseException as exc:  # surfaces a failed start in the test, not the thread
            if not ready.done():
                ready.set_exception(exc)
            raise

    thread = threading.Thread(target=main, name="console-gateway", daemon=True)
    thread.start()
    try:
        yield ready.result(timeout=60)
    finally:
        if stopping:
            loop, stop = stopping[0]
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)


def _chromium() -> Path:
    if not CHROMIUM.exists():
        found = shutil.which("chromium")
        if found is None:
            pytest.fail("no /usr/bin/chromium: run `apt-get install -y chromium` (make test does)")
        return Path(found)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(_chromium()), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Browsing:
    """One test's browser context, what its pages logged, and its screenshots."""

    context: Any
    served: Served
    problems: list[str] = field(default_factory=list)

    def page(self) -> Any:
        page = self.context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        return page

    def _console(self, message: Any) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type}: {message.text}")

    def sign_in(self, key: str) -> Any:
        page = self.page()
        page.goto(self.served.url("/ui/login"))
        page.fill("#key", key)
        page.click("#sign-in")
        page.wait_for_url(self.served.url("/ui"))
        return page

    def shot(self, page: Any, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def storage(self) -> list[str]:
        """What the context's pages keep in localStorage/sessionStorage that they must not.

        Allowed: htmx's own ``htmx-current-path-for-history`` (the page's path, never a
        token: the console puts none in a URL). Anything else, and any key, session token or
        CSRF token anywhere in storage, is reported.
        """
        secrets = ["kgw_", *(c["value"] for c in self.context.cookies())]
        found = []
        for page in self.context.pages:
            if page.is_closed() or not page.url.startswith("http"):
                continue
            local, session = page.evaluate(
                "() => [Object.entries(localStorage), Object.entries(sessionStorage)]"
            )
            csrf = page.locator("input[name=csrf]")
            if csrf.count():
                secrets.append(csrf.first.get_attribute("value"))
            for name, value in [*local, *session]:
                if name not in ALLOWED_STORAGE or any(s and s in value for s in secrets):
                    found.append(f"{page.url}: {name}")
        return found


@pytest.fixture
def browsing(browser: Any, served: Served) -> Iterator[Browsing]:
    for key in served.keys.values():  # every test's leak registry knows the module's keys
        leaksuite.register_gateway_key(key)
    context = browser.new_context()
    context.set_default_timeout(10_000)
    session = Browsing(context, served)
    try:
        yield session
        assert session.storage() == [], "the console must keep no secret in web storage"
        # the error pages' own status (403, 422) is logged by Chromium as a failed load
        benign = re.compile(r"Failed to load resource: the server responded with a status of")
        problems = [p for p in session.problems if not benign.search(p)]
        assert problems == [], problems
    finally:
        context.close()
