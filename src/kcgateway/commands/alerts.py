"""``kcgateway alerts``: list alerts, configure the webhook they are delivered to, retry dead ones.

``alerts webhook set --url URL`` reads the signing secret (``whsec_<base64>``) from
``KCGW_ALERT_WEBHOOK_SECRET`` or a hidden prompt, never from the command line, and writes it to
a 0600 file (``--secret-file``, default ``<data dir>/alert-webhook.secret``); the database
keeps only the URL and that path. ``--generate`` makes a fresh secret and prints it once (give
it to the receiver); ``--keep-secret`` uses the file as it is (an operator-managed secret).
The running gateway delivers; these commands only read and change the database.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kcgateway.commands._admin import ConfigOption, fail, read_secret, run, table, when
from kcgateway.errors import ConfigError

if TYPE_CHECKING:
    from kcgateway.gateway.alerts import AlertService, AlertView, WebhookView
    from kcgateway.main import AdminServices

SECRET_ENV = "KCGW_ALERT_WEBHOOK_SECRET"  # noqa: S105 - the variable's name, not a secret  # pragma: allowlist secret
SECRET_FILE = "alert-webhook.secret"  # noqa: S105 - a file name  # pragma: allowlist secret

app = typer.Typer(help="Alerts and their webhook delivery.", no_args_is_help=True)
webhook_app = typer.Typer(help="The webhook alerts are delivered to.", no_args_is_help=True)
app.add_typer(webhook_app, name="webhook")


def _alerts(admin: AdminServices) -> AlertService:
    alerts = admin.services.alerts
    if alerts is None:  # pragma: no cover - main.build_services always wires it
        raise ConfigError("alerts are not enabled in this gateway")
    return alerts


def _describe(view: WebhookView) -> str:
    return (
        f"alerts are delivered to {view.url}, signed with the secret in {view.secret_path} "
        f"(set {when(view.updated_at)} UTC)"
    )


@webhook_app.command("set")
def webhook_set(
    url: Annotated[str, typer.Option(help="Where to POST alerts (http:// or https://).")],
    secret_file: Annotated[
        Path | None,
        typer.Option(
            help="0600 file holding the secret (default: <data dir>/" + SECRET_FILE + ")."
        ),
    ] = None,
    generate: Annotated[
        bool, typer.Option("--generate", help="Make a new secret and print it once.")
    ] = False,
    keep_secret: Annotated[
        bool, typer.Option("--keep-secret", help="Use the secret already in the file.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Deliver alerts to URL, signed (Standard Webhooks) with $KCGW_ALERT_WEBHOOK_SECRET."""
    from kcgateway.secret import Secret
    from kcgateway.settings import load_settings
    from kcgateway.vault.webhook import new_secret

    if generate and keep_secret:
        raise fail("choose one of --generate and --keep-secret")
    try:
        path = secret_file or load_settings(config_file=config).data_dir / SECRET_FILE
        secret = (
            None if keep_secret else new_secret() if generate else Secret(read_secret(SECRET_ENV))
        )
    except ConfigError as exc:
        raise fail(str(exc)) from None

    async def work(admin: AdminServices) -> WebhookView:
        from kcgateway.vault.webhook import InvalidWebhook

        try:
            return await _alerts(admin).set_webhook(url, path, secret, actor="cli")
        except InvalidWebhook as exc:  # the message says what to fix
            raise ConfigError(str(exc)) from None

    view = run(config, work)
    typer.echo(_describe(view))
    if generate and secret is not None:
        typer.echo("new signing secret (shown once; give it to the receiver):")
        typer.echo(f"  {secret.reveal()}")


@webhook_app.command("show")
def webhook_show(config: ConfigOption = None) -> None:
    """The webhook's URL (query masked) and secret file (never the secret); exit 1 if unset."""

    async def work(admin: AdminServices) -> WebhookView | None:
        return await _alerts(admin).webhook()

    view = run(config, work)
    if view is None:
        raise fail("no alert webhook: set one with `kcgateway alerts webhook set --url URL`")
    typer.echo(_describe(view))


@webhook_app.command("clear")
def webhook_clear(config: ConfigOption = None) -> None:
    """Stop delivering new alerts (they are still stored and listed)."""

    async def work(admin: AdminServices) -> bool:
        return await _alerts(admin).clear_webhook(actor="cli")

    if not run(config, work):
        raise fail("no alert webhook to clear")
    typer.echo("alert webhook cleared")


@app.command("list")
def list_(  # noqa: PLR0917 - typer passes options positionally
    state: Annotated[
        str | None, typer.Option(help="Delivery state: pending, delivered or dead.")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Only alerts of this kind.")] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            help="Only alerts raised since (UTC).", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines with the evidence.")] = False,
    config: ConfigOption = None,
) -> None:
    """Every tenant's and the gateway-wide alerts, newest first, with delivery state."""
    from datetime import UTC

    from kcgateway.gateway.alerts import AlertFilter, DeliveryState, alert_json

    try:
        wanted = None if state is None else DeliveryState(state)
    except ValueError:
        raise fail(f"unknown state {state!r}: use pending, delivered or dead") from None
    which = AlertFilter(
        kind=kind,
        since=None if since is None else since.replace(tzinfo=UTC),
        state=wanted,
        limit=limit,
    )

    async def work(admin: AdminServices) -> list[AlertView]:
        return await _alerts(admin).find(which)

    alerts = run(config, work)
    if as_json:
        for alert in alerts:
            typer.echo(json.dumps(alert_json(alert), sort_keys=True))
        return
    rows = [
        (
            when(a.created_at),
            a.kind,
            a.severity,
            a.tenant_id or "(gateway)",
            ", ".join(a.subjects),
            a.summary,
            _delivery_cell(a),
            a.id,
        )
        for a in alerts
    ]
    columns = ("raised", "kind", "severity", "tenant", "subjects", "summary", "delivery", "id")
    table(f"{len(rows)} alerts", columns, rows)


def _delivery_cell(alert: AlertView) -> str:
    delivery = alert.delivery
    if delivery is None:
        return "-"
    text = f"{delivery.state.value} ({delivery.attempts} attempts)"
    if delivery.next_attempt_at is not None:
        text += f", next {when(delivery.next_attempt_at)}"
    if delivery.last_error:
        text += f": {delivery.last_error}"
    return text


@app.command("retry")
def retry(
    alert: Annotated[
        list[str] | None, typer.Option("--alert", help="Only this alert id (repeatable).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Send dead deliveries again from attempt 1 (the running gateway delivers them)."""

    async def work(admin: AdminServices) -> int:
        return await _alerts(admin).retry_dead(alert or (), actor="cli")

    count = run(config, work)
    typer.echo(f"{count} dead deliveries requeued")
