"""KuCoin's Fast API OAuth client (PROTOCOL.md section 8): pure URL builders and parsers + I/O.

The broker sends the user to :func:`authorize_url`; KuCoin redirects back with a ``code``;
:meth:`FastApiClient.exchange_code` trades it (once) for a token pair, and
:meth:`FastApiClient.create_key` creates a v3 API key for the user with the access token.
Tokens and the key's secret and passphrase are :class:`~kcgateway.secret.Secret` from the
moment they are parsed, so no repr, log line or exception shows them.

Failures, by what the caller should do:

- the network failed before the request left (``TransportError(sent=False)``), or KuCoin
  answered 5xx to the token call: :class:`~kcgateway.errors.ExchangeUnavailable`: nothing was
  made; start again;
- KuCoin refused (an OAuth error such as ``invalid_grant``, or ``success: false``):
  :class:`FastApiRejected` (a :class:`~kcgateway.errors.Rejected`), with KuCoin's code;
- the key-creation call timed out, was reset or answered 5xx: :class:`KeyPossiblyCreated`:
  KuCoin may have created the key, so the operator must look (it is never retried: a second
  call would make a second key).

Sample token answer::

    {"access_token": "...", "token_type": "bearer", "expires_in": 3600,
     "refresh_token": "...", "scope": ["OAUTH_CREATE_API"]}

Sample key answer::

    {"success": true, "code": "200", "msg": "success", "retry": false,
     "data": {"apiName": "broker", "apiKey": "...", "secret": "...", "passphrase": "...",
              "brokerId": "broker", "authGroup": "API_COMMON,API_SPOT", "ipWhiteList": ""}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from kcgateway.errors import (
    ExchangeUnavailable,
    KeyPossiblyCreated,
    ProtocolError,
    Rejected,
)
from kcgateway.exchange.transport import RawResponse, Transport, TransportError
from kcgateway.secret import Secret

SCOPE = "OAUTH_CREATE_API"
AUTHORIZE_PATH = "/oauth"
TOKEN_PATH = "/_oauth/access-token"  # noqa: S105 - a path, not a password
ADD_KEY_PATH = "/_oauth/resource/ucenter/outer/api-key/add"


class FastApiRejected(Rejected):
    """KuCoin refused an OAuth call: ``code`` is its error (``invalid_grant``, ``400100``...)."""


@dataclass(frozen=True, slots=True)
class FastApiClientConfig:
    """Where KuCoin's OAuth lives and who the broker is (its registered redirect URI)."""

    base_url: str
    client_id: str
    redirect_uri: str


@dataclass(frozen=True, slots=True)
class TokenPair:
    """An access token (1 h) and a refresh token (3 days); never shown anywhere."""

    access_token: Secret
    refresh_token: Secret
    expires_in: int


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """The key KuCoin created for the user: the secret and passphrase exist only here."""

    api_key: str
    secret: Secret
    passphrase: Secret
    api_name: str
    broker_id: str
    auth_groups: tuple[str, ...]
    ip_whitelist: str


def authorize_url(config: FastApiClientConfig, state: str) -> str:
    """The login-and-consent page to send the user to. Pure.

    The redirect URI keeps its ``:`` and ``/`` (the document says it is not encoded); anything
    else is percent-encoded so the query cannot be broken.
    """
    query = urlencode(
        {
            "response_type": "code",
            "client_id": config.client_id,
            "redirect_uri": config.redirect_uri,
            "scope": SCOPE,
            "state": state,
        },
        safe=":/",
    )
    return f"{config.base_url.rstrip('/')}{AUTHORIZE_PATH}?{query}"


def token_url(config: FastApiClientConfig, code: str) -> str:
    """The authorization-code exchange (a GET with the code in the query, as documented). Pure."""
    query = urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": config.redirect_uri,
            "client_id": config.client_id,
        }
    )
    return f"{config.base_url.rstrip('/')}{TOKEN_PATH}?{query}"


def _object(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise ProtocolError(f"the {what} answer is not JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"the {what} answer is not a JSON object")
    return data


def _text(data: dict[str, Any], name: str, what: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"the {what} answer has no {name}", path=name)
    return value


def parse_tokens(resp: RawResponse) -> TokenPair:
    """A token answer, or FastApiRejected for an OAuth error. Pure."""
    data = _object(resp.body, "token")
    if "error" in data or resp.status >= 400:
        error = str(data.get("error") or resp.status)
        raise FastApiRejected(
            error, str(data.get("error_description", "")), http_status=resp.status
        )
    expires = data.get("expires_in")
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise ProtocolError("the token answer has no expires_in", path="expires_in")
    return TokenPair(
        Secret(_text(data, "access_token", "token")),
        Secret(_text(data, "refresh_token", "token")),
        expires,
    )


def parse_created_key(resp: RawResponse) -> CreatedKey:
    """A key-creation answer, or FastApiRejected when KuCoin says ``success: false``. Pure."""
    data = _object(resp.body, "key creation")
    if data.get("success") is not True or str(data.get("code")) != "200":
        code = str(data.get("code") or resp.status)
        raise FastApiRejected(code, str(data.get("msg", "")), http_status=resp.status)
    key = data.get("data")
    if not isinstance(key, dict):
        raise ProtocolError("the key creation answer has no data", path="data")
    groups = str(key.get("authGroup") or "")
    return CreatedKey(
        api_key=_text(key, "apiKey", "key creation"),
        secret=Secret(_text(key, "secret", "key creation")),
        passphrase=Secret(_text(key, "passphrase", "key creation")),
        api_name=str(key.get("apiName") or ""),
        broker_id=str(key.get("brokerId") or ""),
        auth_groups=tuple(g for g in groups.split(",") if g),
        ip_whitelist=str(key.get("ipWhiteList") or ""),
    )


class FastApiClient:
    """The two calls of the Fast API dance over an injected transport (no retries)."""

    def __init__(
        self, transport: Transport, config: FastApiClientConfig, *, timeout: float
    ) -> None:
        self._transport = transport
        self.config = config
        self._timeout = timeout

    async def exchange_code(self, code: str) -> TokenPair:
        """Trade the code for tokens; any failure means nothing was created: start again."""
        url = token_url(self.config, code)
        try:
            resp = await self._transport.request("GET", url, {}, b"", self._timeout)
        except TransportError as exc:
            raise ExchangeUnavailable(
                f"network_{exc.kind}", "KuCoin's token endpoint did not answer"
            ) from None
        if resp.status >= 500:
            raise ExchangeUnavailable(
                str(resp.status), "KuCoin's token endpoint failed", http_status=resp.status
            )
        return parse_tokens(resp)

    async def create_key(self, access_token: Secret) -> CreatedKey:
        """Create the user's key; KeyPossiblyCreated when the answer was lost (never retried)."""
        url = self.config.base_url.rstrip("/") + ADD_KEY_PATH
        headers = {"Authorization": f"bearer {access_token.reveal()}"}
        try:
            resp = await self._transport.request("POST", url, headers, b"", self._timeout)
        except TransportError as exc:
            if not exc.sent:
                raise ExchangeUnavailable(
                    "network_connect", "KuCoin could not be reached"
                ) from None
            raise KeyPossiblyCreated(f"the key-creation call failed ({exc.kind})") from None
        if resp.status >= 500:
            raise KeyPossiblyCreated(f"KuCoin answered HTTP {resp.status} to the key-creation call")
        return parse_created_key(resp)

    async def aclose(self) -> None:
        """Close the transport."""
        await self._transport.aclose()
