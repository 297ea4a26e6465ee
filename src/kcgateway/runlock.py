"""One ``kcgateway serve`` per data directory: an advisory lock file that names its holder.

A second ``serve`` on the same directory would issue a new dev admin key (revoking the running
one's), start a second simulator and split the state. :func:`hold_data_dir` takes an exclusive
``flock`` on ``<data dir>/serve.lock`` and writes the holder's PID into it; a second process
fails at once with :class:`ConfigError` naming that PID. The kernel drops the lock when the
holder exits (even by SIGKILL), so a stale file never blocks a restart.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from kcgateway.errors import ConfigError

LOCK_NAME = "serve.lock"


def make_data_dir(path: Path) -> None:
    """Create the data directory (0700) if missing; ConfigError saying why it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the data directory {path} ({exc.strerror}): choose another with "
            "KCGW_DATA_DIR"
        ) from None


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode("ascii", "replace").strip()
    return text if text.isdigit() else "unknown"


@contextmanager
def hold_data_dir(path: Path) -> Iterator[None]:
    """Hold the data directory's serve lock while the block runs; ConfigError if taken."""
    lock = path / LOCK_NAME
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot open the lock file {lock} ({exc.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another kcgateway serve (pid {_holder(fd)}) is running on the data directory "
                f"{path}: stop it first, or give this one another KCGW_DATA_DIR"
            ) from None
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            with suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)
