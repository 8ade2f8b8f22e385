"""How request threads write: one writer at a time per SQLite database, and group commit.

SQLite allows one writer; a writer that finds the database locked waits in SQLite's busy
handler, which sleeps in steps of 1, 2, 5, 10... ms and so turns a short wait into a long one
when several gunicorn threads and processes insert at once. ``exclusive`` queues this host's
writers on a ``flock`` next to the database file instead (threads of a process first on a
mutex), and the kernel wakes the next one as soon as the lock is released. PostgreSQL needs
none of this.

``GroupCommit`` lets the request threads of a process share one transaction and one Redis
round trip: the first thread to arrive writes every delivery waiting at that moment (its own
included) while later arrivals queue for the next batch, led by the first of them. Every
thread still answers only after its own delivery is committed, so nothing is acknowledged
that is not stored; a batch that fails fails every delivery in it.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Generic, TypeVar

from sqlalchemy.engine import Engine

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

_mutex = threading.Lock()
_files: dict[str, IO[bytes]] = {}

Item = TypeVar("Item")
Result = TypeVar("Result")


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


class _Slot(Generic[Item, Result]):
    __slots__ = ("error", "item", "leads", "ready", "result")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.leads = False
        self.ready = threading.Lock()  # held until the slot is done or handed the lead
        self.ready.acquire()


class GroupCommit(Generic[Item, Result]):
    """Batch the items that threads ``submit`` at the same time into one ``write`` call.

    ``write`` gets the batch's items in arrival order and returns one result per item; if it
    raises, every ``submit`` of that batch raises the same exception.
    """

    def __init__(self, write: Callable[[list[Item]], list[Result]], max_batch: int = 256) -> None:
        self._write = write
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Slot[Item, Result]] = []
        self._writing = False

    def submit(self, item: Item) -> Result:
        """Write ``item`` (with whatever else is waiting) and return its result."""
        slot: _Slot[Item, Result] = _Slot(item)
        with self._lock:
            self._waiting.append(slot)
            slot.leads = not self._writing
            self._writing = True
        if not slot.leads:
            slot.ready.acquire()
        if slot.leads:  # first in, or handed the lead by the batch before
            self._lead()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _lead(self) -> None:
        with self._lock:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
        try:
            results = self._write([s.item for s in batch])
            for s, result in zip(batch, results, strict=True):
                s.result = result
        except BaseException as exc:  # handed to every thread of the batch
            for s in batch:
                s.error = exc
        with self._lock:
            if self._waiting:
                self._waiting[0].leads = True
                self._waiting[0].ready.release()
            else:
                self._writing = False
        for s in batch:
            s.leads = False
            s.ready.release()
