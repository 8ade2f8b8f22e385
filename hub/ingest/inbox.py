"""The inbox's processing state machine: claim, apply exactly once, retry, sweep, replay.

Exactly once *in effect*, with at-least-once job delivery underneath:

1. ``claim`` moves a ``pending`` row to ``processing`` and bumps ``attempts`` in one
   conditional UPDATE (also taking back a ``processing`` row whose claim is older than the
   lease, or that the same RQ job held before its work horse died).
2. ``apply`` opens one transaction whose first statement re-checks the claim
   (``status='processing' AND attempts=<mine>``) and so locks the row; the source's processor
   then writes its domain changes, and the row becomes ``processed`` or ``ignored`` in the
   same commit. A worker killed mid-way commits nothing; a superseded claim rolls back.
3. A failed attempt goes back to ``pending`` with its error and the time RQ will retry it,
   or to ``failed`` after the last try (or at once for a ``PermanentError``).
4. ``sweep`` re-enqueues what no live job will pick up: pending rows whose job is gone from
   Redis (flushed, lost, failed) and processing rows past their lease (worker killed).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from hub.db import db, utcnow
from hub.ingest.base import Outcome
from hub.models import InboxEvent

log = logging.getLogger(__name__)

PROCESSORS = {
    "stripe": "hub.ingest.stripe",
    "mixpanel": "hub.ingest.mixpanel",
    "salesforce": "hub.ingest.salesforce",
    "events": "hub.ingest.events",
}
MAX_ATTEMPTS = 10
"""A row whose worker keeps dying is failed after this many claims, not swept forever."""
DEAD_JOB_STATUSES = {
    JobStatus.FAILED,
    JobStatus.FINISHED,
    JobStatus.STOPPED,
    JobStatus.CANCELED,
}


def processor(source: str) -> Callable[[Session, InboxEvent], Outcome]:
    return import_module(PROCESSORS[source]).process


def new_job_id() -> str:
    import uuid

    return f"inbox-{uuid.uuid4().hex}"


def enqueue(inbox_ids: Sequence[int], job_id: str) -> None:
    """Enqueue ``jobs.inbox.process(*inbox_ids)`` under ``job_id`` in one Redis round trip
    (raises on Redis errors)."""
    from hub.queue import queues
    from jobs.inbox import process

    options = process.job_options  # type: ignore[attr-defined]
    queue = queues[options["queue"]]
    job = queue.create_job(
        process,
        args=tuple(inbox_ids),
        job_id=job_id,
        timeout=options["job_timeout"],
        retry=options["retry"],
        result_ttl=options["result_ttl"],
        failure_ttl=options["failure_ttl"],
    )
    with queue.connection.pipeline() as pipe:
        queue.enqueue_job(job, pipeline=pipe)
        pipe.execute()


def claim(inbox_id: int, job_id: str | None, lease_s: int) -> int | None:
    """Take the row for processing; the attempt number, or None if it is not ours to take."""
    now = utcnow()
    takeable = [InboxEvent.claimed_at < now - timedelta(seconds=lease_s)]
    if job_id:
        takeable.append(InboxEvent.job_id == job_id)
    stmt = (
        update(InboxEvent)
        .where(
            InboxEvent.id == inbox_id,
            or_(
                InboxEvent.status == "pending",
                and_(InboxEvent.status == "processing", or_(*takeable)),
            ),
        )
        .values(
            status="processing",
            attempts=InboxEvent.attempts + 1,
            claimed_at=now,
            next_attempt_at=None,
            **({"job_id": job_id} if job_id else {}),
        )
        .returning(InboxEvent.attempts)
    )
    with db.engine.begin() as conn:
        return conn.execute(stmt).scalar()


def _ours(inbox_id: int, attempt: int) -> Any:
    return and_(
        InboxEvent.id == inbox_id,
        InboxEvent.status == "processing",
        InboxEvent.attempts == attempt,
    )


def apply(inbox_id: int, attempt: int) -> Outcome | None:
    """Process the claimed row in one transaction; None if another attempt took it over."""
    now = utcnow()
    with db.begin() as session:
        locked = session.execute(
            update(InboxEvent).where(_ours(inbox_id, attempt)).values(processed_at=now)
        ).rowcount
        if not locked:
            return None
        row = session.get(InboxEvent, inbox_id)
        assert row is not None
        outcome = processor(row.source)(session, row)
        row.status = outcome.status
        row.result = outcome.notes
        row.last_error = None
        row.processed_at = now
    return outcome


def describe(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[:4000]


def mark_retry(inbox_id: int, attempt: int, error: str, delay_s: float) -> None:
    """Back to pending until RQ retries it (the sweeper leaves it alone until then)."""
    with db.engine.begin() as conn:
        conn.execute(
            update(InboxEvent)
            .where(_ours(inbox_id, attempt))
            .values(
                status="pending",
                last_error=error,
                next_attempt_at=utcnow() + timedelta(seconds=delay_s),
            )
        )


def mark_failed(inbox_id: int, attempt: int | None, error: str) -> None:
    """The last try failed: keep the error for the admin API (replay resets it)."""
    where = _ours(inbox_id, attempt) if attempt is not None else InboxEvent.id == inbox_id
    with db.engine.begin() as conn:
        conn.execute(
            update(InboxEvent)
            .where(where)
            .values(status="failed", last_error=error, processed_at=utcnow())
        )


@dataclass
class SweepReport:
    stale_pending: int = 0
    dead_processing: int = 0
    requeued: int = 0
    abandoned: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _job_alive(jobs: dict[str, Job | None], job_id: str | None) -> bool:
    job = jobs.get(job_id or "")
    if job is None:
        return False
    try:
        return job.get_status(refresh=False) not in DEAD_JOB_STATUSES
    except (NoSuchJobError, ValueError):
        return False


def _fetch_jobs(job_ids: Iterable[str]) -> dict[str, Job | None]:
    from hub.queue import queues

    ids = [j for j in job_ids if j]
    if not ids:
        return {}
    return dict(zip(ids, Job.fetch_many(ids, connection=queues.redis), strict=True))


def _requeue(row_id: int, old_job_id: str | None, status: str) -> bool:
    """Hand the row to a new job unless someone else changed it first."""
    job_id = new_job_id()
    with db.engine.begin() as conn:
        changed = conn.execute(
            update(InboxEvent)
            .where(
                InboxEvent.id == row_id,
                InboxEvent.status == status,
                InboxEvent.job_id == old_job_id
                if old_job_id is not None
                else InboxEvent.job_id.is_(None),
            )
            .values(status="pending", job_id=job_id, next_attempt_at=None)
        ).rowcount
    if changed:
        enqueue([row_id], job_id)
    return bool(changed)


def sweep(stale_s: int, lease_s: int, limit: int = 1000) -> SweepReport:
    """Re-enqueue rows no live job will process; fail rows that exhausted their attempts."""
    now = utcnow()
    report = SweepReport()
    with Session(db.engine) as session:
        pending = session.execute(
            select(InboxEvent.id, InboxEvent.job_id)
            .where(
                InboxEvent.status == "pending",
                or_(
                    and_(
                        InboxEvent.next_attempt_at.is_(None),
                        InboxEvent.received_at < now - timedelta(seconds=stale_s),
                    ),
                    InboxEvent.next_attempt_at < now - timedelta(seconds=stale_s),
                ),
            )
            .order_by(InboxEvent.id)
            .limit(limit)
        ).all()
        dead = session.execute(
            select(InboxEvent.id, InboxEvent.job_id, InboxEvent.attempts)
            .where(
                InboxEvent.status == "processing",
                InboxEvent.claimed_at < now - timedelta(seconds=lease_s),
            )
            .order_by(InboxEvent.id)
            .limit(limit)
        ).all()
    report.stale_pending, report.dead_processing = len(pending), len(dead)
    jobs = _fetch_jobs(job_id for _, job_id in pending)
    for row_id, job_id in pending:
        if not _job_alive(jobs, job_id) and _requeue(row_id, job_id, "pending"):
            report.requeued += 1
    for row_id, job_id, attempts in dead:
        if attempts >= MAX_ATTEMPTS:
            mark_failed(row_id, attempts, f"abandoned after {attempts} attempts (worker died)")
            report.abandoned += 1
        elif _requeue(row_id, job_id, "processing"):
            report.requeued += 1
    if report.requeued or report.abandoned:
        log.warning("inbox sweep: %s", report.as_dict())
    return report


class ReplayConflict(Exception):
    """The row is being processed right now."""


def replay(session: Session, row: InboxEvent, lease_s: int) -> str:
    """Send one row through processing again (commits); the new job id."""
    now = utcnow()
    if (
        row.status == "processing"
        and row.claimed_at
        and row.claimed_at > now - timedelta(seconds=lease_s)
    ):
        raise ReplayConflict(f"inbox row {row.id} is being processed")
    job_id = new_job_id()
    row.status, row.job_id, row.next_attempt_at = "pending", job_id, None
    session.commit()
    enqueue([row.id], job_id)
    return job_id


def replay_filter(
    status: str, since: datetime | None, until: datetime | None, source: str | None
) -> list[Any]:
    clauses = [InboxEvent.status == status]
    if since is not None:
        clauses.append(InboxEvent.received_at >= since)
    if until is not None:
        clauses.append(InboxEvent.received_at < until)
    if source:
        clauses.append(InboxEvent.source == source)
    return clauses


def replay_matching(
    status: str, since: datetime | None, until: datetime | None, source: str | None
) -> int:
    """Replay every row in ``status`` received in [since, until) (in chunks); how many."""
    clauses = replay_filter(status, since, until, source)
    done, after = 0, 0
    while True:
        with Session(db.engine) as session:
            rows = session.execute(
                select(InboxEvent.id, InboxEvent.job_id)
                .where(*clauses, InboxEvent.id > after)
                .order_by(InboxEvent.id)
                .limit(500)
            ).all()
        if not rows:
            return done
        for row_id, job_id in rows:
            done += _requeue(row_id, job_id, status)
        after = rows[-1][0]
