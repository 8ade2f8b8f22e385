"""What the engine knows about an account at ``now``, loaded in bulk for a chunk of accounts.

Triggers and conditions are pure functions of ``AccountFacts`` (no queries per account), which
is what makes 100,000 accounts evaluable in seconds. What to load is declared by the live
playbooks as ``Needs`` (event names and their look-back, metrics and their windows, ...).
Everything is "as of ``now``": rows stamped later are ignored, so tests move time forward by
passing ``now`` instead of patching the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from hub.playbooks.guards import PastEnrolment

USAGE = "usage"
"""The derived metric "product use per day": the count of usage events (see USAGE_EVENTS)."""
USAGE_EVENTS = ("session_start", "feature_used")


@dataclass(frozen=True)
class MetricWindow:
    """A metric compared with the account's own baseline: the last ``recent_days`` days
    against the ``baseline_days`` days before them."""

    metric: str
    recent_days: int
    baseline_days: int


@dataclass(frozen=True)
class MetricStats:
    baseline: float | None  # mean daily value over the baseline window
    recent_max: float | None  # the best day of the recent window
    recent_min: float | None
    recent_mean: float | None
    recent_days: int  # days with data in the recent window

    def change(self) -> float | None:
        """Recent mean relative to baseline (-0.3 = 30% below)."""
        if not self.baseline or self.recent_mean is None:
            return None
        return self.recent_mean / self.baseline - 1


@dataclass
class Needs:
    """What the live playbooks read, so the loader fetches just that."""

    events: dict[str, timedelta] = field(default_factory=dict)  # name -> look-back
    metrics: set[MetricWindow] = field(default_factory=set)
    feature_days: int = 0
    nps_days: int = 0

    def event(self, name: str, lookback: timedelta) -> None:
        self.events[name] = max(lookback, self.events.get(name, timedelta(0)))

    def merge(self, other: Needs) -> None:
        for name, lookback in other.events.items():
            self.event(name, lookback)
        self.metrics |= other.metrics
        self.feature_days = max(self.feature_days, other.feature_days)
        self.nps_days = max(self.nps_days, other.nps_days)


@dataclass(frozen=True)
class Score:
    id: int
    value: float
    label: str  # tier, or churn segment
    at: datetime


@dataclass(frozen=True)
class NpsAnswer:
    id: int
    score: float
    at: datetime
    contact_id: int | None


@dataclass
class ContactFacts:
    id: int
    email: str | None
    phone: str | None
    name: str | None
    role: str | None
    timezone: str | None
    unsubscribed: list[str]
    cohorts: list[str]
    slack_user_id: str | None = None


@dataclass
class AccountFacts:
    id: int
    name: str
    segment: str
    lifecycle_stage: str
    status: str
    plan: str | None
    mrr: float
    attributes: dict[str, Any]
    cohorts: list[str]
    signup_date: date | None
    renewal_date: date | None
    churned_at: datetime | None
    timezone: str | None
    snoozed_until: datetime | None
    owner_email: str | None
    contacts: list[ContactFacts] = field(default_factory=list)
    milestones: dict[str, datetime] = field(default_factory=dict)
    health: list[Score] = field(default_factory=list)  # newest first, up to two
    churn: list[Score] = field(default_factory=list)  # newest first, up to two
    nps: list[NpsAnswer] = field(default_factory=list)  # within the look-back, newest first
    events: dict[str, datetime] = field(default_factory=dict)  # name -> last time (look-back)
    features: dict[str, datetime] = field(default_factory=dict)  # feature -> last use
    metrics: dict[MetricWindow, MetricStats] = field(default_factory=dict)
    enrolments: dict[str, list[PastEnrolment]] = field(default_factory=dict)
    sent: dict[int, list[tuple[str, datetime]]] = field(default_factory=dict)  # contact -> msgs

    def days_since_signup(self, now: datetime) -> int | None:
        if self.signup_date is None:
            return None
        return (now.date() - self.signup_date).days

    def days_to_renewal(self, now: datetime) -> int | None:
        if self.renewal_date is None:
            return None
        return (self.renewal_date - now.date()).days

    @property
    def tier(self) -> str | None:
        return self.health[0].label if self.health else None

    @property
    def churn_segment(self) -> str | None:
        return self.churn[0].label if self.churn else None

    def cohort_members(self) -> set[str]:
        found = set(self.cohorts or ())
        for contact in self.contacts:
            found.update(contact.cohorts or ())
        return found


@dataclass(frozen=True)
class EvalContext:
    """The moment of evaluation and, for goals and waits, the enrolment being advanced."""

    now: datetime
    enrolled_at: datetime | None = None
    step_started_at: datetime | None = None
    trigger: dict[str, Any] | None = None  # what fired the enrolment (its detail)
