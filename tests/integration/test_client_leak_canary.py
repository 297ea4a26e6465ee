"""Leak canary: the client run against kucoin_sim at DEBUG never shows a secret, in any form.

Canary secrets (account secret and passphrase, broker key, a sub-account passphrase, and the
sub-account secret the exchange hands back) are generated per run; logs, stdout/stderr,
exception texts and reprs are scanned for their raw, base64, hex and URL-encoded forms and for
the HMAC'd passphrase (a secret-equivalent). Scanner: tests/helpers/leakscan.py (vault branch).
"""

from __future__ import annotations

import logging
import secrets
from decimal import Decimal

import pytest

from kcgateway.errors import AuthError, KcgatewayError, OutcomeUnknown
from kcgateway.secret import Secret
from kucoin_sim.config import SimConfig
from tests.helpers.leakscan import LeakScanner
from tests.kucoin_sim.harness import running_sim

from .sim_client import client

D = Decimal


def _canary(tag: str) -> str:
    return f"canary{tag}{secrets.token_hex(12)}"


async def test_no_secret_in_logs_errors_or_reprs(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    secret, passphrase = _canary("S"), _canary("P")
    broker_key, sub_phrase = _canary("B"), _canary("Q")
    scanner = LeakScanner(
        {
            "secret": secret,
            "passphrase": passphrase,
            "broker_key": broker_key,
            "sub_passphrase": sub_phrase,
        }
    )
    scanner.add_passphrase_hmac("passphrase_hmac", secret=secret, passphrase=passphrase)
    texts: list[str] = []
    partner = {
        "partner": "CANARYPARTNER",
        "name": "CANARYBROKER",
        "key": broker_key,
        "secret": secret,
        "passphrase": passphrase,
        "balances": {"USDT": "5000"},
    }
    async with running_sim(SimConfig(tick_ms=0, partners=(partner,))) as sim:
        broker = next(a for a in sim.apps.created_accounts if a.get("partner"))
        assert (broker["secret"], broker["passphrase"]) == (secret, passphrase)  # canaries in use
        async with client(sim, broker, broker=broker) as kc:
            texts.append(repr(kc.__dict__))
            sub = await kc.broker.create_subaccount("canary-sub")
            key = await kc.broker.create_subaccount_key(
                sub.uid,
                passphrase=Secret(sub_phrase),
                permissions=["general", "spot"],
                label="canary",
            )
            scanner.add("sub_secret", key.secret_key.reveal())
            scanner.add_passphrase_hmac(
                "sub_passphrase_hmac", secret=key.secret_key.reveal(), passphrase=sub_phrase
            )
            texts += [repr(key), str(key)]
            await kc.spot.classic.place("BTC-USDT", "buy", price=D("60000"), size=D("0.001"))
            token = await kc.ws.private_token()
            texts.append(repr(token))
            await sim.admin(
                "POST",
                "/_sim/faults",
                {"kind": "lose_response", "pathPrefix": "/api/v1/orders", "method": "POST"},
            )
            with pytest.raises(OutcomeUnknown) as lost:
                await kc.spot.classic.place("BTC-USDT", "buy", price=D("60000"), size=D("0.001"))
            texts += _exception_texts(lost.value)
        wrong = {**broker, "passphrase": _canary("W")}
        scanner.add("wrong_passphrase", wrong["passphrase"])
        async with client(sim, wrong) as bad:
            with pytest.raises(AuthError) as refused:
                await bad.account.accounts()
            texts += _exception_texts(refused.value)
    out, err = capsys.readouterr()
    hits = scanner.scan_text(caplog.text, "logs") + scanner.scan_text(out + err, "stdio")
    hits += scanner.scan_text("\n".join(texts), "errors and reprs")
    assert caplog.text.count("kucoin request") >= 5  # the DEBUG request log really ran
    assert scanner.scan_text(f"x{secret.encode().hex()}x", "control")  # the scanner can see
    scanner.assert_clean(hits)


def _exception_texts(exc: KcgatewayError) -> list[str]:
    chain: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        chain += [str(current), repr(current), repr(vars(current))]
        current = current.__cause__ or current.__context__
    return chain
