"""Onboarding KPIs: time to first value and onboarding completion rate, per segment.

A milestone counts as reached at its ``milestones`` row, or at the first product event of the
same name (the evidence the row is made from), whichever is earlier.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from hub.metrics.base import AccountRow, Figure, Scope, Split, as_date, by_segment_lists, median
from hub.models import Account, Event, Milestone


def first_reached(scope: Scope, keys: set[str]) -> dict[tuple[int, str], datetime]:
    """(account id, milestone key) -> when it was first reached, up to the period end."""
    if not keys:
        return {}
    end = scope.period.end_at
    reached: dict[tuple[int, str], datetime] = {}
    rows_stmt = scope.where_segment(
        select(Milestone.account_id, Milestone.key, func.min(Milestone.reached_at))
        .join(Account, Account.id == Milestone.account_id)
        .where(Milestone.key.in_(keys), Milestone.reached_at < end)
        .group_by(Milestone.account_id, Milestone.key)
    )
    events_stmt = scope.where_segment(
        select(Event.account_id, Event.name, func.min(Event.occurred_at))
        .join(Account, Account.id == Event.account_id)
        .where(Event.name.in_(keys), Event.occurred_at < end)
        .group_by(Event.account_id, Event.name)
    )
    for stmt in (rows_stmt, events_stmt):
        for account_id, key, when in scope.session.execute(stmt):
            when = _aware(when)
            current = reached.get((account_id, key))
            if current is None or when < current:
                reached[(account_id, key)] = when
    return reached


def _aware(value) -> datetime:
    """``min()`` over a UTCDateTime column comes back raw from some drivers."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _keys(definitions: dict, name: str) -> dict[str, list[str]]:
    return {seg: list(keys or []) for seg, keys in (definitions.get(name) or {}).items()}


def time_to_first_value(scope: Scope, accounts: list[AccountRow]) -> dict[str, Figure]:
    """Median days from signup to the first value milestone, over accounts that reached it
    during the period."""
    per_segment = _keys(scope.definitions, "first_value_milestones")
    reached = first_reached(scope, {k for ks in per_segment.values() for k in ks})
    period = scope.period
    days: dict[str, list[float]] = defaultdict(list)
    for a in accounts:
        if a.signup is None:
            continue
        times = [reached[(a.id, k)] for k in per_segment.get(a.segment, []) if (a.id, k) in reached]
        if not times:
            continue
        first = min(times)
        if period.start_at <= first < period.end_at:
            days[a.segment].append(max(0, (as_date(first) - a.signup).days))
    return by_segment_lists(days, scope.keys, median)


def onboarding_completion(scope: Scope, accounts: list[AccountRow]) -> dict[str, Figure]:
    """Of accounts whose onboarding window (``onboarding_days`` after signup) ended in the
    period, the share that reached every onboarding milestone of their segment within it."""
    per_segment = _keys(scope.definitions, "onboarding_milestones")
    window = int(scope.definitions.get("onboarding_days") or 30)
    reached = first_reached(scope, {k for ks in per_segment.values() for k in ks})
    period = scope.period
    split = Split()
    for a in accounts:
        needed = per_segment.get(a.segment)
        if a.signup is None or not needed:
            continue
        deadline = a.signup + timedelta(days=window)
        if not period.start <= deadline <= period.end:
            continue
        done = all((a.id, k) in reached and as_date(reached[(a.id, k)]) <= deadline for k in needed)
        split.add(a.segment, 1.0 if done else 0.0)
    return split.result(scope.keys)
