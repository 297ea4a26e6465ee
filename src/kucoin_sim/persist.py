"""Keep a simulator's state in a file, so a restarted simulator still knows its orders.

``make run`` embeds the simulator as the paper exchange. Without this, every restart started
a fresh exchange: orders placed before it stayed ``open`` in the gateway and could never be
cancelled (the new simulator had never heard of them), balances reset, fills were forgotten.
:func:`save_state` writes what the exchange and its users hold; :func:`load_state` puts it
back into a freshly built :class:`~kucoin_sim.state.SimState` before it serves.

What is kept: the engine (books, orders, fills, balances, futures positions, market makers,
id generators), users, API keys, broker partners, transfers, rebate files, leverage and margin
modes, and the clientOid counters. What is not: WebSocket tokens and sessions (clients
reconnect, as they do after any KuCoin disconnect), the rate-limit windows, faults, OAuth codes
and tokens, and running scenarios.

The format is :mod:`pickle` behind a magic line and a version: the state is a graph of about
forty plain classes (Decimal, deque, dataclasses, the seeded ``random.Random``) that pickle
writes faithfully and nothing else does without a schema per class. Unpickling runs code named
by the file, so :func:`load_state` refuses a file that is not a regular file owned by this
user, or that group or others may write (as ssh does for its keys). The file lives in the
gateway's data directory (0700), beside the development KEK that guards much more. The write
is atomic (temporary file, fsync, rename): a crash mid-write leaves the previous state.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kucoin_sim.state import SimState

log = logging.getLogger("kucoin_sim.persist")

MAGIC = b"kucoin_sim state\n"
VERSION = 1

KEPT = (
    "exchange",
    "rng",
    "users",
    "keys",
    "partners",
    "transfers",
    "files",
    "cross_leverage",
    "margin_mode",
    "accepted_by_client_oid",
    "scenario_names",
    "scenario_groups",
    "_id_counter",
)
"""The :class:`SimState` attributes a saved state holds (the module docstring says why)."""


class StateFileError(Exception):
    """The state file cannot be used; the message says why and what to do."""


def save_state(state: SimState, path: Path) -> None:
    """Write ``state`` to ``path`` atomically (0600); the previous file stays until renamed."""
    body = pickle.dumps(
        {"version": VERSION, "state": {name: getattr(state, name) for name in KEPT}},
        protocol=pickle.HIGHEST_PROTOCOL,
    )
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, MAGIC)
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def _check_owner(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise StateFileError(f"{path} is not a regular file: move it away to start afresh")
    if info.st_uid != os.getuid():
        raise StateFileError(
            f"{path} belongs to another user (uid {info.st_uid}): the simulator loads only its "
            "own state files; move it away to start afresh"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StateFileError(
            f"{path} may be written by others: chmod 600 it (or move it away to start afresh)"
        )


def load_state(state: SimState, path: Path) -> bool:
    """Put the saved state at ``path`` into ``state``; False if there is no such file.

    Raises :class:`StateFileError` for a file that is unsafe to load, not a state file, or of
    another version.
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    _check_owner(path, info)
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise StateFileError(f"{path} is not a simulator state file: move it away")
    try:
        saved: Any = pickle.loads(data[len(MAGIC) :])  # noqa: S301 - own file, checked above
    except Exception as exc:  # a truncated or damaged file: any unpickling error
        raise StateFileError(
            f"{path} is damaged ({type(exc).__name__}): move it away to start afresh"
        ) from None
    if not isinstance(saved, dict) or saved.get("version") != VERSION:
        raise StateFileError(
            f"{path} was written by another simulator version: move it away to start afresh"
        )
    for name in KEPT:
        setattr(state, name, saved["state"][name])
    return True


async def keep_saving(state: SimState, path: Path, every_s: float) -> None:
    """Save ``state`` to ``path`` every ``every_s`` seconds until cancelled.

    A crash (``kill -9``) then loses at most that period of the simulator's history; a clean
    stop saves once more (the caller's job, after its servers stopped). A failed write is
    logged and tried again at the next period.
    """
    while True:
        await asyncio.sleep(every_s)
        try:
            save_state(state, path)
        except OSError:
            log.exception("could not save the simulator's state to %s", path)
