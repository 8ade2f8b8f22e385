"""Loading scoring inputs from the store, with the heavy aggregation done in SQL.

For a scoring run at one as-of day, events and metric samples are summed per account into
the window buckets of that day (``scoring.frames.bucket_edges``), so a few rows per account
reach Python however many events there are. For training, they are summed per account and
day over the whole history. A ``Scope`` limits a load to an id range (one chunk of a run)
or a modulo sample of accounts.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
from sqlalchemy import and_, bindparam, case, distinct, func, literal, select, text
from sqlalchemy.engine import Connection

from hub import scoring_rollup
from hub.db import UTCDateTime
from hub.models import Account, Event, MetricSample, SubscriptionChange, SurveyResponse
from hub.scoring_sql import (
    Scope,
    at_midnight,
    bucket_rows,
    epoch_day_of,
    event_names,
    feature_of,
    metric_days,
    name_filter,
    only_accounts,
    rows_frame,
    with_active,
)
from scoring import frames
from scoring.config import FeatureConfig
from scoring.frames import ScoringInputs

DEAD_STATUSES = ("churned", "canceled")


def _alive(scope: Scope) -> list:
    conds = [Account.deleted_at.is_(None), *scope.where(Account.id)]
    if scope.alive_only:
        conds += [Account.churned_at.is_(None), Account.status.not_in(DEAD_STATUSES)]
    return conds


def load_accounts(conn: Connection, config: FeatureConfig, scope: Scope) -> pd.DataFrame:
    dialect = conn.dialect.name
    stmt = select(
        Account.id,
        Account.segment,
        Account.plan,
        Account.mrr,
        epoch_day_of(Account.signup_date, dialect),
        epoch_day_of(Account.renewal_date, dialect),
        epoch_day_of(Account.churned_at, dialect),
        Account.attributes[config.nominal_hashrate_attribute].as_float(),
        Account.attributes[config.target_yield_attribute].as_float(),
    ).where(*_alive(scope))
    columns = [
        "account_id",
        "segment",
        "plan",
        "mrr",
        "signup_day",
        "renewal_day",
        "churn_day",
        "nominal_hashrate_ths",
        "target_yield_pct",
    ]
    return frames.normalise_accounts(rows_frame(conn, stmt.order_by(Account.id), columns))


def account_ids(conn: Connection, scope: Scope) -> np.ndarray:
    """The ids of the accounts in ``scope``, ascending."""
    stmt = select(Account.id).where(*_alive(scope)).order_by(Account.id)
    return np.fromiter(conn.scalars(stmt), dtype="int64")


def _event_scope(scope: Scope, accounts: pd.DataFrame) -> list:
    conds = scope.where(Event.account_id)
    if scope.alive_only and len(accounts):
        conds += [Event.account_id >= int(accounts["account_id"].min())]
        conds += [Event.account_id <= int(accounts["account_id"].max())]
    return conds


def load_activity_buckets(
    conn: Connection, config: FeatureConfig, as_of_day: int, scope: Scope, accounts: pd.DataFrame
) -> pd.DataFrame:
    """Event counts per account, event (and feature) and window bucket of ``as_of_day``.

    Each row also carries the set of days it happened on as a bit mask (the sum of distinct
    powers of two is their bitwise OR), so distinct days, the last day and the days with any
    active event come out of the same single pass over the events."""
    dialect = conn.dialect.name
    edges = frames.bucket_edges(as_of_day)
    start, end = at_midnight(int(edges[0])), at_midnight(as_of_day)
    bucket = case(
        *[(Event.occurred_at >= at_midnight(int(e)), int(e)) for e in edges[-2:0:-1]],
        else_=int(edges[0]),
    )
    inner = (
        select(
            Event.account_id.label("account_id"),
            bucket.label("bucket"),
            Event.name.label("event"),
            feature_of(config).label("feature"),
            epoch_day_of(Event.occurred_at, dialect).label("day"),
        )
        .where(
            Event.occurred_at >= start,
            Event.occurred_at < end,
            name_filter(Event.name, scope).in_(event_names(config)),
            Event.account_id.is_not(None),
            *_event_scope(scope, accounts),
        )
        .subquery()
    )
    c = inner.c
    keys = (c.account_id, c.bucket, c.event, c.feature)
    day_bit = literal(1).op("<<")(c.day - c.bucket)
    stmt = select(*keys, func.count(), func.sum(distinct(day_bit))).group_by(*keys)
    rows = rows_frame(conn, stmt, ["account_id", "day", "event", "feature", "count", "mask"])
    return frames.typed(with_active(rows, config.active_events), "activity")


def load_metric_buckets(
    conn: Connection, config: FeatureConfig, as_of_day: int, scope: Scope, accounts: pd.DataFrame
) -> pd.DataFrame:
    """Totals and counts per account, metric and window bucket, from the day values of
    ``metric_days`` (the roll-up's rows, computed from the raw samples)."""
    edges = [int(e) for e in frames.bucket_edges(as_of_day)]
    at = MetricSample.measured_at
    days = metric_days(
        conn.dialect.name,
        config.summed_metrics,
        at >= at_midnight(edges[0]),
        at < at_midnight(as_of_day),
        MetricSample.metric.in_(sorted(set(config.metrics.values()))),
        *scope.where(MetricSample.account_id),
    ).c
    aggregates = []
    for lo, hi in pairwise(edges):
        inside = and_(days.day >= lo, days.day < hi)
        aggregates += [
            func.sum(case((inside, days.total), else_=None)),
            func.coalesce(func.sum(case((inside, days.n), else_=None)), 0),
        ]
    stmt = select(days.account_id, days.metric, *aggregates).group_by(days.account_id, days.metric)
    rows = bucket_rows(conn, stmt, ["account_id", "metric"], ["total", "n"], edges[:-1])
    return frames.typed(rows[list(frames.METRIC_COLUMNS)].fillna({"total": 0.0}), "metrics")


def load_milestones(
    conn: Connection, config: FeatureConfig, as_of_day: int, scope: Scope
) -> pd.DataFrame:
    if not config.milestone_events:
        return frames.typed(pd.DataFrame({c: [] for c in frames.MILESTONE_COLUMNS}), "milestones")
    if conn.dialect.name == "sqlite" and (scope.lo is not None or scope.hi is not None):
        lo = scope.lo if scope.lo is not None else -(2**62)
        hi = scope.hi if scope.hi is not None else 2**62
        return _sqlite_milestones(conn, config, as_of_day, [(lo, hi)])
    day = epoch_day_of(Event.occurred_at, conn.dialect.name)
    stmt = (
        select(Event.account_id, Event.name, func.min(day))
        .where(
            Event.name.in_(config.milestone_events),  # sparse: the (name, time) index suits
            Event.occurred_at < at_midnight(as_of_day),
            Event.account_id.is_not(None),
            *scope.where(Event.account_id),
        )
        .group_by(Event.account_id, Event.name)
    )
    return frames.typed(rows_frame(conn, stmt, list(frames.MILESTONE_COLUMNS)), "milestones")


def load_milestones_in(
    conn: Connection, config: FeatureConfig, as_of_day: int, ranges: list[tuple[int, int]]
) -> pd.DataFrame:
    """Milestones of the accounts with ids in any of the inclusive ``ranges``: on SQLite in
    one query (each query walks every milestone event, however narrow its ranges)."""
    if conn.dialect.name == "sqlite" and config.milestone_events:
        return _sqlite_milestones(conn, config, as_of_day, ranges)
    parts = [load_milestones(conn, config, as_of_day, Scope(lo=lo, hi=hi)) for lo, hi in ranges]
    return frames.typed(pd.concat(parts, ignore_index=True), "milestones")


def _sqlite_milestones(
    conn: Connection, config: FeatureConfig, as_of_day: int, ranges: list[tuple[int, int]]
) -> pd.DataFrame:
    """Milestones are a few events per account over all time: read through the (name, time)
    index. Given an id range SQLite's planner would walk every event of those accounts."""
    within = " OR ".join(f"account_id BETWEEN :lo{i} AND :hi{i}" for i in range(len(ranges)))
    stmt = text(
        "SELECT account_id, name, min(CAST(julianday(occurred_at) - 2440587.5 AS INTEGER))"
        " FROM events INDEXED BY ix_events_name_time"
        f" WHERE name IN :names AND occurred_at < :end AND ({within})"
        " GROUP BY account_id, name"
    ).bindparams(
        bindparam("names", list(config.milestone_events), expanding=True),
        bindparam("end", at_midnight(as_of_day), type_=UTCDateTime()),
        **{f"lo{i}": lo for i, (lo, _) in enumerate(ranges)},
        **{f"hi{i}": hi for i, (_, hi) in enumerate(ranges)},
    )
    frame = rows_frame(conn, stmt, list(frames.MILESTONE_COLUMNS), plain=True)
    return frames.typed(frame, "milestones")


def load_surveys(conn: Connection, as_of_day: int, scope: Scope) -> pd.DataFrame:
    day = epoch_day_of(SurveyResponse.answered_at, conn.dialect.name)
    stmt = select(
        SurveyResponse.account_id,
        day,
        SurveyResponse.kind,
        SurveyResponse.score,
        SurveyResponse.sentiment,
        case((SurveyResponse.sentiment.is_(None), SurveyResponse.comment), else_=None),
    ).where(
        SurveyResponse.answered_at < at_midnight(as_of_day),
        *scope.where(SurveyResponse.account_id),
    )
    return frames.typed(rows_frame(conn, stmt, list(frames.SURVEY_COLUMNS)), "surveys")


def load_subscriptions(conn: Connection, before_day: int, scope: Scope) -> pd.DataFrame:
    day = epoch_day_of(SubscriptionChange.occurred_at, conn.dialect.name)
    stmt = select(
        SubscriptionChange.account_id,
        day,
        SubscriptionChange.kind,
        SubscriptionChange.plan,
        SubscriptionChange.mrr_before,
        SubscriptionChange.mrr_after,
    ).where(
        SubscriptionChange.occurred_at < at_midnight(before_day),
        *scope.where(SubscriptionChange.account_id),
    )
    frame = rows_frame(
        conn, stmt.order_by(SubscriptionChange.occurred_at), list(frames.SUBSCRIPTION_COLUMNS)
    )
    return frames.typed(frame, "subscriptions")


def load_for_scoring(
    conn: Connection,
    config: FeatureConfig,
    as_of_day: int,
    scope: Scope,
    milestones: pd.DataFrame | None = None,
) -> ScoringInputs:
    """Inputs for scoring the accounts in ``scope`` as of ``as_of_day`` (bucketed): from the
    daily roll-ups when they cover the window, else from the raw rows (same result).
    ``milestones`` loaded beforehand for more accounts are kept to the scope's."""
    accounts = load_accounts(conn, config, scope)
    if scoring_rollup.covers(conn, config, as_of_day - frames.LOOKBACK_DAYS, as_of_day):
        activity = scoring_rollup.read_activity_buckets(conn, config, as_of_day, scope)
        metrics = scoring_rollup.read_metric_buckets(conn, config, as_of_day, scope)
    else:
        activity = load_activity_buckets(conn, config, as_of_day, scope, accounts)
        metrics = load_metric_buckets(conn, config, as_of_day, scope, accounts)
    return ScoringInputs(
        accounts=accounts,
        activity=only_accounts(activity, accounts),
        metrics=only_accounts(metrics, accounts),
        milestones=only_accounts(
            load_milestones(conn, config, as_of_day, scope) if milestones is None else milestones,
            accounts,
        ),
        surveys=only_accounts(load_surveys(conn, as_of_day, scope), accounts),
        subscriptions=only_accounts(load_subscriptions(conn, as_of_day, scope), accounts),
        bucketed_as_of=as_of_day,
    )
