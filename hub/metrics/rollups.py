"""The daily KPI roll-up: figures stored per day and segment, read instead of recomputed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only

from hub.db import utcnow
from hub.metrics.base import ALL, Period
from hub.metrics.measure import compute
from hub.models import KpiRollup

WINDOW_DAYS = 30
TREND_DAYS = 30
LIVE_MAX_ACCOUNTS = 20_000
"""Above this many accounts the default window is never computed inside a request."""


class RollupPending(LookupError):
    """No roll-up exists yet and the tenant is too large to compute one in a request."""


def rollup(session: Session, day: date, settings: dict[str, Any] | None = None) -> dict:
    """Compute the 30-day window ending ``day`` for every segment and store it (idempotent)."""
    period = Period.ending(day, WINDOW_DAYS)
    figures = compute(session, period, settings=settings)
    existing = {
        row.segment: row for row in session.scalars(select(KpiRollup).where(KpiRollup.day == day))
    }
    for key, doc in figures.items():
        row = existing.get(key)
        if row is None:
            session.add(KpiRollup(day=day, segment=key, figures=doc, computed_at=utcnow()))
        else:
            row.figures, row.computed_at = doc, utcnow()
    session.flush()
    computed_ms = next(iter(figures.values()))["computed_ms"] if figures else 0
    return {"day": day.isoformat(), "segments": sorted(figures), "computed_ms": computed_ms}


def latest(session: Session, segment: str | None) -> KpiRollup | None:
    return session.scalar(
        select(KpiRollup)
        .where(KpiRollup.segment == (segment or ALL))
        .order_by(KpiRollup.day.desc())
        .limit(1)
    )


def history(session: Session, segment: str | None, end: date, days: int = TREND_DAYS) -> list:
    """The roll-ups' values for the ``days`` days up to ``end``, oldest first."""
    rows = session.scalars(
        select(KpiRollup)
        .options(load_only(KpiRollup.day, KpiRollup.figures))
        .where(KpiRollup.segment == (segment or ALL))
        .where(KpiRollup.day > end - timedelta(days=days), KpiRollup.day <= end)
        .order_by(KpiRollup.day)
    )
    return [{"day": r.day.isoformat(), "values": (r.figures or {}).get("values", {})} for r in rows]


@dataclass
class Loaded:
    figures: dict[str, Any]
    source: str  # rollup or live
    computed_at: datetime
    history: list[dict[str, Any]]


def load(
    session: Session,
    period: Period | None,
    segment: str | None,
    settings: dict[str, Any] | None = None,
) -> Loaded:
    """The figures for ``period`` (default: the latest roll-up's window) and ``segment``:
    from the roll-up when one covers exactly that window, else computed now."""
    row: KpiRollup | None
    if period is None:
        row = latest(session, segment)
    else:
        row = session.scalar(
            select(KpiRollup).where(
                KpiRollup.day == period.end, KpiRollup.segment == (segment or ALL)
            )
        )
        if row is not None and (row.figures or {}).get("period") != period.as_dict():
            row = None
    if row is not None:
        return Loaded(row.figures, "rollup", row.computed_at, history(session, segment, row.day))
    if period is None and _too_large(session):
        raise RollupPending("no KPI roll-up yet; the tenant is too large to compute one now")
    period = period or Period.ending(datetime.now(UTC).date(), WINDOW_DAYS)
    figures = compute(session, period, segment=segment, settings=settings)
    doc = figures[segment or ALL]
    return Loaded(doc, "live", utcnow(), history(session, segment, period.end))


def _too_large(session: Session) -> bool:
    from hub.models import Account

    count = session.scalar(
        select(func.count()).select_from(Account).where(Account.deleted_at.is_(None))
    )
    return (count or 0) > LIVE_MAX_ACCOUNTS


def load_segments(
    session: Session, period: Period | None, settings: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Figures for every segment and ``all`` at once: the roll-up rows for the window's last
    day when they cover it, else one live computation."""
    if period is None:
        newest = latest(session, None)
        day = newest.day if newest else None
    else:
        day = period.end
    if day is not None:
        rows = {
            r.segment: r.figures
            for r in session.scalars(select(KpiRollup).where(KpiRollup.day == day))
        }
        wanted = period.as_dict() if period else None
        if rows and (wanted is None or all(f.get("period") == wanted for f in rows.values())):
            return rows
    if period is None and _too_large(session):
        raise RollupPending("no KPI roll-up yet; the tenant is too large to compute one now")
    period = period or Period.ending(datetime.now(UTC).date(), WINDOW_DAYS)
    return compute(session, period, settings=settings)
