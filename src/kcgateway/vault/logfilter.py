"""A logging filter that masks secrets: the second line of defence behind :class:`Secret`.

It rewrites each record's message (after %-formatting) and its formatted traceback, replacing

- every registered value (a Vault token, a database password, a KEK given in the environment)
  and its base64 form, and
- the value of any KuCoin or Vault auth header that appears as ``'KC-API-SIGN': '...'`` or
  ``KC-API-PASSPHRASE=...`` (``KC-API-SIGN``, ``KC-API-PASSPHRASE``, ``KC-API-PARTNER-SIGN``,
  ``X-Vault-Token``, ``Authorization``),

with ``***``. Attach it to handlers (:func:`install`), since a filter on a logger does not see
records propagated from child loggers; :func:`register_environment` registers the KEK, the
Vault token and the database password read from the environment. Decrypted credentials are
never registered: the signer never keeps them, so there is nothing to register.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import threading
import urllib.parse
from collections.abc import Mapping

MASK = "***"
MIN_LENGTH = 6
_HEADER = re.compile(
    r"""(?ix)
    (?P<name>kc-api-sign|kc-api-passphrase|kc-api-partner-sign|x-vault-token|authorization)
    (?P<sep>['"]?\s*[:=]\s*['"]?)
    (?P<value>[^'",\s}]+(?:\ [^'",\s}]+)?)
    """
)


class SecretMaskFilter(logging.Filter):
    """Masks registered values and auth header values in every record it sees."""

    def __init__(self) -> None:
        super().__init__()
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def register(self, value: str) -> None:
        """Mask ``value`` (and its base64 forms) from now on. Short values are refused."""
        if len(value) < MIN_LENGTH:
            raise ValueError(f"refusing to mask a value shorter than {MIN_LENGTH} characters")
        raw = value.encode()
        with self._lock:
            self._values |= {
                value,
                base64.b64encode(raw).decode("ascii"),
                base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="),
            }

    def mask(self, text: str) -> str:
        """``text`` with every registered value and auth header value replaced by ``***``."""
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        return _HEADER.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


SECRET_ENV_VARS = ("KCGW_KEK", "VAULT_TOKEN")
URL_ENV_VARS = ("KCGW_DATABASE_URL",)


def register_environment(mask_filter: SecretMaskFilter, environ: Mapping[str, str]) -> int:
    """Register the secrets kcgateway reads from the environment; returns how many."""
    values = [environ.get(var, "") for var in SECRET_ENV_VARS]
    for var in URL_ENV_VARS:
        with contextlib.suppress(ValueError):
            values.append(urllib.parse.urlsplit(environ.get(var, "")).password or "")
    found = [v for v in values if len(v) >= MIN_LENGTH]
    for value in found:
        mask_filter.register(value)
    return len(found)


def install(mask_filter: SecretMaskFilter, logger: logging.Logger | None = None) -> None:
    """Attach ``mask_filter`` to every handler of ``logger`` (default: the root logger)."""
    for handler in (logger or logging.getLogger()).handlers:
        if mask_filter not in handler.filters:
            handler.addFilter(mask_filter)
