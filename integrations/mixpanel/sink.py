"""Batched, idempotent writes of events: ``INSERT ... ON CONFLICT DO NOTHING``.

Two paths, one result. On SQLite the rows go straight to the driver's ``executemany`` with
values pre-rendered the way SQLAlchemy stores them (this is the bulk path a large export
takes); on any other database (PostgreSQL) the dialect's ``insert().on_conflict_do_nothing()``
runs through SQLAlchemy's types with ``RETURNING`` to count what was new.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import insert as generic_insert
from sqlalchemy.engine import Connection

from hub.models import Event

_COLUMNS = (
    "account_id",
    "contact_id",
    "name",
    "occurred_at",
    "properties",
    "source",
    "source_event_id",
    "distinct_id",
    "created_at",
)
_SQLITE_INSERT = (
    f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    "ON CONFLICT (source, source_event_id) DO NOTHING"
)


class SqliteTimestamps:
    """Epoch seconds -> SQLAlchemy's SQLite DATETIME text (``YYYY-MM-DD HH:MM:SS.ffffff``).

    Whole seconds (what exports carry) take a fast path: the date text is cached per day (a
    bounded cache) and the time of day comes from two small tables.
    """

    _MINUTES = tuple(f" {m // 60:02d}:{m % 60:02d}:" for m in range(1440))
    _SECONDS = tuple(f"{s:02d}.000000" for s in range(60))

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def _day(self, day: int) -> str:
        text = self._days.get(day)
        if text is None:
            if len(self._days) > 4096:
                self._days.clear()
            text = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
            self._days[day] = text
        return text

    def __call__(self, epoch: float) -> str:
        if type(epoch) is int:
            day, rest = divmod(epoch, 86400)
            minute, second = divmod(rest, 60)
            return self._day(day) + self._MINUTES[minute] + self._SECONDS[second]
        micros = round(epoch * 1_000_000)
        seconds, us = divmod(micros, 1_000_000)
        day, rest = divmod(seconds, 86400)
        minute, second = divmod(rest, 60)
        return f"{self._day(day)}{self._MINUTES[minute]}{second:02d}.{us:06d}"


def _dialect_insert(dialect_name: str):
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect_name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - cshub supports SQLite and PostgreSQL
        return None
    return insert


class EventSink:
    """Collects rows and writes them in batches, each batch in its own committed transaction."""

    def __init__(
        self,
        conn: Connection,
        *,
        source: str = "mixpanel",
        batch_size: int = 5000,
        fast: bool = True,
    ) -> None:
        self.conn = conn
        self.source = source
        self.batch_size = batch_size
        self.fast = fast and conn.dialect.name == "sqlite"
        self.inserted = 0
        self.duplicates = 0
        self._rows: list[Any] = []
        self._ts = SqliteTimestamps()
        self._created = self._ts(datetime.now(UTC).timestamp())
        insert = _dialect_insert(conn.dialect.name)
        self._stmt = (
            insert(Event)
            .on_conflict_do_nothing(index_elements=["source", "source_event_id"])
            .returning(Event.id)
            if insert is not None
            else generic_insert(Event)
        )

    def add(
        self,
        account_id: int | None,
        contact_id: int | None,
        name: str,
        epoch: float,
        properties: dict,
        key: str,
        distinct_id: str | None,
    ) -> None:
        if self.fast:
            self._rows.append(
                (
                    account_id,
                    contact_id,
                    name,
                    self._ts(epoch),
                    orjson.dumps(properties).decode(),
                    self.source,
                    key,
                    distinct_id,
                    self._created,
                )
            )
        else:
            self._rows.append(
                {
                    "account_id": account_id,
                    "contact_id": contact_id,
                    "name": name,
                    "occurred_at": datetime.fromtimestamp(epoch, UTC),
                    "properties": properties,
                    "source": self.source,
                    "source_event_id": key,
                    "distinct_id": distinct_id,
                }
            )
        if len(self._rows) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Write what is pending and commit."""
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        if self.fast:
            result = self.conn.exec_driver_sql(_SQLITE_INSERT, rows)
            new = max(0, result.rowcount)
            self._created = self._ts(datetime.now(UTC).timestamp())
        else:
            now = datetime.now(UTC)
            for row in rows:
                row["created_at"] = now
            new = len(self.conn.execute(self._stmt, rows).all())
        self.conn.commit()
        self.inserted += new
        self.duplicates += len(rows) - new
