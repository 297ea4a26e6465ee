"""The signed OAuth ``state`` of "Connect with KuCoin" and its browser binding. Pure.

SECURITY.md section 5: the state carries a 128-bit nonce (single use: the attempt row keyed by
it is claimed once), the tenant, the account name, a 10-minute expiry and the hash of a random
browser binding that lives only in a SameSite cookie; the gateway signs it with HMAC-SHA256
under a key derived from the pepper, and every comparison is constant-time. Someone who sees
the state (it travels through KuCoin and the browser's history) learns no cookie: only its
hash is in the state.

Format: ``base64url(json claims) "." base64url(hmac)``, claims ``{n, t, a, e, b}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kcgateway.errors import OnboardingRefused

STATE_TTL = timedelta(minutes=10)
_DOMAIN = b"kcgw/onboarding/state/v1|"
_START_AGAIN = "start the connection again from the gateway"


@dataclass(frozen=True, slots=True)
class StateClaims:
    """What a verified state says."""

    nonce: str
    tenant_id: str
    account: str
    expires_at: datetime
    binding_hash: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_binding() -> tuple[str, str]:
    """A fresh browser binding (the cookie value) and its hash (for the state)."""
    cookie = secrets.token_urlsafe(16)
    return cookie, binding_hash(cookie)


def binding_hash(cookie: str) -> str:
    """The hash of a cookie value that the state carries."""
    return _b64(hashlib.sha256(cookie.encode()).digest()[:16])


def state_key(pepper: str) -> bytes:
    """The state-signing key, derived from the pepper (kept beside the KEK)."""
    return hmac.digest(pepper.encode(), b"kcgw/onboarding/state-key/v1", hashlib.sha256)


def _sign(key: bytes, payload: str) -> str:
    return _b64(hmac.digest(key, _DOMAIN + payload.encode(), hashlib.sha256))


def make_state(key: bytes, claims: StateClaims) -> str:
    """The signed state for ``claims``."""
    body = {
        "n": claims.nonce,
        "t": claims.tenant_id,
        "a": claims.account,
        "e": int(claims.expires_at.timestamp()),
        "b": claims.binding_hash,
    }
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_sign(key, payload)}"


def read_state(key: bytes, state: str) -> StateClaims:
    """The claims of a state this gateway signed; OnboardingRefused(state_invalid) otherwise."""
    payload, _, signature = state.partition(".")
    if not payload or not hmac.compare_digest(signature.encode(), _sign(key, payload).encode()):
        raise OnboardingRefused(
            "state_invalid",
            f"the answer from KuCoin is not one this gateway asked for: {_START_AGAIN}",
        )
    body = json.loads(_unb64(payload))
    return StateClaims(
        nonce=str(body["n"]),
        tenant_id=str(body["t"]),
        account=str(body["a"]),
        expires_at=datetime.fromtimestamp(int(body["e"]), UTC),
        binding_hash=str(body["b"]),
    )


def check_claims(claims: StateClaims, cookie: str | None, now: datetime) -> None:
    """Refuse an expired state or one this browser did not start."""
    if now > claims.expires_at:
        raise OnboardingRefused(
            "state_expired", f"the connection was started more than 10 minutes ago: {_START_AGAIN}"
        )
    if not cookie or not hmac.compare_digest(
        binding_hash(cookie).encode(), claims.binding_hash.encode()
    ):
        raise OnboardingRefused(
            "cookie_mismatch",
            "this browser did not start this connection (its onboarding cookie is missing or "
            f"different): {_START_AGAIN}, in the same browser",
        )
