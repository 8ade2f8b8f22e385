"""Product engagement: DAU, MAU, DAU/MAU (from events) and feature adoption."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import distinct, func, select

from hub.metrics.base import ALL, Figure, Scope, Split, day_of, user_key
from hub.models import Account, Event

STICKINESS_DAYS = 30


def _active_events(scope: Scope) -> list[str]:
    return list(scope.definitions.get("active_events") or [])


def dau_mau(scope: Scope) -> tuple[dict[str, Figure], dict[str, Figure], dict[str, Figure]]:
    """Average daily active users, monthly active users and their ratio, over the last 30 days
    of the period (the whole period when it is shorter)."""
    period = scope.period
    window_start = max(period.start, period.end - timedelta(days=STICKINESS_DAYS - 1))
    days = (period.end - window_start).days + 1
    names = _active_events(scope)
    since = period.start_at + timedelta(days=(window_start - period.start).days)
    base = (
        select()
        .select_from(Event)
        .join(Account, Account.id == Event.account_id)
        .where(Event.occurred_at >= since, Event.occurred_at < period.end_at)
        .where(Event.name.in_(names))
    )
    base = scope.where_segment(base)
    daily_stmt = base.add_columns(
        Account.segment, day_of(Event.occurred_at, scope.dialect), func.count(distinct(user_key()))
    ).group_by(Account.segment, day_of(Event.occurred_at, scope.dialect))
    monthly_stmt = base.add_columns(Account.segment, func.count(distinct(user_key()))).group_by(
        Account.segment
    )
    daily: dict[str, float] = defaultdict(float)
    for segment, _day, users in scope.session.execute(daily_stmt):
        daily[segment] += users
    monthly = dict(scope.session.execute(monthly_stmt).all())
    dau, mau, ratio = {}, {}, {}
    for key in scope.keys:
        d = sum(daily.values()) if key == ALL else daily.get(key, 0.0)
        m = sum(monthly.values()) if key == ALL else monthly.get(key, 0)
        if not m:
            dau[key] = mau[key] = ratio[key] = Figure(None, 0)
            continue
        avg = d / days
        dau[key] = Figure(avg, days)
        mau[key] = Figure(float(m), int(m))
        ratio[key] = Figure(avg / m, int(m))
    return dau, mau, ratio


def feature_adoption(scope: Scope) -> dict[str, Figure]:
    """Mean, over accounts active in the period, of the share of their segment's key features
    they used in the period."""
    period = scope.period
    key_features: dict[str, list[str]] = scope.definitions.get("key_features") or {}
    feature_event = scope.definitions.get("feature_event", "feature_used")
    in_period = (Event.occurred_at >= period.start_at, Event.occurred_at < period.end_at)
    active_stmt = scope.where_segment(
        select(Event.account_id, Account.segment)
        .distinct()
        .join(Account, Account.id == Event.account_id)
        .where(*in_period, Event.name.in_([*_active_events(scope), feature_event]))
    )
    active = dict(scope.session.execute(active_stmt).all())
    feature = Event.properties["feature"].as_string()
    used_stmt = scope.where_segment(
        select(Event.account_id, feature)
        .join(Account, Account.id == Event.account_id)
        .where(*in_period, Event.name == feature_event)
        .group_by(Event.account_id, feature)
    )
    used: dict[int, set[str]] = defaultdict(set)
    for account_id, name in scope.session.execute(used_stmt):
        if name:
            used[account_id].add(name)
    split = Split()
    for account_id, segment in active.items():
        wanted = set(key_features.get(segment) or [])
        if not wanted:
            continue
        split.add(segment, len(used.get(account_id, set()) & wanted) / len(wanted))
    return split.result(scope.keys)
