"""Connector jobs: run each configured connector that is due, each in its own job."""

from __future__ import annotations

import logging

from jobs.base import job

log = logging.getLogger(__name__)


@job(timeout=300, retries=0)
def run_due() -> int:
    """Enqueue a run for every connector whose schedule is due."""
    log.info("connectors.run_due ran")
    return 0
