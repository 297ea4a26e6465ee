from __future__ import annotations

import base64
import logging
import secrets

import pytest

from kcgateway.vault.logfilter import SecretMaskFilter, install, register_environment


@pytest.fixture
def masked(caplog: pytest.LogCaptureFixture) -> SecretMaskFilter:
    mask = SecretMaskFilter()
    caplog.handler.addFilter(mask)
    caplog.set_level(logging.DEBUG)
    return mask


def test_registered_values_are_masked_in_messages_args_and_tracebacks(
    masked: SecretMaskFilter, caplog: pytest.LogCaptureFixture
) -> None:
    token = f"hvs.{secrets.token_urlsafe(24)}"
    masked.register(token)
    log = logging.getLogger("kcgateway.test")
    log.debug("token is %s", token)
    log.info(f"b64 {base64.b64encode(token.encode()).decode()} inline")
    try:
        raise RuntimeError(f"failed with {token}")
    except RuntimeError:
        log.exception("boom")
    assert token not in caplog.text
    assert base64.b64encode(token.encode()).decode() not in caplog.text
    assert caplog.text.count("***") >= 3
    assert "token is ***" in caplog.text and "boom" in caplog.text


def test_auth_header_values_are_masked_even_unregistered(
    masked: SecretMaskFilter, caplog: pytest.LogCaptureFixture
) -> None:
    sign, phrase = secrets.token_urlsafe(30), secrets.token_urlsafe(30)
    headers = {"KC-API-KEY": "visible-key", "KC-API-SIGN": sign, "KC-API-PASSPHRASE": phrase}
    logging.getLogger("kcgateway.http").debug("sending %r", headers)
    logging.getLogger("kcgateway.http").debug("X-Vault-Token: %s", phrase)
    logging.getLogger("kcgateway.http").debug("Authorization: Bearer %s", sign)
    assert sign not in caplog.text and phrase not in caplog.text
    assert "visible-key" in caplog.text  # the public key id is not a secret


def test_clean_records_pass_untouched_and_short_values_are_refused() -> None:
    mask = SecretMaskFilter()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    assert mask.filter(record) and record.getMessage() == "hello world"
    assert record.args == ("world",)
    with pytest.raises(ValueError, match="shorter"):
        mask.register("abc")


def test_install_attaches_to_every_handler_once() -> None:
    logger = logging.getLogger(f"kcgw.install.{secrets.token_hex(4)}")
    handlers = [logging.NullHandler(), logging.NullHandler()]
    for h in handlers:
        logger.addHandler(h)
    mask = SecretMaskFilter()
    install(mask, logger)
    install(mask, logger)
    assert all(h.filters == [mask] for h in handlers)


def test_secrets_from_the_environment_are_registered() -> None:
    kek, token, password = (secrets.token_urlsafe(20) for _ in range(3))
    env = {
        "KCGW_KEK": kek,
        "VAULT_TOKEN": token,
        "KCGW_DATABASE_URL": f"postgresql://kcgw:{password}@db:5432/kcgateway",
    }
    mask = SecretMaskFilter()
    assert register_environment(mask, env) == 3
    text = mask.mask(f"{kek} {token} url=postgresql://kcgw:{password}@db/x")
    assert kek not in text and token not in text and password not in text
    assert register_environment(SecretMaskFilter(), {"KCGW_DATABASE_URL": "sqlite:///x.db"}) == 0
    assert register_environment(SecretMaskFilter(), {"KCGW_DATABASE_URL": "http://[::1"}) == 0
