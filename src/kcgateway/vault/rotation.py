"""KEK rotation: rewrap every data key under a new KEK. Resumable and idempotent.

Each row records the KEK that wraps its DEK, so a run only touches rows not yet on the new KEK,
in batches of ``batch_size``, each batch one transaction. Each update is a compare-and-set on
the row's previous wrapped key, so a concurrent writer is never overwritten. Killed half way, a
second run finishes the job; run on a finished store, it changes nothing. Field ciphertexts are
never touched (only the DEK wrapping changes), so no plaintext credential is ever decrypted here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from kcgateway.store.records import CredentialRecord, Rewrap
from kcgateway.vault.envelope import rewrap_dek
from kcgateway.vault.kek import KekProvider, KeyRing
from kcgateway.vault.ports import CredentialStore

Progress = Callable[[int, int], None]
MAX_STALLS = 3


class RotationStalled(RuntimeError):
    """Rows kept changing between read and update; rerun the rotation when writers are quiet."""


@dataclass(frozen=True, slots=True)
class RotationResult:
    """``rewrapped`` rows moved in this run; ``total`` rows that were not on the new KEK."""

    rewrapped: int
    total: int
    new_kek_id: str


async def pending(store: CredentialStore, new_kek_id: str) -> int:
    """How many rows are not yet on ``new_kek_id``."""
    counts = await store.count_by_kek()
    return sum(n for kek_id, n in counts.items() if kek_id != new_kek_id)


async def _rewrap_batch(
    batch: list[CredentialRecord], ring: KeyRing, new: KekProvider
) -> list[Rewrap]:
    if new.performs_io or any(getattr(ring.find(r.kek_id), "performs_io", False) for r in batch):
        return await asyncio.to_thread(lambda: [rewrap_dek(r, ring, new) for r in batch])
    return [rewrap_dek(r, ring, new) for r in batch]


async def rotate_kek(
    store: CredentialStore,
    ring: KeyRing,
    new: KekProvider,
    *,
    now: Callable[[], datetime],
    batch_size: int = 100,
    on_progress: Progress | None = None,
) -> RotationResult:
    """Rewrap every DEK that ``ring`` can open onto ``new``; stops at the first unreadable row."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    total = await pending(store, new.kek_id)
    done = stalls = 0
    if on_progress is not None:
        on_progress(done, total)
    while batch := await store.not_on_kek(new.kek_id, limit=batch_size):
        changes = await _rewrap_batch(batch, ring, new)
        applied = await store.apply_rewraps(changes, now=now())
        done += applied
        if on_progress is not None:
            on_progress(done, total)
        stalls = 0 if applied else stalls + 1
        if stalls > MAX_STALLS:  # rows keep changing under us: stop rather than spin
            raise RotationStalled(f"no row could be rewrapped in {MAX_STALLS} batches in a row")
    return RotationResult(rewrapped=done, total=total, new_kek_id=new.kek_id)
