"""Only the vault's envelope and signer may decrypt, unwrap or reveal a secret.

An AST walk over every module in src/: any call of a method or function named in ``FORBIDDEN``
(and any ``getattr(x, "<forbidden name>")``) outside ``ALLOWED`` fails the build.

Allowed, and why:
- vault/envelope.py: the envelope itself. ``seal`` reveals the plaintext once to encrypt it;
  ``unwrap_dek``/``open_fields`` are the decryptors (AES-GCM ``decrypt``).
- vault/signer.py: the one caller of ``unwrap_dek`` and ``open_fields``; it hands the result
  straight to ``sign_request`` and returns headers.
- vault/kek.py: ``LocalKek.unwrap`` decrypts a *data key* with the KEK (AES-GCM ``decrypt``).
- vault/transit.py: ``TransitKek.unwrap`` asks Vault to decrypt a *data key*
  (``decrypt_data``), and ``reveal`` of the Vault token to hand it to hvac.
- kucoin/signing.py: the pure signer needs the raw secret bytes for HMAC; it receives
  ``Credentials`` built by vault/signer.py and returns headers.
- kucoin/sign_diagnosis.py: ``kcgateway debug sign --explain`` recomputes signatures from the
  credentials the user typed into that command (environment or hidden prompt); it prints only
  headers and findings, never the secret (tested in tests/kcgateway/commands/test_debug.py).
- gateway/apikeys.py: the gateway-key pepper and the secret part of a presented gateway key
  are HMAC'd for lookup; neither is an exchange credential and neither is returned.
- exchange/services/broker.py: the passphrase of a NEW broker sub-account key is sent to
  KuCoin in the body of the call that creates that key.
- main.py, web/admin.py, commands/keys.py: a newly issued gateway key is shown to its owner
  exactly once (the dev start-up banner, the POST /v1/keys response, `kcgateway keys
  create-admin`).
- vault/webhook.py: the alert webhook's ``whsec_`` secret, read from its 0600 file to sign a
  delivery (it returns the Standard Webhooks headers) and written there when it is set.
- commands/alerts.py: ``alerts webhook set --generate`` shows the new webhook secret to the
  operator exactly once, to paste into the receiver (as a new gateway key is shown once).
- vault/signal_secrets.py: a signal bot's sealed secret is unwrapped and decrypted for one
  check (Standard Webhooks signature, or a body secret compared in constant time); it returns
  True/False, never the secret.
- web/bots.py, commands/bots.py: a new bot's signal secret (and TradingView URL token) is shown
  to its owner exactly once (POST /v1/bots, rotate-secret, `kcgateway bots create/rotate-secret`).
- vault/facade.py: the KuCoin facade's verifier, the one caller besides the signer of
  ``unwrap_dek`` and ``open_fields``: it opens a gateway-issued facade secret (never an exchange
  secret) to recompute one request's signature and answers valid or a KuCoin code.
- web/facade_keys.py: newly issued facade credentials are shown to their owner exactly once
  (``POST /v1/keys/{id}/kucoin-credentials``), and commands/keys.py likewise on the CLI.
- exchange/oauth.py: a Fast API OAuth access token goes into the ``Authorization`` header of
  the one key-creation call it exists for (as KuCoin requires); tokens are dropped right after.
- web/console/actions.py: a key created or rotated from the console is shown to its owner once
  on that page (as POST /v1/keys shows it).
- web/console/signin.py: the console session token is set once, as the HttpOnly cookie of the
  sign-in answer (only its SHA-256 is stored).
- exchange/ws.py: the WebSocket bullet token goes into the connect URL's query, as KuCoin
  requires; it is not an exchange credential, lives 24 h, and the URL is never logged.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src"
FORBIDDEN = {
    "decrypt",
    "decrypt_data",
    "unwrap",
    "unwrap_dek",
    "open_fields",
    "reveal",
    "rewrap_dek",
}
ALLOWED = {
    "kcgateway/vault/envelope.py": {"decrypt", "reveal", "unwrap", "unwrap_dek"},
    "kcgateway/vault/signer.py": {"unwrap_dek", "open_fields"},
    "kcgateway/vault/facade.py": {"unwrap_dek", "open_fields"},
    "kcgateway/web/facade_keys.py": {"reveal"},  # new facade credentials, shown once
    "kcgateway/vault/kek.py": {"decrypt"},
    "kcgateway/vault/transit.py": {"reveal", "decrypt_data"},
    "kcgateway/vault/rotation.py": {"rewrap_dek"},  # rewraps a DEK; never opens a field
    "kcgateway/kucoin/signing.py": {"reveal"},
    "kcgateway/kucoin/sign_diagnosis.py": {"reveal"},
    "kcgateway/gateway/apikeys.py": {"reveal"},
    "kcgateway/exchange/services/broker.py": {"reveal"},
    # a freshly issued gateway key, shown to its owner exactly once (banner, POST /v1/keys)
    "kcgateway/main.py": {"reveal"},  # the pepper, into the OAuth state key it derives
    "kcgateway/devmode.py": {"reveal"},  # the dev admin key in the first start's banner
    "kcgateway/web/admin.py": {"reveal"},
    "kcgateway/commands/keys.py": {"reveal"},
    "kcgateway/exchange/ws.py": {"reveal"},
    "kcgateway/exchange/oauth.py": {"reveal"},  # an OAuth access token, into its one call
    "kcgateway/web/console/actions.py": {"reveal"},  # a new key, shown once on its page
    "kcgateway/web/console/signin.py": {"reveal"},  # the session token, into its cookie
    "kcgateway/commands/console.py": {"reveal"},  # a one-time sign-in link, printed once
    "kcgateway/vault/webhook.py": {"reveal"},
    "kcgateway/commands/alerts.py": {"reveal"},  # a generated webhook secret, shown once
    "kcgateway/vault/signal_secrets.py": {"reveal", "unwrap", "decrypt"},
    "kcgateway/web/bots.py": {"reveal"},  # a new bot secret / URL token, shown once
    "kcgateway/commands/bots.py": {"reveal"},  # the same at the command line
}


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        if func.id == "getattr" and len(node.args) >= 2:
            arg = node.args[1]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                return arg.value
        return func.id
    return None


def _string_names(tree: ast.AST) -> set[str]:
    """Forbidden names passed as strings to a dispatcher (``self._call("decrypt_data")``)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for arg in node.args:
                if isinstance(arg, ast.Constant) and arg.value in FORBIDDEN:
                    found.add(str(arg.value))
    return found


def forbidden_calls(source: str) -> set[str]:
    """Names from FORBIDDEN that ``source`` calls (directly, via getattr, or by string)."""
    tree = ast.parse(source)
    names = {_called_name(n) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return (names & FORBIDDEN) | _string_names(tree)


def test_only_the_vault_decrypts() -> None:
    offenders = {}
    seen = set()
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        calls = forbidden_calls(path.read_text())
        extra = calls - ALLOWED.get(rel, set())
        if extra:
            offenders[rel] = sorted(extra)
        if calls:
            seen.add(rel)
    assert offenders == {}, f"only the vault may decrypt or reveal secrets: {offenders}"
    assert {"kcgateway/vault/signer.py", "kcgateway/vault/envelope.py"} <= seen


def test_transit_decrypt_goes_through_its_dispatcher() -> None:
    text = (SRC / "kcgateway/vault/transit.py").read_text()
    assert forbidden_calls(text) == {"reveal", "decrypt_data"}


def test_the_checker_catches_each_way_of_calling() -> None:
    assert forbidden_calls("creds.secret.reveal()") == {"reveal"}
    assert forbidden_calls("getattr(x, 'reveal')()") == {"reveal"}
    assert forbidden_calls("aes.decrypt(n, c, a)") == {"decrypt"}
    assert forbidden_calls(
        "from kcgateway.vault.envelope import open_fields\nopen_fields(r, k, n)"
    ) == {"open_fields"}
    assert forbidden_calls("client._call('decrypt_data', name='k')") == {"decrypt_data"}
    assert forbidden_calls("print(secret)") == set()
