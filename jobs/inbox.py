"""Inbox jobs: process one webhook delivery; sweep rows left unprocessed."""

from __future__ import annotations

import logging

from jobs.base import job

log = logging.getLogger(__name__)


@job(queue="high", timeout=120)
def process(inbox_id: int) -> None:
    """Process one inbox row (filled by the webhooks capability)."""
    log.info("inbox.process %s", inbox_id, extra={"inbox_id": inbox_id})


@job(queue="high", timeout=300, retries=0)
def sweep() -> int:
    """Re-enqueue inbox rows left unprocessed (filled by the webhooks capability)."""
    log.info("inbox.sweep ran")
    return 0
