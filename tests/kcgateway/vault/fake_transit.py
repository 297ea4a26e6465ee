"""An in-process fake of HashiCorp Vault's transit engine, enough for hvac's transit client.

Implements, under ``/v1/<mount>/``: ``keys/<name>`` (POST create, GET read),
``keys/<name>/rotate``, ``encrypt/<name>``, ``decrypt/<name>`` and ``rewrap/<name>``, with
versioned AES-256-GCM keys and ``vault:v<N>:<base64>`` ciphertexts like the real thing. Requests
must carry the configured ``X-Vault-Token``. Runs on a loopback port in a thread.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ROUTE = re.compile(
    r"^/v1/(?P<mount>[^/]+)/(?P<op>keys|encrypt|decrypt|rewrap)/(?P<name>[^/]+)(?P<rotate>/rotate)?$"
)


class FakeTransit:
    """State of the fake: keys[(mount, name)] = list of 32-byte versions; request log."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.keys: dict[tuple[str, str], list[bytes]] = {}
        self.calls: list[str] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeTransit:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # --- transit semantics -------------------------------------------------------------

    def encrypt(self, key: tuple[str, str], plaintext_b64: str, version: int | None = None) -> str:
        versions = self.keys[key]
        n = version or len(versions)
        nonce = os.urandom(12)
        ct = AESGCM(versions[n - 1]).encrypt(nonce, base64.b64decode(plaintext_b64), None)
        return f"vault:v{n}:{base64.b64encode(nonce + ct).decode()}"

    def decrypt(self, key: tuple[str, str], ciphertext: str) -> str:
        match = re.fullmatch(r"vault:v(\d+):(.+)", ciphertext)
        if not match or not 1 <= int(match[1]) <= len(self.keys[key]):
            raise ValueError("invalid ciphertext")
        raw = base64.b64decode(match[2])
        plain = AESGCM(self.keys[key][int(match[1]) - 1]).decrypt(raw[:12], raw[12:], None)
        return base64.b64encode(plain).decode()


class _Server(ThreadingHTTPServer):
    fake: FakeTransit


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    @property
    def fake(self) -> FakeTransit:
        return self.server.fake

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet

    def _reply(self, status: int, body: dict[str, Any] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[str, tuple[str, str], bool] | None:
        self.fake.calls.append(f"{self.command} {self.path}")
        if self.headers.get("X-Vault-Token") != self.fake.token:
            self._reply(403, {"errors": ["permission denied"]})
            return None
        match = ROUTE.match(self.path)
        if match is None:
            self._reply(404, {"errors": []})
            return None
        return match["op"], (match["mount"], match["name"]), bool(match["rotate"])

    def do_GET(self) -> None:
        routed = self._route()
        if routed is None:
            return
        op, key, _ = routed
        if op != "keys" or key not in self.fake.keys:
            self._reply(404, {"errors": []})
            return
        versions = {str(i + 1): 1700000000 for i in range(len(self.fake.keys[key]))}
        data = {"name": key[1], "type": "aes256-gcm96", "latest_version": len(versions)}
        self._reply(200, {"data": {**data, "keys": versions}})

    def do_POST(self) -> None:
        routed = self._route()
        if routed is None:
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        try:
            self._post(*routed, body)
        except (KeyError, ValueError, InvalidTag):
            self._reply(400, {"errors": ["cipher: message authentication failed"]})

    def _post(self, op: str, key: tuple[str, str], rotate: bool, body: dict[str, Any]) -> None:
        if op == "keys":
            if rotate:
                self.fake.keys[key].append(secrets.token_bytes(32))
            else:
                self.fake.keys.setdefault(key, [secrets.token_bytes(32)])
            self._reply(204)
        elif op == "encrypt":
            ct = self.fake.encrypt(key, body["plaintext"])
            self._reply(200, {"data": {"ciphertext": ct, "key_version": len(self.fake.keys[key])}})
        elif op == "decrypt":
            self._reply(200, {"data": {"plaintext": self.fake.decrypt(key, body["ciphertext"])}})
        else:  # rewrap
            plain = self.fake.decrypt(key, body["ciphertext"])
            self._reply(200, {"data": {"ciphertext": self.fake.encrypt(key, plain)}})
