"""KuCoin's rate limits on the facade (issue 14): every metered answer carries KuCoin's
gw-ratelimit-* headers from the facade key's own budget (public calls: the client address's),
an empty budget is 429000 (ccxt: RateLimitExceeded) for that key only, and a new window
refills it."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import ccxt
import pytest

from kcgateway.exchange.budget import ratelimit_headers
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.facade.ratelimit import FacadeLimits
from kcgateway.kucoin.endpoints import ENDPOINTS, Pool
from kcgateway.kucoin.ratelimit import WINDOW_MS
from tests.helpers.facade import ccxt_kucoin, facade_url, issue, signed
from tests.helpers.gateway import gateway_stack

QUOTA = 12
ACCOUNTS = "/api/v1/accounts"


async def test_the_facade_answers_kucoins_rate_limit_headers_per_key(tmp_path: Path) -> None:
    async with gateway_stack(tmp_path) as stack:
        tenant = await stack.add_tenant("bots")
        first = await issue(stack, tenant, Scope.READ)
        second = await issue(stack, tenant, Scope.READ)
        assert stack.services.facade is not None
        stack.services.facade.limits = FacadeLimits(dict.fromkeys(Pool, QUOTA))
        weight = ENDPOINTS["account.list"].weight
        async with facade_url(stack) as url, aiohttp.ClientSession() as http:
            status, body, headers = await signed(http, url, first, "GET", ACCOUNTS)
            assert (status, body["code"]) == (200, "200000")
            limit, remaining, reset = ratelimit_headers(headers) or (0, 0, 0)
            assert (limit, remaining) == (QUOTA, QUOTA - weight) and 0 < reset <= WINDOW_MS
            while remaining >= weight:
                status, body, headers = await signed(http, url, first, "GET", ACCOUNTS)
                assert status == 200
                _, remaining, _ = ratelimit_headers(headers) or (0, 0, 0)
            status, body, headers = await signed(http, url, first, "GET", ACCOUNTS)
            assert (status, body["code"]) == (429, "429000")
            assert "gw-ratelimit-reset" in body["msg"]
            refused = ratelimit_headers(headers)
            assert refused is not None and refused[1] == remaining and 0 < refused[2] <= WINDOW_MS
            bot = ccxt_kucoin(url, first)
            try:
                with pytest.raises(ccxt.RateLimitExceeded):
                    await bot.fetch_balance()
            finally:
                await bot.close()
            # another key of the same account has its own budget
            status, _, headers = await signed(http, url, second, "GET", ACCOUNTS)
            other = ratelimit_headers(headers)
            assert status == 200 and other is not None and other[:2] == (QUOTA, QUOTA - weight)
            # public calls: the client address's budget, unsigned
            async with http.get(f"{url}/api/v2/symbols") as resp:
                assert resp.status == 200
                public = ratelimit_headers(resp.headers)
            assert public is not None and public[0] == QUOTA
            assert public[1] == QUOTA - ENDPOINTS["market.symbols"].weight
            # the clock, served by the facade itself, costs nothing
            async with http.get(f"{url}/api/v1/timestamp") as resp:
                assert resp.status == 200 and ratelimit_headers(resp.headers) is None
