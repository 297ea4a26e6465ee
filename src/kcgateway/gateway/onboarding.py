"""Connect with KuCoin: the broker Fast API (OAuth) flow that creates and seals a user's key.

1. :meth:`FastApiOnboarding.start` (scope ``accounts:manage``) records an attempt keyed by a
   fresh 128-bit nonce and answers KuCoin's consent-page URL with a signed ``state``
   (:mod:`kcgateway.gateway.onboarding_state`) plus the browser-binding cookie value.
2. The user logs in at KuCoin and approves (or denies); KuCoin redirects the browser to the
   gateway's callback with ``code`` and ``state``.
3. :meth:`FastApiOnboarding.callback` verifies the state, its expiry and the cookie, claims the
   attempt ONCE (a replayed callback URL is refused before anything is sent), exchanges the
   code, creates the key through the Fast API, and hands it to
   :meth:`~kcgateway.gateway.accounts.AccountOnboarding.connect`, which checks it with
   ``GET /api/v1/user/api-key`` (withdrawal always refused; KuCoin's flexible transfer only when
   the operator's policy allows it), seals key, secret and passphrase in the vault and audits
   ``account.connected``. The tokens are dropped as soon as the key exists (never stored).

Every ending is written to the attempt row and, unless connected, audited as
``onboarding.ended``. Nothing is half-made: an account row exists only for a sealed key. Two
endings need the operator, because a key may exist at KuCoin that no account holds:
``key_possibly_created`` (the key-creation call got no usable answer; never retried) and
``key_orphaned`` (KuCoin created it but the gateway refused it); both raise an alert.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select, update

from kcgateway.errors import (
    InvalidBrokerSettings,
    KcgatewayError,
    KeyPossiblyCreated,
    OnboardingNotConfigured,
    OnboardingRefused,
    ValidationError,
)
from kcgateway.exchange.oauth import CreatedKey, FastApiClient, FastApiClientConfig, authorize_url
from kcgateway.exchange.transport import Transport
from kcgateway.gateway.accounts import AccountOnboarding, AccountView, ConnectRequest
from kcgateway.gateway.audit import AuditAction, record
from kcgateway.gateway.onboarding_state import (
    STATE_TTL,
    StateClaims,
    check_claims,
    make_state,
    new_binding,
    read_state,
)
from kcgateway.store.database import Database
from kcgateway.store.tables import FastApiSettingRow, OnboardingAttemptRow

log = logging.getLogger("kcgateway.onboarding")
Now = Callable[[], datetime]
KUCOIN_OAUTH = "https://www.kucoin.com"
#: KuCoin's flexible transfer (between a user's own accounts), allowed only by policy
TRANSFER_PERMISSIONS = frozenset({"InnerTransfer", "FlexTransfer"})
_SETTINGS_ID = "kucoin"
_OPERATOR_ENDINGS = ("key_possibly_created", "key_orphaned")


class Alerts(Protocol):
    """The alert service's raising shape."""

    async def raise_alert(  # noqa: PLR0917 - the alert service's shape
        self,
        kind: str,
        severity: str,
        subjects: list[str],
        summary: str,
        evidence: Mapping[str, object],
        now: datetime,
        *,
        tenant_id: str | None = None,
    ) -> object:
        """Store and deliver one alert."""
        ...


@dataclass(frozen=True, slots=True)
class FastApiSettings:
    """The broker's Fast API client as the operator configured it (nothing secret)."""

    client_id: str
    redirect_url: str
    base_url: str
    allow_transfer: bool
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Started:
    """Where to send the browser, and the cookie that binds the attempt to it."""

    location: str
    cookie: str
    max_age_s: int
    secure: bool


@dataclass(frozen=True, slots=True)
class AttemptView:
    """One attempt as the operator sees it."""

    id: str
    tenant_id: str
    account_name: str
    status: str
    reason: str | None
    api_key: str | None
    created_at: datetime
    finished_at: datetime | None


def _check_settings(client_id: str, redirect_url: str, base_url: str) -> None:
    if not client_id.strip() or len(client_id) > 128 or client_id != client_id.strip():
        raise InvalidBrokerSettings(
            "the client id must be 1 to 128 characters: copy it from KuCoin"
        )
    for label, url in (("redirect URL", redirect_url), ("OAuth base URL", base_url)):
        if not url.startswith(("https://", "http://")) or len(url) > 500 or " " in url:
            raise InvalidBrokerSettings(
                f"the {label} must be an absolute http(s) URL: the redirect URL is the gateway's "
                "/v1/onboarding/kucoin/callback exactly as registered at KuCoin"
            )


def _check_name(name: str) -> None:
    if not 0 < len(name) <= 200 or name != name.strip() or not name.isprintable():
        raise ValidationError(
            "the account name must be 1 to 200 printable characters", field="account"
        )


class FastApiOnboarding:
    """Starts and finishes "Connect with KuCoin" attempts."""

    def __init__(
        self,
        db: Database,
        accounts: AccountOnboarding,
        *,
        state_key: bytes,
        transport: Callable[[], Transport],
        timeout_s: float,
        alerts: Alerts | None = None,
        now: Now = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._accounts = accounts
        self._key = state_key
        self._make_transport = transport
        self._transport: Transport | None = None
        self._timeout = timeout_s
        self._alerts = alerts
        self._now = now

    async def configure(
        self,
        *,
        client_id: str,
        redirect_url: str,
        actor: str,
        base_url: str = KUCOIN_OAUTH,
        allow_transfer: bool = False,
    ) -> FastApiSettings:
        """Set the broker's Fast API client (audited as ``onboarding.configured``)."""
        _check_settings(client_id, redirect_url, base_url)
        now = self._now()
        async with self._db.write() as session:
            row = await session.get(FastApiSettingRow, _SETTINGS_ID)
            if row is None:
                row = FastApiSettingRow(id=_SETTINGS_ID)
                session.add(row)
            row.client_id, row.redirect_url, row.base_url = client_id, redirect_url, base_url
            row.allow_transfer, row.actor, row.updated_at = allow_transfer, actor, now
            detail = {
                "clientId": client_id,
                "redirectUrl": redirect_url,
                "baseUrl": base_url,
                "allowTransfer": allow_transfer,
            }
            await record(
                session, AuditAction.ONBOARDING_CONFIGURED, actor=actor, subject="fastapi",
                now=now, detail=detail,
            )  # fmt: skip
        return FastApiSettings(client_id, redirect_url, base_url, allow_transfer, now)

    async def settings(self) -> FastApiSettings | None:
        """The configured client, or None."""
        async with self._db.read() as session:
            row = await session.get(FastApiSettingRow, _SETTINGS_ID)
        if row is None:
            return None
        return FastApiSettings(
            row.client_id, row.redirect_url, row.base_url, row.allow_transfer, row.updated_at
        )

    async def _required(self) -> FastApiSettings:
        found = await self.settings()
        if found is None:
            raise OnboardingNotConfigured(
                "Connect with KuCoin is not configured: the operator runs `kcgateway onboarding "
                "configure --client-id ... --redirect-url ...` with the broker's Fast API client"
            )
        return found

    async def start(self, tenant_id: str, actor: str, account: str) -> Started:
        """Record an attempt for ``account`` and answer KuCoin's consent URL and the cookie."""
        _check_name(account)
        found = await self._required()
        await self._accounts.name_free(tenant_id, account)
        now = self._now()
        cookie, bound = new_binding()
        claims = StateClaims(secrets.token_hex(16), tenant_id, account, now + STATE_TTL, bound)
        async with self._db.write() as session:
            session.add(
                OnboardingAttemptRow(
                    id=claims.nonce,
                    tenant_id=tenant_id,
                    account_name=account,
                    actor=actor,
                    status="started",
                    created_at=now,
                    expires_at=claims.expires_at,
                )
            )
        config = FastApiClientConfig(found.base_url, found.client_id, found.redirect_url)
        location = authorize_url(config, make_state(self._key, claims))
        secure = found.redirect_url.startswith("https://")
        return Started(location, cookie, int(STATE_TTL.total_seconds()), secure)

    async def callback(self, params: Mapping[str, str], cookie: str | None) -> AccountView:
        """Finish an attempt from KuCoin's redirect; raises with what happened otherwise."""
        now = self._now()
        claims = read_state(self._key, params.get("state", ""))
        check_claims(claims, cookie, now)
        await self._claim(claims, now)
        if params.get("error"):
            await self._end(claims, "denied", reason=f"KuCoin answered {params['error']}")
            raise OnboardingRefused(
                "denied", "the connection was declined at KuCoin: nothing was created"
            )
        code = params.get("code", "")
        if not code:
            await self._end(claims, "failed", reason="no code in KuCoin's answer")
            raise OnboardingRefused("no_code", "KuCoin sent no authorization code: start again")
        return await self._connect(claims, code)

    async def _connect(self, claims: StateClaims, code: str) -> AccountView:
        found = await self._required()
        config = FastApiClientConfig(found.base_url, found.client_id, found.redirect_url)
        client = FastApiClient(self._shared_transport(), config, timeout=self._timeout)
        try:
            await self._accounts.name_free(claims.tenant_id, claims.account)
            tokens = await client.exchange_code(code)
            created = await client.create_key(tokens.access_token)
            del tokens  # never kept: the key exists now
        except KeyPossiblyCreated as exc:
            await self._end(claims, "key_possibly_created", reason=str(exc))
            raise
        except KcgatewayError as exc:
            await self._end(claims, "failed", reason=str(exc))
            raise
        return await self._seal(claims, created, found.allow_transfer)

    async def _seal(self, claims: StateClaims, created: CreatedKey, transfer: bool) -> AccountView:
        request = ConnectRequest(
            claims.account, created.api_key, created.secret, created.passphrase
        )
        also = TRANSFER_PERMISSIONS if transfer else frozenset[str]()
        actor = await self._actor(claims)
        try:
            view = await self._accounts.connect(claims.tenant_id, actor, request, also_allow=also)
        except KcgatewayError as exc:
            await self._end(claims, "key_orphaned", reason=str(exc), api_key=created.api_key)
            raise OnboardingRefused(
                "key_refused",
                f"{exc}. KuCoin created the API key {created.api_key} for this connection but the "
                "gateway did not keep it: delete it in KuCoin's API management, then start again",
            ) from None
        await self._end(claims, "connected", api_key=created.api_key, account_id=view.id)
        return view

    async def _claim(self, claims: StateClaims, now: datetime) -> None:
        """Move the attempt from started to exchanging, once; refuse a replay."""
        query = (
            update(OnboardingAttemptRow)
            .where(
                OnboardingAttemptRow.id == claims.nonce,
                OnboardingAttemptRow.tenant_id == claims.tenant_id,
                OnboardingAttemptRow.status == "started",
            )
            .values(status="exchanging")
        )
        async with self._db.write() as session:
            claimed = getattr(await session.execute(query), "rowcount", 0) == 1
        if not claimed:
            raise OnboardingRefused(
                "replayed",
                "this KuCoin answer was already used (a reload or a replay): nothing more was done;"
                " start the connection again if it did not finish",
            )

    async def _actor(self, claims: StateClaims) -> str:
        async with self._db.read() as session:
            row = await session.get(OnboardingAttemptRow, claims.nonce)
        return row.actor if row is not None else "onboarding"

    async def _end(
        self,
        claims: StateClaims,
        status: str,
        *,
        reason: str | None = None,
        api_key: str | None = None,
        account_id: str | None = None,
    ) -> None:
        now = self._now()
        async with self._db.write() as session:
            row = await session.get(OnboardingAttemptRow, claims.nonce)
            if row is None:  # pragma: no cover - claimed just before
                return
            row.status, row.reason, row.api_key = status, reason, api_key
            row.account_id, row.finished_at = account_id, now
            if status != "connected":
                detail = {"account": claims.account, "status": status, "reason": reason,
                          "apiKey": api_key}  # fmt: skip
                await record(
                    session, AuditAction.ONBOARDING_ENDED, actor=row.actor, subject=claims.nonce,
                    now=now, tenant_id=claims.tenant_id, detail=detail,
                )  # fmt: skip
        if status in _OPERATOR_ENDINGS:
            await self._alert(claims, status, reason, api_key, now)

    async def _alert(
        self,
        claims: StateClaims,
        status: str,
        reason: str | None,
        api_key: str | None,
        now: datetime,
    ) -> None:
        summary = (
            f"a KuCoin API key may exist for account {claims.account!r} that the gateway does not "
            "hold: check the user's KuCoin API management and delete it"
        )
        log.warning("onboarding %s ended %s: %s", claims.nonce, status, reason)
        if self._alerts is None:
            return
        subjects = [f"onboarding:{claims.nonce}", *([f"apikey:{api_key}"] if api_key else [])]
        evidence = {
            "status": status,
            "reason": reason,
            "account": claims.account,
            "apiKey": api_key,
        }
        await self._alerts.raise_alert(
            f"onboarding.{status}", "warning", subjects, summary, evidence, now,
            tenant_id=claims.tenant_id,
        )  # fmt: skip

    async def attempts(self, tenant_id: str | None = None) -> list[AttemptView]:
        """Attempts, newest first (one tenant's, or every tenant's for ``None``).

        A started attempt past its 10 minutes shows as ``expired`` (the user never came back).
        """
        query = select(OnboardingAttemptRow).order_by(OnboardingAttemptRow.created_at.desc())
        if tenant_id is not None:
            query = query.where(OnboardingAttemptRow.tenant_id == tenant_id)
        async with self._db.read() as session:
            rows = (await session.scalars(query)).all()
        now = self._now()
        return [
            AttemptView(
                r.id,
                r.tenant_id,
                r.account_name,
                "expired" if r.status == "started" and r.expires_at < now else r.status,
                r.reason,
                r.api_key,
                r.created_at,
                r.finished_at,
            )
            for r in rows
        ]

    def _shared_transport(self) -> Transport:
        if self._transport is None:
            self._transport = self._make_transport()
        return self._transport

    async def aclose(self) -> None:
        """Close the OAuth transport."""
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.aclose()
