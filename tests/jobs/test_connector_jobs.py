"""Connector jobs: due connectors each get their own job; a dead rig stalls nobody."""

from __future__ import annotations

import time
from datetime import timedelta

from rq import Callback, SimpleWorker

from hub.db import utcnow
from hub.models import ConnectorConfig
from tests.fakes.cgminer import FakeRig


def rig_row(name, rig, **kw) -> ConnectorConfig:
    settings = {
        "host": "127.0.0.1",
        "port": rig.port,
        "allow_private_network": True,
        "timeout_s": kw.pop("timeout_s", 0.5),
    }
    return ConnectorConfig(type="cgminer", name=name, settings=settings, **kw)


def work(app, queue_names=("default",)) -> None:
    from hub.queue import queues
    from jobs.base import set_app

    set_app(app)
    SimpleWorker([queues[n] for n in queue_names], connection=queues.redis).work(burst=True)


def test_run_due_enqueues_only_due_enabled_connectors(app, session):
    """Never-run and overdue connectors are queued once; fresh and disabled ones are not."""
    from hub.queue import queues
    from jobs.connectors import run_due

    with FakeRig() as rig:
        now = utcnow()
        rows = [
            rig_row("never", rig),
            rig_row("fresh", rig, last_run_at=now - timedelta(minutes=1)),
            rig_row("disabled", rig, enabled=False),
            rig_row("overdue", rig, last_run_at=now - timedelta(minutes=20)),
        ]
        session.add_all(rows)
        session.commit()
        assert run_due() == 2
        assert run_due() == 0  # already queued: no pile-up
        queued = {job.args[0] for job in queues["default"].jobs}
        assert queued == {rows[0].id, rows[3].id}


def test_dead_rig_does_not_stall_the_others(app, session):
    """One silent rig and one healthy rig: both runs finish fast, each with its own status."""
    from jobs.connectors import run_due

    with FakeRig() as dead, FakeRig() as alive:
        dead.hang = True
        rows = [rig_row("dead", dead, timeout_s=0.5), rig_row("alive", alive)]
        session.add_all(rows)
        session.commit()
        run_due()
        started = time.monotonic()
        work(app)
        elapsed = time.monotonic() - started
    session.expire_all()
    dead_row, alive_row = (session.get(ConnectorConfig, r.id) for r in rows)
    assert dead_row.status == "unhealthy" and "no reply" in dead_row.last_error
    assert alive_row.status == "healthy" and alive_row.last_stats["stored"] == 0
    assert elapsed < 10
    from hub.queue import queues

    assert not queues.redis.exists(f"cshub:connector:{rows[0].id}:queued")


def test_job_timeout_marks_connector_unhealthy(app, session):
    """When RQ's job timeout kills a run, the failure callback records it on the connector."""
    from hub.queue import queues
    from jobs.base import enqueue
    from jobs.connectors import on_run_failure, run

    with FakeRig() as rig:
        rig.hang = True
        row = rig_row("slow", rig, timeout_s=30)
        session.add(row)
        session.commit()
        job = enqueue(run, row.id, job_timeout=1, on_failure=Callback(on_run_failure))
        work(app)
    job.refresh()
    assert job.is_failed
    session.expire_all()
    row = session.get(ConnectorConfig, row.id)
    assert row.status == "unhealthy" and "Timeout" in row.last_error
    assert not queues.redis.exists(f"cshub:connector:{row.id}:queued")
