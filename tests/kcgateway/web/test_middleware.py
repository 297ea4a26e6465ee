"""Nothing large is read before authentication: the body limit (413) and the key checked first.

These drive the app as an ASGI callable with a body fed in chunks, so each test can count how
much of the body the gateway pulled (the served, socket-level check is in test_main.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kcgateway.settings import load_settings
from kcgateway.web.app import create_app
from kcgateway.web.middleware import DEFAULT_MAX_BODY_BYTES
from tests.helpers.gateway import Stack, auth, gateway_stack, order_body

FIVE_MB = 5 * 1024 * 1024
CHUNK = 64 * 1024


class Exchange:
    """One request through the app: the body offered in chunks, the pulls counted."""

    def __init__(self, body_size: int, *, declare: bool, headers: dict[str, str]) -> None:
        self.body_size = body_size
        self.declare = declare
        self.headers = headers
        self.pulled = 0  # body bytes the app took
        self.status = 0
        self.response_headers: dict[str, str] = {}
        self.body = b""

    def scope(self, path: str) -> dict[str, Any]:
        headers = [(b"host", b"gw"), (b"content-type", b"application/json")]
        headers += [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
        if self.declare:
            headers.append((b"content-length", str(self.body_size).encode()))
        else:
            headers.append((b"transfer-encoding", b"chunked"))
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("gw", 80),
        }

    async def receive(self) -> dict[str, Any]:
        if self.pulled >= self.body_size:
            return {"type": "http.disconnect"}
        size = min(CHUNK, self.body_size - self.pulled)
        self.pulled += size
        more = self.pulled < self.body_size
        return {"type": "http.request", "body": b"x" * size, "more_body": more}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert self.status == 0, "one answer per request"
            self.status = message["status"]
            self.response_headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    async def run(self, app: Any, path: str = "/v1/orders") -> Exchange:
        await app(self.scope(path), self.receive, self.send)
        return self


async def _through(stack: Stack, size: int, *, declare: bool, key: str | None) -> Exchange:
    headers = auth(key) if key else {}
    return await Exchange(size, declare=declare, headers=headers).run(stack.app)


async def test_a_declared_oversize_body_is_refused_before_a_byte_is_read(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        for key in (None, tenant.admin_key):
            seen = await _through(stack, FIVE_MB, declare=True, key=key)
            assert seen.status == 413
            assert seen.pulled == 0, "nothing of the body is read"
            assert seen.response_headers["content-type"] == "application/json"
            assert seen.response_headers["connection"] == "close"
            assert b'"error":"body_too_large"' in seen.body
            assert str(DEFAULT_MAX_BODY_BYTES).encode() in seen.body, "the message names the limit"


async def test_an_undeclared_body_without_a_key_is_not_read_at_all(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        seen = await _through(stack, FIVE_MB, declare=False, key=None)
        assert seen.status == 401, seen.body
        assert seen.pulled == 0, f"read {seen.pulled} bytes before authenticating"


async def test_an_undeclared_oversize_body_is_cut_off_at_the_limit(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        seen = await _through(stack, FIVE_MB, declare=False, key=tenant.admin_key)
        assert seen.status == 413, seen.body
        assert b'"error":"body_too_large"' in seen.body
        assert seen.pulled <= DEFAULT_MAX_BODY_BYTES + CHUNK, "stops reading past the limit"
        text = (await stack.http.get("/metrics")).text
        assert 'route="/v1/orders",status="413"} 1.0' in text, "the refusal is counted"


async def test_invalid_json_without_a_key_is_a_401_and_with_one_a_422(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        garbage = b"{not json"
        headers = {"content-type": "application/json"}
        for path in ("/v1/orders", "/v1/keys", "/v1/accounts"):
            resp = await stack.http.post(path, content=garbage, headers=headers)
            assert resp.status_code == 401, (path, resp.text)
            assert resp.json()["error"] == "unauthenticated"
            good = {**headers, **auth(tenant.admin_key)}
            resp = await stack.http.post(path, content=garbage, headers=good)
            assert resp.status_code == 422, (path, resp.text)
            assert resp.json()["error"] == "invalid_request"


async def test_a_key_without_the_scope_is_refused_before_its_body_is_read(tmp_path: Path) -> None:
    from kcgateway.gateway.apikeys import Scope

    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        reader = await stack.key(tenant, Scope.READ)
        seen = await _through(stack, FIVE_MB, declare=False, key=reader)
        assert seen.status == 403, seen.body
        assert seen.pulled == 0


async def test_the_limit_is_configurable(tmp_path: Path) -> None:
    assert load_settings({}).max_body_bytes == DEFAULT_MAX_BODY_BYTES
    assert load_settings({"KCGW_MAX_BODY_BYTES": "2048"}).max_body_bytes == 2048
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t1")
        small = create_app(stack.services, max_body_bytes=100)
        exchange = Exchange(101, declare=True, headers=auth(tenant.admin_key))
        seen = await exchange.run(small)
        assert seen.status == 413 and b"limit of 100 bytes" in seen.body
        body = order_body("main")
        resp = await stack.http.post("/v1/orders", json=body, headers=auth(tenant.admin_key))
        assert resp.status_code == 201, "an ordinary order is far below the default limit"
