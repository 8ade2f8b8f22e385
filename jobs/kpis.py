"""KPI jobs: the daily roll-up the dashboard reads."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from jobs.base import job

log = logging.getLogger(__name__)


@job(queue="low", timeout=3600)
def rollup_daily(day: str | None = None) -> dict:
    """Compute and store the KPI figures of the 30 days ending ``day`` (default: yesterday,
    the last whole day), per segment. Idempotent: a rerun replaces the day's rows."""
    from hub.db import db
    from hub.metrics import rollup

    target = date.fromisoformat(day) if day else datetime.now(UTC).date() - timedelta(days=1)
    with db.begin() as session:
        summary = rollup(session, target)
    log.info("kpi roll-up stored", extra=summary)
    return summary
