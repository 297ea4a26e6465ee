"""The console's static files, served from the package (never a CDN): a fixed list, no paths.

``htmx.min.js`` is htmx 2.0.11 (0BSD, ``htmx.LICENSE.txt`` beside it), vendored unchanged.
"""

from __future__ import annotations

from importlib import resources

from fastapi.responses import Response

from kcgateway.web.console.common import router
from kcgateway.web.console.render import SECURITY_HEADERS

FILES = {
    "htmx.min.js": "text/javascript; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "htmx.LICENSE.txt": "text/plain; charset=utf-8",
}
_CACHE: dict[str, bytes] = {}


def _read(name: str) -> bytes:
    if name not in _CACHE:
        _CACHE[name] = (
            resources.files("kcgateway.web.console").joinpath("static", name).read_bytes()
        )
    return _CACHE[name]


@router.get("/static/{name}")
async def static_file(name: str) -> Response:
    """One of :data:`FILES`; 404 for any other name."""
    kind = FILES.get(name)
    if kind is None:
        return Response("not found", status_code=404, media_type="text/plain")
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=300"}
    return Response(_read(name), media_type=kind, headers=headers)
