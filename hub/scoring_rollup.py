"""Keeping the daily roll-ups of events and metric samples (``hub.models.rollups``) current.

``ensure`` makes every day of a window complete: days never rolled up are rolled up, and
days that received rows since the last roll-up (found through the raw rows' ids, which only
grow) are rolled up again, so late webhooks, export lag and connector backfills are counted.
Everything happens in SQL (``INSERT ... SELECT ... GROUP BY``), one statement per run of
consecutive days. ``covers`` tells a reader whether it may use the roll-ups for a window;
readers fall back to the raw rows when it may not.

Rows are found by id, so rows *changed* in place (an event re-attributed to another account)
are only picked up by ``rebuild``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pandas as pd
from sqlalchemy import and_, case, delete, func, insert, literal, select, true
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from hub.models import Event, EventDaily, MetricDaily, MetricSample, RollupDay, RollupState
from hub.scoring_sql import (
    Scope,
    at_midnight,
    bucket_rows,
    epoch_day_of,
    event_names,
    feature_of,
    metric_days,
    rows_frame,
    with_active,
)
from scoring import frames
from scoring.config import FeatureConfig

KINDS = ("events", "metrics")
# On PostgreSQL a transaction can commit an id below one already seen (sequences are
# handed out before commit), so the ids just below the last maximum are checked again.
# SQLite has one writer at a time: ids are committed in order.
RECENT_IDS = {"sqlite": 0}
RECENT_IDS_DEFAULT = 10_000


def spec_of(config: FeatureConfig) -> str:
    """What the event roll-up depends on in the configuration: the events rolled up and the
    feature property (a change means rolling up again)."""
    parts = [config.feature_event, config.feature_property, *event_names(config)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _metric_spec(config: FeatureConfig) -> str:
    """The metrics rolled up and which of them are summed over their parts (a change means
    rolling up again)."""
    parts = [*_metric_names(config), "summed:", *config.summed_metrics]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _spans(days: set[int]) -> Iterator[tuple[int, int]]:
    """Runs of consecutive days as half-open ``(first, end)`` ranges."""
    ordered = sorted(days)
    start = prev = None
    for day in ordered:
        if start is None:
            start = prev = day
        elif day == prev + 1:
            prev = day
        else:
            yield start, prev + 1
            start = prev = day
    if start is not None:
        yield start, prev + 1


def _source(kind: str):
    return (
        (Event, Event.occurred_at) if kind == "events" else (MetricSample, MetricSample.measured_at)
    )


def _roll(
    conn: Connection, kind: str, config: FeatureConfig, first: int, end: int, top: int
) -> None:
    """Write the roll-up rows of days ``[first, end)`` from raw rows with id <= ``top``.

    Rows are upserted by their primary key (account, day, ...), which needs no index on the
    day: raw rows are only ever added, so a day's groups only grow. (Rows deleted or changed
    in place need ``rebuild``.)"""
    dialect = conn.dialect.name
    model, when = _source(kind)
    target = EventDaily if kind == "events" else MetricDaily
    conds = [when >= at_midnight(first), when < at_midnight(end), model.id <= top]
    if kind == "events":
        inner = (
            select(
                Event.account_id.label("account_id"),
                epoch_day_of(Event.occurred_at, dialect).label("day"),
                Event.name.label("name"),
                func.coalesce(feature_of(config), "").label("feature"),
            )
            .where(*conds, Event.account_id.is_not(None), Event.name.in_(event_names(config)))
            .subquery()
        )
        c = inner.c
        keys = (c.account_id, c.day, c.name, c.feature)
        rows = select(*keys, func.count()).where(true()).group_by(*keys)
        columns = ["account_id", "day", "name", "feature", "count"]
        values = ["count"]
    else:
        days = metric_days(
            dialect,
            config.summed_metrics,
            *conds,
            MetricSample.metric.in_(_metric_names(config)),
        ).c
        rows = select(days.account_id, days.day, days.metric, days.total, days.n).where(true())
        columns = ["account_id", "day", "metric", "total", "n"]
        values = ["total", "n"]
    # WHERE true: SQLite needs it before an upsert clause on INSERT ... SELECT
    upsert = (sqlite_insert if dialect == "sqlite" else postgresql_insert)(target)
    statement = upsert.from_select(columns, rows)
    statement = statement.on_conflict_do_update(
        index_elements=[c.name for c in target.__table__.primary_key.columns],
        set_={name: getattr(statement.excluded, name) for name in values},
    )
    conn.execute(statement)
    conn.execute(
        delete(RollupDay).where(RollupDay.kind == kind, RollupDay.day >= first, RollupDay.day < end)
    )
    conn.execute(insert(RollupDay), [{"kind": kind, "day": d} for d in range(first, end)])


def _ensure_kind(
    conn: Connection, kind: str, config: FeatureConfig, first: int, end: int
) -> dict[str, Any]:
    model, when = _source(kind)
    spec = spec_of(config) if kind == "events" else _metric_spec(config)
    state = conn.execute(select(RollupState).where(RollupState.kind == kind)).first()
    top = conn.scalar(select(func.max(model.id))) or 0
    covered = set(conn.scalars(select(RollupDay.day).where(RollupDay.kind == kind)))
    stale: set[int] = set()
    if state is None or state.spec != spec:
        covered = set()
        conn.execute(delete(RollupDay).where(RollupDay.kind == kind))
    elif covered:
        recent = RECENT_IDS.get(conn.dialect.name, RECENT_IDS_DEFAULT)
        day = epoch_day_of(when, conn.dialect.name)
        stale = set(
            conn.scalars(
                select(day).distinct().where(model.id > state.max_id - recent, model.id <= top)
            )
        )
    redo = (set(range(first, end)) - covered) | (stale & covered)
    for lo, hi in _spans(redo):
        _roll(conn, kind, config, lo, hi, top)
    values = {"max_id": top, "spec": spec}
    if state is None:
        conn.execute(insert(RollupState).values(kind=kind, **values))
    else:
        conn.execute(
            RollupState.__table__.update().where(RollupState.kind == kind).values(**values)
        )
    return {"days_rolled": len(redo), "max_id": top}


def ensure(engine: Engine, config: FeatureConfig, first: int, end: int) -> dict[str, Any]:
    """Make days ``[first, end)`` complete in both roll-ups (in one transaction)."""
    with engine.begin() as conn:
        return {kind: _ensure_kind(conn, kind, config, first, end) for kind in KINDS}


def rebuild(engine: Engine, config: FeatureConfig, first: int, end: int) -> dict[str, Any]:
    """Forget every roll-up and build days ``[first, end)`` again from the raw rows."""
    with engine.begin() as conn:
        for table in (EventDaily, MetricDaily, RollupDay, RollupState):
            conn.execute(delete(table))
    return ensure(engine, config, first, end)


def covers(conn: Connection, config: FeatureConfig, first: int, end: int) -> bool:
    """May a reader use the roll-ups for days ``[first, end)``? Every day is complete and no
    raw row for those days arrived after the last roll-up."""
    for kind in KINDS:
        model, when = _source(kind)
        state = conn.execute(select(RollupState).where(RollupState.kind == kind)).first()
        spec = spec_of(config) if kind == "events" else _metric_spec(config)
        if state is None or state.spec != spec:
            return False
        days = conn.scalar(
            select(func.count()).where(
                RollupDay.kind == kind, RollupDay.day >= first, RollupDay.day < end
            )
        )
        if days != end - first:
            return False
        late = conn.scalar(  # by id: SQLite would otherwise walk every row before ``end``
            select(model.id)
            .where(model.id > state.max_id, when < at_midnight(end))
            .order_by(model.id)
            .limit(1)
        )
        if late is not None:
            return False
    return True


# -- reading ----------------------------------------------------------------------------------
def read_activity_buckets(
    conn: Connection, config: FeatureConfig, as_of_day: int, scope: Scope
) -> pd.DataFrame:
    """Like ``scoring_store.load_activity_buckets``, from the event roll-up. Grouped by
    (account, event, feature), the order of the roll-up's key, with conditional sums per
    bucket, so the database streams instead of sorting. A group has one row per day (the
    key), so the sum of the day bits is their OR."""
    edges = [int(e) for e in frames.bucket_edges(as_of_day)]
    day = EventDaily.day
    sums = []
    for lo, hi in pairwise(edges):
        inside = and_(day >= lo, day < hi)
        day_bit = literal(1).op("<<")(day - lo)
        sums += [func.sum(case((inside, day_bit))), func.sum(case((inside, EventDaily.count)))]
    keys = (EventDaily.account_id, EventDaily.name, EventDaily.feature)
    stmt = (
        select(*keys, *sums)
        .where(
            day >= edges[0],
            day < as_of_day,
            EventDaily.name.in_(event_names(config)),
            *scope.where(EventDaily.account_id),
        )
        .group_by(*keys)
    )
    names = ["account_id", "event", "feature"]
    rows = bucket_rows(conn, stmt, names, ["mask", "count"], edges[:-1], plain=True)
    rows = rows[["account_id", "day", "event", "feature", "count", "mask"]]
    rows["feature"] = rows["feature"].replace("", None)
    return frames.typed(with_active(rows, config.active_events), "activity")


def _metric_names(config: FeatureConfig) -> list[str]:
    return sorted(set(config.metrics.values()))


def read_metric_buckets(
    conn: Connection, config: FeatureConfig, as_of_day: int, scope: Scope
) -> pd.DataFrame:
    """Like ``scoring_store.load_metric_buckets``, from the metric roll-up (grouped in the
    order of its key, like the activity)."""
    edges = [int(e) for e in frames.bucket_edges(as_of_day)]
    day = MetricDaily.day
    sums = []
    for lo, hi in pairwise(edges):
        inside = and_(day >= lo, day < hi)
        sums += [
            func.sum(case((inside, MetricDaily.total))),
            func.sum(case((inside, MetricDaily.n))),
        ]
    keys = (MetricDaily.account_id, MetricDaily.metric)
    stmt = (
        select(*keys, *sums)
        .where(
            day >= edges[0],
            day < as_of_day,
            MetricDaily.metric.in_(_metric_names(config)),
            *scope.where(MetricDaily.account_id),
        )
        .group_by(*keys)
    )
    rows = bucket_rows(conn, stmt, ["account_id", "metric"], ["total", "n"], edges[:-1], plain=True)
    return frames.typed(rows[list(frames.METRIC_COLUMNS)], "metrics")


def read_daily(
    conn: Connection, config: FeatureConfig, start: int, end: int, scope: Scope
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily event counts (account_id, day, event, feature, count) and daily metric sums
    for days ``[start, end)``, from the roll-ups."""
    events = select(
        EventDaily.account_id, EventDaily.day, EventDaily.name, EventDaily.feature, EventDaily.count
    ).where(
        EventDaily.day >= start,
        EventDaily.day < end,
        EventDaily.name.in_(event_names(config)),
        *scope.where(EventDaily.account_id),
    )
    daily = rows_frame(conn, events, ["account_id", "day", "event", "feature", "count"], plain=True)
    metrics = select(
        MetricDaily.account_id,
        MetricDaily.day,
        MetricDaily.metric,
        MetricDaily.total,
        MetricDaily.n,
    ).where(
        MetricDaily.day >= start,
        MetricDaily.day < end,
        MetricDaily.metric.in_(_metric_names(config)),
        *scope.where(MetricDaily.account_id),
    )
    metrics_frame = rows_frame(conn, metrics, list(frames.METRIC_COLUMNS), plain=True)
    return daily, frames.typed(metrics_frame, "metrics")
