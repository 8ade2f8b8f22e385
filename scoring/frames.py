"""The input frames scoring works on, and the reductions that make them from raw rows.

Every date is an *epoch day* (days since 1970-01-01, UTC). "As of day d" means the start of
day d: only rows with ``day < d`` may be seen.

- ``accounts``: account_id, segment, plan, mrr, signup_day, renewal_day, churn_day,
  nominal_hashrate_ths, target_yield_pct (one row per account).
- ``activity``: account_id, day, event, feature, count, days, last_day. One row per account,
  event (and feature, for the feature event) and *day*, or per *bucket* of days cut at the
  window edges of one as-of day (``bucket_edges``); ``days`` is the number of distinct days
  with that event in the row, ``last_day`` the latest. The pseudo-event ``ACTIVE`` counts the
  days with any active event. Window sums over bucket rows are exact because every window
  starts and ends on an edge.
- ``metrics``: account_id, day, metric, total, n (sum and count of samples), daily or bucketed.
- ``milestones``: account_id, event, day (first time reached).
- ``surveys``: account_id, day, kind, score, sentiment, comment.
- ``subscriptions``: account_id, day, kind, plan, mrr_before, mrr_after.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

ACTIVE = "__active__"
LOOKBACK_DAYS = 35
WINDOW_EDGES = (35, 30, 7)  # days before the as-of day where a feature window starts
EPOCH = np.datetime64("1970-01-01", "D")

ACCOUNT_COLUMNS = {
    "account_id": "int64",
    "segment": "object",
    "plan": "object",
    "mrr": "float64",
    "signup_day": "float64",
    "renewal_day": "float64",
    "churn_day": "float64",
    "nominal_hashrate_ths": "float64",
    "target_yield_pct": "float64",
}
ACTIVITY_COLUMNS = ("account_id", "day", "event", "feature", "count", "days", "last_day")
METRIC_COLUMNS = ("account_id", "day", "metric", "total", "n")
MILESTONE_COLUMNS = ("account_id", "event", "day")
SURVEY_COLUMNS = ("account_id", "day", "kind", "score", "sentiment", "comment")
SUBSCRIPTION_COLUMNS = ("account_id", "day", "kind", "plan", "mrr_before", "mrr_after")


@dataclass
class ScoringInputs:
    """Everything features are built from. ``bucketed_as_of`` is set when activity and
    metrics were cut into window buckets for that one as-of day (then only it may be used)."""

    accounts: pd.DataFrame
    activity: pd.DataFrame
    metrics: pd.DataFrame
    milestones: pd.DataFrame
    surveys: pd.DataFrame
    subscriptions: pd.DataFrame
    bucketed_as_of: int | None = None

    def restricted_to(self, account_ids: np.ndarray) -> ScoringInputs:
        """The same inputs for a subset of accounts."""
        keep = pd.Index(account_ids)

        def sub(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[frame["account_id"].isin(keep)].reset_index(drop=True)

        return replace(
            self,
            accounts=sub(self.accounts),
            activity=sub(self.activity),
            metrics=sub(self.metrics),
            milestones=sub(self.milestones),
            surveys=sub(self.surveys),
            subscriptions=sub(self.subscriptions),
        )


def epoch_day(value: date | datetime | str) -> int:
    """The epoch day of a date, an aware/naive-UTC datetime or an ISO date string."""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        value = value.date()
    return (value - date(1970, 1, 1)).days


def day_to_date(day: int) -> date:
    return date(1970, 1, 1) + timedelta(days=int(day))


def epoch_days(values: pd.Series | np.ndarray | list) -> np.ndarray:
    """Epoch days (float, NaN for missing) of dates, datetimes or timestamps."""
    series = pd.Series(values)
    if series.empty:
        return np.zeros(0, dtype="float64")
    if not pd.api.types.is_datetime64_any_dtype(series):
        series = pd.to_datetime(series, utc=True, errors="coerce", format="mixed")
    elif series.dt.tz is not None:
        series = series.dt.tz_convert("UTC")
    if series.dt.tz is not None:
        series = series.dt.tz_localize(None)
    days = series.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    out = (days - EPOCH).astype("float64")
    out[pd.isna(series).to_numpy()] = np.nan
    return out


def bucket_edges(as_of_day: int) -> np.ndarray:
    """The window edges (ascending epoch days) for features as of ``as_of_day``."""
    return np.array([as_of_day - back for back in WINDOW_EDGES] + [as_of_day], dtype="int64")


def to_buckets(day: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The bucket start day for each day (-1 outside ``[edges[0], edges[-1])``)."""
    idx = np.searchsorted(edges, day, side="right") - 1
    inside = (idx >= 0) & (idx < len(edges) - 1)
    return np.where(inside, edges[np.clip(idx, 0, len(edges) - 1)], -1)


def empty_activity() -> pd.DataFrame:
    return _typed(pd.DataFrame({c: [] for c in ACTIVITY_COLUMNS}), "activity")


def empty_inputs(accounts: pd.DataFrame) -> ScoringInputs:
    """Inputs with accounts only (every other frame empty)."""
    return ScoringInputs(
        accounts=normalise_accounts(accounts),
        activity=empty_activity(),
        metrics=_typed(pd.DataFrame({c: [] for c in METRIC_COLUMNS}), "metrics"),
        milestones=_typed(pd.DataFrame({c: [] for c in MILESTONE_COLUMNS}), "milestones"),
        surveys=_typed(pd.DataFrame({c: [] for c in SURVEY_COLUMNS}), "surveys"),
        subscriptions=_typed(pd.DataFrame({c: [] for c in SUBSCRIPTION_COLUMNS}), "subscriptions"),
    )


def normalise_accounts(frame: pd.DataFrame) -> pd.DataFrame:
    """Accounts with every expected column, in the expected types, sorted by id."""
    out = frame.copy()
    for column, dtype in ACCOUNT_COLUMNS.items():
        if column not in out:
            out[column] = np.nan if dtype != "object" else None
        out[column] = (
            out[column].astype(object).where(out[column].notna(), None)
            if dtype == "object"
            else out[column].astype(dtype)
        )
    return out.sort_values("account_id", kind="stable").reset_index(drop=True)


def _typed(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    ints = {"account_id", "day", "count", "days", "last_day", "n"}
    cats = {"event", "feature", "metric", "kind"}
    out = frame.copy()
    for column in out.columns:
        if column in ints:
            out[column] = out[column].astype("int64")
        elif column in cats:
            out[column] = out[column].astype("category")
        elif column in {"total", "score", "sentiment", "mrr_before", "mrr_after"}:
            out[column] = out[column].astype("float64")
        elif column in {"plan", "comment"}:
            out[column] = out[column].astype(object)
    return out


def activity_from_events(
    events: pd.DataFrame,
    active_events: tuple[str, ...],
    feature_event: str,
    edges: np.ndarray | None = None,
) -> pd.DataFrame:
    """Reduce raw events (account_id, name, day, feature) to the activity frame.

    ``day`` is the event's epoch day; ``feature`` is kept only on ``feature_event`` rows.
    Without ``edges`` rows are daily; with them, bucketed at those edges (rows outside the
    edges are dropped).
    """
    if events.empty:
        return empty_activity()
    ev = pd.DataFrame(
        {
            "account_id": events["account_id"].to_numpy(dtype="int64"),
            "day": events["day"].to_numpy(dtype="int64"),
            "event": events["name"].astype(str).to_numpy(),
            "feature": np.where(
                events["name"].astype(str).to_numpy() == feature_event,
                events["feature"].astype(object).to_numpy(),
                None,
            ),
        }
    )
    ev["feature"] = ev["feature"].fillna("")
    daily = ev.groupby(["account_id", "day", "event", "feature"], sort=False).size()
    return activity_from_daily(daily.rename("count").reset_index(), active_events, edges)


def activity_from_daily(
    daily: pd.DataFrame, active_events: tuple[str, ...], edges: np.ndarray | None = None
) -> pd.DataFrame:
    """Daily counts (account_id, day, event, feature, count) to the activity frame, adding
    the ``ACTIVE`` rows; bucketed at ``edges`` when given."""
    if daily.empty:
        return empty_activity()
    daily = daily[["account_id", "day", "event", "feature", "count"]].copy()
    daily["event"] = daily["event"].astype(str)
    daily["feature"] = daily["feature"].astype(object).fillna("")
    active = daily[daily["event"].isin(active_events)][["account_id", "day"]].drop_duplicates()
    active = active.assign(event=ACTIVE, feature="", count=1)
    rows = pd.concat([daily, active], ignore_index=True)
    rows["days"] = 1
    rows["last_day"] = rows["day"]
    if edges is not None:
        rows = bucket_activity(rows, edges)
    rows["feature"] = rows["feature"].replace("", None)
    return _typed(rows[list(ACTIVITY_COLUMNS)], "activity")


def bucket_activity(daily: pd.DataFrame, edges: np.ndarray) -> pd.DataFrame:
    """Cut a daily activity frame into window buckets at ``edges``."""
    out = daily.copy()
    out["day"] = to_buckets(out["day"].to_numpy(), edges)
    out = out[out["day"] >= 0]
    feature = out["feature"].astype(object).fillna("")
    grouped = out.assign(feature=feature).groupby(
        ["account_id", "day", "event", "feature"], sort=False, observed=True
    )
    rows = grouped.agg(count=("count", "sum"), days=("days", "sum"), last_day=("last_day", "max"))
    return rows.reset_index()


def bucket_metrics(daily: pd.DataFrame, edges: np.ndarray) -> pd.DataFrame:
    """Cut a daily metrics frame (sums and counts) into window buckets at ``edges``."""
    out = daily.assign(day=to_buckets(daily["day"].to_numpy(), edges))
    out = out[out["day"] >= 0]
    grouped = out.groupby(["account_id", "day", "metric"], sort=False, observed=True)
    rows = grouped.agg(total=("total", "sum"), n=("n", "sum")).reset_index()
    return _typed(rows[list(METRIC_COLUMNS)], "metrics")


def bucketed(inputs: ScoringInputs, as_of_day: int) -> ScoringInputs:
    """Daily inputs cut into the window buckets of ``as_of_day`` (what the store's SQL
    aggregation delivers for a scoring run)."""
    edges = bucket_edges(as_of_day)
    return replace(
        inputs,
        activity=_typed(bucket_activity(inputs.activity, edges), "activity"),
        metrics=bucket_metrics(inputs.metrics, edges),
        bucketed_as_of=as_of_day,
    )


def metrics_from_samples(samples: pd.DataFrame, edges: np.ndarray | None = None) -> pd.DataFrame:
    """Reduce raw metric samples (account_id, metric, value, day) to sums and counts."""
    out = samples[["account_id", "metric", "value", "day"]].copy()
    out["metric"] = out["metric"].astype(str)
    if edges is not None:
        out["day"] = to_buckets(out["day"].to_numpy(dtype="int64"), edges)
        out = out[out["day"] >= 0]
    grouped = out.groupby(["account_id", "day", "metric"], sort=False)
    rows = grouped.agg(total=("value", "sum"), n=("value", "size")).reset_index()
    return _typed(rows[list(METRIC_COLUMNS)], "metrics")


def milestones_from_events(events: pd.DataFrame, milestone_events: tuple[str, ...]) -> pd.DataFrame:
    """The first day each account reached each milestone event."""
    hits = events[events["name"].isin(milestone_events)]
    rows = hits.groupby(["account_id", "name"], sort=False)["day"].min().reset_index()
    rows = rows.rename(columns={"name": "event"})
    return _typed(rows[list(MILESTONE_COLUMNS)], "milestones")


def typed(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """``frame`` with the canonical column types for ``kind`` (activity, metrics, ...)."""
    return _typed(frame, kind)
