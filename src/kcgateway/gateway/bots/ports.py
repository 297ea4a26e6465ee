"""What the bots need from the vault (``vault/signal_secrets.py`` satisfies it; main wires it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from kcgateway.secret import Secret
from kcgateway.vault.signal_tokens import SealedSecret


class SecretBox(Protocol):
    """Seals signal secrets and checks signals against them; never returns a secret."""

    def seal(self, *, tenant_id: str, bot_id: str, secret_id: str, secret: Secret) -> SealedSecret:
        """Encrypt one secret for this (tenant, bot, secret id)."""
        ...

    def matches(
        self, tenant_id: str, bot_id: str, sealed: Sequence[SealedSecret], presented: str
    ) -> bool:
        """True when ``presented`` equals one of the live secrets."""
        ...

    def verify_standard(  # noqa: PLR0917 - whose secrets, the three headers, the body
        self,
        tenant_id: str,
        bot_id: str,
        sealed: Sequence[SealedSecret],
        msg_id: str,
        timestamp: int,
        body: bytes,
        signatures: str,
    ) -> bool:
        """True when one signature of the list is a live secret's for this message."""
        ...
