"""How the console answers: Jinja2 pages with strict security headers, its cookies, its forms.

Every console response goes through :func:`page` or :func:`redirect`, which set:

- ``Content-Security-Policy`` with no inline script or style and no other origin (htmx and
  the console's script and stylesheet are files of this package, served under /ui/static);
- ``Cache-Control: no-store`` (a page can show balances, or a new key once);
- no framing, no sniffing, no referrer.

The session cookie is HttpOnly, SameSite=Strict, limited to /ui, and Secure when the request
came over TLS. No token is ever put in a URL or in anything a script can read.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kcgateway.errors import KcgatewayError, ValidationError
from kcgateway.gateway.apikeys import ip_allowed
from kcgateway.web.errors import describe

PREFIX = "/ui"
SESSION_COOKIE = "kcgw_console"
LOGIN_COOKIE = "kcgw_login"
#: the largest form the console accepts (the app's body limit applies before this)
MAX_FORM_FIELDS = 40
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _money(value: Decimal | None) -> str:
    """A decimal as plain text (no exponent, no float)."""
    if value is None:
        return "-"
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


def _ms_iso(value: int | None) -> str:
    """Milliseconds since the epoch (the exchange's times) as ISO 8601 UTC."""
    return "" if value is None else datetime.fromtimestamp(value / 1000, UTC).isoformat()


def _environment() -> jinja2.Environment:
    loader = jinja2.PackageLoader("kcgateway.web.console", "templates")
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = _money
    env.filters["iso"] = _iso
    env.filters["ms_iso"] = _ms_iso
    return env


ENV = _environment()


def secure(response: Response) -> Response:
    """``response`` with the console's security headers."""
    response.headers.update(SECURITY_HEADERS)
    return response


def page(template: str, status: int = 200, **context: Any) -> Response:
    """A rendered page with the security headers."""
    html = ENV.get_template(template).render(prefix=PREFIX, **context)
    return secure(HTMLResponse(html, status_code=status))


def redirect(path: str) -> Response:
    """A 303 to a console path (after a POST, or to the sign-in page)."""
    return secure(RedirectResponse(PREFIX + path, status_code=303))


def is_tls(request: Request) -> bool:
    """True when the browser's connection is TLS (the cookies are then Secure).

    Either the request came over TLS, or it came from a trusted proxy
    (``KCGW_TRUSTED_PROXIES``) that says so with ``X-Forwarded-Proto: https`` (its own, last
    value); the header from anyone else is ignored, as ``X-Forwarded-For`` is.
    """
    if request.url.scheme == "https":
        return True
    services = getattr(request.app.state, "services", None)
    trusted: tuple[str, ...] = services.trusted_proxies if services is not None else ()
    peer = request.client.host if request.client else ""
    proto = request.headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
    return bool(trusted) and proto == "https" and ip_allowed(peer, trusted)


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    """An HttpOnly, SameSite=Strict cookie for /ui (Secure on TLS), ending with the browser."""
    response.set_cookie(
        name,
        value,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=is_tls(request),
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    """Tell the browser to forget cookie ``name``."""
    response.delete_cookie(
        name, path=PREFIX, httponly=True, samesite="strict", secure=is_tls(request)
    )


def login_nonce() -> str:
    """A fresh value for the sign-in form's double-submit cookie."""
    return secrets.token_urlsafe(24)


async def form(request: Request) -> dict[str, str]:
    """The urlencoded form of a POST: one value per field (the last), at most 40 fields.

    ValidationError for another content type, a repeated field beyond the limit, or bytes
    that are not UTF-8.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise ValidationError("the console accepts HTML form posts only", field="content-type")
    try:
        text = (await request.body()).decode()
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError("the form could not be read", field="form") from exc
    return {name: values[-1] for name, values in parsed.items()}


def problem(exc: KcgatewayError) -> tuple[int, str, str]:
    """(status, code, message) of a refusal, as the /v1 error table states it."""
    known = describe(exc)
    if known is None:  # an error of the tree missing from the table: a bug, a 500
        raise exc
    status, body = known
    data: Mapping[str, Any] = json.loads(body)
    return status, str(data.get("error", "error")), str(data.get("message", ""))
