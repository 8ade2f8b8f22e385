"""What the growth rules look at, per account, read lazily from the store and memoised.

Each figure names its window explicitly (days back from ``now``), so a rule's parameters
decide what is read. Metric names come from the offers document (``metrics``), so a tenant
whose connectors call storage ``disk_used_gb`` maps it there instead of changing code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from hub.models import Account, Event, HealthScore, MetricSample

ACTIVITY_EVENTS = ("session_start", "feature_used")


class AccountFacts:
    """Lazily computed, memoised facts about one account at one moment."""

    def __init__(self, session: Session, account: Account, now: datetime) -> None:
        self.session = session
        self.account = account
        self.now = now
        self._memo: dict[tuple, Any] = {}

    def _since(self, days: float) -> datetime:
        return self.now - timedelta(days=days)

    def _cached(self, key: tuple, compute) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    # -- account -----------------------------------------------------------------------
    @property
    def attributes(self) -> dict[str, Any]:
        return self.account.attributes or {}

    @property
    def tenure_days(self) -> int | None:
        if self.account.signup_date is None:
            return None
        return (self.now.date() - self.account.signup_date).days

    @property
    def products(self) -> set[str]:
        return set(self.attributes.get("products") or [])

    @cached_property
    def health(self) -> float | None:
        return self.session.scalar(
            select(HealthScore.score)
            .where(HealthScore.account_id == self.account.id)
            .order_by(HealthScore.computed_at.desc())
            .limit(1)
        )

    # -- events ------------------------------------------------------------------------
    def event_count(self, name: str, days: float) -> int:
        def compute() -> int:
            return int(
                self.session.scalar(
                    select(func.count())
                    .select_from(Event)
                    .where(
                        Event.account_id == self.account.id,
                        Event.name == name,
                        Event.occurred_at >= self._since(days),
                        Event.occurred_at <= self.now,
                    )
                )
                or 0
            )

        return self._cached(("events", name, days), compute)

    def active_days(self, days: float) -> int:
        """Days in the window with at least one session or feature use."""

        def compute() -> int:
            day = func.date(Event.occurred_at)
            return int(
                self.session.scalar(
                    select(func.count(distinct(day))).where(
                        Event.account_id == self.account.id,
                        Event.name.in_(ACTIVITY_EVENTS),
                        Event.occurred_at >= self._since(days),
                        Event.occurred_at <= self.now,
                    )
                )
                or 0
            )

        return self._cached(("active_days", days), compute)

    def active_contacts(self, start_days: float, end_days: float = 0) -> int:
        """Distinct contacts active between ``start_days`` and ``end_days`` ago."""

        def compute() -> int:
            return int(
                self.session.scalar(
                    select(func.count(distinct(Event.contact_id))).where(
                        Event.account_id == self.account.id,
                        Event.contact_id.is_not(None),
                        Event.name.in_(ACTIVITY_EVENTS),
                        Event.occurred_at >= self._since(start_days),
                        Event.occurred_at < self._since(end_days),
                    )
                )
                or 0
            )

        return self._cached(("contacts", start_days, end_days), compute)

    # -- metrics -----------------------------------------------------------------------
    def metric_latest(self, metric: str, within_days: float = 7) -> float | None:
        def compute() -> float | None:
            return self.session.scalar(
                select(MetricSample.value)
                .where(
                    MetricSample.account_id == self.account.id,
                    MetricSample.metric == metric,
                    MetricSample.measured_at >= self._since(within_days),
                    MetricSample.measured_at <= self.now,
                )
                .order_by(MetricSample.measured_at.desc())
                .limit(1)
            )

        return self._cached(("latest", metric, within_days), compute)

    def metric_mean(self, metric: str, start_days: float, end_days: float = 0) -> float | None:
        """Mean of ``metric`` between ``start_days`` and ``end_days`` ago (None if no data)."""

        def compute() -> float | None:
            value = self.session.scalar(
                select(func.avg(MetricSample.value)).where(
                    MetricSample.account_id == self.account.id,
                    MetricSample.metric == metric,
                    MetricSample.measured_at >= self._since(start_days),
                    MetricSample.measured_at < self._since(end_days),
                )
            )
            return float(value) if value is not None else None

        return self._cached(("mean", metric, start_days, end_days), compute)

    def metric_first_days_mean(self, metric: str, days: float) -> float | None:
        """Mean of ``metric`` over the first ``days`` days it was ever measured (a baseline)."""

        def compute() -> float | None:
            first = self.session.scalar(
                select(func.min(MetricSample.measured_at)).where(
                    MetricSample.account_id == self.account.id, MetricSample.metric == metric
                )
            )
            if first is None:
                return None
            value = self.session.scalar(
                select(func.avg(MetricSample.value)).where(
                    MetricSample.account_id == self.account.id,
                    MetricSample.metric == metric,
                    MetricSample.measured_at >= first,
                    MetricSample.measured_at < first + timedelta(days=days),
                )
            )
            return float(value) if value is not None else None

        return self._cached(("first", metric, days), compute)


def roi_ratio(facts: AccountFacts, roi: dict[str, Any], days: float = 30) -> float | None:
    """Measured return over the account's own target (1.0 = target met), or None.

    ``roi`` maps a segment to ``{metric, target_attribute}``, e.g. traders: yield_pct against
    the account's ``target_yield_pct``.
    """
    spec = roi.get(facts.account.segment)
    if not spec:
        return None
    target = facts.attributes.get(spec["target_attribute"])
    try:
        target = float(target)
    except (TypeError, ValueError):
        return None
    if target <= 0:
        return None
    actual = facts.metric_mean(spec["metric"], days)
    return None if actual is None else actual / target


def usage_ranks(session: Session, now: datetime, days: int) -> dict[int, float]:
    """Each active account's usage percentile (0..1, 1 = most active) over ``days``."""
    since = now - timedelta(days=days)
    rows = session.execute(
        select(Event.account_id, func.count())
        .join(Account, Account.id == Event.account_id)
        .where(
            Event.occurred_at >= since,
            Event.occurred_at <= now,
            Event.name.in_(ACTIVITY_EVENTS),
            Account.deleted_at.is_(None),
            Account.status.in_(("active", "trial")),
        )
        .group_by(Event.account_id)
    ).all()
    ordered = sorted(rows, key=lambda r: (r[1], -r[0]))
    n = len(ordered)
    return {row[0]: (i + 1) / n for i, row in enumerate(ordered)} if n else {}
