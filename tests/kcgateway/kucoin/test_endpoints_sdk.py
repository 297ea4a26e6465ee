"""Cross-check the endpoint table against the pinned universal SDK's per-endpoint tables.

The SDK (1.3.2) documents, for every endpoint, its domain, channel (public/private), rate-limit
pool and weight in each method's docstring, and the method's implementation names the HTTP
method and path. Both are read from the installed package at test time with :mod:`ast`.
"""

from __future__ import annotations

import ast
import re
import warnings
from importlib.util import find_spec
from pathlib import Path
from typing import NamedTuple

import pytest

from kcgateway.kucoin.endpoints import ENDPOINTS, Endpoint, Host

# Not in the SDK: ccxt's UTA account-mode probe and the ND-broker KYC calls (weight "NULL").
NOT_IN_SDK = {
    "account.ua_mode",
    "broker.nd.kyc_submit",
    "broker.nd.kyc_status_list",
    "broker.nd.kyc_status_page",
}
_HOSTS = {"spot": Host.SPOT, "futures": Host.FUTURES, "broker": Host.BROKER}


class SdkRow(NamedTuple):
    host: Host
    method: str
    path: re.Pattern[str]
    private: bool
    pool: str
    weight: str


def _info(doc: str, key: str) -> str:
    match = re.search(rf"\| {key}\s*\|\s*(\S+)", doc)
    return match.group(1) if match else ""


def _call(func: ast.FunctionDef) -> tuple[str, str, str] | None:
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "call":
            args = [a.value for a in node.args[:4] if isinstance(a, ast.Constant)]
            if len(args) == 4:
                return str(args[0]), str(args[2]).upper(), str(args[3])
    return None


def _template(path: str) -> re.Pattern[str]:
    path = path.replace("{order-id}", "{orderId}")
    parts = re.split(r"(\{\w+\})", path)
    rx = "".join(
        ("(?:20|100)" if p == "{size}" else r"\{\w+\}") if p.startswith("{") else re.escape(p)
        for p in parts
    )
    return re.compile(rx)


def _rows_of(path: Path) -> list[SdkRow]:
    docs: dict[str, str] = {}
    calls: dict[str, tuple[str, str, str]] = {}
    with warnings.catch_warnings():  # the SDK's docstrings hold invalid escapes like "\\&"
        warnings.simplefilter("ignore")  # DeprecationWarning on 3.11, SyntaxWarning later
        tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            doc = ast.get_docstring(node)
            if doc and "API-RATE-LIMIT-POOL" in doc:
                docs[node.name] = doc
            call = _call(node)
            if call:
                calls[node.name] = call
    rows = []
    for name, (domain, method, url) in calls.items():
        doc = docs.get(name, "")
        if domain in _HOSTS and doc:
            rows.append(
                SdkRow(
                    _HOSTS[domain],
                    method,
                    _template(url),
                    _info(doc, "API-CHANNEL") == "PRIVATE",
                    _info(doc, "API-RATE-LIMIT-POOL"),
                    _info(doc, "API-RATE-LIMIT-WEIGHT"),
                )
            )
    return rows


@pytest.fixture(scope="module")
def sdk_rows() -> list[SdkRow]:
    spec = find_spec("kucoin_universal_sdk")
    if spec is None or spec.origin is None:  # pragma: no cover - a dev dependency
        pytest.skip("kucoin-universal-sdk is not installed (pip install -e '.[dev]')")
    root = Path(spec.origin).parent / "generate"
    rows = [
        row
        for path in sorted(root.glob("*/*/api_*.py"))
        if not path.name.endswith("_test.py")
        for row in _rows_of(path)
    ]
    assert len(rows) > 200
    return rows


def _match(ep: Endpoint, rows: list[SdkRow]) -> SdkRow | None:
    for row in rows:
        if row.host is ep.host and row.method == ep.method.value and row.path.fullmatch(ep.path):
            return row
    return None


@pytest.mark.parametrize("name", sorted(set(ENDPOINTS) - NOT_IN_SDK))
def test_pool_weight_and_channel_match_the_sdk(name: str, sdk_rows: list[SdkRow]) -> None:
    ep = ENDPOINTS[name]
    row = _match(ep, sdk_rows)
    assert row is not None, f"{ep.method} {ep.path} on {ep.host.name} is not in the SDK"
    assert (ep.pool.name, str(ep.weight), ep.private) == (row.pool, row.weight, row.private)
