"""The composition root: dev creates what is missing, prod refuses, the demo bootstrap works."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest

from kcgateway import main
from kcgateway.errors import ConfigError
from kcgateway.settings import Mode, Settings
from kcgateway.web.app import create_app
from tests.helpers.gateway import auth, order_body


@pytest.fixture(autouse=True)
def _no_kek_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("KCGW_KEK", "KCGW_KEK_FILE", "KCGW_KEK_SPEC"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))


def test_dev_creates_kek_and_pepper_once(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d")
    ring = main.load_ring(s)
    assert stat.S_IMODE(os.stat(tmp_path / "d" / "kek.key").st_mode) == 0o600
    assert main.load_ring(s).kek_ids == ring.kek_ids
    pepper = main.load_pepper(s)
    assert main.load_pepper(s).reveal() == pepper.reveal()
    assert stat.S_IMODE(os.stat(s.pepper_path()).st_mode) == 0o600


def test_prod_creates_nothing(tmp_path: Path) -> None:
    s = Settings(mode=Mode.PROD, data_dir=tmp_path, pepper_file=tmp_path / "pepper")
    with pytest.raises(ConfigError, match="init-kek"):
        main.load_ring(s)
    with pytest.raises(ConfigError, match="does not exist"):
        main.load_pepper(s)
    (tmp_path / "pepper").write_text("x" * 40)
    os.chmod(tmp_path / "pepper", 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        main.load_pepper(s)
    os.chmod(tmp_path / "pepper", 0o600)
    assert main.load_pepper(s).reveal() == "x" * 40
    (tmp_path / "pepper").write_text("short")
    with pytest.raises(ConfigError, match="too short"):
        main.load_pepper(s)
    assert not (tmp_path / "kek.key").exists()


async def test_prod_serve_and_unmigrated_prod_database_refuse(tmp_path: Path) -> None:
    s = Settings(mode=Mode.PROD, data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/p.db")
    with pytest.raises(ConfigError, match="dev mode"):
        await main.serve(s, print)
    with pytest.raises(ConfigError, match="db upgrade"):
        await main.open_store(s)


async def test_dev_bootstrap_then_restart(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d")
    keys = []
    for _run in range(2):  # a restart: same database, a fresh simulator
        ring, pepper = main.load_ring(s), main.load_pepper(s)
        db = await main.open_store(s)
        sim = await main.EmbeddedSim.start(tick_ms=0)
        services = main.build_services(s, db, ring, pepper, sim.hosts)
        try:
            key = await main.bootstrap_demo(s, services, sim)
            keys.append(key.reveal())
            text = "\n".join(main.banner(s, key, sim))
            assert key.reveal() in text and "curl" in text
            transport = httpx.ASGITransport(app=create_app(services), client=("127.0.0.1", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
                resp = await http.post(
                    "/v1/orders", json=order_body("paper"), headers=auth(key.reveal())
                )
                assert resp.status_code == 201, resp.text
                if len(keys) == 2:
                    old = await http.get("/v1/orders", headers=auth(keys[0]))
                    assert old.status_code == 401, "the previous start's admin key is revoked"
                    assert len((await http.get("/v1/orders", headers=auth(keys[1]))).json()) == 2
        finally:
            await services.aclose()
            await sim.aclose()
