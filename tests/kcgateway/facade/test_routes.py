"""The facade's route table: fixed paths before templates, scopes per kind, denied prefixes."""

from __future__ import annotations

import pytest

from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.facade.routes import FUTURES_ROUTES, ROUTES, Kind, denied, resolve
from kcgateway.kucoin.endpoints import ENDPOINTS, Host


@pytest.mark.parametrize(
    ("method", "path", "kind", "scope", "params"),
    [
        ("GET", "/api/v1/timestamp", Kind.TIME, None, {}),
        ("GET", "/api/v2/symbols", Kind.PUBLIC, None, {}),
        ("GET", "/api/v1/hf/orders/active", Kind.READ, Scope.READ, {}),
        ("GET", "/api/v1/hf/orders/abc", Kind.READ, Scope.READ, {"orderId": "abc"}),
        ("POST", "/api/v1/hf/orders", Kind.PLACE, Scope.TRADE_SPOT, {}),
        ("DELETE", "/api/v1/hf/orders/client-order/c1", Kind.CANCEL_OID, Scope.TRADE_SPOT,
         {"clientOid": "c1"}),
        ("DELETE", "/api/v1/hf/orders/sync/o1", Kind.CANCEL_ID, Scope.TRADE_SPOT,
         {"orderId": "o1"}),
        ("DELETE", "/api/v1/orders", Kind.CANCEL_SYMBOL, Scope.TRADE_SPOT, {}),
        ("GET", "/api/v1/accounts/ledgers", Kind.READ, Scope.READ, {}),
        ("GET", "/api/v1/accounts/a1", Kind.READ, Scope.READ, {"accountId": "a1"}),
    ],
)  # fmt: skip
def test_spot_paths_resolve_to_their_kind_and_scope(
    method: str, path: str, kind: Kind, scope: Scope | None, params: dict[str, str]
) -> None:
    found = resolve(method, path)
    assert found is not None
    assert (found.route.kind, found.route.scope, found.params) == (kind, scope, params)


def test_the_futures_host_has_its_own_table_and_scope() -> None:
    found = resolve("POST", "/api/v1/orders", futures=True)
    assert found is not None and found.route.scope is Scope.TRADE_FUTURES
    spot = resolve("POST", "/api/v1/orders")
    assert spot is not None and spot.route.scope is Scope.TRADE_SPOT
    assert resolve("GET", "/api/v1/positions") is None  # not a spot path
    assert resolve("GET", "/api/v1/positions", futures=True) is not None


def test_every_forwarded_route_names_a_known_endpoint_of_its_host() -> None:
    for route in (*ROUTES, *FUTURES_ROUTES):
        if route.kind in (Kind.PUBLIC, Kind.READ):
            endpoint = ENDPOINTS[route.endpoint or ""]
            if route.futures:
                assert endpoint.host is Host.FUTURES, route.template


def test_money_movement_and_key_management_are_denied_and_nothing_else() -> None:
    for path in ("/api/v1/withdrawals", "/api/v3/withdrawals", "/api/v2/sub/user",
                 "/api/v1/sub-accounts", "/api/v1/user/api-key",
                 "/api/v3/accounts/universal-transfer", "/api/v1/deposit-addresses"):  # fmt: skip
        assert denied(path), path
    for path in ("/api/v1/accounts", "/api/v1/subscribe", "/api/v1/withdrawalsx"):
        assert not denied(path), path
