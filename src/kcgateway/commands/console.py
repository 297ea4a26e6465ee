"""``kcgateway console``: the web console's one-time sign-in link.

``console login --key KEY_ID`` prints a URL that opens a console session for that gateway key
(its scopes, its IP allow-list) once, within 5 minutes, without the key itself being pasted
anywhere. The link's token is stored only as its SHA-256 and is spent at the first click.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from kcgateway.commands._admin import ConfigOption, run

if TYPE_CHECKING:
    from kcgateway.main import AdminServices
    from kcgateway.secret import Secret

app = typer.Typer(help="The web console (/ui).", no_args_is_help=True)
_WILDCARD = {"0.0.0.0", "::", ""}  # noqa: S104 - a listen address, printed as loopback


@app.command("login")
def login(
    key: Annotated[str, typer.Option("--key", help="The gateway key id (`kcgateway keys list`).")],
    base_url: Annotated[
        str | None,
        typer.Option(help="The console's address as the browser reaches it (default: host:port)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Print a one-time link that signs the browser in with key KEY (5 minutes, one use)."""
    from kcgateway.settings import load_settings

    if base_url is None:
        settings = load_settings(config_file=config)
        host = "127.0.0.1" if settings.host in _WILDCARD else settings.host
        base_url = f"http://{host}:{settings.port}"

    async def work(admin: AdminServices) -> Secret:
        sessions = admin.services.console
        if sessions is None:  # pragma: no cover - build_services always wires it
            raise typer.Exit(1)
        return await sessions.issue_link(key.strip())

    token = run(config, work)
    typer.echo(f"{base_url.rstrip('/')}/ui/login/link?t={token.reveal()}")
    typer.echo("open it within 5 minutes; it works once", err=True)
