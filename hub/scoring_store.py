"""Loading scoring inputs from the store, with the heavy aggregation done in SQL.

For a scoring run at one as-of day, events and metric samples are summed per account into
the window buckets of that day (``scoring.frames.bucket_edges``), so a few rows per account
reach Python however many events there are. For training, they are summed per account and
day over the whole history. A ``Scope`` limits a load to an id range (one chunk of a run)
or a modulo sample of accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from itertools import pairwise

import numpy as np
import pandas as pd
from sqlalchemy import Integer, and_, case, cast, distinct, func, literal, select
from sqlalchemy.engine import Connection

from hub.models import Account, Event, MetricSample, SubscriptionChange, SurveyResponse
from scoring import frames
from scoring.config import FeatureConfig
from scoring.frames import ScoringInputs

JULIAN_EPOCH = 2440587.5
DEAD_STATUSES = ("churned", "canceled")


@dataclass(frozen=True)
class Scope:
    """Which accounts a load covers."""

    lo: int | None = None  # lowest account id (inclusive)
    hi: int | None = None  # highest account id (inclusive)
    modulo: tuple[int, int] | None = None  # (k, r): ids with id % k == r
    alive_only: bool = True  # customers only (not churned, not deleted)

    def where(self, column) -> list:
        conds = []
        if self.lo is not None:
            conds.append(column >= self.lo)
        if self.hi is not None:
            conds.append(column <= self.hi)
        if self.modulo is not None:
            k, r = self.modulo
            conds.append(column % k == r)
        return conds


def at_midnight(day: int) -> datetime:
    return datetime.combine(frames.day_to_date(day), time(0), tzinfo=UTC)


def epoch_day_of(column, dialect: str):
    """SQL for the epoch day (UTC) of a date/time column."""
    if dialect == "sqlite":
        return cast(func.julianday(column) - JULIAN_EPOCH, Integer)
    return cast(func.floor(func.extract("epoch", column) / 86400.0), Integer)


def rows_frame(conn: Connection, stmt, columns: list[str]) -> pd.DataFrame:
    """The rows of ``stmt`` as a frame (built column-wise: much faster than from rows)."""
    rows = conn.execute(stmt).all()
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return pd.DataFrame(dict(zip(columns, zip(*rows, strict=True), strict=True)))


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


def event_names(config: FeatureConfig) -> list[str]:
    names = {
        *config.active_events,
        *config.session_events,
        *config.in_app_events,
        *config.email_open_events,
        *config.email_click_events,
        *config.ticket_events,
        config.feature_event,
    }
    return sorted(names)


def _event_scope(scope: Scope, accounts: pd.DataFrame) -> list:
    conds = scope.where(Event.account_id)
    if scope.alive_only and len(accounts):
        conds += [Event.account_id >= int(accounts["account_id"].min())]
        conds += [Event.account_id <= int(accounts["account_id"].max())]
    return conds


def feature_of(config: FeatureConfig):
    return case(
        (Event.name == config.feature_event, Event.properties[config.feature_property].as_string()),
        else_=None,
    )


def name_filter(column, scope: Scope):
    """``column`` for an IN filter; for an id-range scope, written so that SQLite's planner
    walks the (account, time) index rather than the (name, time) one."""
    return column + "" if scope.lo is not None or scope.hi is not None else column


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
    return frames.typed(_with_active(rows, config.active_events), "activity")


def _with_active(rows: pd.DataFrame, active_events: tuple[str, ...]) -> pd.DataFrame:
    """Days and last day from each row's day mask, plus the ``ACTIVE`` rows (the OR of the
    masks of the active events per account and bucket)."""
    if rows.empty:
        return frames.empty_activity()
    rows = rows.astype({"account_id": "int64", "day": "int64", "count": "int64"})
    mask = rows.pop("mask").to_numpy(dtype="int64")
    active = rows["event"].isin(active_events).to_numpy()
    grouped = (
        pd.DataFrame({"account_id": rows["account_id"], "day": rows["day"], "mask": mask})[active]
        .groupby(["account_id", "day"], sort=False)["mask"]
        .agg(np.bitwise_or.reduce)
        .reset_index()
    )
    act_mask = grouped.pop("mask").to_numpy(dtype="int64")
    act = grouped.assign(event=frames.ACTIVE, feature=None, count=_popcount(act_mask))
    act["days"], act["last_day"] = act["count"], act["day"] + _highest_bit(act_mask)
    rows["days"], rows["last_day"] = _popcount(mask), rows["day"] + _highest_bit(mask)
    return pd.concat([rows, act[rows.columns]], ignore_index=True)


def _popcount(mask: np.ndarray) -> np.ndarray:
    as_bytes = mask.astype("<u8").view(np.uint8).reshape(-1, 8)
    return np.unpackbits(as_bytes, axis=1).sum(axis=1).astype("int64")


def _highest_bit(mask: np.ndarray) -> np.ndarray:
    return np.floor(np.log2(np.maximum(mask, 1))).astype("int64")


def load_metric_buckets(
    conn: Connection, config: FeatureConfig, as_of_day: int, scope: Scope, accounts: pd.DataFrame
) -> pd.DataFrame:
    """Sums and counts of samples per account, metric and window bucket. Grouped by
    (account, metric), the order of the samples' index, with one pair of conditional sums
    per bucket, so the database streams instead of sorting."""
    edges = [int(e) for e in frames.bucket_edges(as_of_day)]
    at = MetricSample.measured_at
    buckets = [
        (lo, and_(at >= at_midnight(lo), at < at_midnight(hi))) for lo, hi in pairwise(edges)
    ]
    aggregates = []
    for _, inside in buckets:
        value = case((inside, MetricSample.value), else_=None)
        aggregates += [func.sum(value), func.count(value)]
    stmt = (
        select(MetricSample.account_id, MetricSample.metric, *aggregates)
        .where(
            at >= at_midnight(edges[0]),
            at < at_midnight(as_of_day),
            MetricSample.metric.in_(sorted(set(config.metrics.values()))),
            *scope.where(MetricSample.account_id),
        )
        .group_by(MetricSample.account_id, MetricSample.metric)
    )
    names = [f"{kind}{i}" for i in range(len(buckets)) for kind in ("total", "n")]
    wide = rows_frame(conn, stmt, ["account_id", "metric", *names])
    parts = [
        pd.DataFrame(
            {
                "account_id": wide["account_id"],
                "day": lo,
                "metric": wide["metric"],
                "total": wide[f"total{i}"],
                "n": wide[f"n{i}"],
            }
        )
        for i, (lo, _) in enumerate(buckets)
    ]
    rows = pd.concat(parts, ignore_index=True) if parts else wide
    rows = rows[pd.to_numeric(rows["n"]).fillna(0) > 0]
    return frames.typed(rows[list(frames.METRIC_COLUMNS)].fillna({"total": 0.0}), "metrics")


def load_milestones(
    conn: Connection, config: FeatureConfig, as_of_day: int, scope: Scope
) -> pd.DataFrame:
    if not config.milestone_events:
        return frames.typed(pd.DataFrame({c: [] for c in frames.MILESTONE_COLUMNS}), "milestones")
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


def only_accounts(frame: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    keep = frame["account_id"].isin(accounts["account_id"])
    return frame if keep.all() else frame[keep].reset_index(drop=True)


def load_for_scoring(
    conn: Connection, config: FeatureConfig, as_of_day: int, scope: Scope
) -> ScoringInputs:
    """Inputs for scoring the accounts in ``scope`` as of ``as_of_day`` (bucketed)."""
    accounts = load_accounts(conn, config, scope)
    return ScoringInputs(
        accounts=accounts,
        activity=only_accounts(
            load_activity_buckets(conn, config, as_of_day, scope, accounts), accounts
        ),
        metrics=only_accounts(
            load_metric_buckets(conn, config, as_of_day, scope, accounts), accounts
        ),
        milestones=only_accounts(load_milestones(conn, config, as_of_day, scope), accounts),
        surveys=only_accounts(load_surveys(conn, as_of_day, scope), accounts),
        subscriptions=only_accounts(load_subscriptions(conn, as_of_day, scope), accounts),
        bucketed_as_of=as_of_day,
    )
