"""``kcgateway debug``: aids for debugging KuCoin requests by hand.

``kcgateway debug sign`` prints the prehash and every KC-API-* header for one request, so a user
can compare them with what their own client sends; with ``--explain`` it reads the headers the
user sent (``Name: value`` lines on stdin) and says which part differs and why.

Credentials come from the environment (``KUCOIN_API_KEY``, ``KUCOIN_API_SECRET``,
``KUCOIN_API_PASSPHRASE``; broker: ``KUCOIN_BROKER_PARTNER``, ``KUCOIN_BROKER_NAME``,
``KUCOIN_BROKER_KEY``) or from a hidden prompt on a terminal; never from the command line, where
they would land in the shell history and the process list. The secret, the passphrase and the
broker key are never printed (a v1 key's passphrase header *is* the passphrase: it is masked).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from kcgateway.clock import SystemClock
from kcgateway.errors import ConfigError
from kcgateway.kucoin.sign_diagnosis import (
    Finding,
    Status,
    decoded_path,
    diagnose,
    parse_header_lines,
)
from kcgateway.kucoin.signing import BrokerCredentials, Credentials, prehash, sign_request
from kcgateway.secret import MASK, Secret

app = typer.Typer(help="Debugging aids for KuCoin requests.", no_args_is_help=True)

_BROKER_VARS = ("KUCOIN_BROKER_PARTNER", "KUCOIN_BROKER_NAME", "KUCOIN_BROKER_KEY")


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def _read_setting(name: str, *, hidden: bool) -> str:
    value = os.environ.get(name)
    if value:
        return value
    if not _stdin_is_tty():
        raise ConfigError(
            f"{name} is not set: export it (never pass secrets as arguments) "
            "or run in a terminal to be prompted"
        )
    answer: str = typer.prompt(name, hide_input=hidden)
    return answer


def _credentials(key_version: int) -> Credentials:
    return Credentials(
        _read_setting("KUCOIN_API_KEY", hidden=False),
        Secret(_read_setting("KUCOIN_API_SECRET", hidden=True)),
        Secret(_read_setting("KUCOIN_API_PASSPHRASE", hidden=True)),
        key_version=key_version,
    )


def _broker() -> BrokerCredentials | None:
    partner, name, key = (os.environ.get(var, "") for var in _BROKER_VARS)
    if not (partner or name or key):
        return None
    if not (partner and name and key):
        raise ConfigError("set all three of " + ", ".join(_BROKER_VARS) + " (or none)")
    return BrokerCredentials(partner, name, Secret(key))


def _print_request(
    creds: Credentials,
    broker: BrokerCredentials | None,
    *,
    method: str,
    path: str,
    body: bytes,
    timestamp: int,
) -> None:
    signed_path = decoded_path(path)
    if signed_path != path:
        typer.echo(f"Note: the query is signed decoded: {signed_path}")
    pre = prehash(timestamp_ms=timestamp, method=method, path=signed_path, body=body)
    typer.echo(f"Prehash: {pre.decode(errors='replace')}")
    headers = sign_request(
        creds, method=method, path=signed_path, body=body, timestamp_ms=timestamp, broker=broker
    )
    if creds.key_version == 1:
        headers["KC-API-PASSPHRASE"] = f"{MASK} (v1 key: the plain passphrase, not shown)"
    for name, value in headers.items():
        typer.echo(f"{name}: {value}")
    if body:
        typer.echo("Content-Type: application/json")


def _print_findings(findings: list[Finding]) -> None:
    typer.echo("")
    for finding in findings:
        typer.echo(f"{finding.status.value:<4}  {finding.part}: {finding.message}")


def _read_pasted_headers() -> dict[str, str]:
    if _stdin_is_tty():
        typer.echo("Paste the headers you sent (Name: value), then Ctrl-D:", err=True)
    headers = parse_header_lines(sys.stdin.read())
    if not headers:
        raise ConfigError("--explain reads the headers you sent from stdin: none were given")
    return headers


@app.command("sign")
def sign(
    *,
    method: Annotated[str, typer.Option(help="HTTP method, e.g. GET or POST.")],
    path: Annotated[str, typer.Option(help="Path from /api/ with the query, no host.")],
    body: Annotated[str, typer.Option(help="Exact request body (JSON) as sent.")] = "",
    timestamp: Annotated[
        int | None, typer.Option(help="Milliseconds since the epoch; default: now.")
    ] = None,
    key_version: Annotated[int, typer.Option(help="API key version: 1, 2 or 3.")] = 3,
    explain: Annotated[
        bool, typer.Option(help="Read the headers you sent on stdin and say what differs.")
    ] = False,
) -> None:
    """Print the prehash and every KC-API-* header for one request.

    With --explain, paste the headers you sent on stdin: the right headers are printed for the
    timestamp you sent, then one verdict per header (exit status 1 when something differs);
    --timestamp is then the reference time for the 5 s clock check (default: now).
    """
    try:
        if key_version not in (1, 2, 3):
            raise ConfigError(f"--key-version must be 1, 2 or 3, not {key_version}")
        creds = _credentials(key_version)
        broker = _broker()
        sent = _read_pasted_headers() if explain else None
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    now = SystemClock().now_ms() if timestamp is None else timestamp
    raw_body = body.encode()
    if sent is None:
        _print_request(creds, broker, method=method, path=path, body=raw_body, timestamp=now)
        return
    # Show the right headers for the timestamp that was sent, so they compare line by line;
    # --timestamp (default: now) is then the reference time for the clock check.
    sent_ts = sent.get("KC-API-TIMESTAMP", "")
    signed_at = int(sent_ts) if sent_ts.isdigit() else now
    _print_request(creds, broker, method=method, path=path, body=raw_body, timestamp=signed_at)
    findings = diagnose(
        creds, method=method, path=path, body=raw_body, sent=sent, now_ms=now, broker=broker
    )
    _print_findings(findings)
    if any(finding.status is Status.DIFF for finding in findings):
        raise typer.Exit(1)
