"""Fencing tokens: a write made on behalf of an account's lease proves the lease is still held.

:func:`hold` is the first statement of such a transaction: a no-op UPDATE of the lease row that
matches only while this instance owns it under this epoch. It row-locks the lease (PostgreSQL)
or runs under SQLite's single writer, so no take can commit between the check and the commit of
the write it guards; a stale epoch raises :class:`~kcgateway.errors.LeaseLost` and the
transaction rolls back with nothing written. ``gateway/cluster/leases.py`` takes and renews the
leases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, update

from kcgateway.errors import LeaseLost
from kcgateway.store.cluster_tables import AccountLeaseRow
from kcgateway.store.fastsql import Prepared, Runner

_LEASES = cast(Table, AccountLeaseRow.__table__)
_HOLD = Prepared(
    update(_LEASES)
    .where(
        _LEASES.c.account_id == bindparam("lease_account", type_=_LEASES.c.account_id.type),
        _LEASES.c.owner_instance_id
        == bindparam("lease_owner", type_=_LEASES.c.owner_instance_id.type),
        _LEASES.c.epoch == bindparam("lease_epoch", type_=_LEASES.c.epoch.type),
    )
    .values(epoch=_LEASES.c.epoch)
    .returning(_LEASES.c.epoch)
)


@dataclass(frozen=True, slots=True)
class Fence:
    """The lease a write is made under: the account, its owner instance and the epoch it held."""

    account_id: str
    owner: str
    epoch: int


async def hold(ex: Runner, fence: Fence) -> None:
    """Check (and lock) the lease in ``ex``'s transaction; LeaseLost if the epoch is stale."""
    params = {
        "lease_account": fence.account_id,
        "lease_owner": fence.owner,
        "lease_epoch": fence.epoch,
    }  # bind names no column has: an UPDATE would take a column's name for its SET
    if not await ex.rows(_HOLD, params):
        raise LeaseLost(fence.account_id, fence.epoch)
