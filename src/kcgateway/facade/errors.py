"""Exceptions to KuCoin error envelopes, in one table (the facade's twin of web/errors.py).

KuCoin answers ``{"code":"<code>","msg":"<text>"}`` with an HTTP status; clients key on the code
(ccxt maps 400005 to AuthenticationError, 400200 to InvalidOrder, 429000 to
RateLimitExceeded...). Choices where KuCoin has no exact counterpart, each marked [?] in
docs/facade.md:

- a risk denial is ``400200`` ("Forbidden to place an order", KuCoin's old-docs meaning, which
  ccxt raises as InvalidOrder: a bot does not retry it) with the risk sentence in ``msg``;
- an order the gateway does not know, or cannot cancel, is ``400100``
  ``order_not_exist_or_not_allow_to_cancel`` (KuCoin's own wording; ccxt: OrderNotFound);
- anything the exchange answered with its own code keeps that code, except its
  authentication codes, which would tell the bot its (gateway-issued) key is wrong: the
  account's real key is the operator's to fix, so that is ``500000``.

Messages never echo request input or a secret.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from kcgateway.errors import (
    AccessDenied,
    AccountUnusable,
    AuthError,
    ClientOidTaken,
    ConfigError,
    CredentialUnreadable,
    ExchangeError,
    FacadeRefused,
    KcgatewayError,
    NoSuchObject,
    NotCancellable,
    OutcomeUnknown,
    RateLimited,
    RiskRejected,
    ValidationError,
)

log = logging.getLogger("kcgateway.facade")
NOT_FOUND = "order_not_exist_or_not_allow_to_cancel"
OPERATOR = "the gateway cannot sign for its exchange account: ask the gateway's operator"

Row = tuple[type[Exception], Callable[[Any], tuple[int, str, str]]]


def _risk(exc: RiskRejected) -> tuple[int, str, str]:
    return 400, "400200", f"Forbidden to place an order: {exc.reason}"


def _exchange(exc: ExchangeError) -> tuple[int, str, str]:
    status = exc.http_status if exc.http_status and 400 <= exc.http_status < 600 else 400
    return status, exc.code, exc.message or type(exc).__name__


def _missing(exc: NoSuchObject) -> tuple[int, str, str]:
    if exc.kind == "order":
        return 400, "400100", NOT_FOUND
    return 400, "400100", f"no such {exc.kind}"


#: the first matching class wins, so subclasses come before their bases
TABLE: tuple[Row, ...] = (
    (FacadeRefused, lambda e: (e.http_status, e.kc_code, e.message)),
    (AccessDenied, lambda e: (403, "400007", "Access denied, require more permission.")),
    (ValidationError, lambda e: (400, "400100", e.message)),
    (RiskRejected, _risk),
    (NoSuchObject, _missing),
    (NotCancellable, lambda e: (400, "400100", NOT_FOUND)),
    (ClientOidTaken, lambda e: (400, "400100", "The clientOid already exists")),
    (OutcomeUnknown, lambda e: (500, "500000", "order outcome unknown: the gateway reconciles "
                                f"it; look it up by clientOid {e.client_oid}")),
    (AccountUnusable, lambda e: (500, "500000", OPERATOR)),
    (CredentialUnreadable, lambda e: (500, "500000", OPERATOR)),
    (ConfigError, lambda e: (500, "500000", OPERATOR)),
    (RateLimited, lambda e: (429, "429000", "Too Many Requests")),
    (AuthError, lambda e: (500, "500000", OPERATOR)),
    (ExchangeError, _exchange),
)  # fmt: skip


def envelope(code: str, msg: str) -> bytes:
    """KuCoin's error body."""
    return json.dumps({"code": code, "msg": msg}, separators=(",", ":")).encode()


def kucoin_error(exc: BaseException) -> tuple[int, str, str]:
    """(HTTP status, KuCoin code, message) for any exception; unknown ones are a logged 500000.

    Also what a batch order's ``failMsg`` says (the service is given this function).
    """
    for kind, shape in TABLE:
        if isinstance(exc, kind):
            return shape(exc)
    if isinstance(exc, KcgatewayError):
        log.info("facade request refused: %s", type(exc).__name__)
        return 400, "400100", "the gateway refused the request"
    log.exception("facade request failed", exc_info=exc)
    return 500, "500000", "Internal Server Error"


def describe(exc: BaseException) -> tuple[int, bytes]:
    """(HTTP status, KuCoin error body) for any exception."""
    status, code, msg = kucoin_error(exc)
    return status, envelope(code, msg)
