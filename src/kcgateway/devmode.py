"""Dev mode's exchange and demo: the embedded simulator, the paper account, the admin key.

``kcgateway serve`` in ``dev`` mode without ``KCGW_EXCHANGE_URL`` runs the simulator in its own
process on loopback ports as the exchange (paper trading), keeps its state in the data
directory across restarts, and makes a ``demo`` tenant with a funded simulated account
``paper`` connected through the vault and an admin key shown once. :mod:`kcgateway.main` (the
composition root) calls these; nothing else does. ``kucoin_sim`` is imported inside the
functions that need it, never at module level: a production gateway does not load the
simulator (a test checks ``sys.modules``).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from kcgateway.errors import ConfigError
from kcgateway.exchange.rest import Hosts
from kcgateway.gateway.accounts import ConnectRequest
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.keys import Operator
from kcgateway.gateway.services import GatewayServices
from kcgateway.secret import Secret
from kcgateway.settings import Settings
from kcgateway.store.repositories import AccountRepository, TenantRepository
from kcgateway.tasks import stop_task

DEMO_TENANT = "demo"
DEMO_ACCOUNT = "paper"
#: what the paper account's simulated key may do: every market the gateway trades
PAPER_PERMISSIONS = ["General", "Spot", "Margin", "Futures"]
ADMIN_OWNER = "serve-admin"
SIM_STATE_FILE = "sim-state.pickle"
"""The embedded simulator's state in the data directory (``kucoin_sim.persist``)."""
SIM_SAVE_EVERY_S = 60.0
"""How often the embedded simulator's state is saved besides at a clean stop."""


def write_private(path: Path, text: str) -> None:
    """Create ``path`` (0600, in a 0700 directory) with ``text``; an existing file is an error."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


@dataclass
class EmbeddedSim:
    """The simulator served on loopback ports, in this process (dev/paper mode only).

    ``kucoin_sim`` is imported here, when dev mode starts one, never at module level: a
    production gateway does not load the simulator (a test checks ``sys.modules``).
    """

    runners: list[Any]
    state: Any
    spot_url: str
    futures_url: str
    #: where the simulator's state is kept across restarts (None: forgotten at exit)
    state_file: Path | None = None
    _saver: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls, seed: int | None = None, *, tick_ms: int = 200, state_file: Path | None = None
    ) -> EmbeddedSim:
        """Build and serve both simulator apps on free loopback ports.

        ``tick_ms`` is the market makers' period (0: no market makers, a quiet book).
        ``state_file``: the state saved there by an earlier run is loaded first (its orders,
        balances and keys), and the state is saved there every :data:`SIM_SAVE_EVERY_S` and at
        :meth:`aclose` (``kucoin_sim.persist``), so orders placed before a restart of ``make
        run`` can still be cancelled after it.
        """
        from kucoin_sim.app import build_apps  # noqa: PLC0415 - dev mode only (class docstring)
        from kucoin_sim.config import SimConfig  # noqa: PLC0415
        from kucoin_sim.persist import StateFileError, keep_saving, load_state  # noqa: PLC0415

        apps = build_apps(SimConfig(tick_ms=tick_ms), seed)
        if state_file is not None:
            try:
                load_state(apps.state, state_file)
            except StateFileError as exc:
                raise ConfigError(f"the embedded simulator's state: {exc}") from None
        if tick_ms > 0:  # one market tick now: every symbol has a last price before the first
            apps.state.exchange.tick(apps.state.now_ms())  # read (the risk engine needs one)
        urls = []
        runners = []
        for app in (apps.spot, apps.futures):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            runners.append(runner)
            host, port = runner.addresses[0][:2]
            urls.append(f"http://{host}:{port}")
        apps.state.spot_base_url, apps.state.futures_base_url = urls
        sim = cls(runners, apps.state, urls[0], urls[1], state_file)
        if state_file is not None:
            saving = keep_saving(apps.state, state_file, SIM_SAVE_EVERY_S)
            sim._saver = asyncio.get_running_loop().create_task(saving)
        return sim

    def save(self) -> None:
        """Write the simulator's state to its state file now (nothing without one)."""
        from kucoin_sim.persist import save_state  # noqa: PLC0415 - dev mode only

        if self.state_file is not None:
            save_state(self.state, self.state_file)

    @property
    def hosts(self) -> Hosts:
        """Client hosts pointing at this simulator."""
        return Hosts(spot=self.spot_url, futures=self.futures_url, broker=self.spot_url)

    def has_key(self, api_key: str) -> bool:
        """Whether the simulator knows this API key (a restored state keeps its keys)."""
        return api_key in self.state.keys

    def create_account(self, spec: dict[str, Any]) -> dict[str, Any]:
        """A simulator user with one key (see ``POST /_sim/accounts``)."""
        from kucoin_sim.accounts import create_account  # noqa: PLC0415 - dev mode only

        result: dict[str, Any] = create_account(self.state, spec, self.state.now_ms())
        return result

    def fund(self, uid: str, account_type: str, balances: Mapping[str, str]) -> None:
        """Credit ``balances`` to one of a simulated user's accounts (margin, futures, ...)."""
        from kucoin_sim.accounts import fund, parse_balances  # noqa: PLC0415 - dev mode only

        fund(self.state, uid, account_type, parse_balances(dict(balances)))

    async def aclose(self) -> None:
        """Stop serving, then save the state (if kept) as the servers left it."""
        saver, self._saver = self._saver, None
        await stop_task(saver)
        for runner in self.runners:
            await runner.cleanup()
        self.save()


def _sim_key(settings: Settings) -> dict[str, str]:
    """The paper account's simulator key, kept in a 0600 dev file so restarts reconnect it."""
    path = settings.data_dir / "paper-account.json"
    if not path.exists():
        spec = {
            "apiKey": secrets.token_hex(12),
            "secret": secrets.token_hex(16),
            "passphrase": secrets.token_hex(8),
        }
        write_private(path, json.dumps(spec))
    loaded: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


async def bootstrap_demo(
    settings: Settings, services: GatewayServices, sim: EmbeddedSim
) -> Secret | None:
    """Demo tenant, funded paper account connected through the vault, the admin key.

    The admin key is made at the data directory's first start and kept across restarts (bots
    keep working): the new key on a first start, None on a restart (``kcgateway keys
    create-admin --tenant demo`` issues another). The paper account's simulated key may trade
    spot, margin and futures, with funded margin and futures accounts.
    """
    now = datetime.now(UTC)
    async with services.db.write() as session:
        tenants = TenantRepository(session)
        tenant = await tenants.by_name(DEMO_TENANT)
        tenant_id = tenant.id if tenant else await tenants.add(DEMO_TENANT, now=now)
    key = _sim_key(settings)
    if not sim.has_key(key["apiKey"]):  # a fresh simulator; a restored one has it, funds used
        balances = {"USDT": "100000", "BTC": "2", "ETH": "20"}
        spec = {**key, "hf": True, "balances": balances, "permissions": PAPER_PERMISSIONS}
        uid = sim.create_account(spec)["uid"]
        sim.fund(uid, "margin", {"USDT": "10000", "BTC": "0.2"})
        sim.fund(uid, "futures", {"USDT": "10000"})
    async with services.db.read() as session:
        names = {a.name for a in await AccountRepository(session).for_tenant(tenant_id)}
    if DEMO_ACCOUNT not in names:
        request = ConnectRequest(
            DEMO_ACCOUNT, key["apiKey"], Secret(key["secret"]), Secret(key["passphrase"])
        )
        await services.accounts.connect(tenant_id, "serve", request)
    kept = [k for k in await services.keys.list(tenant_id)
            if k.owner == ADMIN_OWNER and k.revoked_at is None]  # fmt: skip
    if kept:
        return None
    full, _ = await services.keys.create(
        tenant_id=tenant_id,
        owner=ADMIN_OWNER,
        scopes=frozenset({Scope.ADMIN}),
        actor=Operator("serve"),
    )
    return full


def banner(settings: Settings, key: Secret | None, sim: EmbeddedSim | None) -> list[str]:
    """What ``serve`` prints at startup; the admin key only at the data directory's first."""
    base = f"http://{settings.host}:{settings.port}"
    order = (
        '{"account":"paper","symbol":"BTC-USDT","side":"buy","type":"limit",'
        '"price":"60000","size":"0.001"}'
    )
    lines = [f"kcgateway {settings.mode.value} mode listening on {base}"]
    if sim is not None:
        lines.append(f"exchange: embedded simulator (paper trading) at {sim.spot_url}")
    lines.append(f"data directory: {settings.data_dir}")
    key_id = "KEY_ID  (ids: kcgateway keys list)"
    if key is not None:
        bearer = key.reveal()
        key_id = bearer.split("_")[1]
        lines += ["admin key (shown once, store it now; it stays valid across restarts):",
                  f"  {bearer}"]  # fmt: skip
    else:
        bearer = "$KCGW_KEY"
        lines += [
            "admin key: unchanged, the one shown at this data directory's first start "
            f"(a new one: kcgateway keys create-admin --tenant {DEMO_TENANT})",
        ]
    lines += [
        "place a first order:",
        f"  curl -s -X POST {base}/v1/orders -H 'Authorization: Bearer {bearer}' \\",
        f"       -H 'Content-Type: application/json' -d '{order}'",
        f"  curl -s {base}/v1/orders -H 'Authorization: Bearer {bearer}'",
        f"web console: {base}/ui (sign in with the admin key)",
        f"  or a one-time sign-in link: kcgateway console login --key {key_id}",
    ]
    return lines
