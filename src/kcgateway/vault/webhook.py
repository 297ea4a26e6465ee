"""The alert webhook's signing secret: the only code that reads it in clear.

Standard Webhooks (https://www.standardwebhooks.com) signs each delivery with a ``whsec_``
secret the operator shares with the receiver. The secret lives in a 0600 file outside the
database; like every other secret, only the vault opens it, and it hands out signed headers,
never the secret (the one exception: ``kcgateway alerts webhook set --generate`` shows a new
secret once, as a new gateway key is shown once). Signing uses the ``standardwebhooks``
library, the format's reference implementation.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

from standardwebhooks.webhooks import Webhook

from kcgateway.errors import ValidationError
from kcgateway.secret import Secret

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret  # pragma: allowlist secret
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64


class InvalidWebhook(ValidationError, ValueError):
    """A webhook URL, secret or secret file is unusable; the message says what to fix."""


def check_secret(secret: Secret) -> None:
    """Refuse a secret that is not ``whsec_`` + base64 of 24 to 64 bytes (never echoing it)."""
    text = secret.reveal()
    if not text.startswith(SECRET_PREFIX):
        raise InvalidWebhook(
            "the webhook secret must look like whsec_<base64 of 24-64 random bytes>: make one "
            "with `kcgateway alerts webhook set --generate` or give your receiver's secret"
        )
    try:
        key = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidWebhook(
            "the webhook secret after whsec_ is not valid base64: copy it again"
        ) from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise InvalidWebhook(
            f"the webhook secret decodes to {len(key)} bytes; it needs {MIN_KEY_BYTES} to "
            f"{MAX_KEY_BYTES}: make a longer one"
        )


def new_secret() -> Secret:
    """A fresh ``whsec_`` secret of 32 random bytes."""
    return Secret(SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode("ascii"))


def write_secret_file(path: Path, secret: Secret) -> None:
    """Write ``secret`` to ``path`` as a 0600 file (replacing it atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_name(path.name + ".tmp")
    temp.unlink(missing_ok=True)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret.reveal() + "\n")
    os.replace(temp, path)


def read_secret_file(path: Path) -> Secret:
    """The secret in ``path``; InvalidWebhook when missing, readable by others or malformed."""
    try:
        mode = path.stat().st_mode
    except OSError:
        raise InvalidWebhook(
            f"the webhook secret file {path} is missing: run `kcgateway alerts webhook set`"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidWebhook(f"the webhook secret file {path} is readable by others: chmod 600")
    secret = Secret(path.read_text(encoding="utf-8").strip())
    check_secret(secret)
    return secret


def signed_headers(secret: Secret, msg_id: str, at: datetime, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers (plus Content-Type) for one attempt at ``at``."""
    utc = at.astimezone(UTC)  # the library reads the wall time as UTC whatever the zone
    signature = Webhook(secret.reveal()).sign(msg_id, utc, body.decode("utf-8"))
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(math.floor(utc.timestamp())),
        "webhook-signature": signature,
    }
