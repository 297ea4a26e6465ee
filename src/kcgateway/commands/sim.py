"""``kcgateway sim``: run the KuCoin-compatible simulator on loopback until Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Run the KuCoin-compatible exchange simulator.", invoke_without_command=True)


def _banner(spot: str, futures: str, account: dict[str, Any] | None) -> list[str]:
    lines = [
        f"spot + broker REST : {spot}",
        f"futures REST       : {futures}",
        f"control API        : {spot}/_sim/  (docs/simulator.md)",
    ]
    if account is not None:
        lines += [
            "test account (generated for this run; a simulator key, not a KuCoin key):",
            f"  uid        {account['uid']}",
            f"  apiKey     {account['apiKey']}",
            f"  secret     {account['secret']}",
            f"  passphrase {account['passphrase']}",
        ]
    lines.append("Ctrl-C to stop.")
    return lines


SAVE_EVERY_S = 60.0


async def _serve(
    host: str,
    spot_port: int,
    futures_port: int,
    seed: int | None,
    config: Any,
    *,
    state_file: Path | None = None,
) -> None:
    from aiohttp import web

    from kucoin_sim.accounts import create_account
    from kucoin_sim.app import build_apps
    from kucoin_sim.engine import AccountType
    from kucoin_sim.persist import keep_saving, load_state, save_state

    apps = build_apps(config, seed)
    restored = state_file is not None and load_state(apps.state, state_file)
    account = None
    if not config.accounts and not restored:
        balances = {"USDT": "100000", "BTC": "10", "ETH": "100"}
        account = create_account(apps.state, {"balances": balances}, apps.state.now_ms())
        apps.state.exchange.fund(account["uid"], AccountType.FUTURES, "USDT", Decimal(100000))
    runners = [
        web.AppRunner(apps.spot, access_log=None),
        web.AppRunner(apps.futures, access_log=None),
    ]
    try:
        for runner, port in zip(runners, (spot_port, futures_port), strict=True):
            await runner.setup()
            await web.TCPSite(runner, host, port).start()
        spot_url, futures_url = f"http://{host}:{spot_port}", f"http://{host}:{futures_port}"
        apps.state.spot_base_url, apps.state.futures_base_url = spot_url, futures_url
        typer.echo("\n".join(_banner(spot_url, futures_url, account)))
        if restored:
            typer.echo(f"state restored from {state_file} (its accounts and keys are kept)")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        saver = None
        if state_file is not None:
            saver = loop.create_task(keep_saving(apps.state, state_file, SAVE_EVERY_S))
        await stop.wait()
        if saver is not None:
            saver.cancel()
        typer.echo("simulator stopped")
    finally:
        for runner in runners:
            await runner.cleanup()
        if state_file is not None:
            save_state(apps.state, state_file)


@app.callback()
def sim(
    ctx: typer.Context,
    *,
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    spot_port: Annotated[int, typer.Option(help="Spot + broker REST port.")] = 8130,
    futures_port: Annotated[int, typer.Option(help="Futures REST port.")] = 8131,
    seed: Annotated[int | None, typer.Option(help="Seed for prices, ids and faults.")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML or JSON config file.")] = None,
    state_file: Annotated[
        Path | None,
        typer.Option(help="Keep the state (orders, balances, keys) in this file across restarts."),
    ] = None,
) -> None:
    """Start the simulator and print its base URLs (and a generated test account)."""
    if ctx.invoked_subcommand is not None:
        return
    from kucoin_sim.config import SimConfig, SimConfigError, load_config

    try:
        cfg = load_config(config) if config is not None else SimConfig()
    except SimConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    from kucoin_sim.persist import StateFileError

    try:
        asyncio.run(_serve(host, spot_port, futures_port, seed, cfg, state_file=state_file))
    except StateFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except KeyboardInterrupt:
        typer.echo("simulator stopped")
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}: {exc.strerror}; pick other ports", err=True)
        raise typer.Exit(1) from exc


@app.command()
def scenario(
    file: Annotated[Path, typer.Argument(help="Scenario script (.toml or .json).")],
    url: Annotated[
        str, typer.Option(help="Spot URL of a running simulator (kcgateway sim).")
    ] = "http://127.0.0.1:8130",
    speed: Annotated[
        str | None, typer.Option(help="Override the script's speed (0 = as fast as possible).")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the end and print the report.")] = True,
) -> None:
    """Play a scenario script on a running simulator (docs/simulator.md, Scenarios)."""
    import json
    import urllib.error
    import urllib.request

    from kucoin_sim.scenario import ScenarioError, parse, read

    try:
        document = read(file)
        if speed is not None:
            document["speed"] = speed
        parse(document)  # refuse a bad script here, with the step and field it names
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    target = f"{url.rstrip('/')}/_sim/scenario" + ("?wait=true" if wait else "")
    request = urllib.request.Request(  # noqa: S310 (a loopback simulator URL given by the user)
        target, data=json.dumps(document).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310
            report = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        typer.echo(f"error: the simulator refused the scenario: {exc.read().decode()}", err=True)
        raise typer.Exit(1) from exc
    except urllib.error.URLError as exc:
        typer.echo(f"error: no simulator at {url} ({exc.reason}); start one with kcgateway sim",
                   err=True)  # fmt: skip
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(report, indent=2))
    if report.get("status") not in ("done", "running"):
        raise typer.Exit(1)
