"""Pull: the Raw Event Export, incremental by day, into ``events``.

The cursor (``SyncState`` stream ``mixpanel:export``) is the last UTC day fully imported.
Each run re-reads ``overlap_days`` already-imported days (late-arriving events land there)
and goes on to today, one export query per ``days_per_request`` days; the cursor moves after
each query's events are committed. Re-reading is harmless: every event's
``source_event_id`` comes from Mixpanel's dedupe key and the insert ignores conflicts.
Memory stays flat: lines are streamed and written in fixed-size batches.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from hub.models import SyncState
from integrations.errors import RetriableError
from integrations.mixpanel.client import ExportClient
from integrations.mixpanel.events import (
    AccountMapper,
    PropertySelector,
    epoch_seconds,
    source_event_id,
)
from integrations.mixpanel.settings import MixpanelSettings
from integrations.mixpanel.sink import EventSink

log = logging.getLogger(__name__)

STREAM = "mixpanel:export"
FIRST_PULL_DAYS = 30


@dataclass
class ImportStats:
    lines: int = 0
    inserted: int = 0
    duplicates: int = 0
    unmapped: int = 0
    invalid: int = 0

    def add(self, other: ImportStats) -> None:
        for name in ("lines", "inserted", "duplicates", "unmapped", "invalid"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class PullResult:
    from_date: str | None = None
    to_date: str | None = None
    queries: int = 0
    cursor: str | None = None
    paused: str | None = None  # the hourly query budget ran out; the next pull goes on
    stats: ImportStats = field(default_factory=ImportStats)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(out.pop("stats"))
        return out


def import_lines(
    lines: Iterable[bytes],
    mapper: AccountMapper,
    sink: EventSink,
    keep: tuple[str, ...] | None = None,
) -> ImportStats:
    """Parse, key, map and write every line; bad lines are counted, never stored.

    This is the hot loop of a pull (millions of lines): names are bound locally, and the
    cyclic garbage collector is paused (the loop makes no reference cycles; batches of
    tuples would otherwise be rescanned on every collection).
    """
    stats = ImportStats()
    inserted0, duplicates0 = sink.inserted, sink.duplicates
    resolve, add, select_props = mapper.resolve, sink.add, PropertySelector(keep)
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    key = source_event_id
    lines_seen = invalid = unmapped = 0
    collecting = gc.isenabled()
    gc.disable()
    try:
        for line in lines:
            lines_seen += 1
            try:
                doc = loads(line)
                name = doc["event"]
                props = doc["properties"]
                raw_time = props["time"]
                if type(raw_time) is int and raw_time < 100_000_000_000:
                    epoch = raw_time
                else:
                    epoch = epoch_seconds(raw_time)
            except (decode_error, KeyError, TypeError, ValueError):
                invalid += 1
                continue
            if type(name) is not str or type(props) is not dict:
                invalid += 1
                continue
            distinct = props.get("distinct_id")
            distinct_id = "" if distinct is None else str(distinct)
            account_id, contact_id = resolve(distinct_id, props)
            if account_id is None:
                unmapped += 1
            add(
                account_id,
                contact_id,
                name,
                epoch,
                select_props(props),
                key(name, raw_time, distinct_id, props.get("$insert_id"), props, epoch),
                distinct_id or None,
            )
        sink.flush()
    finally:
        if collecting:
            gc.enable()
    stats.lines, stats.invalid, stats.unmapped = lines_seen, invalid, unmapped
    stats.inserted = sink.inserted - inserted0
    stats.duplicates = sink.duplicates - duplicates0
    return stats


def day_windows(start: date, end: date, days: int) -> Iterator[tuple[date, date]]:
    """``start``..``end`` in consecutive inclusive windows of at most ``days`` days."""
    cursor = start
    while cursor <= end:
        stop = min(end, cursor + timedelta(days=days - 1))
        yield cursor, stop
        cursor = stop + timedelta(days=1)


def _state(conn: Connection) -> tuple[date | None, dict[str, Any]]:
    row = conn.execute(
        select(SyncState.cursor, SyncState.state).where(SyncState.stream == STREAM)
    ).first()
    if row is None or not row.cursor:
        return None, dict(row.state or {}) if row else {}
    return date.fromisoformat(row.cursor), dict(row.state or {})


def _save_state(conn: Connection, cursor: date, state: dict[str, Any]) -> None:
    from sqlalchemy import insert, update

    now = datetime.now(UTC)
    updated = conn.execute(
        update(SyncState)
        .where(SyncState.stream == STREAM)
        .values(cursor=cursor.isoformat(), state=state, updated_at=now)
    )
    if updated.rowcount == 0:
        conn.execute(
            insert(SyncState).values(
                stream=STREAM, cursor=cursor.isoformat(), state=state, updated_at=now
            )
        )
    conn.commit()


def pull(
    engine: Engine,
    settings: MixpanelSettings,
    client: ExportClient,
    *,
    today: date | None = None,
    since: date | None = None,
) -> PullResult:
    """Import from the cursor (minus the overlap), or from ``since`` (a backfill), to today."""
    today = today or datetime.now(UTC).date()
    result = PullResult()
    with engine.connect() as conn:
        cursor, state = _state(conn)
        if since is not None:
            start = since
        elif cursor is not None and state.get("paused"):
            start = cursor + timedelta(days=1)  # resume a paused backfill where it stopped
        elif cursor is not None:
            start = cursor + timedelta(days=1 - settings.overlap_days)
        else:
            start = settings.start_date or today - timedelta(days=FIRST_PULL_DAYS - 1)
        start = min(start, today)
        result.from_date, result.to_date = start.isoformat(), today.isoformat()
        mapper = AccountMapper.load(conn, settings.account_property, settings.account_field)
        conn.commit()
        sink = EventSink(conn)
        for window_start, window_end in day_windows(start, today, settings.days_per_request):
            lines = client.iter_lines(window_start, window_end)
            try:
                stats = import_lines(lines, mapper, sink, settings.keep_properties)
            except RetriableError as exc:
                if exc.status == 429 and exc.retry_after and result.queries > 0:
                    result.paused = str(exc)  # a long backfill: continue on the next pull
                    state["paused"] = True
                    _save_state(conn, cursor, state)
                    break
                raise
            result.stats.add(stats)
            result.queries += 1
            new_cursor = window_end if cursor is None else max(cursor, window_end)
            state["paused"] = False
            state.update(
                last_window=[window_start.isoformat(), window_end.isoformat()], **_counts(stats)
            )
            _save_state(conn, new_cursor, state)
            cursor = new_cursor
            log.info(
                "mixpanel export %s..%s: %d lines, %d new, %d duplicate, %d unmapped, %d invalid",
                window_start,
                window_end,
                stats.lines,
                stats.inserted,
                stats.duplicates,
                stats.unmapped,
                stats.invalid,
            )
        result.cursor = cursor.isoformat() if cursor else None
    return result


def _counts(stats: ImportStats) -> dict[str, int]:
    return {f"last_{k}": v for k, v in asdict(stats).items()}
