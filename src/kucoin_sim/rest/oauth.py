"""KuCoin's Fast API OAuth 2.0 server (PROTOCOL.md section 8): clients, codes, tokens, keys.

Pure state and rules; the HTTP side (login page, token and key routes, control routes) is
:mod:`kucoin_sim.rest.oauth_http`. Every method takes ``now_ms``.

Invariants:

- a client (a broker) is registered with exact redirect URIs; a code is issued only for one of
  them and redeemed only with the same ``redirect_uri`` and ``client_id``;
- a code is single-use and lives :data:`CODE_TTL_MS` [?]; redeeming it twice revokes every token
  issued from it (RFC 6749 section 4.1.2) [?];
- an access token lives 1 h, a refresh token 3 days; a refresh rotates the pair (the old refresh
  token and access token stop working) [?];
- a key created through the Fast API is a normal v3 key of the user, bound to the broker
  (``broker_client``), with the user's chosen permission groups and the broker's trading IPs
  as its whitelist; its secret and passphrase are answered once, in that response [?].

Where KuCoin's documents are silent the choice is marked [?] here and in docs/simulator.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kucoin_sim.accounts import SpecError, ip_list, make_key
from kucoin_sim.auth import Permission
from kucoin_sim.state import SimState

CODE_TTL_MS = 5 * 60_000  # [?] "short-lived": RFC 6749 recommends at most 10 minutes
ACCESS_TTL_MS = 3_600_000
REFRESH_TTL_MS = 3 * 86_400_000
MAX_KEYS_PER_USER = 20  # [?] KuCoin's per-account API key limit
SCOPE = "OAUTH_CREATE_API"
#: KuCoin's permission groups -> the permission names /api/v1/user/api-key reports [?]
AUTH_GROUPS: dict[str, str] = {
    "API_COMMON": Permission.GENERAL.value,
    "API_SPOT": Permission.SPOT.value,
    "API_MARGIN": Permission.MARGIN.value,
    "API_FUTURES": Permission.FUTURES.value,
    "API_EARN": Permission.EARN.value,
    "API_TRANSFER": Permission.INNER_TRANSFER.value,  # "flexible transfer" between own accounts
}
#: the documented default groups, in the documented order
DEFAULT_GROUPS = ("API_COMMON", "API_FUTURES", "API_SPOT", "API_EARN", "API_TRANSFER", "API_MARGIN")


class OAuthError(Exception):
    """An RFC 6749 error: ``error`` code, a description, the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(error, description)
        self.error = error
        self.description = description
        self.status = status


class KeyCreationError(Exception):
    """The key-creation call failed: a KuCoin-style code and message [?]."""

    def __init__(self, code: str, msg: str, status: int = 200) -> None:
        super().__init__(code, msg)
        self.code = code
        self.msg = msg
        self.status = status


@dataclass(frozen=True)
class Client:
    """A registered broker application."""

    client_id: str
    client_secret: str = field(repr=False)
    name: str
    redirect_uris: tuple[str, ...]
    request_ips: tuple[str, ...] = ()
    trading_ips: tuple[str, ...] = ()


@dataclass
class Grant:
    """What one user approved for one client: the code and every token issued from it."""

    client_id: str
    uid: str
    redirect_uri: str
    groups: tuple[str, ...]
    code_expires_ms: int
    redeemed: bool = False
    tokens: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Token:
    """An access or refresh token (``kind``), its grant and expiry."""

    kind: str
    grant: Grant
    expires_ms: int


def parse_groups(value: object) -> tuple[str, ...]:
    """Permission groups from a list or a comma-separated string; API_COMMON always included."""
    if value is None:
        return DEFAULT_GROUPS
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(g, str) for g in items):
        raise SpecError("authGroups must be a list of permission group names")
    groups = [g.strip() for g in items if g.strip()]
    unknown = sorted(set(groups) - set(AUTH_GROUPS))
    if unknown:
        raise SpecError(f"unknown permission groups {unknown}; use {sorted(AUTH_GROUPS)}")
    ordered = ["API_COMMON", *(g for g in DEFAULT_GROUPS if g in groups and g != "API_COMMON")]
    return tuple(ordered)


def _strings(spec: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = spec.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SpecError(f"{name} must be a list of non-empty strings")
    return tuple(value)


class OAuthServer:
    """The registry of broker clients, outstanding grants and live tokens."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Grant] = {}
        self.tokens: dict[str, Token] = {}
        #: keys created through the Fast API -> the client (broker) they are bound to
        self.key_clients: dict[str, str] = {}

    def register(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """A broker client from ``{clientId?, name?, redirectUris, requestIps?, tradingIps?}``."""
        client_id = spec.get("clientId") or self.state.token(12)
        if not isinstance(client_id, str) or client_id in self.clients:
            raise SpecError("clientId must be a new string")
        redirects = _strings(spec, "redirectUris")
        if not redirects:
            raise SpecError("redirectUris must name at least one URL")
        name = spec.get("name", "broker")
        if not isinstance(name, str) or not 0 < len(name) <= 24:
            raise SpecError("name must be 1 to 24 characters")
        client = Client(
            client_id=client_id,
            client_secret=self.state.token(16),
            name=name,
            redirect_uris=redirects,
            request_ips=ip_list(spec.get("requestIps")),
            trading_ips=ip_list(spec.get("tradingIps")),
        )
        self.clients[client_id] = client
        return {"clientId": client_id, "clientSecret": client.client_secret, "name": name}

    def client_for(self, client_id: str, redirect_uri: str) -> Client:
        """The client, when ``redirect_uri`` is exactly one of its registered URIs."""
        client = self.clients.get(client_id)
        if client is None:
            raise OAuthError("invalid_client", "unknown client_id", 401)
        if redirect_uri not in client.redirect_uris:
            raise OAuthError("invalid_request", "redirect_uri is not registered for this client")
        return client

    def authorize(
        self, client: Client, uid: str, redirect_uri: str, groups: Iterable[str], now_ms: int
    ) -> str:
        """Issue a code for the user's approval."""
        code = self.state.token(16)
        self.codes[code] = Grant(
            client.client_id, uid, redirect_uri, tuple(groups), now_ms + CODE_TTL_MS
        )
        return code

    def exchange(self, params: Mapping[str, str], now_ms: int) -> dict[str, Any]:
        """``grant_type=authorization_code``: the code (once) for a token pair."""
        if params.get("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type", "grant_type must be authorization_code")
        client = self.client_for(params.get("client_id", ""), params.get("redirect_uri", ""))
        grant = self.codes.get(params.get("code", ""))
        if grant is None or grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "the code is unknown")
        if grant.redirect_uri != params.get("redirect_uri"):
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization's")
        if grant.redeemed:
            self._revoke(grant)
            raise OAuthError("invalid_grant", "the code was already used")
        grant.redeemed = True
        if now_ms > grant.code_expires_ms:
            raise OAuthError("invalid_grant", "the code has expired")
        return self._pair(grant, now_ms)

    def refresh(self, params: Mapping[str, str], now_ms: int) -> dict[str, Any]:
        """``grant_type=refresh_token``: a new pair; the old refresh and access tokens die."""
        if params.get("grant_type") != "refresh_token":
            raise OAuthError("unsupported_grant_type", "grant_type must be refresh_token")
        value = params.get("refresh_token", "")
        token = self.tokens.get(value)
        if token is None or token.kind != "refresh":
            raise OAuthError("invalid_grant", "the refresh token is unknown or was rotated")
        if now_ms > token.expires_ms:
            raise OAuthError("invalid_grant", "the refresh token has expired")
        self._revoke(token.grant)
        return self._pair(token.grant, now_ms)

    def bearer(self, header: str | None, now_ms: int) -> Grant:
        """The grant of a live access token from ``Authorization: bearer <token>``."""
        scheme, _, value = (header or "").partition(" ")
        token = self.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if token is None or token.kind != "access":
            raise KeyCreationError("401", "invalid access token", 401)
        if now_ms > token.expires_ms:
            raise KeyCreationError("401", "access token expired", 401)
        return token.grant

    def create_key(self, grant: Grant, api_name: str | None, now_ms: int) -> dict[str, Any]:
        """A v3 key for the grant's user, bound to its client; the secret is answered once."""
        client = self.clients[grant.client_id]
        name = api_name or client.name
        keys = [k for k in self.state.keys.values() if k.uid == grant.uid]
        if any(k.label == name for k in keys):
            raise KeyCreationError("400100", f"apiName {name} already exists")  # [?] code
        if len(keys) >= MAX_KEYS_PER_USER:
            raise KeyCreationError("400100", "the number of API keys has reached the maximum")
        spec = {
            "permissions": [AUTH_GROUPS[g] for g in grant.groups],
            "ipWhitelist": list(client.trading_ips),
            "label": name,
        }
        key = make_key(self.state, grant.uid, spec, now_ms)
        self.key_clients[key.api_key] = client.client_id
        return {
            "apiName": name,
            "apiKey": key.api_key,
            "secret": key.secret,
            "passphrase": key.passphrase,
            "brokerId": client.name,
            "authGroup": ",".join(grant.groups),
            "ipWhiteList": ",".join(client.trading_ips),
        }

    def _pair(self, grant: Grant, now_ms: int) -> dict[str, Any]:
        access, refresh = self.state.token(24), self.state.token(24)
        self.tokens[access] = Token("access", grant, now_ms + ACCESS_TTL_MS)
        self.tokens[refresh] = Token("refresh", grant, now_ms + REFRESH_TTL_MS)
        grant.tokens |= {access, refresh}
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": ACCESS_TTL_MS // 1000,
            "refresh_token": refresh,
            "scope": [SCOPE],
        }

    def _revoke(self, grant: Grant) -> None:
        for value in grant.tokens:
            self.tokens.pop(value, None)
        grant.tokens.clear()
