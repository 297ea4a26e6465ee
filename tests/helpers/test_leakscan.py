from __future__ import annotations

import base64
import binascii
import json
import secrets
import urllib.parse
from pathlib import Path

import pytest

from tests.helpers.leakscan import LeakScanner, forms, passphrase_hmac


def _canary() -> str:
    # characters that change under URL, JSON and base64 encodings
    return f"cnry/{secrets.token_hex(12)}+={secrets.token_urlsafe(6)}"


def _found(scanner: LeakScanner, blob: bytes) -> set[str]:
    return {hit.form for hit in scanner.scan_bytes(blob, "blob")}


@pytest.mark.parametrize(
    "encode",
    [
        lambda v: v.encode(),
        lambda v: base64.b64encode(v.encode()),
        lambda v: base64.b64encode(v.encode()).rstrip(b"="),
        lambda v: base64.urlsafe_b64encode(v.encode()).rstrip(b"="),
        lambda v: binascii.hexlify(v.encode()),
        lambda v: binascii.hexlify(v.encode()).upper(),
        lambda v: urllib.parse.quote(v, safe="").encode(),
        lambda v: urllib.parse.quote_plus(v).encode(),
        lambda v: json.dumps({"k": v}).encode(),
        lambda v: v.encode("utf-16-le"),
    ],
)
def test_each_whole_value_form_is_found(encode) -> None:  # type: ignore[no-untyped-def]
    value = _canary()
    scanner = LeakScanner({"c": value})
    assert scanner.scan_bytes(b"before " + encode(value) + b" after", "x")


@pytest.mark.parametrize("prefix_len", range(7))
@pytest.mark.parametrize("urlsafe", [False, True])
def test_canary_inside_a_larger_base64_blob_is_found(prefix_len: int, urlsafe: bool) -> None:
    value = _canary()
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    blob = encode(secrets.token_bytes(prefix_len) + value.encode() + secrets.token_bytes(5))
    found = _found(LeakScanner({"c": value}), blob)
    # the aligned needle for this offset finds it (reported under the first form with the
    # same bytes: standard and URL-safe base64 often coincide)
    assert {f for f in found if f.startswith("base64")}, found


def test_hmac_passphrase_is_a_canary_of_its_own() -> None:
    secret, passphrase = _canary(), _canary()
    scanner = LeakScanner({})
    scanner.add_passphrase_hmac("ph", secret=secret, passphrase=passphrase)
    header = passphrase_hmac(secret=secret, passphrase=passphrase)
    hits = scanner.scan_text(f"KC-API-PASSPHRASE: {header}", "log")
    assert [h.canary for h in hits] == ["ph"] * len(hits) and hits


def test_clean_data_has_no_hits_and_files_are_scanned(tmp_path: Path) -> None:
    value = _canary()
    scanner = LeakScanner({"c": value})
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "clean.bin").write_bytes(secrets.token_bytes(4096))
    assert scanner.scan_paths([tmp_path]) == []
    (tmp_path / "a" / "dirty.txt").write_text("x" + urllib.parse.quote(value, safe=""))
    hits = scanner.scan_paths([tmp_path])
    assert [h.form for h in hits] == ["url"]
    with pytest.raises(AssertionError, match=r"1 canary leak") as info:
        scanner.assert_clean(hits)
    assert value not in str(info.value)
    with pytest.raises(FileNotFoundError):
        scanner.scan_paths([tmp_path / "missing"])


def test_short_canaries_are_refused_and_forms_are_distinct() -> None:
    with pytest.raises(ValueError, match="shorter"):
        LeakScanner({"c": "abc"})
    value = _canary()
    found = forms(value)
    assert len(set(found.values())) == len(found) >= 8
    assert LeakScanner({"c": value}).needle_count == len(found)


def test_binary_canaries_are_found_raw_base64_and_hex() -> None:
    key = secrets.token_bytes(32)
    scanner = LeakScanner({"kek": key})
    assert scanner.scan_bytes(b"\x00" + key, "raw")
    assert scanner.scan_bytes(binascii.hexlify(key).upper(), "hex")
    assert scanner.scan_bytes(base64.b64encode(b"ab" + key), "b64@2")
    assert not scanner.scan_bytes(secrets.token_bytes(256), "noise")
