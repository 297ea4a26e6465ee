"""``kcgateway console login``: a one-time sign-in link for a key, stored only as a hash."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from kcgateway.gateway.console.sessions import token_id
from kcgateway.store.tables import ConsoleLinkRow
from tests.kcgateway.commands.test_admin_cli import Cli, _in_db, cli

__all__ = ["cli"]


def test_console_login_prints_a_one_time_link_for_an_existing_key(cli: Cli) -> None:
    cli.ok("tenants", "create", "acme")
    key = re.search(r"kgw_[A-Za-z0-9_]+", cli.ok("keys", "create-admin", "--tenant", "acme"))
    assert key is not None
    key_id = key.group(0).split("_")[1]
    out = cli.ok("console", "login", "--key", key_id, "--base-url", "https://gw.example/")
    found = re.search(r"^https://gw\.example/ui/login/link\?t=([A-Za-z0-9_-]{43})$", out, re.M)
    assert found is not None, out
    token = found.group(1)

    async def rows(session: Any) -> list[tuple[str, str]]:
        listed = await session.execute(select(ConsoleLinkRow.id, ConsoleLinkRow.key_id))
        return [(r.id, r.key_id) for r in listed]

    assert _in_db(cli, rows) == [(token_id(token), key_id)]  # the hash, never the token
    assert key.group(0) not in out  # the key itself is not printed again

    default = cli.ok("console", "login", "--key", key_id)
    assert re.search(r"^http://127\.0\.0\.1:\d+/ui/login/link\?t=", default, re.M)

    refused = cli.fails("console", "login", "--key", "nosuchkey")
    assert "no usable key 'nosuchkey'" in refused and "keys list" in refused
