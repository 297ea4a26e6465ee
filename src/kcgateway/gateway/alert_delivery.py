"""Alert webhooks in the Standard Webhooks format: the secret, the signature, the retry policy.

A delivery is one POST of a JSON body with three headers (https://www.standardwebhooks.com):

- ``webhook-id``: the delivery's id, the same on every attempt (a receiver drops repeats);
- ``webhook-timestamp``: the attempt's time in integer seconds since the Unix epoch;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``, where the
  key is the base64-decoded part of a ``whsec_<base64>`` secret.

Signing uses the ``standardwebhooks`` library (the format's reference implementation), so a
receiver that verifies with it, or with any other implementation of the format, agrees with us;
the tests also check the signature by hand. Everything here is pure apart from reading the
secret file (:func:`read_secret_file`), which the caller does at each delivery.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from standardwebhooks.webhooks import Webhook

from kcgateway.errors import ValidationError
from kcgateway.secret import Secret

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64
MAX_URL = 2000
_MAX_EXPONENT = 30


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


def check_url(url: str) -> str:
    """The URL when it is http(s) with a host and no user:password part; else InvalidWebhook."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL:
        raise InvalidWebhook(
            f"the webhook URL must be http(s)://host/... (at most {MAX_URL} characters)"
        )
    if parts.username or parts.password:
        raise InvalidWebhook(
            "the webhook URL must not carry user:password: the signature authenticates us"
        )
    return url


def shown_url(url: str) -> str:
    """The URL with its query string masked (hook URLs often carry a token there)."""
    parts = urlsplit(url)
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


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


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How often and how long a delivery is retried before it is dead (a dead letter).

    The delay after attempt ``n`` is ``min(cap, base * 2**(n-1))`` scaled by a factor in
    [0.5, 1] ("equal jitter"): it spreads retries after an outage yet never shrinks below half
    the step, so the delays grow. With the defaults (12 attempts, 10 s doubling, capped at 1 h)
    a delivery is dead about 1.7 to 3.4 hours after its first attempt: a receiver restarted or
    redeployed within that time misses nothing.
    """

    max_attempts: int = 12
    base: timedelta = timedelta(seconds=10)
    cap: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if not timedelta(0) < self.base <= self.cap:
            raise ValueError(f"need 0 < base <= cap, not {self.base}, {self.cap}")

    def delay(self, attempts: int, rand: float) -> timedelta:
        """The wait after the ``attempts``-th failed attempt; ``rand`` in [0, 1]."""
        if attempts < 1:
            raise ValueError(f"attempts is 1-based, not {attempts}")
        ceiling = min(self.cap, self.base * (1 << min(attempts - 1, _MAX_EXPONENT)))
        return ceiling * (0.5 + min(max(rand, 0.0), 1.0) / 2)

    def is_dead(self, attempts: int) -> bool:
        """True when ``attempts`` failed attempts are all this delivery gets."""
        return attempts >= self.max_attempts
