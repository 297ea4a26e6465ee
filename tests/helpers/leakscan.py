"""Leak scanner: find canary secrets, in any common encoding, in files, strings and bytes.

Seed every secret with a unique canary, run the code under test with DEBUG logging, then scan
everything it wrote (logs, stdout/stderr, database files and their WAL, dumps, HTTP responses)::

    scanner = LeakScanner({"secret": s, "passphrase": p})
    scanner.add_passphrase_hmac("passphrase_hmac", secret=s, passphrase=p)
    scanner.assert_clean(scanner.scan_paths([db_file, wal_file]) + scanner.scan_text(logs, "logs"))

Each canary is searched for as: raw UTF-8 bytes; standard and URL-safe base64, with and without
padding, and the base64 of the canary at byte offsets 0, 1 and 2 inside a larger blob (only the
characters that depend on the canary alone); lower- and upper-case hex; URL-encoded
(``quote`` and ``quote_plus``); JSON-escaped; UTF-16-LE. Derived secret-equivalents (the HMAC'd
passphrase KuCoin v2/v3 keys send) are added with :meth:`LeakScanner.add_passphrase_hmac` and are
then searched for in all the same forms.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

MIN_NEEDLE = 8


@dataclass(frozen=True)
class Hit:
    """One canary found somewhere. ``where`` names the source, ``offset`` the byte position."""

    canary: str
    form: str
    where: str
    offset: int

    def __str__(self) -> str:
        return f"{self.canary} ({self.form}) in {self.where} at byte {self.offset}"


def _b64_aligned(raw: bytes, offset: int, *, urlsafe: bool) -> str:
    """Characters of base64(prefix + raw) that depend on ``raw`` only (prefix of offset bytes)."""
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    text = encode(b"\0" * offset + raw).decode("ascii")
    first = -(-8 * offset // 6)  # ceil: first char whose 6 bits all come from raw
    last = 8 * (offset + len(raw)) // 6  # chars before this are fully determined by raw
    return text[first:last]


def _text_forms(value: str) -> dict[str, str | bytes]:
    return {
        "url": urllib.parse.quote(value, safe=""),
        "url-plus": urllib.parse.quote_plus(value, safe=""),
        "json": json.dumps(value)[1:-1],
        "utf16": value.encode("utf-16-le"),
    }


def forms(value: str | bytes) -> dict[str, bytes]:
    """Every encoded form of ``value`` that the scanner looks for (form name -> needle bytes).

    Binary values (keys) get the raw, base64 and hex forms; text values also get the URL,
    JSON and UTF-16 forms.
    """
    raw = value.encode() if isinstance(value, str) else value
    out: dict[str, str | bytes] = {
        "raw": raw,
        "base64": base64.b64encode(raw).decode(),
        "base64-nopad": base64.b64encode(raw).decode().rstrip("="),
        "base64url": base64.urlsafe_b64encode(raw).decode(),
        "base64url-nopad": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "hex": binascii.hexlify(raw).decode(),
        "HEX": binascii.hexlify(raw).decode().upper(),
    }
    if isinstance(value, str):
        out |= _text_forms(value)
    for offset in (0, 1, 2):
        out[f"base64@{offset}"] = _b64_aligned(raw, offset, urlsafe=False)
        out[f"base64url@{offset}"] = _b64_aligned(raw, offset, urlsafe=True)
    needles: dict[str, bytes] = {}
    for name, needle in out.items():
        data = needle.encode() if isinstance(needle, str) else needle
        if len(data) >= MIN_NEEDLE and data not in needles.values():
            needles[name] = data  # identical needles (e.g. url == url-plus) are searched once
    return needles


def passphrase_hmac(*, secret: str, passphrase: str) -> str:
    """``base64(HMAC-SHA256(secret, passphrase))``: what v2/v3 keys send as KC-API-PASSPHRASE."""
    digest = hmac.new(secret.encode(), passphrase.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class LeakScanner:
    """Searches data for a set of named canaries in all their forms."""

    def __init__(self, canaries: Mapping[str, str | bytes]) -> None:
        self._needles: dict[tuple[str, str], bytes] = {}
        for name, value in canaries.items():
            self.add(name, value)

    def add(self, name: str, value: str | bytes) -> None:
        """Add a canary (refuses ones too short to be unique)."""
        if len(value) < MIN_NEEDLE:
            raise ValueError(f"canary {name} is shorter than {MIN_NEEDLE} characters")
        for form, needle in forms(value).items():
            self._needles[(name, form)] = needle

    def add_passphrase_hmac(self, name: str, *, secret: str, passphrase: str) -> None:
        """Add the HMAC'd passphrase (a secret-equivalent) as a canary of its own."""
        self.add(name, passphrase_hmac(secret=secret, passphrase=passphrase))

    @property
    def needle_count(self) -> int:
        """How many (canary, form) needles are searched for."""
        return len(self._needles)

    def scan_bytes(self, data: bytes, where: str) -> list[Hit]:
        """Every occurrence of every needle in ``data``."""
        hits = []
        for (name, form), needle in self._needles.items():
            start = data.find(needle)
            while start != -1:
                hits.append(Hit(name, form, where, start))
                start = data.find(needle, start + 1)
        return hits

    def scan_text(self, text: str, where: str) -> list[Hit]:
        """Scan a string (as UTF-8)."""
        return self.scan_bytes(text.encode("utf-8", "surrogatepass"), where)

    def scan_paths(self, paths: Iterable[Path]) -> list[Hit]:
        """Scan files; directories are walked. Missing paths are an error (nothing was scanned)."""
        hits: list[Hit] = []
        for path in paths:
            if path.is_dir():
                hits += self.scan_paths(sorted(p for p in path.rglob("*") if p.is_file()))
            else:
                hits += self.scan_bytes(path.read_bytes(), str(path))
        return hits

    @staticmethod
    def assert_clean(hits: list[Hit]) -> None:
        """Fail with the list of hits (names and forms only, never the canary values)."""
        if hits:
            listing = "\n".join(f"  {hit}" for hit in hits[:50])
            raise AssertionError(f"{len(hits)} canary leak(s):\n{listing}")
