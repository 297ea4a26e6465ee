"""The composition root: the only module that wires settings, store, vault, exchange and web.

``kcgateway serve`` calls :func:`serve`. In ``dev`` mode (the embedded default) it creates what
is missing: the data directory, a local KEK file, a pepper file and an audit key file (0600),
the SQLite database (migrated), the simulator on loopback ports as the exchange (paper
trading), a ``demo`` tenant with a funded simulated KuCoin account connected through the vault,
and a fresh admin gateway key printed once (the simulator and the demo live in
:mod:`kcgateway.devmode`). Dev mode with ``KCGW_EXCHANGE_URL`` set embeds no simulator and
creates no demo tenant: it talks to that exchange (e.g. a separate ``kcgateway sim`` process
that outlives gateway restarts) and gets its keys from ``kcgateway keys create-admin`` like
prod. In ``prod`` mode nothing is created: missing pieces stop the start with a message that
says what to set.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import secrets
import socket
import stat
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import uvicorn
from fastapi import FastAPI

from kcgateway.devmode import (
    SIM_STATE_FILE,
    EmbeddedSim,
    banner,
    bootstrap_demo,
    write_private,
)
from kcgateway.errors import ConfigError
from kcgateway.exchange.budget import Budget
from kcgateway.exchange.hosts import KUCOIN, exchange_hosts, host_lines, host_probe, same_host
from kcgateway.exchange.rest import Hosts, KuCoinClient, RequestSigner
from kcgateway.exchange.shared_budget import SharedBudgets
from kcgateway.exchange.sim_control import SimControl
from kcgateway.exchange.transport import AiohttpTransport
from kcgateway.facade.app import create_facade_app
from kcgateway.facade.errors import kucoin_error
from kcgateway.gateway.accounts import AccountOnboarding
from kcgateway.gateway.alerts import AlertService
from kcgateway.gateway.apikeys import Scope
from kcgateway.gateway.audit import switch_point
from kcgateway.gateway.books import BookService
from kcgateway.gateway.bots import build_signal_bots
from kcgateway.gateway.bots.mirror import PaperMirror
from kcgateway.gateway.broker import BrokerService
from kcgateway.gateway.cluster.bus import ChangeBus, change_bus
from kcgateway.gateway.cluster.instances import InstanceRegistry
from kcgateway.gateway.cluster.leases import LeaseManager
from kcgateway.gateway.cluster.propagation import broker_settings_changed, propagate
from kcgateway.gateway.console import ConsoleSessions
from kcgateway.gateway.console.equity_history import EquityHistory, engine_marks
from kcgateway.gateway.event_feed import EventFeed, kept
from kcgateway.gateway.events import OrderEvents
from kcgateway.gateway.facade.credentials import FacadeCredentials
from kcgateway.gateway.facade.ratelimit import FacadeLimits
from kcgateway.gateway.facade.service import FacadeService
from kcgateway.gateway.idempotency import Idempotency
from kcgateway.gateway.keys import KeyService, Operator
from kcgateway.gateway.metrics import (
    ONBOARDING_CLIENT,
    PRIVATE_CLIENT,
    PUBLIC_CLIENT,
    GatewayMetrics,
)
from kcgateway.gateway.onboarding import FastApiOnboarding
from kcgateway.gateway.onboarding_state import state_key
from kcgateway.gateway.orders.router import OrderRouter
from kcgateway.gateway.risk_control import RiskControl
from kcgateway.gateway.risk_engine import RiskEngine
from kcgateway.gateway.risk_wiring import RiskHandlers
from kcgateway.gateway.services import GatewayServices
from kcgateway.gateway.stream_counts import StreamCounts
from kcgateway.gateway.subaccounts import SubAccounts
from kcgateway.gateway.tenants import TenantService
from kcgateway.gateway.venue import BoundSigner, Venues
from kcgateway.kucoin.ratelimit import vip_quotas
from kcgateway.kucoin.signing import Credentials
from kcgateway.risk import Limits
from kcgateway.runlock import hold_data_dir, make_data_dir
from kcgateway.secret import Secret
from kcgateway.settings import Settings
from kcgateway.store.audit_chain import AuditKeys
from kcgateway.store.broker_store import SqlBrokerStore
from kcgateway.store.connect import named_database_errors
from kcgateway.store.credential_store import SqlCredentialStore
from kcgateway.store.database import Database, open_database
from kcgateway.store.migrate import ensure_migrated, upgrade
from kcgateway.store.repositories import TenantRepository
from kcgateway.vault.audit_keys import create_audit_key_file, load_audit_keys
from kcgateway.vault.broker import BrokerVault, CachedBroker
from kcgateway.vault.config import configured_kek
from kcgateway.vault.credentials import CredentialVault
from kcgateway.vault.facade import FacadeVault
from kcgateway.vault.kek import KeyRing, check_key_file_mode, init_kek_file, local_kek_from_file
from kcgateway.vault.logfilter import SecretMaskFilter, install, register_environment
from kcgateway.vault.signal_secrets import SignalSecrets
from kcgateway.vault.signer import SealedRecordCache, Signer
from kcgateway.web.app import create_app


def load_pepper(settings: Settings) -> Secret:
    """The key-hashing pepper; dev creates it on first run, prod requires the file."""
    path = settings.pepper_path()
    if not path.exists():
        if not settings.is_dev:
            raise ConfigError(f"pepper file {path} does not exist: create it (0600, 32+ bytes)")
        write_private(path, secrets.token_hex(32))
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"pepper file {path} is readable by others: chmod 600 {path}")
    return Secret(pepper_text(path))


def pepper_text(path: Path) -> str:
    """The pepper a file holds: its text (stripped), or the hex of raw bytes that are not text.

    Text keeps the peppers written so far (hex) valid; any 32+ random bytes are accepted too
    (``head -c 32 /dev/urandom > pepper.key``), as the hex of exactly those bytes.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read pepper file {path} ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        text, size = raw.hex(), len(raw)
    else:
        size = len(text)
    if size < 32:
        raise ConfigError(f"pepper file {path} is too short: write 32+ random bytes into it")
    return text


def load_ring(settings: Settings) -> KeyRing:
    """The KEK ring; dev falls back to (and creates) ``<data dir>/kek.key``."""
    try:
        return KeyRing(configured_kek())
    except ConfigError:
        if not settings.is_dev:
            raise
    path = settings.data_dir / "kek.key"
    if path.exists():
        check_key_file_mode(path)
        return KeyRing(local_kek_from_file(path))
    return KeyRing(init_kek_file(path))


async def load_audit_keys_for(settings: Settings, db: Database) -> AuditKeys:
    """The audit key file; dev creates it on first run, prod requires it.

    A new file records the chain's head as the switch point from unkeyed to keyed records.
    """
    path = settings.audit_key_path()
    if path.exists() or not settings.is_dev:
        return load_audit_keys(path)
    legacy = await switch_point(db)
    return create_audit_key_file(path, legacy_head=legacy, now=datetime.now(UTC))


async def open_store(settings: Settings) -> Database:
    """The database, chaining audit records with the audit key.

    Dev migrates it (and creates the audit key file), prod refuses one that is not at the head
    revision or has no audit key file.
    """
    url = settings.sqlite_url()
    with named_database_errors(url):
        db = open_database(url, synchronous=settings.sqlite_synchronous)
    try:
        with named_database_errors(url):  # the first contact: unreachable, role, database
            if settings.is_dev:
                await upgrade(db.engine)
            await ensure_migrated(db.engine)
        db.use_audit_key((await load_audit_keys_for(settings, db)).active)
    except BaseException:
        await db.aclose()
        raise
    return db


def _client_label(auth: RequestSigner | Credentials | None) -> str:
    """The metrics ``client`` label: public, onboarding (a key being checked) or private.

    Never a credential's or an account's id: ``/metrics`` is public.
    """
    if auth is None:
        return PUBLIC_CLIENT
    if isinstance(auth, Credentials):
        return ONBOARDING_CLIENT
    return PRIVATE_CLIENT


def client_factory(
    hosts: Hosts,
    timeout_s: float,
    metrics: GatewayMetrics | None = None,
    budgets: SharedBudgets | None = None,
) -> Callable[[RequestSigner | Credentials | None], KuCoinClient]:
    """Clients that talk to ``hosts`` over aiohttp, signed by a vault signer or credentials.

    With ``metrics``, every client reports its calls and rate budgets there. With ``budgets``
    (Redis configured), an account's client spends the budget of its KuCoin UID shared by every
    instance (``BoundSigner.budget_key``) and the public client the instance's public (per IP)
    budget; without, and for keys being checked, each client has its own in-process budget.
    """

    def budget_for(auth: RequestSigner | Credentials | None) -> Budget | None:
        if budgets is None:
            return None
        if auth is None:
            return budgets.public
        if isinstance(auth, BoundSigner):
            return budgets.for_key(auth.budget_key)
        return None

    def make(auth: RequestSigner | Credentials | None) -> KuCoinClient:
        transport = AiohttpTransport(read_timeout=timeout_s, total_timeout=timeout_s * 2)
        observer = None if metrics is None else metrics.exchange_observer(_client_label(auth))
        budget = budget_for(auth)
        if isinstance(auth, Credentials):
            return KuCoinClient(
                auth, transport=transport, hosts=hosts, timeout=timeout_s, observer=observer
            )
        return KuCoinClient(
            signer=auth, transport=transport, hosts=hosts, timeout=timeout_s, observer=observer,
            budget=budget,
        )  # fmt: skip

    return make


def build_services(
    settings: Settings,
    db: Database,
    ring: KeyRing,
    pepper: Secret,
    hosts: Hosts,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    risk_limits: Limits | None = None,
    live_instances: Callable[[], int] | None = None,
    bus: ChangeBus | None = None,
) -> GatewayServices:
    """Wire every use case. Does no I/O.

    ``risk_limits`` replaces the gateway's risk limits (tests that trade on purpose where the
    defaults refuse); production uses the defaults, every check on, with ``KCGW_MAX_NOTIONAL``.
    ``live_instances`` counts the live gateway instances (default: this instance's registry,
    as of its last heartbeat): while Redis (``KCGW_REDIS_URL``) is unreachable, each
    instance's rate budgets hold 1/N of every quota.
    ``bus`` tells the other instances on the database what changed (default: LISTEN/NOTIFY on
    PostgreSQL, in-process on SQLite); it starts with :meth:`GatewayServices.start`.
    """
    metrics = GatewayMetrics()
    registry = InstanceRegistry(
        db, settings.instance_id, now=now, address=f"{settings.host}:{settings.port}"
    )
    budgets = None
    if settings.redis_url is not None:
        live = live_instances if live_instances is not None else registry.live_instances
        budgets = SharedBudgets.connect(settings.redis_url, live_instances=live)
    make = client_factory(hosts, settings.exchange_timeout_s, metrics, budgets)
    store = SqlCredentialStore(db)
    sealed = SealedRecordCache(store)
    broker = CachedBroker(SqlBrokerStore(db))
    signer = Signer(sealed, ring, broker=broker)
    venues = Venues(db, signer, make)

    async def forget(account_id: str, credential_ids: Sequence[str]) -> None:
        cached = await venues.forget(account_id)
        for credential_id in {*credential_ids, *([cached] if cached else [])}:
            sealed.invalidate(credential_id)

    market = make(None)  # public market data: books, symbols, and pricing unpriced orders
    orders = OrderRouter(
        db,
        venues,
        max_notional=settings.max_notional,
        grace=timedelta(seconds=settings.reconcile_grace_s),
        settle_after=timedelta(seconds=settings.exchange_timeout_s * 3),
        now=now,
        quotes=market,
    )
    onboarding = AccountOnboarding(
        db, CredentialVault(store, ring), make, require_ip_whitelist=not settings.is_dev, now=now,
        forget=forget,
    )  # fmt: skip
    counts = StreamCounts(hook=metrics.on_stream_event)
    if risk_limits is None:
        risk_limits = Limits(max_order_notional=settings.max_notional)
    risk = RiskControl(db, gateway_limits=risk_limits, now=now, canceller=orders)
    keys = KeyService(db, pepper, now=now)
    services = GatewayServices(
        db=db,
        keys=keys,
        orders=orders,
        accounts=onboarding,
        idempotency=Idempotency(db, now=now),
        venues=venues,
        market=market,
        trusted_proxies=settings.trusted_proxies,
        reconcile_every_s=settings.reconcile_every_s,
        books=BookService(market, metrics=counts.for_kind("book_spot")),
        futures_books=BookService(market, futures=True, metrics=counts.for_kind("book_futures")),
        events=OrderEvents(db, orders, venues, counts=counts),
        stream_counts=counts,
        metrics=metrics,
        alerts=AlertService(db, registry=metrics.registry, now=now),
        risk=risk,
        event_feed=EventFeed(
            db, now=now, registry=metrics.registry, retention=kept(settings.event_retention_days)
        ),
        console=ConsoleSessions(db, keys, now=now),
        rate_budgets=budgets,
    )
    handlers = RiskHandlers(risk, services.alerts, now=now)
    engine = RiskEngine.for_services(
        services, states_for=risk.states_for, limits_for=risk.limits_for,
        on_signal=handlers.on_signal, on_state_change=handlers.on_state_change,
        on_drawdown=handlers.on_drawdown,
    )  # fmt: skip
    orders.risk = engine
    services.keys.on_use = engine.key_used
    services.onboarding = FastApiOnboarding(
        db, onboarding, state_key=state_key(pepper.reveal()), alerts=services.alerts, now=now,
        transport=lambda: AiohttpTransport(total_timeout=settings.exchange_timeout_s),
        timeout_s=settings.exchange_timeout_s,
    )  # fmt: skip
    services.subaccounts = SubAccounts(db, venues, onboarding, now=now)
    if services.event_feed is not None:  # balance changes go to the event log bots follow
        engine.report_balance = services.event_feed.balance_changed
    services.risk_engine = engine
    services.equity_history = EquityHistory(
        db, engine_marks(engine.accounts, services.owns), now=now
    )  # one sample per account per minute in a cluster: its lease holder's
    services.audit_keys = lambda: load_audit_keys(settings.audit_key_path())
    credentials = FacadeCredentials(db, FacadeVault(ring), guard=services.keys, now=now)
    services.facade = FacadeService(
        db, credentials, orders, venues, market, now=now, events=services.event_feed,
        limits=FacadeLimits(vip_quotas(settings.kucoin_facade_vip)), explain=kucoin_error,
    )  # fmt: skip
    services.risk_handlers = handlers
    services.exchange_hosts = host_probe(hosts)
    mirror = paper_mirror(settings, hosts, now=now)
    services.signals = build_signal_bots(services, SignalSecrets(ring), now=now, mirror=mirror)
    services.instance_id = settings.instance_id
    services.leases = LeaseManager(db, registry, now=now)
    propagate(bus or change_bus(db), services, broker_changed=broker.invalidate)
    return services


def paper_mirror(
    settings: Settings, hosts: Hosts, *, now: Callable[[], datetime]
) -> PaperMirror | None:
    """The paper market's books follow ``KCGW_PAPER_REFERENCE_URL`` (None when it is unset).

    Paper accounts trade on the gateway's exchange, so that exchange must be a simulator (the
    embedded one in dev mode, or a ``kcgateway sim`` named by ``KCGW_EXCHANGE_URL``): its books
    are the ones made to follow the reference. A gateway trading KuCoin itself is refused.
    """
    reference = settings.paper_reference_url
    if reference is None:
        return None
    if same_host(hosts.spot, KUCOIN.spot):
        raise ConfigError(
            "KCGW_PAPER_REFERENCE_URL is set but this gateway's exchange is KuCoin itself, "
            "where paper accounts would trade real money: run paper bots on a gateway whose "
            "exchange is a simulator (dev mode, or KCGW_EXCHANGE_URL=<a kcgateway sim>)"
        )
    timeout = settings.exchange_timeout_s
    ref_hosts = Hosts(spot=reference, futures=reference, broker=reference)
    books = BookService(client_factory(ref_hosts, timeout)(None), max_symbols=100)
    control = SimControl(hosts.spot, AiohttpTransport(total_timeout=timeout))
    return PaperMirror(books, control, now_ms=lambda: int(now().timestamp() * 1000))


async def prepare(settings: Settings) -> tuple[GatewayServices, EmbeddedSim | None]:
    """Keys, database and services; dev also starts the simulator as the exchange."""
    if settings.is_dev:
        make_data_dir(settings.data_dir)
    ring = load_ring(settings)
    pepper = load_pepper(settings)
    db = await open_store(settings)
    sim = None
    if settings.is_dev and not settings.exchange_url:
        sim = await EmbeddedSim.start(state_file=settings.data_dir / SIM_STATE_FILE)
        hosts = sim.hosts
    else:  # prod, or dev against an external exchange (e.g. a `kcgateway sim` that outlives us)
        hosts = exchange_hosts(settings)
    services = build_services(settings, db, ring, pepper, hosts)
    if services.risk is not None:  # the halts and limits in force before the first order
        await services.risk.load()
    return services, sim


async def issue_admin_key(settings: Settings, tenant_name: str, owner: str) -> Secret:
    """An admin key for ``tenant_name`` (created if missing); how prod gets its first key."""
    pepper = load_pepper(settings)
    db = await open_store(settings)
    try:
        keys = KeyService(db, pepper)
        now = datetime.now(UTC)
        async with db.write() as session:
            tenants = TenantRepository(session)
            tenant = await tenants.by_name(tenant_name)
            tenant_id = tenant.id if tenant else await tenants.add(tenant_name, now=now)
        full, _ = await keys.create(
            tenant_id=tenant_id, owner=owner, scopes=frozenset({Scope.ADMIN}), actor=Operator("cli")
        )
        return full
    finally:
        await db.aclose()


def listen_socket(host: str, port: int) -> socket.socket:
    """Bind the API's port before anything else starts, so a busy port fails first and cleanly.

    (Otherwise a second dev start would issue and print a new admin key, revoking the running
    gateway's, and only then fail to bind.)

    TCP_NODELAY is set here, on the listening socket, so every accepted connection inherits it
    (Linux): uvicorn writes a response's head and body separately, and without it Nagle held
    the body until the client's delayed ACK, about 40 ms on every request (bench_facade.py).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}): stop the process using it, "
            "or choose another port with --port or KCGW_PORT"
        ) from None
    return sock


async def serve(settings: Settings, echo: Callable[[str], None]) -> None:
    """Run the gateway (and the KuCoin facade's listeners when set) until SIGINT/SIGTERM.

    One per data directory (its lock names the PID): an existing data directory is locked
    before the ports are bound (a second serve is told who runs there); a new one is created
    only once the ports are ours.
    """
    data = settings.data_dir
    with ExitStack() as held:
        locked = data.is_dir()
        if locked:
            held.enter_context(hold_data_dir(data))
        sock = listen_socket(settings.host, settings.port)
        held.callback(sock.close)
        facade_socks: list[socket.socket | None] = []
        for port in (settings.kucoin_port, settings.kucoin_futures_port):
            facade = None if port is None else listen_socket(settings.host, port)
            if facade is not None:
                held.callback(facade.close)
            facade_socks.append(facade)
        if settings.is_dev and not locked:
            make_data_dir(data)
            held.enter_context(hold_data_dir(data))
        await _serve_on(sock, settings, echo, facade_socks)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging(
    environ: Mapping[str, str], stream: TextIO | None = None, level: int = logging.INFO
) -> Callable[[], None]:
    """Send kcgateway's own log records (reconciler, streams, adoption alerts) to ``stream``.

    Every handler, ours and uvicorn's, gets the :class:`SecretMaskFilter` with the secrets read
    from the environment (KEK, Vault token, database password) registered: the second line of
    defence behind :class:`~kcgateway.secret.Secret`. Returns what undoes it (the handler and
    the level), so an in-process server leaves logging as it found it.
    """
    mask = SecretMaskFilter()
    register_environment(mask, environ)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(mask)
    root, gateway = logging.getLogger(), logging.getLogger("kcgateway")
    previous = gateway.level
    if previous == logging.NOTSET or previous > level:
        gateway.setLevel(level)
    root.addHandler(handler)
    for name in (None, *_UVICORN_LOGGERS):
        install(mask, logging.getLogger(name))

    def undo() -> None:
        root.removeHandler(handler)
        gateway.setLevel(previous)

    return undo


def settle_heap() -> None:
    """Hide what start-up built from the garbage collector's full collections.

    Why: a full (generation 2) collection walks every tracked object, and a started gateway
    holds some 190,000 of them (FastAPI, pydantic, SQLAlchemy, the app): measured 40-95 ms with
    the event loop stopped, every time enough new objects have survived. Frozen objects are
    never walked, so full collections cost what was allocated since. Call once, after start-up.
    """
    gc.collect()
    gc.freeze()


def server_config(app: FastAPI, settings: Settings) -> uvicorn.Config:
    """The uvicorn settings of the gateway, with uvicorn's own proxy-header handling off.

    Why: that handling is on by default and trusts loopback (``FORWARDED_ALLOW_IPS``), so it
    rewrote the client address from ``X-Forwarded-For`` before the gateway's rule ran, and a
    header sent from 127.0.0.1 passed any key's IP allow-list. The client address is decided
    by ``KCGW_TRUSTED_PROXIES`` alone (:func:`kcgateway.web.auth.caller_ip`): the socket peer,
    or the forwarded client when the peer is a listed proxy.
    """
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        lifespan="off",
        proxy_headers=False,
        forwarded_allow_ips=[],  # unused with proxy_headers off; never read from the environment
        # event streams (GET /v1/events) never end by themselves: without a bound, shutdown
        # would wait for every follower to hang up; they reconnect and resume by id
        timeout_graceful_shutdown=int(settings.exchange_timeout_s) + 5,
    )


def facade_server(
    services: GatewayServices, settings: Settings, *, futures: bool = False
) -> uvicorn.Server | None:
    """A KuCoin facade listener (spot host, or futures host), with /v1's proxy-header rule."""
    port = settings.kucoin_futures_port if futures else settings.kucoin_port
    if port is None or services.facade is None:
        return None
    app = create_facade_app(
        services.facade, trusted_proxies=settings.trusted_proxies, futures=futures
    )
    config = uvicorn.Config(
        app, host=settings.host, port=port, lifespan="off", proxy_headers=False,
        forwarded_allow_ips=[],
    )  # fmt: skip
    return uvicorn.Server(config)


async def _serve_on(
    sock: socket.socket,
    settings: Settings,
    echo: Callable[[str], None],
    facade_socks: Sequence[socket.socket | None] = (),
) -> None:
    services, sim = await prepare(settings)
    try:
        await services.join()  # register, take leases (a second instance on SQLite: refused)
        services.start()
        await services.risk_ready()  # the first order finds the symbol rules and tickers
        config = server_config(
            create_app(services, max_body_bytes=settings.max_body_bytes), settings
        )
        if sim is not None:
            key = await bootstrap_demo(settings, services, sim)
            echo("\n".join(banner(settings, key, sim)))
        else:
            echo(f"kcgateway {settings.mode.value} mode on http://{settings.host}:{settings.port}")
            echo("\n".join(host_lines(exchange_hosts(settings))))
            echo("create the first key with: kcgateway keys create-admin --tenant NAME")
            echo(f"web console: http://{settings.host}:{settings.port}/ui (sign in with a key)")
        undo_logging = configure_logging(os.environ)  # after uvicorn's: mask its handlers too
        settle_heap()
        servers = [uvicorn.Server(config).serve(sockets=[sock])]
        for futures, facade_sock in zip((False, True), facade_socks, strict=False):
            facade = facade_server(services, settings, futures=futures)
            if facade is not None and facade_sock is not None:
                host = "futures host" if futures else "spot host"
                echo(f"KuCoin facade ({host}) on http://{settings.host}:{facade.config.port}")
                servers.append(facade.serve(sockets=[facade_sock]))
        try:
            await asyncio.gather(*servers)
        finally:
            undo_logging()
    finally:
        await services.aclose()
        if sim is not None:
            await sim.aclose()


@dataclass
class AdminServices:
    """What the administration commands use: the gateway's services plus tenants and broker."""

    services: GatewayServices
    tenants: TenantService
    broker: BrokerService


@asynccontextmanager
async def admin_services(settings: Settings) -> AsyncIterator[AdminServices]:
    """The gateway's services on its database, for the CLI (the same code the HTTP API runs).

    No simulator is started: the exchange is ``settings.exchange_url`` (dev: unset unless
    KCGW_EXCHANGE_URL points at e.g. `kcgateway sim`).
    """
    if settings.is_dev:
        make_data_dir(settings.data_dir)
    ring = load_ring(settings)
    pepper = load_pepper(settings)
    db = await open_store(settings)
    hosts = exchange_hosts(settings)
    bus = change_bus(db)  # the CLI's changes reach the running instances at once
    services = build_services(settings, db, ring, pepper, hosts, bus=bus)
    broker_store = SqlBrokerStore(db)
    broker = BrokerService(
        db, BrokerVault(broker_store, ring), broker_store, on_change=broker_settings_changed(bus)
    )
    try:
        yield AdminServices(services, TenantService(db), broker)
    finally:
        await services.aclose()
