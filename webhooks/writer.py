"""One writer at a time for an SQLite database, queued on an OS file lock.

SQLite allows one writer; a writer that finds the database locked waits in SQLite's busy
handler, which sleeps in steps of 1, 2, 5, 10... ms and so turns a short wait into a long one
when several gunicorn threads and processes insert at once. Here this host's writers queue on
a ``flock`` next to the database file instead (threads of a process first on a mutex), and the
kernel wakes the next one as soon as the lock is released. PostgreSQL needs none of this.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from sqlalchemy.engine import Engine

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

_mutex = threading.Lock()
_files: dict[str, IO[bytes]] = {}


@atexit.register
def _close_all() -> None:
    for handle in _files.values():
        handle.close()
    _files.clear()


def _lock_file(database: str) -> IO[bytes] | None:
    if fcntl is None or not database or database == ":memory:":
        return None
    if database not in _files:
        _files[database] = open(f"{database}.writer-lock", "ab")  # noqa: SIM115 - kept open
    return _files[database]


@contextmanager
def exclusive(engine: Engine) -> Iterator[None]:
    """Hold the write turn for ``engine``'s database (a no-op for other databases)."""
    if engine.dialect.name != "sqlite":
        yield
        return
    with _mutex:
        handle = _lock_file(engine.url.database or "")
        if handle is None:
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
