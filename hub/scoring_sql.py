"""SQL pieces shared by the scoring loaders: scopes of accounts, epoch days, fast frames."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, time

import numpy as np
import pandas as pd
from sqlalchemy import Float, Integer, Subquery, case, cast, distinct, false, func, select
from sqlalchemy.engine import Connection

from hub.models import Event, MetricSample
from scoring import frames
from scoring.config import FeatureConfig

JULIAN_EPOCH = 2440587.5


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


def metric_days(dialect: str, summed: Collection[str], *where) -> Subquery:
    """One row per account, metric and epoch day of the samples matching ``where``, with
    ``total`` and ``n`` such that total / n is the day's value.

    A metric in ``summed`` is an account total reported in parts (one rig, one exchange
    account per subject): each part's mean of the day, added up over the parts of a source,
    is that source's value of the day (n = 1 per source, so sources that see the same total,
    a pool and the farm's rigs, are averaged rather than added). Any other metric is the
    mean of its samples (total = their sum, n = their count)."""
    day = epoch_day_of(MetricSample.measured_at, dialect)
    m = MetricSample
    names = sorted(summed)
    is_summed = m.metric.in_(names) if names else false()
    source, subject = case((is_summed, m.source)), case((is_summed, m.subject))
    parts = (  # summed metrics per source and part, any other metric whole
        select(
            m.account_id.label("account_id"),
            m.metric.label("metric"),
            day.label("day"),
            source.label("source"),
            func.sum(m.value).label("s"),
            func.count(m.value).label("c"),
        )
        .where(m.value.is_not(None), *where)
        .group_by(m.account_id, m.metric, day, source, subject)
        .subquery()
    ).c
    summed_part = parts.metric.in_(names) if names else false()
    return (
        select(
            parts.account_id,
            parts.metric,
            parts.day,
            case(
                (summed_part, func.sum(cast(parts.s, Float) / parts.c)), else_=func.sum(parts.s)
            ).label("total"),
            case((summed_part, func.count(distinct(parts.source))), else_=func.sum(parts.c)).label(
                "n"
            ),
        )
        .group_by(parts.account_id, parts.metric, parts.day)
        .subquery()
    )


def rows_frame(conn: Connection, stmt, columns: list[str], plain: bool = False) -> pd.DataFrame:
    """The rows of ``stmt`` as a frame (built column-wise: much faster than from rows).

    ``plain``: the columns are numbers and strings as the driver delivers them (no result
    type processing), so the driver's tuples are read from the cursor, without making a
    ``Row`` of each (a third of the time for the large aggregate reads)."""
    with conn.execute(stmt) as result:
        rows = result.cursor.fetchall() if plain else result.all()
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    if plain:
        return pd.DataFrame.from_records(rows, columns=columns)
    return pd.DataFrame(dict(zip(columns, zip(*rows, strict=True), strict=True)))


def bucket_rows(
    conn: Connection,
    stmt,
    keys: list[str],
    values: list[str],
    starts: list[int],
    plain: bool = False,
) -> pd.DataFrame:
    """Long rows (keys, ``day``, values) from ``stmt`` grouped by ``keys`` with one
    conditional aggregate of each of ``values`` per window bucket (bucket after bucket),
    ``day`` being the bucket's first day. A bucket is kept where its last value is > 0 (a
    count of the rows inside)."""
    names = [f"{value}{i}" for i in range(len(starts)) for value in values]
    wide = rows_frame(conn, stmt, [*keys, *names], plain=plain)
    parts = [
        pd.DataFrame(
            {key: wide[key] for key in keys}
            | {"day": start}
            | {value: wide[f"{value}{i}"] for value in values}
        )
        for i, start in enumerate(starts)
    ]
    rows = pd.concat(parts, ignore_index=True)
    return rows[pd.to_numeric(rows[values[-1]]).fillna(0) > 0]


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


def feature_of(config: FeatureConfig):
    return case(
        (Event.name == config.feature_event, Event.properties[config.feature_property].as_string()),
        else_=None,
    )


def name_filter(column, scope: Scope):
    """``column`` for an IN filter; for an id-range scope, written so that SQLite's planner
    walks the (account, time) index rather than the (name, time) one."""
    return column + "" if scope.lo is not None or scope.hi is not None else column


def only_accounts(frame: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    keep = frame["account_id"].isin(accounts["account_id"])
    return frame if keep.all() else frame[keep].reset_index(drop=True)


def with_active(rows: pd.DataFrame, active_events: tuple[str, ...]) -> pd.DataFrame:
    """Days and last day from each row's day mask, plus the ``ACTIVE`` rows (the OR of the
    masks of the active events per account and bucket)."""
    if rows.empty:
        return frames.empty_activity()
    rows = rows.astype({"account_id": "int64", "day": "int64", "count": "int64"})
    mask = rows.pop("mask").to_numpy(dtype="int64")
    active = rows["event"].isin(active_events).to_numpy()
    account = rows["account_id"].to_numpy()[active]
    bucket = rows["day"].to_numpy()[active]
    # OR the masks per (account, bucket): sort by the pair, reduce each run at once
    order = np.lexsort((bucket, account))
    account, bucket, masks = account[order], bucket[order], mask[active][order]
    starts = np.flatnonzero(
        np.r_[True, (account[1:] != account[:-1]) | (bucket[1:] != bucket[:-1])]
    )
    act_mask = np.bitwise_or.reduceat(masks, starts) if len(masks) else masks
    grouped = pd.DataFrame({"account_id": account[starts], "day": bucket[starts]})
    act = grouped.assign(event=frames.ACTIVE, feature=None, count=popcount(act_mask))
    act["days"], act["last_day"] = act["count"], act["day"] + highest_bit(act_mask)
    rows["days"], rows["last_day"] = popcount(mask), rows["day"] + highest_bit(mask)
    return pd.concat([rows, act[rows.columns]], ignore_index=True)


def popcount(mask: np.ndarray) -> np.ndarray:
    as_bytes = mask.astype("<u8").view(np.uint8).reshape(-1, 8)
    return np.unpackbits(as_bytes, axis=1).sum(axis=1).astype("int64")


def highest_bit(mask: np.ndarray) -> np.ndarray:
    return np.floor(np.log2(np.maximum(mask, 1))).astype("int64")
