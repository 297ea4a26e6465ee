"""Swagger UI for the /v1 API at ``/docs``, from local files (the ``swagger-ui-py`` package).

No CDN: the bundle's files are served from the installed package under ``/docs/static``,
a fixed list. The page has no inline script (the initializer is a file of ours pointing at
``/openapi.json``) and the console's Content-Security-Policy. Swagger UI keeps a key typed
into "Authorize" in memory only (``persistAuthorization`` stays off: nothing in
localStorage). The routes are public, like the OpenAPI document they show.
"""

from __future__ import annotations

import importlib.util
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from kcgateway.errors import ConfigError
from kcgateway.web.auth import PUBLIC
from kcgateway.web.console.render import SECURITY_HEADERS, page

router = APIRouter(prefix="/docs", include_in_schema=False, dependencies=[Depends(PUBLIC)])
#: name -> (where it lives, content type)


def _bundle() -> Path:
    """Swagger UI 5's files (OpenAPI 3.1, which FastAPI writes) as swagger-ui-py ships them.

    Found without importing the package (its ``__init__`` loads its web-framework glue).
    """
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("swagger-ui-py is not installed: reinstall kcgateway")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


_BUNDLE = _bundle()
FILES = {
    "swagger-ui.css": (_BUNDLE, "text/css; charset=utf-8"),
    "swagger-ui-bundle.js": (_BUNDLE, "text/javascript; charset=utf-8"),
    "swagger-ui-standalone-preset.js": (_BUNDLE, "text/javascript; charset=utf-8"),
    "index.css": (_BUNDLE, "text/css; charset=utf-8"),
    "docs-init.js": (None, "text/javascript; charset=utf-8"),
}
_CACHE: dict[str, bytes] = {}


def _read(name: str, where: Path | None) -> bytes:
    if name not in _CACHE:
        if where is None:
            ours = resources.files("kcgateway.web.console").joinpath("static", name)
            _CACHE[name] = ours.read_bytes()
        else:
            _CACHE[name] = (where / name).read_bytes()
    return _CACHE[name]


@router.get("")
async def docs() -> Response:
    """The Swagger UI page."""
    return page("docs.html")


@router.get("/static/{name}")
async def docs_file(name: str) -> Response:
    """One of :data:`FILES`; 404 for any other name."""
    found = FILES.get(name)
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    where, kind = found
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
    return Response(_read(name, where), media_type=kind, headers=headers)
