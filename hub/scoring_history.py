"""Loading history from the store: daily inputs for training snapshots, and past health
scores for trends. Aggregated in SQL like ``hub.scoring_store``."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from hub import scoring_rollup
from hub.models import Event, HealthScore, MetricSample
from hub.scoring_sql import (
    Scope,
    at_midnight,
    epoch_day_of,
    event_names,
    feature_of,
    name_filter,
    only_accounts,
    rows_frame,
)
from hub.scoring_store import load_accounts, load_milestones, load_subscriptions, load_surveys
from scoring import frames
from scoring.config import FeatureConfig
from scoring.frames import ScoringInputs


def load_history(
    conn: Connection, config: FeatureConfig, end_day: int, start_day: int, scope: Scope
) -> ScoringInputs:
    """Daily inputs from ``start_day`` to before ``end_day`` for training snapshots: from
    the daily roll-ups when they cover the days, else from the raw rows (same result)."""
    accounts = load_accounts(conn, config, scope)
    if scoring_rollup.covers(conn, config, start_day, end_day):
        daily, metrics = scoring_rollup.read_daily(conn, config, start_day, end_day, scope)
        daily["feature"] = daily["feature"].replace("", None)
    else:
        daily, metrics = _raw_daily(conn, config, start_day, end_day, scope)
    return ScoringInputs(
        accounts=accounts,
        activity=only_accounts(frames.activity_from_daily(daily, config.active_events), accounts),
        metrics=only_accounts(metrics, accounts),
        milestones=only_accounts(load_milestones(conn, config, end_day, scope), accounts),
        surveys=only_accounts(load_surveys(conn, end_day, scope), accounts),
        subscriptions=only_accounts(load_subscriptions(conn, end_day, scope), accounts),
    )


def _raw_daily(
    conn: Connection, config: FeatureConfig, start_day: int, end_day: int, scope: Scope
) -> tuple[pd.DataFrame, pd.DataFrame]:
    dialect = conn.dialect.name
    start, end = at_midnight(start_day), at_midnight(end_day)
    day = epoch_day_of(Event.occurred_at, dialect)
    inner = (
        select(
            Event.account_id.label("account_id"),
            day.label("day"),
            Event.name.label("event"),
            feature_of(config).label("feature"),
        )
        .where(
            Event.occurred_at >= start,
            Event.occurred_at < end,
            name_filter(Event.name, scope).in_(event_names(config)),
            Event.account_id.is_not(None),
            *scope.where(Event.account_id),
        )
        .subquery()
    )
    c = inner.c
    keys = (c.account_id, c.day, c.event, c.feature)
    daily = rows_frame(
        conn,
        select(*keys, func.count()).group_by(*keys),
        ["account_id", "day", "event", "feature", "count"],
    )
    mday = epoch_day_of(MetricSample.measured_at, dialect)
    minner = (
        select(
            MetricSample.account_id.label("account_id"),
            mday.label("day"),
            MetricSample.metric.label("metric"),
            MetricSample.value.label("value"),
        )
        .where(
            MetricSample.measured_at >= start,
            MetricSample.measured_at < end,
            MetricSample.metric.in_(sorted(set(config.metrics.values()))),
            *scope.where(MetricSample.account_id),
        )
        .subquery()
    )
    m = minner.c
    metrics = rows_frame(
        conn,
        select(m.account_id, m.day, m.metric, func.sum(m.value), func.count(m.value)).group_by(
            m.account_id, m.day, m.metric
        ),
        list(frames.METRIC_COLUMNS),
    )
    return daily, frames.typed(metrics, "metrics")


def load_score_history(
    conn: Connection, scope: Scope, since: datetime, until: datetime
) -> pd.DataFrame:
    """Stored health scores (account_id, day, score) computed in ``[since, until)``."""
    day = epoch_day_of(HealthScore.computed_at, conn.dialect.name)
    stmt = select(HealthScore.account_id, day, HealthScore.score).where(
        HealthScore.computed_at >= since,
        HealthScore.computed_at < until,
        *scope.where(HealthScore.account_id),
    )
    frame = rows_frame(
        conn, stmt.order_by(HealthScore.computed_at, HealthScore.id), ["account_id", "day", "score"]
    )
    return frame


def history_start(end_day: int, history_days: int) -> int:
    """The first day training needs: the oldest snapshot's lookback window."""
    return end_day - history_days - frames.LOOKBACK_DAYS
