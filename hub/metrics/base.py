"""Shared pieces of the KPI computations: the period, per-segment ratios, account rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, cast, func, literal, literal_column, select
from sqlalchemy.orm import Session

from hub.models import Account, Event
from hub.models.account import SEGMENTS

ALL = "all"


@dataclass(frozen=True)
class Period:
    """Whole UTC days from ``start`` to ``end``, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("the period ends before it starts")

    @classmethod
    def ending(cls, end: date, days: int = 30) -> Period:
        return cls(end - timedelta(days=days - 1), end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_at(self) -> datetime:
        return at_midnight(self.start)

    @property
    def end_at(self) -> datetime:
        """The instant just after the period (exclusive bound)."""
        return at_midnight(self.end + timedelta(days=1))

    def as_dict(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def at_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


@dataclass
class Scope:
    """What a computation covers: a period, optionally one segment, and the definitions."""

    session: Session
    period: Period
    segment: str | None
    definitions: dict[str, Any]
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def segments(self) -> tuple[str, ...]:
        return (self.segment,) if self.segment else SEGMENTS

    @property
    def keys(self) -> tuple[str, ...]:
        """The figure keys this scope answers for: each segment, and ``all`` when unfiltered."""
        return (self.segment,) if self.segment else (ALL, *SEGMENTS)

    def where_segment(self, stmt):
        return stmt.where(Account.segment == self.segment) if self.segment else stmt

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name


class Split:
    """Numerators and denominators per segment; ``all`` is their sum."""

    def __init__(self) -> None:
        self.num: dict[str, float] = defaultdict(float)
        self.den: dict[str, float] = defaultdict(float)

    def add(self, segment: str, num: float, den: float = 1.0) -> None:
        self.num[segment] += num
        self.den[segment] += den

    def result(self, keys: Iterable[str]) -> dict[str, Figure]:
        out: dict[str, Figure] = {}
        for key in keys:
            if key == ALL:
                num, den = sum(self.num.values()), sum(self.den.values())
            else:
                num, den = self.num.get(key, 0.0), self.den.get(key, 0.0)
            out[key] = Figure(num / den if den else None, int(den))
        return out


@dataclass(frozen=True)
class Figure:
    """One measured value (None: no data) and the size of what it was measured on."""

    value: float | None
    n: int = 0
    note: str | None = None


def by_segment_lists(values: dict[str, list[float]], keys: Iterable[str], reduce) -> dict:
    """Apply ``reduce`` to each segment's list and to all of them together."""
    out: dict[str, Figure] = {}
    for key in keys:
        items = [v for vs in values.values() for v in vs] if key == ALL else values.get(key, [])
        out[key] = Figure(reduce(items) if items else None, len(items))
    return out


def day_of(column, dialect: str):
    """The UTC calendar day of a timestamp column, in SQL."""
    if dialect == "postgresql":
        # a literal, not a bound parameter: PostgreSQL must see the GROUP BY expression
        # and the selected one as the same
        return func.date(func.timezone(literal_column("'UTC'"), column))
    return func.date(column)


def as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def user_key():
    """Who did an event: its distinct id, else its contact, else its account."""
    return func.coalesce(
        Event.distinct_id,
        literal("c:") + cast(Event.contact_id, String),
        literal("a:") + cast(Event.account_id, String),
    )


@dataclass(frozen=True)
class AccountRow:
    id: int
    segment: str
    signup: date | None
    churned: date | None
    mrr: float
    status: str


def load_accounts(scope: Scope) -> list[AccountRow]:
    """Every live (not deleted) account in scope, lean."""
    stmt = select(
        Account.id,
        Account.segment,
        Account.signup_date,
        Account.churned_at,
        Account.mrr,
        Account.status,
    ).where(Account.deleted_at.is_(None))
    rows = scope.session.execute(scope.where_segment(stmt))
    return [
        AccountRow(i, seg, signup, churned.date() if churned else None, float(mrr or 0), status)
        for i, seg, signup, churned, mrr, status in rows
    ]


def segment_map(scope: Scope) -> dict[int, str]:
    stmt = select(Account.id, Account.segment).where(Account.deleted_at.is_(None))
    return dict(scope.session.execute(scope.where_segment(stmt)).all())


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def mean(values: list[float]) -> float:
    return sum(values) / len(values)
