"""``kcgateway serve``: run the gateway (dev: embedded database, KEK and simulator)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from kcgateway.errors import KcgatewayError

app = typer.Typer(help="Run the gateway HTTP API.", invoke_without_command=True)


@app.callback()
def serve(
    config: Annotated[
        Path | None, typer.Option(help="TOML settings file (default: $KCGW_CONFIG).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: $KCGW_PORT or 8140).")] = None,
    kucoin_port: Annotated[
        int | None,
        typer.Option(help="Also serve the KuCoin-compatible facade here ($KCGW_KUCOIN_PORT)."),
    ] = None,
    kucoin_futures_port: Annotated[
        int | None,
        typer.Option(help="The facade's KuCoin futures host ($KCGW_KUCOIN_FUTURES_PORT)."),
    ] = None,
    instance_id: Annotated[
        str | None,
        typer.Option(
            help="This instance's name among several on one database ($KCGW_INSTANCE_ID; "
            "default: the host name)."
        ),
    ] = None,
) -> None:
    """Start the gateway; in dev mode print a one-time admin key and a first curl order."""
    from kcgateway.main import serve as run
    from kcgateway.settings import load_settings

    try:
        settings = load_settings(config_file=config)
        if port is not None:
            settings = settings.model_copy(update={"port": port})
        for name, value in (
            ("kucoin_port", kucoin_port),
            ("kucoin_futures_port", kucoin_futures_port),
            ("instance_id", instance_id),
        ):
            if value is not None:
                settings = settings.model_copy(update={name: value})
        asyncio.run(run(settings, typer.echo))
    except KcgatewayError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("gateway stopped")
