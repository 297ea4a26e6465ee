"""``kcgateway serve`` as real processes: its instance id, SQLite's one-instance rule, the
registry row gone after a graceful stop."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

import httpx

from tests.kcgateway.test_main import _free_port, _served


async def test_serve_names_its_instance_and_sqlite_refuses_a_second_one(tmp_path: Path) -> None:
    first = tmp_path / "first"
    database = first / "kcgateway.db"
    async with _served(first, KCGW_INSTANCE_ID="gw-1") as (base, _key):
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as http:
            async with asyncio.timeout(30):  # the demo account "paper", made after the start,
                while (ready := (await http.get("/readyz")).json())["leases_owned"] != 1:
                    await asyncio.sleep(0.1)  # is taken on the next lease tick
        assert ready["instance_id"] == "gw-1"
        with sqlite3.connect(database) as conn:
            rows = conn.execute("SELECT instance_id, stopping FROM gateway_instances").fetchall()
        assert rows == [("gw-1", 0)]

        env = {k: v for k, v in os.environ.items() if not k.startswith("KCGW_")}
        env.update(
            KCGW_DATA_DIR=str(tmp_path / "second"), KCGW_PORT=str(_free_port()),
            KCGW_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
            KCGW_KEK_FILE=str(first / "kek.key"), KCGW_PEPPER_FILE=str(first / "pepper.key"),
            KCGW_AUDIT_KEY_FILE=str(first / "audit.keys"),
        )  # fmt: skip  # the first one's keys: only the instance rule may refuse it
        exe = Path(sys.executable).parent / "kcgateway"
        second = await asyncio.create_subprocess_exec(
            str(exe), "serve", "--instance-id", "gw-2", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(second.communicate(), 120)
        text = out.decode()
        assert second.returncode == 1, text
        assert "'gw-1'" in text and "use PostgreSQL" in text, text
    with sqlite3.connect(database) as conn:  # SIGINT: a graceful stop leaves the registry
        assert conn.execute("SELECT count(*) FROM gateway_instances").fetchone() == (0,)
        released = conn.execute("SELECT expires_at FROM account_leases").fetchall()
    assert released and all(str(at).startswith("1970-01-01") for (at,) in released)
