"""Playbook jobs: evaluate triggers for every account (fanned out in chunks); dispatch due
outbox messages. Both take an optional ``as_of`` ISO timestamp (default: now), which is how
tests and back-fills move time forward without patching the clock.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from jobs.base import enqueue, job

log = logging.getLogger(__name__)

CHUNK_SIZE = 1000


def parse_as_of(as_of: str | None) -> datetime:
    """The evaluation time: ``as_of`` (ISO 8601; naive means UTC) or now."""
    if not as_of:
        return datetime.now(UTC)
    value = datetime.fromisoformat(as_of)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@job(timeout=3600)
def evaluate_all(as_of: str | None = None, chunk_size: int = CHUNK_SIZE, fan_out: bool = True):
    """Evaluate every live playbook against every account, one chunk job per range."""
    from hub.db import db
    from hub.playbooks.engine import evaluate
    from hub.playbooks.queries import account_ranges

    now = parse_as_of(as_of)
    with db.begin() as session:
        ranges = account_ranges(session, chunk_size)
    if fan_out and len(ranges) > 1:
        stamp = now.strftime("%Y%m%dT%H%M%S")
        for lo, hi in ranges:
            enqueue(evaluate_chunk, lo, hi, now.isoformat(), job_id=f"playbooks-{stamp}-{lo}-{hi}")
        log.info("playbooks: %d chunks enqueued", len(ranges))
        return {"now": now.isoformat(), "chunks": len(ranges), "fanned_out": True}
    total = None
    for lo, hi in ranges:
        with db.begin() as session:
            report = evaluate(session, now=now, ranges=[(lo, hi)])
        if total is None:
            total = report
        else:
            total.merge(report)
    return total.as_dict() if total else {"now": now.isoformat(), "accounts": 0}


@job(timeout=1800)
def evaluate_chunk(lo: int, hi: int, as_of: str | None = None) -> dict:
    """Evaluate every live playbook for the accounts with ids in [lo, hi] (one transaction)."""
    from hub.db import db
    from hub.playbooks.engine import evaluate

    with db.begin() as session:
        report = evaluate(session, now=parse_as_of(as_of), ranges=[(lo, hi)])
    return report.as_dict()


@job(queue="high", timeout=600, retries=0)
def dispatch_due(
    as_of: str | None = None, max_messages: int | None = None, concurrency: int = 4
) -> dict:
    """Send every due outbox message through its channel (at most once each)."""
    from flask import current_app

    from hub.db import db
    from hub.playbooks import loader
    from hub.playbooks.dispatch import dispatch_due as run_dispatch

    with db.begin() as session:
        guards = loader.guard_settings(session)
    report = run_dispatch(
        db.engine,
        current_app.config["CSHUB"],
        guards,
        now=parse_as_of(as_of),
        max_messages=max_messages,
        concurrency=concurrency,
    )
    return report.as_dict()
