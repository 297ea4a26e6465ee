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

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from kcgateway.vault.webhook import InvalidWebhook

MAX_URL = 2000
_MAX_EXPONENT = 30


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
