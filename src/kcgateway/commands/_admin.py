"""What the administration commands share: settings, the services, errors, secrets, tables.

Every command works on the gateway's database through the same services the HTTP API uses
(:func:`kcgateway.main.admin_services`). Exit codes: 0 done; 1 the request cannot be done (the
message says what to do); 2 usage (typer's own, for a bad option or argument).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from kcgateway.errors import ConfigError, KcgatewayError

if TYPE_CHECKING:
    from kcgateway.main import AdminServices

T = TypeVar("T")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file (default: $KCGW_CONFIG).")
]
TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant name (or id).")]


def _user_errors() -> tuple[type[BaseException], ...]:
    # every refusal (no such tenant, name taken, busy account, ...) is in the errors.py tree
    return (KcgatewayError,)


def _describe(exc: BaseException) -> str:
    from kcgateway.errors import AccountBusy, KeyRefused, NoSuchAccount, NoSuchKey, NoSuchObject

    if isinstance(exc, AccountBusy):
        return f"{exc} (--force)"
    if isinstance(exc, KeyRefused):
        return f"the exchange key was refused: {exc.reason}"
    if isinstance(exc, NoSuchAccount):
        return f"no account {exc.name!r} in this tenant: see `kcgateway accounts list`"
    if isinstance(exc, NoSuchKey):
        return f"no usable key {exc.name!r} in this tenant: see `kcgateway keys list`"
    if isinstance(exc, NoSuchObject) and not exc.name and not exc.hint:
        return f"no such {exc.kind} in this tenant"
    return str(exc) or type(exc).__name__


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr; the Exit(1) to raise."""
    typer.secho(f"error: {message}", err=True, fg="red")
    return typer.Exit(1)


def run(config: Path | None, work: Callable[[AdminServices], Awaitable[T]]) -> T:
    """Load the settings, open the services, run ``work``; user errors exit 1 with a message."""
    from kcgateway.main import admin_services
    from kcgateway.settings import load_settings

    async def main() -> T:
        settings = load_settings(config_file=config)
        async with admin_services(settings) as admin:
            return await work(admin)

    try:
        return asyncio.run(main())
    except _user_errors() as exc:
        raise fail(_describe(exc)) from None


def exchange_configured(config: Path | None) -> None:
    """Exit 1 unless the settings name an exchange to check keys with."""
    from kcgateway.settings import load_settings

    try:
        settings = load_settings(config_file=config)
    except KcgatewayError as exc:
        raise fail(str(exc)) from None
    if not settings.exchange_url:
        raise fail(
            "no exchange to check the key with: set KCGW_EXCHANGE_URL (https://api.kucoin.com, "
            "or a `kcgateway sim` URL for paper trading)"
        )


def stdin_is_tty() -> bool:
    """True on an interactive terminal (then secrets may be prompted for, hidden)."""
    return sys.stdin.isatty()


def read_secret(name: str, *, hidden: bool = True) -> str:
    """``$name``, else a (hidden) prompt on a terminal; never a command-line argument."""
    value = os.environ.get(name)
    if value:
        return value
    if not stdin_is_tty():
        raise ConfigError(
            f"{name} is not set: export it (secrets are never passed as arguments) or run in a "
            "terminal to be prompted"
        )
    answer: str = typer.prompt(name, hide_input=hidden)
    return answer


def when(value: datetime | None) -> str:
    """A timestamp for a table cell (UTC, to the second)."""
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print a rich table (plain text when stdout is not a terminal)."""
    grid = Table(title=title, title_justify="left")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*("-" if cell is None else str(cell) for cell in row))
    Console(width=200 if not sys.stdout.isatty() else None).print(grid)
