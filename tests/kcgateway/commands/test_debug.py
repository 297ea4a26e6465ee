from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

import pytest
from typer.testing import CliRunner

from kcgateway.cli import app
from kcgateway.commands import debug
from kcgateway.kucoin.signing import BrokerCredentials, Credentials, sign_request
from kcgateway.secret import Secret
from tests.helpers import leaksuite

TS = 1_700_000_000_000


@pytest.fixture
def env() -> dict[str, str]:
    values = {
        "KUCOIN_API_KEY": secrets.token_hex(4),
        "KUCOIN_API_SECRET": secrets.token_hex(16),
        "KUCOIN_API_PASSPHRASE": secrets.token_hex(6),
        "KUCOIN_BROKER_PARTNER": "",
        "KUCOIN_BROKER_NAME": "",
        "KUCOIN_BROKER_KEY": "",
    }
    # the suite-wide leak scan looks for them in all CLI output and logs; not the v2/v3
    # passphrase HMAC: `debug sign` prints that header on purpose, to compare with a client's
    leaksuite.register("KUCOIN_API_SECRET", values["KUCOIN_API_SECRET"])
    leaksuite.register("KUCOIN_API_PASSPHRASE", values["KUCOIN_API_PASSPHRASE"])
    return values


@pytest.fixture
def broker_env(env: dict[str, str]) -> dict[str, str]:
    key = secrets.token_hex(8)
    leaksuite.register("KUCOIN_BROKER_KEY", key)
    return env | {
        "KUCOIN_BROKER_PARTNER": "PARTNER",
        "KUCOIN_BROKER_NAME": "BROKER",
        "KUCOIN_BROKER_KEY": key,
    }


def _b64_hmac(key: str, msg: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), msg.encode(), hashlib.sha256).digest()).decode()


def _invoke(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["debug", "sign", *args], env=env, input=stdin)
    return result.exit_code, result.stdout, result.stderr


def _lines(out: str) -> dict[str, str]:
    pairs = (line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return dict(pairs)  # type: ignore[arg-type]


def _assert_no_secrets(env: dict[str, str], *outputs: str) -> None:
    for name in ("KUCOIN_API_SECRET", "KUCOIN_API_PASSPHRASE", "KUCOIN_BROKER_KEY"):
        if env[name]:
            for out in outputs:
                assert env[name] not in out, name


def test_prints_prehash_and_headers(env: dict[str, str]) -> None:
    body = '{"clientOid":"abc-1","side":"buy"}'
    code, out, err = _invoke(
        env, "--method", "post", "--path", "/api/v1/orders", "--body", body, "--timestamp", str(TS)
    )
    assert code == 0, err
    lines = _lines(out)
    prehash = f"{TS}POST/api/v1/orders{body}"
    assert lines["Prehash"] == prehash
    assert lines["KC-API-SIGN"] == _b64_hmac(env["KUCOIN_API_SECRET"], prehash)
    assert lines["KC-API-PASSPHRASE"] == _b64_hmac(
        env["KUCOIN_API_SECRET"], env["KUCOIN_API_PASSPHRASE"]
    )
    assert lines["KC-API-KEY"] == env["KUCOIN_API_KEY"]
    assert lines["KC-API-TIMESTAMP"] == str(TS)
    assert lines["KC-API-KEY-VERSION"] == "3"
    assert lines["Content-Type"] == "application/json"
    assert "PARTNER" not in out
    _assert_no_secrets(env, out, err)


def test_encoded_query_is_signed_decoded(env: dict[str, str]) -> None:
    path = "/api/v1/prices?base=USD&currencies=BTC%2CETH"
    code, out, _ = _invoke(env, "--method", "GET", "--path", path, "--timestamp", str(TS))
    assert code == 0
    lines = _lines(out)
    assert lines["Prehash"] == f"{TS}GET/api/v1/prices?base=USD&currencies=BTC,ETH"
    assert "signed decoded" in out
    assert "Content-Type" not in lines


def test_timestamp_defaults_to_now(env: dict[str, str]) -> None:
    code, out, _ = _invoke(env, "--method", "GET", "--path", "/api/v1/accounts")
    assert code == 0
    assert int(_lines(out)["KC-API-TIMESTAMP"]) > TS


def test_v1_key_masks_the_plain_passphrase(env: dict[str, str]) -> None:
    code, out, err = _invoke(
        env, "--method", "GET", "--path", "/api/v1/accounts", "--key-version", "1"
    )
    assert code == 0
    assert _lines(out)["KC-API-PASSPHRASE"].startswith("***")
    assert "KC-API-KEY-VERSION" not in out
    _assert_no_secrets(env, out, err)


def test_bad_key_version(env: dict[str, str]) -> None:
    code, _, err = _invoke(env, "--method", "GET", "--path", "/x", "--key-version", "4")
    assert code == 2
    assert "--key-version must be 1, 2 or 3" in err


def test_broker_headers_from_env(broker_env: dict[str, str]) -> None:
    code, out, err = _invoke(
        broker_env, "--method", "GET", "--path", "/api/v1/broker/nd/info", "--timestamp", str(TS)
    )
    assert code == 0
    lines = _lines(out)
    assert lines["KC-API-PARTNER"] == "PARTNER"
    assert lines["KC-BROKER-NAME"] == "BROKER"
    assert lines["KC-API-PARTNER-VERIFY"] == "true"
    msg = f"{TS}PARTNER{broker_env['KUCOIN_API_KEY']}"
    assert lines["KC-API-PARTNER-SIGN"] == _b64_hmac(broker_env["KUCOIN_BROKER_KEY"], msg)
    _assert_no_secrets(broker_env, out, err)


def test_partial_broker_settings_are_an_error(env: dict[str, str]) -> None:
    code, _, err = _invoke(env | {"KUCOIN_BROKER_PARTNER": "P"}, "--method", "GET", "--path", "/x")
    assert code == 2
    assert "KUCOIN_BROKER_KEY" in err


def test_missing_secret_without_terminal_is_a_clear_error(env: dict[str, str]) -> None:
    code, out, err = _invoke(env | {"KUCOIN_API_SECRET": ""}, "--method", "GET", "--path", "/x")
    assert code == 2
    assert "KUCOIN_API_SECRET is not set" in err
    assert out == ""


def test_secrets_are_never_taken_from_argv(env: dict[str, str]) -> None:
    code, _, err = _invoke(env, "--method", "GET", "--path", "/x", "--secret", "s")
    assert code == 2
    assert "No such option" in err


def test_hidden_prompt_on_a_terminal(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(debug, "_stdin_is_tty", lambda: True)
    secret, passphrase = env["KUCOIN_API_SECRET"], env["KUCOIN_API_PASSPHRASE"]
    prompted = env | {"KUCOIN_API_SECRET": "", "KUCOIN_API_PASSPHRASE": ""}
    code, out, err = _invoke(
        prompted,
        "--method", "GET", "--path", "/api/v1/accounts", "--timestamp", str(TS),
        stdin=f"{secret}\n{passphrase}\n",
    )  # fmt: skip
    assert code == 0, err
    assert "KUCOIN_API_SECRET:" in out  # the prompt is shown, the typed value is not echoed
    assert _lines(out)["KC-API-SIGN"] == _b64_hmac(secret, f"{TS}GET/api/v1/accounts")
    _assert_no_secrets(env, out, err)


def _sent_headers(env: dict[str, str], **changes: object) -> dict[str, str]:
    creds = Credentials(
        env["KUCOIN_API_KEY"],
        Secret(env["KUCOIN_API_SECRET"]),
        Secret(env["KUCOIN_API_PASSPHRASE"]),
    )
    broker = None
    if env["KUCOIN_BROKER_KEY"]:
        broker = BrokerCredentials(
            env["KUCOIN_BROKER_PARTNER"],
            env["KUCOIN_BROKER_NAME"],
            Secret(env["KUCOIN_BROKER_KEY"]),
        )
    args: dict[str, object] = {
        "method": "POST", "path": "/api/v1/orders", "body": b'{"a":"1"}', "timestamp_ms": TS
    }  # fmt: skip
    return sign_request(creds, broker=broker, **(args | changes))  # type: ignore[arg-type]


def _paste(headers: dict[str, str]) -> str:
    return "".join(f"{name}: {value}\n" for name, value in headers.items())


def test_explain_all_ok(broker_env: dict[str, str]) -> None:
    pasted = _paste(_sent_headers(broker_env))
    code, out, err = _invoke(
        broker_env,
        "--method", "POST", "--path", "/api/v1/orders", "--body", '{"a":"1"}',
        "--timestamp", str(TS + 100), "--explain",
        stdin=pasted,
    )  # fmt: skip
    assert code == 0, out + err
    assert "OK    KC-API-SIGN: matches" in out
    assert "OK    KC-API-PARTNER-SIGN: matches" in out
    assert "DIFF" not in out
    _assert_no_secrets(broker_env, out, err)


def test_explain_names_the_reserialised_body_and_the_clock(env: dict[str, str]) -> None:
    spaced = json.dumps({"a": "1"}).encode()
    pasted = _paste(_sent_headers(env, body=spaced))
    code, out, err = _invoke(
        env,
        "--method", "POST", "--path", "/api/v1/orders", "--body", '{"a":"1"}',
        "--timestamp", str(TS + 9_000), "--explain",
        stdin=pasted,
    )  # fmt: skip
    assert code == 1
    assert _lines(out)["KC-API-TIMESTAMP"] == str(TS)  # shown for the timestamp that was sent
    assert "DIFF  KC-API-SIGN: reproduced by signing the spaced JSON" in out
    assert "DIFF  KC-API-TIMESTAMP: 9.0 s behind" in out
    _assert_no_secrets(env, out, err)


def test_explain_plain_passphrase_is_not_echoed(env: dict[str, str]) -> None:
    sent = _sent_headers(env) | {"KC-API-PASSPHRASE": env["KUCOIN_API_PASSPHRASE"]}
    code, out, err = _invoke(
        env,
        "--method", "POST", "--path", "/api/v1/orders", "--body", '{"a":"1"}',
        "--timestamp", str(TS), "--explain",
        stdin=_paste(sent),
    )  # fmt: skip
    assert code == 1
    assert "DIFF  KC-API-PASSPHRASE: sent in plain text" in out
    _assert_no_secrets(env, out, err)


def test_explain_without_pasted_headers(env: dict[str, str]) -> None:
    code, _, err = _invoke(env, "--method", "GET", "--path", "/x", "--explain", stdin="\n")
    assert code == 2
    assert "stdin" in err


def test_explain_prompts_for_the_paste_on_a_terminal(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(debug, "_stdin_is_tty", lambda: True)
    code, _, err = _invoke(
        env, "--method", "POST", "--path", "/api/v1/orders", "--body", '{"a":"1"}',
        "--timestamp", str(TS), "--explain", stdin=_paste(_sent_headers(env)),
    )  # fmt: skip
    assert code == 0
    assert "Paste the headers" in err


def test_explain_with_no_timestamp_sent(env: dict[str, str]) -> None:
    sent = _sent_headers(env)
    del sent["KC-API-TIMESTAMP"]
    code, out, _ = _invoke(
        env, "--method", "POST", "--path", "/api/v1/orders", "--body", '{"a":"1"}',
        "--timestamp", str(TS + 5), "--explain", stdin=_paste(sent),
    )  # fmt: skip
    assert code == 1
    assert _lines(out)["KC-API-TIMESTAMP"] == str(TS + 5)
    assert "DIFF  KC-API-TIMESTAMP: missing" in out
