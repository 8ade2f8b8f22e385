"""jobs.inbox: retries with backoff, failure after the last try, claims, and the sweeper."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import select, update

from hub.db import db, utcnow
from hub.ingest import hooks
from hub.ingest import inbox as machine
from hub.models import AuditLog, InboxEvent
from tests.conftest import free_port
from tests.webhooks.helpers import post_stripe, run_jobs
from tests.webhooks.payloads import stripe_event


def _deliver(client, n: int = 1) -> None:
    for i in range(n):
        event = stripe_event(f"evt_job{i}", "customer.subscription.trial_will_end", {"id": "x"})
        assert post_stripe(client, event).status_code == 200


def _row(session, external_id: str = "evt_job0") -> InboxEvent:
    session.expire_all()
    return session.scalars(select(InboxEvent).where(InboxEvent.external_id == external_id)).one()


@pytest.fixture
def probe():
    """A hook that records every application in the audit log (no unique key: a double
    application would show as two rows), and can be made to fail."""
    state = {"fail": 0}

    def record(ctx: hooks.HookContext) -> None:
        if state["fail"]:
            state["fail"] -= 1
            raise RuntimeError("downstream unavailable")
        ctx.session.add(AuditLog(actor="probe", action="applied", target=ctx.external_id))

    hooks.subscribe("stripe", "*", record)
    yield state
    hooks.unsubscribe("stripe", "*", record)


def _applied(session, external_id: str = "evt_job0") -> int:
    return len(
        session.scalars(
            select(AuditLog).where(AuditLog.actor == "probe", AuditLog.target == external_id)
        ).all()
    )


def test_failure_is_recorded_and_retried_with_backoff(app, client, session, probe):
    """A failing attempt goes back to pending with its error and the time RQ retries it."""
    from hub.queue import queues

    probe["fail"] = 1
    _deliver(client)
    run_jobs(app)
    row = _row(session)
    assert row.status == "pending" and row.attempts == 1
    assert "downstream unavailable" in row.last_error
    assert row.next_attempt_at > utcnow() + timedelta(seconds=5)
    job = Job.fetch(row.job_id, connection=queues.redis)
    assert job.get_status() == JobStatus.SCHEDULED and job.retries_left == 4
    assert _applied(session) == 0


def _run_scheduled_now(row: InboxEvent, last_try: bool) -> None:
    """Move the job RQ scheduled for a retry onto the queue now (optionally as the last try)."""
    from hub.queue import queues

    job = Job.fetch(row.job_id, connection=queues.redis)
    queues["high"].scheduled_job_registry.remove(job)
    if last_try:
        job.retries_left = 0
        job.save()
    queues["high"].enqueue_job(job)


def test_retry_succeeds_and_applies_once(app, client, session, probe):
    probe["fail"] = 1
    _deliver(client)
    run_jobs(app)
    _run_scheduled_now(_row(session), last_try=False)
    run_jobs(app)
    row = _row(session)
    assert row.status == "processed" and row.attempts == 2 and row.last_error is None
    assert _applied(session) == 1


def test_last_try_marks_failed_with_the_error(app, client, session, probe, admin_headers):
    """After the last try the row is failed, keeps its error and shows in the admin API."""
    probe["fail"] = 2
    _deliver(client)
    run_jobs(app)
    _run_scheduled_now(_row(session), last_try=True)
    run_jobs(app)
    row = _row(session)
    assert row.status == "failed" and row.attempts == 2
    assert "RuntimeError: downstream unavailable" in row.last_error
    listed = client.get("/api/inbox?status=failed", headers=admin_headers)
    assert [r["id"] for r in listed.json] == [row.id]
    assert listed.json[0]["last_error"] == row.last_error


def test_redis_flushed_after_accepting_then_sweeper_recovers(app, client, session, probe):
    """A job lost with Redis leaves a pending row; the sweeper enqueues it once."""
    from hub.queue import queues

    _deliver(client, 3)
    queues.redis.flushdb()
    report = machine.sweep(stale_s=0, lease_s=60)
    assert report.requeued == 3
    assert machine.sweep(stale_s=0, lease_s=60).requeued == 0  # jobs alive: nothing more
    run_jobs(app)
    for i in range(3):
        assert _row(session, f"evt_job{i}").status == "processed"
        assert _applied(session, f"evt_job{i}") == 1


def test_sweeper_leaves_rows_whose_job_is_queued(app, client, session):
    _deliver(client)
    assert machine.sweep(stale_s=0, lease_s=60).requeued == 0


def test_sweeper_leaves_recent_rows(app, client, session):
    from hub.queue import queues

    _deliver(client)
    queues.redis.flushdb()
    assert machine.sweep(stale_s=120, lease_s=60).stale_pending == 0


def test_dead_claim_is_taken_back_after_the_lease(app, client, session, probe):
    """A worker killed mid-job leaves the row processing; past the lease it is re-run once."""
    from hub.queue import queues

    _deliver(client)
    queues.redis.flushdb()
    attempt = machine.claim(_row(session).id, "job-that-died", lease_s=60)
    assert attempt == 1
    assert machine.sweep(stale_s=0, lease_s=60).requeued == 0  # claim still fresh
    with db.engine.begin() as conn:
        conn.execute(update(InboxEvent).values(claimed_at=utcnow() - timedelta(seconds=61)))
    report = machine.sweep(stale_s=0, lease_s=60)
    assert report.dead_processing == 1 and report.requeued == 1
    run_jobs(app)
    row = _row(session)
    assert row.status == "processed" and row.attempts == 2 and _applied(session) == 1


def test_superseded_claim_commits_nothing(app, client, session, probe):
    """Only the latest claim may finish: an older attempt's work rolls back."""
    _deliver(client)
    row_id = _row(session).id
    first = machine.claim(row_id, "job-a", lease_s=0)
    second = machine.claim(row_id, "job-b", lease_s=0)  # lease 0: the first is taken over
    assert (first, second) == (1, 2)
    assert machine.apply(row_id, first) is None
    assert _applied(session) == 0
    assert machine.apply(row_id, second).status == "processed"
    assert machine.apply(row_id, second) is None  # done: a duplicate job does nothing
    assert _applied(session) == 1


def test_same_job_may_reclaim_after_its_work_horse_died(app, client, session):
    """RQ retries a job whose horse was killed under the same id: it may take its row back."""
    _deliver(client)
    row_id = _row(session).id
    assert machine.claim(row_id, "job-a", lease_s=300) == 1
    assert machine.claim(row_id, "job-other", lease_s=300) is None
    assert machine.claim(row_id, "job-a", lease_s=300) == 2


def test_processed_row_is_not_claimed_again(app, client, session):
    _deliver(client)
    run_jobs(app)
    assert machine.claim(_row(session).id, None, lease_s=0) is None


def test_worker_that_keeps_dying_is_abandoned(app, client, session):
    _deliver(client)
    with db.engine.begin() as conn:
        conn.execute(
            update(InboxEvent).values(
                status="processing",
                attempts=machine.MAX_ATTEMPTS,
                claimed_at=utcnow() - timedelta(hours=1),
            )
        )
    report = machine.sweep(stale_s=0, lease_s=60)
    assert report.abandoned == 1
    row = _row(session)
    assert row.status == "failed" and "abandoned" in row.last_error


def test_redis_down_at_request_time_still_accepts(app, client, session, probe):
    """The delivery is durable in the database: 200 now, enqueued by the sweeper later."""
    from hub.queue import queues

    dead = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    real = dict(queues._queues)
    queues._queues = {name: Queue(name, connection=dead) for name in real}
    try:
        _deliver(client)
    finally:
        queues._queues = real
    row = _row(session)
    assert row.status == "pending" and queues["high"].count == 0
    assert machine.sweep(stale_s=0, lease_s=60).requeued == 1
    run_jobs(app)
    assert _row(session).status == "processed" and _applied(session) == 1


def test_database_down_is_503_so_the_sender_retries(app, client, tmp_path):
    """No row can be written: the answer is 503, never a 2xx that would lose the event."""
    from hub.db import make_engine

    real = db.engine
    db.engine = make_engine(f"sqlite:///{tmp_path}/missing/dir/x.db")
    try:
        event = stripe_event("evt_db1", "customer.subscription.trial_will_end", {"id": "x"})
        response = post_stripe(client, event)
    finally:
        db.engine.dispose()
        db.engine = real
    assert response.status_code == 503
    assert response.json["error"]["code"] == "unavailable"


def test_a_batch_job_retries_only_the_delivery_that_failed(app, session):
    """Deliveries committed together share one job; one failing is retried alone, the others
    are applied once."""
    from hub.queue import queues
    from webhooks.inbox import _write_batch

    failures = {"evt_b": 1}

    def flaky(ctx: hooks.HookContext) -> None:
        if failures.get(ctx.external_id):
            failures[ctx.external_id] -= 1
            raise RuntimeError("downstream unavailable")
        ctx.session.add(AuditLog(actor="probe", action="applied", target=ctx.external_id))

    def delivery(external_id: str) -> dict:
        body = stripe_event(external_id, "customer.subscription.trial_will_end", {"id": "x"})
        return {"source": "stripe", "external_id": external_id, "event_type": body["type"],
                "headers": {}, "body": orjson.dumps(body), "status": "pending", "attempts": 0,
                "received_at": utcnow()}  # fmt: skip

    hooks.subscribe("stripe", "*", flaky)
    try:
        stored = _write_batch(db.engine, [delivery(e) for e in ("evt_a", "evt_b", "evt_c")])
        assert [s.duplicate for s in stored] == [False] * 3 and all(s.enqueued for s in stored)
        rows = [_row(session, e) for e in ("evt_a", "evt_b", "evt_c")]
        assert len({r.job_id for r in rows}) == 1 and queues["high"].count == 1
        job = Job.fetch(rows[0].job_id, connection=queues.redis)
        assert job.args == tuple(s.inbox_id for s in stored)

        run_jobs(app)
        assert [_row(session, e).status for e in ("evt_a", "evt_b", "evt_c")] == [
            "processed", "pending", "processed"
        ]  # fmt: skip
        assert "downstream unavailable" in _row(session, "evt_b").last_error
        assert job.get_status(refresh=True) == JobStatus.SCHEDULED

        _run_scheduled_now(_row(session, "evt_b"), last_try=False)
        run_jobs(app)
    finally:
        hooks.unsubscribe("stripe", "*", flaky)
    for external_id in ("evt_a", "evt_b", "evt_c"):
        row = _row(session, external_id)
        assert row.status == "processed" and _applied(session, external_id) == 1
    assert _row(session, "evt_a").attempts == 1 and _row(session, "evt_b").attempts == 2
