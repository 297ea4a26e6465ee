"""Gateway API keys for bots and people (SECURITY.md section 2). Pure: ``now`` is passed in.

Format: ``kgw_<key_id>_<secret>_<crc>``

- ``key_id``: 12 base62 characters, the database lookup index (not secret);
- ``secret``: 32 random bytes in base62 (43 characters);
- ``crc``: CRC32 of ``kgw_<key_id>_<secret>`` in base62, 6 characters, so a scanner can tell a
  real key from a look-alike without a database lookup (GitHub's token scheme).

At rest only ``key_id``, ``HMAC-SHA256(pepper, secret)`` and the last four characters are kept.
A 256-bit random secret needs no slow hash: HMAC plus ``compare_digest`` costs microseconds,
where Argon2 would let anyone exhaust the server with bad keys.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from kcgateway.errors import ValidationError
from kcgateway.secret import Secret

PREFIX = "kgw"
KEY_ID_LEN = 12
SECRET_BYTES = 32
SECRET_LEN = 43
CRC_LEN = 6
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_KEY_RE = re.compile(
    rf"^{PREFIX}_([0-9A-Za-z]{{{KEY_ID_LEN}}})_([0-9A-Za-z]{{{SECRET_LEN}}})_([0-9A-Za-z]{{{CRC_LEN}}})$"
)

DAY_MS = 86_400_000
TRADE_IDLE_NO_ALLOWLIST_MS = 14 * DAY_MS
IDLE_MS = 90 * DAY_MS
MAX_LIFETIME_MS = 365 * DAY_MS


class Scope(StrEnum):
    """What a key may do. Deny by default: a route names the scope it needs."""

    READ = "read"
    TRADE_SPOT = "trade:spot"
    TRADE_MARGIN = "trade:margin"
    TRADE_FUTURES = "trade:futures"
    KEYS_MANAGE = "keys:manage"
    ACCOUNTS_MANAGE = "accounts:manage"
    RISK_MANAGE = "risk:manage"
    BOTS_MANAGE = "bots:manage"
    ADMIN = "admin"

    @property
    def is_trade(self) -> bool:
        """True for the scopes that can place orders."""
        return self.value.startswith("trade:")


def parse_scopes(values: Iterable[str]) -> frozenset[Scope]:
    """Parse scope names; an unknown name is a ValidationError listing the valid ones."""
    out: set[Scope] = set()
    for value in values:
        try:
            out.add(Scope(value))
        except ValueError:
            valid = ", ".join(s.value for s in Scope)
            raise ValidationError(
                f"unknown scope {value!r}; valid scopes: {valid}", field="scopes"
            ) from None
    return frozenset(out)


def base62(data: bytes, length: int) -> str:
    """Encode ``data`` as a big-endian base62 number, left-padded with '0' to ``length``."""
    n = int.from_bytes(data, "big")
    chars: list[str] = []
    while n:
        n, rem = divmod(n, 62)
        chars.append(ALPHABET[rem])
    text = "".join(reversed(chars)).rjust(length, "0")
    if len(text) > length:
        raise ValueError("value does not fit the requested base62 length")
    return text


def checksum(body: str) -> str:
    """The 6-character base62 CRC32 of ``kgw_<key_id>_<secret>``."""
    return base62(zlib.crc32(body.encode()).to_bytes(4, "big"), CRC_LEN)


def hash_secret(pepper: Secret, secret: str) -> bytes:
    """HMAC-SHA256 of the key's secret part under the server pepper."""
    return hmac.new(pepper.reveal().encode(), secret.encode(), hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A newly made key: ``full`` is shown to its owner once, the rest is what gets stored."""

    full: Secret
    key_id: str
    secret_hash: bytes
    last4: str


@dataclass(frozen=True, slots=True)
class PresentedKey:
    """A key as a client presented it, with a valid format and checksum."""

    key_id: str
    secret: Secret


def issue_key(pepper: Secret, rand: Callable[[int], bytes] = secrets.token_bytes) -> IssuedKey:
    """Make a new key from ``rand`` (injectable for tests)."""
    key_id = base62(rand(8), KEY_ID_LEN)
    secret = base62(rand(SECRET_BYTES), SECRET_LEN)
    body = f"{PREFIX}_{key_id}_{secret}"
    full = f"{body}_{checksum(body)}"
    return IssuedKey(Secret(full), key_id, hash_secret(pepper, secret), full[-4:])


def parse_key(text: str) -> PresentedKey | None:
    """Check format and checksum without any lookup; None for anything that is not a key."""
    match = _KEY_RE.match(text)
    if match is None:
        return None
    key_id, secret, crc = match.groups()
    if not hmac.compare_digest(checksum(f"{PREFIX}_{key_id}_{secret}"), crc):
        return None
    return PresentedKey(key_id, Secret(secret))


def secret_matches(pepper: Secret, presented: PresentedKey, stored_hash: bytes) -> bool:
    """Constant-time comparison of the presented secret with the stored HMAC."""
    return hmac.compare_digest(hash_secret(pepper, presented.secret.reveal()), stored_hash)


@dataclass(frozen=True, slots=True)
class KeyLifetime:
    """The facts about a key that decide when it expires."""

    created_ms: int
    last_used_ms: int | None
    scopes: frozenset[Scope]
    has_ip_allowlist: bool
    expires_ms: int | None = None
    revoked_ms: int | None = None


def idle_limit_ms(scopes: frozenset[Scope], has_ip_allowlist: bool) -> int:
    """14 idle days for a trade key without an IP allowlist, 90 for every other key."""
    if any(s.is_trade for s in scopes) and not has_ip_allowlist:
        return TRADE_IDLE_NO_ALLOWLIST_MS
    return IDLE_MS


def expires_at_ms(key: KeyLifetime) -> int:
    """The moment the key stops working unless it is used before (idle expiry)."""
    last_activity = key.last_used_ms if key.last_used_ms is not None else key.created_ms
    candidates = [
        last_activity + idle_limit_ms(key.scopes, key.has_ip_allowlist),
        key.created_ms + MAX_LIFETIME_MS,
    ]
    if key.expires_ms is not None:
        candidates.append(key.expires_ms)
    return min(candidates)


def is_usable(key: KeyLifetime, now_ms: int) -> bool:
    """True when the key is neither revoked nor expired at ``now_ms``."""
    if key.revoked_ms is not None and key.revoked_ms <= now_ms:
        return False
    return now_ms < expires_at_ms(key)


def parse_allowlist(
    cidrs: Iterable[str],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Parse CIDRs (a bare address means a single host); a bad entry is a ValidationError."""
    nets = []
    for cidr in cidrs:
        try:
            nets.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValidationError(
                f"{cidr!r} is not an IP address or CIDR (examples: 203.0.113.7, 10.0.0.0/8)",
                field="ip_allowlist",
            ) from None
    return tuple(nets)


def client_ip(peer: str, forwarded_for: str | None, trusted_proxies: Iterable[str] = ()) -> str:
    """The client address: the socket peer, unless the peer is a trusted proxy.

    Behind trusted proxies the right-most X-Forwarded-For entry that is not itself a trusted
    proxy is the client. ``X-Forwarded-For`` from anyone else is ignored.
    """
    trusted = parse_allowlist(trusted_proxies)
    if not forwarded_for or not _in_any(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _in_any(hop, trusted):
            return hop
    return peer


def _in_any(ip: str, nets: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in net for net in nets)


def ip_allowed(ip: str, allowlist: Iterable[str]) -> bool:
    """True when the list is empty (no restriction) or the address is inside one entry."""
    nets = parse_allowlist(allowlist)
    return not nets or _in_any(ip, nets)


MAX_OWNER = 200


def check_text(value: str, field: str, *, max_len: int = MAX_OWNER) -> str:
    """``value`` stripped, or a ValidationError: empty, too long, or not printable.

    Printable means :meth:`str.isprintable` for every character: no control characters (a
    newline or an ANSI escape could forge lines in a table or a log), no bidi overrides or
    zero-width characters (which could make two names look the same).
    """
    clean = value.strip()
    if not clean:
        raise ValidationError(f"{field} is empty: give a name such as trading-bot-1", field=field)
    if len(clean) > max_len:
        raise ValidationError(f"{field} is longer than {max_len} characters", field=field)
    bad = next((ch for ch in clean if not ch.isprintable()), None)
    if bad is not None:
        raise ValidationError(
            f"{field} has a non-printable character (U+{ord(bad):04X}): use printable text "
            "without control, format or line-separator characters",
            field=field,
        )
    return clean


def scopes_beyond(held: frozenset[Scope], wanted: Iterable[Scope]) -> list[Scope]:
    """The scopes of ``wanted`` that a holder of ``held`` does not hold, in enum order.

    ``admin`` holds every scope but itself is held only by ``admin``.
    """
    wanted_set = set(wanted)
    if Scope.ADMIN in held:
        return []
    return [s for s in Scope if s in wanted_set and s not in held]


def allowlist_outside(inner: Iterable[str], outer: Iterable[str]) -> list[str]:
    """The networks of ``inner`` that are not a subnet of some entry of ``outer``.

    An empty ``outer`` is no restriction (nothing is outside it); an empty ``inner`` means
    "any address", which is outside any non-empty ``outer`` (reported as ``"any"``).
    """
    outer_nets = parse_allowlist(outer)
    if not outer_nets:
        return []
    inner_list = list(inner)
    if not inner_list:
        return ["any"]
    return [
        str(net)  # the parsed network, never the caller's text as given
        for net in parse_allowlist(inner_list)
        if not any(
            net.version == o.version and net.subnet_of(o)  # type: ignore[arg-type]
            for o in outer_nets
        )
    ]
