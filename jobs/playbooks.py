"""Playbook jobs: evaluate triggers for every account; dispatch due outbox messages."""

from __future__ import annotations

import logging

from jobs.base import job

log = logging.getLogger(__name__)


@job(timeout=3600)
def evaluate_all() -> dict:
    """Evaluate every enabled playbook against every account."""
    log.info("evaluate_all ran")
    return {}


@job(queue="high", timeout=600)
def dispatch_due() -> int:
    """Send every due outbox message through its channel."""
    log.info("dispatch_due ran")
    return 0
