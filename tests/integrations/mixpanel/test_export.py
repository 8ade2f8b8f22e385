"""Raw Event Export: parsing, dedupe on Mixpanel's key, account mapping, cursor and overlap."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from sqlalchemy import func, select

from hub.db import db
from hub.models import Account, Contact, Event, SyncState
from integrations.errors import FatalError, RetriableError
from integrations.mixpanel.client import Backoff, ExportClient
from integrations.mixpanel.events import AccountMapper, source_event_id
from integrations.mixpanel.export import day_windows, import_lines, pull
from integrations.mixpanel.limiter import RateLimiter
from integrations.mixpanel.sink import EventSink, SqliteTimestamps
from tests.integrations.mixpanel.conftest import EXPORT_URL, mp_line

T0 = int(datetime(2025, 3, 1, 9, 30, tzinfo=UTC).timestamp())


@pytest.fixture
def tenant(session):
    """Two accounts; contacts mapped by distinct_id and by email."""
    a = Account(name="Hash Mining", mixpanel_group_key="acme-1")
    b = Account(name="Volt Capital", mixpanel_group_key="volt-2")
    session.add_all([a, b])
    session.flush()
    session.add_all(
        [
            Contact(account_id=a.id, email="ana@acme.io", mixpanel_distinct_id="u-ana"),
            Contact(account_id=b.id, email="Bo@Volt.io"),
        ]
    )
    session.commit()
    return a, b


def _import(lines, keep=None):
    with db.engine.connect() as conn:
        mapper = AccountMapper.load(conn, "company_id", "mixpanel_group_key")
        conn.commit()
        return import_lines(lines, mapper, EventSink(conn, batch_size=3), keep)


def test_documented_lines_are_stored_once_however_often_read(app, tenant, session):
    """The same export read twice (and a duplicate inside it) stores each event once."""
    lines = [
        mp_line("session_start", T0, "u-ana", "ins-1"),
        mp_line("feature_used", T0 + 5, "u-ana", "ins-2", feature="auto_tuning"),
        mp_line("feature_used", T0 + 5, "u-ana", "ins-2", feature="auto_tuning"),  # raw dup
        mp_line("session_start", T0 + 9, "someone", "ins-3", **{"$email": "bo@volt.io"}),
    ]
    first = _import(lines)
    assert (first.lines, first.inserted, first.duplicates) == (4, 3, 1)
    second = _import(lines)
    assert (second.inserted, second.duplicates) == (0, 4)
    assert session.scalar(select(func.count(Event.id))) == 3


def test_mixpanel_key_decides_what_is_a_duplicate(app, tenant, session):
    """Same (event, time, distinct_id, $insert_id) collapses; a different part keeps both."""
    base = ("feature_used", T0, "u-ana", "ins-9")
    variants = [
        mp_line(*base),
        mp_line(*base, feature="other"),  # same key, other props: Mixpanel calls it a dup
        mp_line("feature_used", T0 + 1, "u-ana", "ins-9"),
        mp_line("feature_used", T0, "u-bo", "ins-9"),
        mp_line("session_start", T0, "u-ana", "ins-9"),
        mp_line("feature_used", T0, "u-ana", "ins-10"),
    ]
    stats = _import(variants)
    assert (stats.inserted, stats.duplicates) == (5, 1)


def test_events_without_insert_id_collapse_only_when_identical(app, tenant, session):
    """Without $insert_id only byte-identical property sets are the same event."""
    stats = _import(
        [
            mp_line("legacy", T0, "u-ana", feature="a"),
            mp_line("legacy", T0, "u-ana", feature="a"),
            mp_line("legacy", T0, "u-ana", feature="b"),
        ]
    )
    assert (stats.inserted, stats.duplicates) == (2, 1)


def test_mapping_by_distinct_id_email_and_account_property(app, tenant, session):
    """distinct_id first, then $email (case-insensitive), then the configured property."""
    a, b = tenant
    _import(
        [
            mp_line("e1", T0, "u-ana", "1"),
            mp_line("e2", T0, "anon-7", "2", **{"$email": "BO@volt.io"}),
            mp_line("e3", T0, "anon-8", "3", company_id="acme-1"),
            mp_line("e4", T0, "anon-9", "4", company_id="nobody"),
        ]
    )
    rows = dict(session.execute(select(Event.name, Event.account_id)).all())
    assert rows == {"e1": a.id, "e2": b.id, "e3": a.id, "e4": None}
    ana = session.scalar(select(Contact.id).where(Contact.mixpanel_distinct_id == "u-ana"))
    assert session.scalar(select(Event.contact_id).where(Event.name == "e1")) == ana


def test_bad_lines_are_counted_not_stored(app, tenant, session):
    """Malformed JSON, a missing time or a non-object line is skipped with a count."""
    stats = _import(
        [
            b'{"event": "ok", "properties": {"time": 1740821400, "distinct_id": "u-ana"}}',
            b'{"event": "broken", "properties": {"time": ',
            b'{"event": "no_time", "properties": {"distinct_id": "u-ana"}}',
            b"[1, 2, 3]",
            b'{"event": "bad_time", "properties": {"time": "soon", "distinct_id": "x"}}',
        ]
    )
    assert (stats.lines, stats.inserted, stats.invalid) == (5, 1, 4)
    assert session.scalar(select(func.count(Event.id))) == 1


def test_stored_shape_time_and_properties(app, tenant, session):
    """Time is exact UTC; Mixpanel's own $/mp_ properties are dropped, custom ones kept."""
    _import([mp_line("feature_used", T0, "u-ana", "i-1", feature="alerts", plan="pro")])
    event = session.scalars(select(Event)).one()
    assert event.occurred_at == datetime.fromtimestamp(T0, UTC)
    assert event.properties == {"feature": "alerts", "plan": "pro"}
    assert event.source == "mixpanel" and event.distinct_id == "u-ana"
    assert event.source_event_id == source_event_id(
        "feature_used", T0, "u-ana", "i-1", {}
    ) and event.source_event_id.startswith(f"{T0:010d}-")


def test_fast_and_portable_paths_store_identical_rows(app, tenant, session):
    """The SQLite bulk path and the dialect insert path write the same values."""
    lines = [mp_line("e", T0 + i, "u-ana", f"i{i}", n=i) for i in range(7)]
    lines.append(b'{"event":"ms","properties":{"time":1740821400123,"distinct_id":"x"}}')
    out = {}
    for fast in (True, False):
        with db.engine.connect() as conn:
            mapper = AccountMapper.load(conn, "company_id", "mixpanel_group_key")
            conn.commit()
            import_lines(lines, mapper, EventSink(conn, batch_size=4, fast=fast))
        out[fast] = [
            (e.account_id, e.name, e.occurred_at, e.properties, e.source_event_id)
            for e in session.scalars(select(Event).order_by(Event.source_event_id))
        ]
        session.rollback()
        with db.engine.begin() as conn:
            conn.execute(Event.__table__.delete())
    assert out[True] == out[False] and len(out[True]) == 8
    in_ms = next(row for row in out[True] if row[1] == "ms")
    assert in_ms[2] == datetime(2025, 3, 1, 9, 30, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize("epoch", [0, 1.5, 86399.999999, T0, T0 + 0.000001, 4102444799.25])
def test_sqlite_timestamps_match_sqlalchemy(epoch):
    """The bulk path renders datetimes exactly as SQLAlchemy's SQLite type does."""
    from sqlalchemy.dialects import sqlite

    from hub.db import UTCDateTime

    dialect = sqlite.dialect()
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    value = UTCDateTime().process_bind_param(datetime.fromtimestamp(epoch, UTC), dialect)
    assert SqliteTimestamps()(epoch) == process(value)


def test_day_windows_cover_range_without_gaps():
    """Windows are consecutive, inclusive and at most N days."""
    windows = list(day_windows(date(2025, 1, 1), date(2025, 1, 8), 3))
    assert windows == [
        (date(2025, 1, 1), date(2025, 1, 3)),
        (date(2025, 1, 4), date(2025, 1, 6)),
        (date(2025, 1, 7), date(2025, 1, 8)),
    ]


def _export_server(rsps, days: dict[str, list[bytes]], calls: list, status_first=None):
    """Fake export endpoint: lines per UTC day, checks auth and project_id."""
    statuses = list(status_first or [])

    def callback(request):
        query = parse_qs(urlsplit(request.url).query)
        calls.append((query["from_date"][0], query["to_date"][0]))
        assert request.headers["Authorization"].startswith("Basic ")
        assert query["project_id"] == ["1234567"]
        if statuses:
            code = statuses.pop(0)
            return code, {}, '{"error": "slow down", "status": 0}'
        start = date.fromisoformat(query["from_date"][0])
        stop = date.fromisoformat(query["to_date"][0])
        body = b"".join(
            line + b"\n"
            for day, lines in sorted(days.items())
            if start <= date.fromisoformat(day) <= stop
            for line in lines
        )
        return 200, {"Content-Type": "text/plain"}, body

    rsps.add_callback(responses.GET, EXPORT_URL, callback=callback)


def _ts(day: str, hour: int = 12) -> int:
    return int(datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC).timestamp())


def test_pull_cursor_and_overlap(app, tenant, session, mp_settings, no_sleep):
    """First pull from start_date; the next re-reads the overlap and never doubles events."""
    settings = mp_settings.__class__(**{**mp_settings.__dict__, "start_date": date(2025, 3, 1)})
    days = {
        d: [mp_line("session_start", _ts(d), "u-ana", f"{d}-1")]
        for d in ("2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04")
    }
    calls: list = []
    with responses.RequestsMock() as rsps:
        _export_server(rsps, days, calls)
        client = ExportClient(settings, backoff=Backoff(sleep=no_sleep))
        first = pull(db.engine, settings, client, today=date(2025, 3, 4))
        assert calls == [("2025-03-01", "2025-03-03"), ("2025-03-04", "2025-03-04")]
        assert (first.stats.inserted, first.cursor) == (4, "2025-03-04")
        # a late event for 03-03 arrives; the next day's pull re-reads 03-03 and 03-04
        days["2025-03-03"].append(mp_line("late_event", _ts("2025-03-03", 23), "u-ana", "late"))
        days["2025-03-05"] = [mp_line("session_start", _ts("2025-03-05"), "u-ana", "5-1")]
        calls.clear()
        second = pull(db.engine, settings, client, today=date(2025, 3, 5))
    assert calls == [("2025-03-03", "2025-03-05")]
    assert (second.stats.inserted, second.stats.duplicates) == (2, 2)
    assert session.scalar(select(func.count(Event.id))) == 6
    state = session.scalars(select(SyncState).where(SyncState.stream == "mixpanel:export")).one()
    assert state.cursor == "2025-03-05"


def test_pull_backs_off_on_429_and_5xx(app, tenant, mp_settings, no_sleep, redis_url):
    """429 and 503 are retried after back-off (a 429 also pauses every worker); then it works."""
    from redis import Redis

    redis = Redis.from_url(redis_url)
    limiter = RateLimiter(
        redis, "mixpanel-export:test", [(1, 100), (3600, 60)], sleep=no_sleep, clock=no_sleep.time
    )
    calls: list = []
    with responses.RequestsMock() as rsps:
        _export_server(
            rsps, {"2025-03-01": [mp_line("e", _ts("2025-03-01"), "u-ana", "1")]}, calls, [429, 503]
        )
        client = ExportClient(mp_settings, limiter=limiter, backoff=Backoff(sleep=no_sleep))
        lines = list(client.iter_lines(date(2025, 3, 1), date(2025, 3, 1)))
    assert len(lines) == 1 and len(calls) == 3
    # one back-off after the 429 (it also sets the shared pause), one after the 503
    assert len(no_sleep.delays) == 2 and all(3 <= d <= 65 for d in no_sleep.delays)
    assert redis.exists("cshub:ratelimit:mixpanel-export:test:penalty")


def test_pull_gives_up_as_retriable_and_keeps_cursor(app, tenant, session, mp_settings, no_sleep):
    """Persistent 5xx ends in RetriableError; the cursor does not move."""
    calls: list = []
    with responses.RequestsMock() as rsps:
        _export_server(rsps, {}, calls, [502] * 10)
        client = ExportClient(mp_settings, backoff=Backoff(attempts=3, sleep=no_sleep))
        with pytest.raises(RetriableError):
            pull(db.engine, mp_settings, client, today=date(2025, 3, 4))
    assert len(calls) == 3
    assert session.scalar(select(func.count(SyncState.id))) == 0


def test_bad_credentials_are_fatal_without_retry(app, tenant, mp_settings, no_sleep):
    """A 401 is not retried: the credentials need fixing."""
    calls: list = []
    with responses.RequestsMock() as rsps:
        _export_server(rsps, {}, calls, [401])
        client = ExportClient(mp_settings, backoff=Backoff(sleep=no_sleep))
        with pytest.raises(FatalError, match="401"):
            list(client.iter_lines(date(2025, 3, 1), date(2025, 3, 1)))
    assert len(calls) == 1 and no_sleep.delays == []


def test_long_backfill_pauses_at_the_hourly_budget(app, tenant, session, mp_settings, no_sleep):
    """Out of export queries mid-backfill: stop cleanly, keep the cursor, go on next time."""
    settings = mp_settings.__class__(
        **{**mp_settings.__dict__, "start_date": date(2025, 3, 1), "days_per_request": 1}
    )
    days = {
        d: [mp_line("session_start", _ts(d), "u-ana", f"{d}-1")]
        for d in ("2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04")
    }
    limiter = RateLimiter(None, "budget", [(3600, 2)], clock=no_sleep.time, sleep=no_sleep)
    calls: list = []
    with responses.RequestsMock() as rsps:
        _export_server(rsps, days, calls)
        client = ExportClient(settings, limiter=limiter, backoff=Backoff(sleep=no_sleep))
        first = pull(db.engine, settings, client, today=date(2025, 3, 4))
        assert first.paused and "rate limit" in first.paused
        assert (first.queries, first.cursor, first.stats.inserted) == (2, "2025-03-02", 2)
        no_sleep(3600)
        second = pull(db.engine, settings, client, today=date(2025, 3, 4))
    assert second.paused is None and second.cursor == "2025-03-04"
    assert session.scalar(select(func.count(Event.id))) == 4
