"""Inbox jobs: process webhook deliveries (one, or a batch that arrived together); sweep rows
left unprocessed; replay a range."""

from __future__ import annotations

import logging
from datetime import datetime
from importlib import import_module

from flask import current_app
from rq import get_current_job
from rq.job import Job

from hub.ingest import inbox
from hub.ingest.base import PermanentError
from jobs.base import enqueue, job

log = logging.getLogger(__name__)

RETRY_INTERVALS = (10, 60, 300, 1800, 7200)


def _config():
    return current_app.config["CSHUB"]


class DeliveriesFailed(RuntimeError):
    """Some deliveries of the job failed and were recorded on their rows; RQ retries the job
    (rows already processed are skipped on the retry)."""


@job(queue="high", timeout=120, retries=len(RETRY_INTERVALS), intervals=RETRY_INTERVALS)
def process(*inbox_ids: int) -> dict[int, str]:
    """Apply inbox rows exactly once in effect: one row, or the deliveries that arrived
    together and were committed in one batch. Retried with backoff, then marked failed."""
    current = get_current_job()
    outcomes: dict[int, str] = {}
    errors: list[str] = []
    for inbox_id in inbox_ids:
        try:
            outcomes[inbox_id] = _process_one(inbox_id, current)
        except Exception as exc:  # recorded on the row by _process_one
            outcomes[inbox_id] = "error"
            errors.append(f"inbox {inbox_id}: {inbox.describe(exc)}")
    if errors:
        raise DeliveriesFailed("; ".join(errors))
    return outcomes


def _process_one(inbox_id: int, current: Job | None) -> str:
    attempt = inbox.claim(inbox_id, current.id if current else None, _config().inbox_lease_s)
    if attempt is None:
        log.info("inbox %s not claimable (done or held)", inbox_id, extra={"inbox_id": inbox_id})
        return "skipped"
    try:
        outcome = inbox.apply(inbox_id, attempt)
    except PermanentError as exc:
        inbox.mark_failed(inbox_id, attempt, inbox.describe(exc))
        log.warning("inbox %s failed: %s", inbox_id, exc, extra={"inbox_id": inbox_id})
        return "failed"
    except Exception as exc:  # recorded on the row, then re-raised for RQ's retry
        error = inbox.describe(exc)
        if current is not None and current.retries_left:
            inbox.mark_retry(inbox_id, attempt, error, current.get_retry_interval())
        else:
            inbox.mark_failed(inbox_id, attempt, error)
        raise
    if outcome is None:
        return "superseded"
    for followup in outcome.followups:
        module, _, name = followup.func.rpartition(".")
        enqueue(getattr(import_module(module), name), *followup.args, **followup.kwargs)
    return outcome.status


@job(queue="high", timeout=300, retries=0)
def sweep() -> dict:
    """Re-enqueue inbox rows left unprocessed (Redis flushed, worker killed mid-job)."""
    config = _config()
    return inbox.sweep(config.inbox_stale_s, config.inbox_lease_s).as_dict()


@job(queue="default", timeout=1800, retries=0)
def replay(status: str, since: str | None, until: str | None, source: str | None) -> int:
    """Replay every row in ``status`` received in [since, until) (ISO times), from ``source``."""
    return inbox.replay_matching(
        status,
        datetime.fromisoformat(since) if since else None,
        datetime.fromisoformat(until) if until else None,
        source,
    )
