"""Balances per (uid, account type, currency), with holds.

Invariants (checked by the state-machine tests):

* ``holds >= 0``; ``available = balance - holds``; on spot accounts ``holds <= balance``
  (a futures account can lose more than its margin: there is no liquidation engine).
* Every mutation conserves money: the sum of all balances plus :attr:`Ledger.fees` (the
  exchange's own book: fees earned, and the counterpart of realised futures PnL) equals
  :attr:`Ledger.funded` (what the admin put in) for every currency. Only :meth:`Ledger.fund`
  creates money.
* Balance events and ledger entries are not recorded for ephemeral users (market makers).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from kucoin_sim.engine.events import BalanceEvent, Outbox
from kucoin_sim.engine.ids import IdGenerator
from kucoin_sim.engine.types import ZERO, AccountType, Codes, EngineError

AccountKey = tuple[str, AccountType, str]


@dataclass(slots=True)
class Balance:
    """One account's money. ``available`` is derived."""

    id: str
    uid: str
    type: AccountType
    currency: str
    balance: Decimal = ZERO
    holds: Decimal = ZERO

    @property
    def available(self) -> Decimal:
        """Balance minus holds."""
        return self.balance - self.holds


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One balance change, as ``/api/v1/accounts/ledgers`` lists it (holds are not entries).

    ``biz_type`` is ``Deposit`` (admin funding), ``Transfer`` or ``Exchange`` (a trade's
    settlement, fee included); ``amount`` is signed (``direction`` out when negative).
    """

    id: str
    uid: str
    account_type: AccountType
    currency: str
    amount: Decimal
    balance: Decimal
    biz_type: str
    context: str
    created_at_ms: int

    @property
    def direction(self) -> str:
        """``in`` or ``out``."""
        return "out" if self.amount < 0 else "in"


def insufficient(account_type: AccountType) -> EngineError:
    """KuCoin's balance error for this account type (HF accounts use 126013)."""
    code = Codes.BALANCE_HF if account_type is AccountType.TRADE_HF else Codes.BALANCE
    return EngineError(code, "Balance insufficient!")


class Ledger:
    """All accounts of all users; records a :class:`BalanceEvent` for each change."""

    def __init__(self, ids: IdGenerator, outbox: Outbox) -> None:
        self._ids = ids
        self._outbox = outbox
        self._accounts: dict[AccountKey, Balance] = {}
        self._by_id: dict[str, Balance] = {}
        self.fees: dict[str, Decimal] = {}
        self.funded: dict[str, Decimal] = {}
        self.history: dict[str, deque[LedgerEntry]] = {}
        self.history_size = 1000
        self.ephemeral: set[str] = set()
        self._entries = 0

    def _record(self, acct: Balance, amount: Decimal, biz: str, ref: str, now_ms: int) -> None:
        """Keep a bounded per-user history of balance changes (not for ephemeral users)."""
        if acct.uid in self.ephemeral or not amount:
            return
        entries = self.history.get(acct.uid)
        if entries is None:
            entries = self.history[acct.uid] = deque(maxlen=self.history_size)
        self._entries += 1
        entries.append(
            LedgerEntry(
                f"{self._entries:024x}",
                acct.uid,
                acct.type,
                acct.currency,
                amount,
                acct.balance,
                biz,
                ref,
                now_ms,
            )
        )

    def entries(self, uid: str) -> list[LedgerEntry]:
        """A user's recorded balance changes, newest first."""
        return list(reversed(self.history.get(uid, ())))

    def account(self, uid: str, account_type: AccountType, currency: str) -> Balance:
        """The account, created empty (with a fresh 24-hex id) on first use."""
        key = (uid, account_type, currency)
        acct = self._accounts.get(key)
        if acct is None:
            acct = Balance(self._ids.object_id(0), uid, account_type, currency)
            self._accounts[key] = acct
            self._by_id[acct.id] = acct
        return acct

    def by_id(self, account_id: str) -> Balance | None:
        """The account with this id, if any."""
        return self._by_id.get(account_id)

    def accounts(
        self, uid: str, account_type: AccountType | None = None, currency: str | None = None
    ) -> list[Balance]:
        """A user's accounts, filtered, in creation order."""
        return [
            a
            for (u, t, c), a in self._accounts.items()
            if u == uid
            and (account_type is None or t is account_type)
            and (currency is None or c == currency)
        ]

    def all_accounts(self) -> Iterator[Balance]:
        """Every account of every user."""
        return iter(self._accounts.values())

    def fund(
        self, uid: str, account_type: AccountType, currency: str, amount: Decimal, now_ms: int
    ) -> Balance:
        """Admin deposit (or, negative, withdrawal of available money)."""
        acct = self.account(uid, account_type, currency)
        if acct.available + amount < 0:
            raise insufficient(account_type)
        acct.balance += amount
        self.funded[currency] = self.funded.get(currency, ZERO) + amount
        self._record(acct, amount, "Deposit", "", now_ms)
        self._emit(
            acct,
            available_change=amount,
            hold_change=ZERO,
            relation="main.deposit",
            ref="",
            now_ms=now_ms,
        )
        return acct

    def hold(self, acct: Balance, amount: Decimal, ref: str, now_ms: int) -> None:
        """Freeze ``amount`` of available money, or raise the balance error."""
        if amount > acct.available:
            raise insufficient(acct.type)
        acct.holds += amount
        self._emit(
            acct,
            available_change=-amount,
            hold_change=amount,
            relation="trade.hold",
            ref=ref,
            now_ms=now_ms,
        )

    def release(self, acct: Balance, amount: Decimal, ref: str, now_ms: int) -> None:
        """Unfreeze ``amount`` (no-op for zero)."""
        if amount:
            acct.holds -= amount
            self._emit(
                acct,
                available_change=amount,
                hold_change=-amount,
                relation="trade.hold",
                ref=ref,
                now_ms=now_ms,
            )

    def spend_held(self, acct: Balance, amount: Decimal, ref: str, now_ms: int) -> None:
        """Pay ``amount`` out of this account's holds (a fill consuming its frozen money)."""
        acct.holds -= amount
        acct.balance -= amount
        self._record(acct, -amount, "Exchange", ref, now_ms)
        self._emit(
            acct,
            available_change=ZERO,
            hold_change=-amount,
            relation="trade.setted",
            ref=ref,
            now_ms=now_ms,
        )

    def credit(self, acct: Balance, amount: Decimal, ref: str, now_ms: int) -> None:
        """Add (or, negative, remove) money to the balance; the caller keeps it non-negative."""
        acct.balance += amount
        self._record(acct, amount, "Exchange", ref, now_ms)
        self._emit(
            acct,
            available_change=amount,
            hold_change=ZERO,
            relation="trade.setted",
            ref=ref,
            now_ms=now_ms,
        )

    def collect_fee(self, currency: str, amount: Decimal) -> None:
        """Book a fee the exchange earned (kept for the conservation invariant)."""
        self.fees[currency] = self.fees.get(currency, ZERO) + amount

    def transfer(
        self,
        uid: str,
        currency: str,
        *,
        source: AccountType,
        target: AccountType,
        amount: Decimal,
        now_ms: int,
        to_uid: str | None = None,
    ) -> None:
        """Move available money between accounts.

        Between two accounts of one user (inner transfer) or, with ``to_uid``, to another
        user's account (sub-account and broker transfers).
        """
        if amount <= 0:
            raise EngineError(Codes.PARAM, "amount must be positive")
        src = self.account(uid, source, currency)
        if amount > src.available:
            raise insufficient(source)
        dst = self.account(to_uid or uid, target, currency)
        src.balance -= amount
        dst.balance += amount
        self._record(src, -amount, "Transfer", "", now_ms)
        self._record(dst, amount, "Transfer", "", now_ms)
        self._emit(
            src,
            available_change=-amount,
            hold_change=ZERO,
            relation="transfer",
            ref="",
            now_ms=now_ms,
        )
        self._emit(
            dst,
            available_change=amount,
            hold_change=ZERO,
            relation="transfer",
            ref="",
            now_ms=now_ms,
        )

    def _emit(
        self,
        acct: Balance,
        *,
        available_change: Decimal,
        hold_change: Decimal,
        relation: str,
        ref: str,
        now_ms: int,
    ) -> None:
        if not self._outbox.enabled or acct.uid in self.ephemeral:
            return
        self._outbox.put(
            BalanceEvent(
                acct.uid,
                acct.id,
                acct.type.value,
                acct.currency,
                acct.balance,
                acct.available,
                acct.holds,
                available_change,
                hold_change,
                relation,
                ref,
                now_ms,
            )
        )
