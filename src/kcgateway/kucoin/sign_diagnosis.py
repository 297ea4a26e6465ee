"""Explain why KuCoin rejected a signed request: compare the headers sent with the right ones. Pure.

KuCoin answers a bad signature with only "Invalid KC-API-SIGN" (400005), "Invalid
KC-API-PASSPHRASE" (400004) or "Invalid KC-API-TIMESTAMP" (400002). :func:`diagnose` takes the
request (method, path, body), the headers that were actually sent, the credentials and a
reference time, and returns one :class:`Finding` per header group saying whether it matches and,
when it does not, which usual mistake reproduces the header that was sent:

- the query was signed URL-encoded (``BTC%2CETH``) instead of decoded (``BTC,ETH``), or left out;
- the body was re-serialised (compact JSON signed, spaced JSON sent, or the reverse);
- the method was signed in lower case, or a GET carried a body in the prehash;
- the timestamp is in seconds, or the clock is more than 5 s off the reference time;
- the passphrase was sent plain with a v2/v3 key (or HMAC'd without a version header);
- the partner signature was made from a second clock read (python-kucoin) or another key.

Findings never contain a secret, a passphrase or a broker key; only values that are sent in
clear on the wire anyway (timestamps, the path, which header differs).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

from kcgateway.kucoin.signing import (
    BrokerCredentials,
    Credentials,
    partner_sign,
    passphrase_header,
)

MAX_SKEW_MS = 5_000
_SECONDS_BELOW = 10**11  # 10-digit epoch values are seconds (ms values have 13 digits)
_REQUIRED = ("KC-API-KEY", "KC-API-SIGN", "KC-API-TIMESTAMP", "KC-API-PASSPHRASE")


class Status(enum.Enum):
    """How a header compares: it matches, it is suspicious, or it is wrong."""

    OK = "OK"
    WARN = "WARN"
    DIFF = "DIFF"


@dataclass(frozen=True, slots=True)
class Finding:
    """One verdict: ``part`` is a header name (or a group such as ``"partner"``)."""

    part: str
    status: Status
    message: str


def decoded_path(path: str) -> str:
    """Return ``path`` with its query URL-decoded: the form KuCoin verifies the signature over."""
    base, sep, query = path.partition("?")
    return base + sep + unquote(query)


def parse_header_lines(text: str) -> dict[str, str]:
    """Parse pasted ``Name: value`` lines (curl ``-H`` quoting tolerated) into canonical names."""
    headers: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip().removeprefix("-H").strip().strip("'\"")
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers[_canonical(name.strip())] = value.strip()
    return headers


def _canonical(name: str) -> str:
    upper = name.upper()
    return upper if upper.startswith(("KC-", "X-")) else name


def diagnose(
    creds: Credentials,
    *,
    method: str,
    path: str,
    body: bytes,
    sent: Mapping[str, str],
    now_ms: int,
    broker: BrokerCredentials | None = None,
) -> list[Finding]:
    """Compare ``sent`` headers with what ``creds`` produce for this request."""
    sent = {_canonical(name): value for name, value in sent.items()}
    findings = [Finding(name, Status.DIFF, "missing") for name in _REQUIRED if name not in sent]
    findings += _check_key(creds, sent)
    timestamp = _parse_timestamp(sent.get("KC-API-TIMESTAMP"))
    findings += _check_timestamp(sent.get("KC-API-TIMESTAMP"), timestamp, now_ms)
    findings += _check_passphrase(creds, sent)
    if timestamp is not None and "KC-API-SIGN" in sent:
        request = _Request(method, path, body, timestamp)
        findings.append(_check_sign(creds, request, sent["KC-API-SIGN"]))
    findings += _check_partner(creds, broker, sent, timestamp)
    return findings


def _parse_timestamp(value: str | None) -> int | None:
    if value is None or not value.isdigit():
        return None
    return int(value)


def _check_key(creds: Credentials, sent: Mapping[str, str]) -> list[Finding]:
    if "KC-API-KEY" not in sent:
        return []
    if sent["KC-API-KEY"] != creds.api_key:
        return [Finding("KC-API-KEY", Status.DIFF, "differs from KUCOIN_API_KEY")]
    return [Finding("KC-API-KEY", Status.OK, "matches")]


def _check_timestamp(raw: str | None, timestamp: int | None, now_ms: int) -> list[Finding]:
    part = "KC-API-TIMESTAMP"
    if raw is None:
        return []
    if timestamp is None:
        return [Finding(part, Status.DIFF, f"{raw!r} is not an integer of milliseconds")]
    if timestamp < _SECONDS_BELOW:
        message = f"{timestamp} looks like seconds; KuCoin wants milliseconds ({timestamp}000)"
        return [Finding(part, Status.DIFF, message)]
    skew = timestamp - now_ms
    if abs(skew) > MAX_SKEW_MS:
        where = "ahead of" if skew > 0 else "behind"
        message = (
            f"{abs(skew) / 1000:.1f} s {where} the reference time; KuCoin rejects more than "
            "5 s (400002): sync the clock or sign with server time (GET /api/v1/timestamp). "
            "Expected if you pasted an old request without --timestamp."
        )
        return [Finding(part, Status.DIFF, message)]
    return [Finding(part, Status.OK, f"within 5 s of the reference time ({skew:+d} ms)")]


def _check_passphrase(creds: Credentials, sent: Mapping[str, str]) -> list[Finding]:
    if "KC-API-PASSPHRASE" not in sent:
        return []
    version = sent.get("KC-API-KEY-VERSION")
    if version not in (None, "1", "2", "3"):
        return [Finding("KC-API-KEY-VERSION", Status.DIFF, "must be 2 or 3 (400009)")]
    value = sent["KC-API-PASSPHRASE"]
    if value == _hmac_form(creds):
        return [_hmac_passphrase_verdict(creds, version)]
    if value == creds.passphrase.reveal():
        return [_plain_passphrase_verdict(creds, version)]
    message = (
        "matches neither the plain nor the HMAC'd form of KUCOIN_API_PASSPHRASE: wrong "
        "passphrase, or HMAC'd with another secret (400004)"
    )
    return [Finding("KC-API-PASSPHRASE", Status.DIFF, message)]


def _hmac_form(creds: Credentials) -> str:
    return passphrase_header(
        Credentials(creds.api_key, creds.secret, creds.passphrase, key_version=3)
    )


def _hmac_passphrase_verdict(creds: Credentials, version: str | None) -> Finding:
    part = "KC-API-PASSPHRASE"
    if version is None or version == "1":
        message = "HMAC'd, but KC-API-KEY-VERSION is missing: send KC-API-KEY-VERSION: 3"
        return Finding(part, Status.DIFF, message)
    if creds.key_version == 1:
        message = f"HMAC'd with version {version}, but --key-version is 1 (plain passphrase)"
        return Finding(part, Status.WARN, message)
    if version != str(creds.key_version):
        message = (
            f"HMAC'd, KC-API-KEY-VERSION {version} (key version {creds.key_version}); "
            "KuCoin accepts 2 and 3 alike for v3 keys (ccxt sends 2)"
        )
        return Finding(part, Status.WARN, message)
    return Finding(part, Status.OK, f"HMAC'd, KC-API-KEY-VERSION {version}")


def _plain_passphrase_verdict(creds: Credentials, version: str | None) -> Finding:
    part = "KC-API-PASSPHRASE"
    if version in ("2", "3"):
        message = (
            f"sent in plain text with KC-API-KEY-VERSION {version}: v2/v3 keys need "
            "base64(HMAC-SHA256(secret, passphrase)) (400004)"
        )
        return Finding(part, Status.DIFF, message)
    if creds.key_version != 1:
        message = (
            f"sent in plain text without a version header (v1 style) but the key is "
            f"v{creds.key_version}: send the HMAC'd passphrase and KC-API-KEY-VERSION: "
            f"{creds.key_version}"
        )
        return Finding(part, Status.DIFF, message)
    return Finding(part, Status.OK, "plain text, as a v1 key expects")


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str
    body: bytes
    timestamp: int


def _sign(creds: Credentials, method: str, path: str, body: bytes, timestamp: int) -> str:
    """KC-API-SIGN over a prehash built as given (the method is *not* upper-cased here)."""
    msg = f"{timestamp}{method}{path}".encode() + body
    digest = hmac.new(creds.secret.reveal().encode(), msg, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _check_sign(creds: Credentials, request: _Request, sent_sign: str) -> Finding:
    """Try the correct prehash, then every combination of the usual mistakes (a few dozen)."""
    part = "KC-API-SIGN"
    canonical = decoded_path(request.path)
    for method, path, body, timestamp in itertools.product(
        _method_variants(request.method),
        _path_variants(request.path, canonical),
        _body_variants(request.body),
        _timestamp_variants(request.timestamp),
    ):
        if _sign(creds, method[1], path[1], body[1], timestamp[1]) == sent_sign:
            mistakes = [m for m, _ in (method, path, body, timestamp) if m]
            return _sign_verdict(part, mistakes)
    message = (
        "matches none of the usual mistakes: check KUCOIN_API_SECRET, that the path starts at "
        "/api/ (no host), the method, and that the body is the exact bytes sent"
    )
    return Finding(part, Status.DIFF, message)


def _sign_verdict(part: str, mistakes: list[str]) -> Finding:
    if not mistakes:
        return Finding(part, Status.OK, "matches")
    return Finding(part, Status.DIFF, "reproduced by signing " + "; and ".join(mistakes))


# Each variant is (mistake, value); the mistake is "" for the correct form, which comes first.


def _method_variants(method: str) -> list[tuple[str, str]]:
    lower = method.lower()
    return [("", method.upper()), (f"the method in lower case ({lower!r}): use upper case", lower)]


def _path_variants(given: str, canonical: str) -> list[tuple[str, str]]:
    variants = [("", canonical)]
    base, _, query = canonical.partition("?")
    if not query:
        return variants
    forms = {given, base + "?" + quote(query, safe="=&"), base + "?" + quote(query, safe="=&/:")}
    for form in sorted(forms - {canonical}):
        variants.append((f"the URL-encoded query {form!r} (sign the decoded {canonical!r})", form))
    variants.append((f"the path without its query (sign {canonical!r})", base))
    return variants


def _body_variants(body: bytes) -> list[tuple[str, bytes]]:
    variants = [("", body)]
    if body:
        variants.append(("an empty body (sign the exact body bytes sent)", b""))
    for name, form in _json_forms(body):
        if form != body:
            mistake = (
                f"the {name} JSON of the same object while sending other bytes: sign exactly "
                "the body you send (no re-serialisation)"
            )
            variants.append((mistake, form))
    return variants


def _json_forms(body: bytes) -> list[tuple[str, bytes]]:
    try:
        obj = json.loads(body)
    except ValueError:
        return []
    return [
        ("compact", json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()),
        ("spaced", json.dumps(obj, ensure_ascii=False).encode()),
        ("ASCII-escaped", json.dumps(obj, separators=(",", ":")).encode()),
    ]


def _timestamp_variants(timestamp: int) -> list[tuple[str, int]]:
    if timestamp >= _SECONDS_BELOW:
        return [
            ("", timestamp),
            (f"the timestamp in seconds ({timestamp // 1000})", timestamp // 1000),
        ]
    return [
        ("", timestamp),
        (f"the timestamp in milliseconds ({timestamp * 1000})", timestamp * 1000),
    ]


def _check_partner(
    creds: Credentials,
    broker: BrokerCredentials | None,
    sent: Mapping[str, str],
    timestamp: int | None,
) -> list[Finding]:
    if broker is None:
        if "KC-API-PARTNER" in sent:
            message = (
                f"partner headers present ({sent['KC-API-PARTNER']}); set KUCOIN_BROKER_PARTNER, "
                "KUCOIN_BROKER_NAME and KUCOIN_BROKER_KEY to check them"
            )
            return [Finding("partner", Status.WARN, message)]
        return []
    findings = _check_partner_names(broker, sent)
    if "KC-API-PARTNER-SIGN" not in sent:
        findings.append(Finding("KC-API-PARTNER-SIGN", Status.DIFF, "missing"))
    elif timestamp is not None:
        findings.append(_check_partner_sign(creds, broker, sent, timestamp))
    return findings


def _check_partner_names(broker: BrokerCredentials, sent: Mapping[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    partner = sent.get("KC-API-PARTNER")
    if partner != broker.partner:
        what = "missing" if partner is None else "differs from KUCOIN_BROKER_PARTNER"
        findings.append(Finding("KC-API-PARTNER", Status.DIFF, what + ": no broker attribution"))
    name = sent.get("KC-BROKER-NAME")
    if name is not None and name != broker.name:
        findings.append(Finding("KC-BROKER-NAME", Status.WARN, "differs from KUCOIN_BROKER_NAME"))
    if sent.get("KC-API-PARTNER-VERIFY", "").lower() != "true":
        message = "not 'true': a bad partner sign is then silently ignored (no rebate)"
        findings.append(Finding("KC-API-PARTNER-VERIFY", Status.WARN, message))
    return findings


def _check_partner_sign(
    creds: Credentials, broker: BrokerCredentials, sent: Mapping[str, str], timestamp: int
) -> Finding:
    part = "KC-API-PARTNER-SIGN"
    value = sent["KC-API-PARTNER-SIGN"]
    for delta in (0, 1, 2, 3, -1, -2, -3):
        if partner_sign(broker, timestamp_ms=timestamp + delta, api_key=creds.api_key) == value:
            if delta == 0:
                return Finding(part, Status.OK, "matches")
            message = (
                f"made with timestamp {timestamp + delta}, not KC-API-TIMESTAMP {timestamp} "
                "(a second clock read, as python-kucoin does): sign with the same timestamp"
            )
            return Finding(part, Status.DIFF, message)
    message = "differs: check KUCOIN_BROKER_KEY; the message is timestamp + partner + api key"
    return Finding(part, Status.DIFF, message)
