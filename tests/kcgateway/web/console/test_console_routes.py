"""Every console route is declared; without a session each one is closed (no browser here)."""

from __future__ import annotations

from pathlib import Path

from fastapi.routing import APIRoute, APIWebSocketRoute

from kcgateway.web.app import openapi_document
from kcgateway.web.console import ROUTE_ACCESS
from kcgateway.web.console.render import CSP
from tests.helpers.gateway import gateway_stack


def _console_routes(app: object) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIWebSocketRoute):  # /v1/events/ws: not a console route
            assert not route.path.startswith(("/ui", "/docs")), route.path
            continue
        assert isinstance(route, APIRoute)
        if route.path in ("/ui", "/docs") or route.path.startswith(("/ui/", "/docs/")):
            assert not route.include_in_schema, route.path
            found |= {(method, route.path) for method in route.methods}
    return found


async def test_every_console_route_is_declared_and_closed_without_a_session(
    tmp_path: Path,
) -> None:
    async with gateway_stack(tmp_path) as stack:
        assert _console_routes(stack.app) == set(ROUTE_ACCESS)
        forged = stack.client()
        forged.cookies.set("kcgw_console", "forged")
        for (method, path), access in ROUTE_ACCESS.items():
            if access != "session":
                continue
            url = path.replace("{order_id}", "x").replace("{key_id}", "x")
            answer = await forged.request(method, url, data={"csrf": "x"})
            if method == "GET":
                assert (answer.status_code, answer.headers["location"]) == (303, "/ui/login")
            else:
                assert answer.status_code == 401, (method, path)
                assert "sign in again" in answer.text
            assert answer.headers["content-security-policy"] == CSP
        await forged.aclose()
    assert not [p for p in openapi_document()["paths"] if p.startswith("/ui")]


async def test_sign_in_needs_the_forms_own_nonce_and_static_files_are_a_fixed_list(
    tmp_path: Path,
) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("t")
        form = {"key": tenant.admin_key, "nonce": "guessed"}
        answer = await stack.http.post("/ui/login", data=form)  # no cookie: another site's form
        assert answer.status_code == 403 and "kcgw_console" not in answer.headers.get(
            "set-cookie", ""
        )
        page = await stack.http.get("/ui/login")
        nonce = page.cookies["kcgw_login"]
        assert f'value="{nonce}"' in page.text
        browser = stack.client()
        browser.cookies.set("kcgw_login", nonce)
        answer = await browser.post("/ui/login", data={**form, "nonce": nonce})
        assert answer.status_code == 303
        await browser.aclose()
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
        assert "Secure" not in cookie  # plain HTTP here; on TLS the cookie is Secure
        # behind a TLS proxy: Secure when a trusted proxy says https, never for anyone else
        tls = {"x-forwarded-proto": "https"}
        assert (
            "Secure" not in (await stack.http.get("/ui/login", headers=tls)).headers["set-cookie"]
        )
        stack.services.trusted_proxies = ("127.0.0.1/32",)
        assert "Secure" in (await stack.http.get("/ui/login", headers=tls)).headers["set-cookie"]
        js = await stack.http.get("/ui/static/htmx.min.js")
        assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
        assert js.text.startswith("var htmx=")
        for name in ("../render.py", "templates%2Fbase.html", "nope.js"):
            assert (await stack.http.get(f"/ui/static/{name}")).status_code == 404
