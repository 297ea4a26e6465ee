"""The committed docs/openapi.json is what the app generates, and every answer is described."""

from __future__ import annotations

import json
from pathlib import Path

from kcgateway.web import openapi
from kcgateway.web.app import openapi_document, openapi_text
from tests.helpers.gateway import gateway_stack

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def test_committed_spec_matches_the_routes() -> None:
    assert COMMITTED.is_file(), "docs/openapi.json is missing: run make openapi"
    committed = COMMITTED.read_text(encoding="utf-8")
    assert committed == openapi_text(), (
        "docs/openapi.json differs from the routes: run make openapi"
    )


def test_generation_is_deterministic_and_sorted(tmp_path: Path) -> None:
    first = openapi_text()
    assert first == openapi_text()
    assert first.endswith("}\n")
    assert (
        first == json.dumps(json.loads(first), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )
    target = tmp_path / "out" / "openapi.json"
    assert openapi.main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == first
    assert openapi.write(target) is False  # unchanged: not rewritten
    target.write_text("{}\n", encoding="utf-8")
    assert openapi.write(target) is True
    assert target.read_text(encoding="utf-8") == first


async def test_the_route_serves_the_committed_document(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        served = (await stack.http.get("/openapi.json")).json()
    assert served == json.loads(COMMITTED.read_text(encoding="utf-8"))


def test_every_operation_describes_its_answers() -> None:
    doc = openapi_document()
    schemas = doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            ok = [s for s in responses if s.startswith(("2", "303"))]  # 303: a browser redirect
            assert ok, f"{method} {path} documents no success"
            for status, answer in responses.items():
                content = answer.get("content")
                if status in ("204", "303"):
                    assert not content, f"{method} {path} {status} has a body"
                    continue
                assert content, f"{method} {path} {status} has no body schema"
                if path == "/metrics" or "text/event-stream" in content:
                    continue
                schema = content["application/json"]["schema"]
                assert schema != {}, f"{method} {path} {status} has an empty schema"
                if status.startswith(("4", "5")) and path.startswith("/v1"):
                    refs = json.dumps(schema)
                    assert "ErrorOut" in refs, f"{method} {path} {status}: {refs}"
            if path.startswith("/v1"):  # a public /v1 route (bot signals) answers 401 only
                needed = {"401", "403"} if "x-required-scope" in op else {"401"}
                assert needed <= set(responses), f"{method} {path}"
    # money is a decimal string, never a number
    for name in ("OrderOut", "BalanceOut", "SymbolOut"):
        for field, spec in schemas[name]["properties"].items():
            assert spec.get("type") != "number", f"{name}.{field}"
    price = schemas["OrderOut"]["properties"]["price"]["anyOf"][0]
    assert price["type"] == "string" and "decimal" in price["description"]
    assert "HTTPValidationError" not in schemas, "422 must be our ErrorOut, not FastAPI's shape"


async def test_guarded_operations_declare_the_bearer_key_and_their_scope(tmp_path: Path) -> None:
    from fastapi.routing import APIRoute, APIWebSocketRoute

    from kcgateway.web.app import create_app
    from kcgateway.web.auth import ScopeGuard

    async with gateway_stack(tmp_path) as stack:
        app = create_app(stack.services)
        doc = app.openapi()
    assert doc["components"]["securitySchemes"]["gatewayKey"]["scheme"] == "bearer"
    checked = 0
    for route in app.routes:
        if isinstance(route, APIWebSocketRoute):  # /v1/events/ws: not an OpenAPI operation
            continue
        assert isinstance(route, APIRoute)
        if not route.include_in_schema:
            continue
        guards = [d.call for d in route.dependant.dependencies if isinstance(d.call, ScopeGuard)]
        for method in route.methods:
            op = doc["paths"][route.path][method.lower()]
            if guards[0].scope is None:
                assert "security" not in op, route.path
            else:
                assert op["security"] == [{"gatewayKey": []}]
                assert op["x-required-scope"] == guards[0].scope.value
                checked += 1
    assert checked >= 13
