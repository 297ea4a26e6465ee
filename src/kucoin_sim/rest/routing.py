"""Route declarations: each endpoint says its auth, permission, rate-limit pool and weight.

Handlers are plain synchronous functions ``(Call) -> data``; the dispatcher wraps ``data`` in
``{"code": "200000", "data": ...}``. A handler refuses with :class:`ApiError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from kucoin_sim.rest.params import ApiError, Params

if TYPE_CHECKING:
    from aiohttp import web

    from kucoin_sim.auth import AuthContext
    from kucoin_sim.state import SimState

Handler = Callable[["Call"], object]


@dataclass(frozen=True)
class Route:
    """One endpoint.

    ``private``: signed (KC-API-* checked); ``permission`` is what the key needs; ``broker``:
    ND-broker route (partner headers required); ``trading``: places orders (refused in
    cancel-only maintenance).
    """

    method: str
    path: str
    handler: Handler
    pool: str
    weight: int
    private: bool = False
    permission: str | None = None
    broker: bool = False
    trading: bool = False


class RouteTable:
    """A list of routes filled by decorators, one table per REST area."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self,
        method: str,
        path: str,
        *,
        pool: str,
        weight: int,
        permission: str | None = None,
        private: bool | None = None,
        broker: bool = False,
        trading: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Declare a route; ``private`` defaults to True when a permission is given."""

        def register(handler: Handler) -> Handler:
            self.routes.append(
                Route(
                    method=method,
                    path=path,
                    handler=handler,
                    pool=pool,
                    weight=weight,
                    private=permission is not None if private is None else private,
                    permission=permission,
                    broker=broker,
                    trading=trading,
                )
            )
            return handler

        return register


_EMPTY: Mapping[str, object] = {}


class Call:
    """One request as a handler sees it."""

    __slots__ = ("_json", "auth", "body", "now_ms", "request", "state")

    def __init__(
        self,
        request: web.Request,
        state: SimState,
        auth: AuthContext | None,
        body: bytes,
        now_ms: int,
    ) -> None:
        self.request = request
        self.state = state
        self.auth = auth
        self.body = body
        self.now_ms = now_ms
        self._json: Params | None = None

    @property
    def uid(self) -> str:
        """The authenticated user's id (private routes only)."""
        if self.auth is None:  # pragma: no cover - private routes always authenticate
            raise ApiError("400001", "Please check the header of your request", 401)
        return self.auth.key.uid

    @property
    def query(self) -> Params:
        """Query parameters (the first value of a repeated key)."""
        return Params(self.request.query)

    def path(self, name: str) -> str:
        """A path variable."""
        return self.request.match_info[name]

    @property
    def json(self) -> Params:
        """The JSON object body; an empty body is an empty object."""
        if self._json is None:
            self._json = Params(parse_object(self.body))
        return self._json

    def json_list(self, name: str) -> list[Any]:
        """A list field of the JSON body."""
        value = self.json.raw(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ApiError("400100", f"{name} must be a list")
        return value


def parse_object(body: bytes) -> Mapping[str, object]:
    """Decode a JSON object body; anything else is 400100."""
    if not body.strip():
        return _EMPTY
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ApiError("400100", "Request body is not valid JSON") from exc
    if not isinstance(value, dict):
        raise ApiError("400100", "Request body must be a JSON object")
    return value
