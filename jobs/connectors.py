"""Connector jobs: run each configured connector that is due, each in its own job.

Each run is its own RQ job with its own timeout, so a dead or slow rig only ever holds up
its own run: its connector is marked unhealthy (by the runner, or by the failure callback
when RQ's timeout kills the job) and the other connectors run on other jobs. A Redis key
with a TTL marks a connector as queued so the scheduler never piles up runs of one
connector; the TTL frees it even if a worker dies.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from rq import Callback
from sqlalchemy import select

from jobs.base import enqueue, job

log = logging.getLogger(__name__)

RUN_TIMEOUT = 120
QUEUED_KEY = "cshub:connector:{id}:queued"


def queued_key(connector_id: int) -> str:
    return QUEUED_KEY.format(id=connector_id)


def enqueue_run(connector_id: int, ttl_s: int = RUN_TIMEOUT * 2) -> tuple[str, bool]:
    """Enqueue one run unless one is already queued; return (job id, newly enqueued)."""
    from hub.queue import queues

    job_id = f"connector-{connector_id}-{int(datetime.now(UTC).timestamp())}"
    key = queued_key(connector_id)
    if not queues.redis.set(key, job_id, nx=True, ex=max(ttl_s, RUN_TIMEOUT + 30)):
        existing = queues.redis.get(key)
        return (existing.decode() if existing else job_id), False
    enqueue(run, connector_id, job_id=job_id, on_failure=Callback(on_run_failure))
    return job_id, True


@job(timeout=300, retries=0)
def run_due() -> int:
    """Enqueue a run for every enabled connector whose schedule is due."""
    from hub.db import db
    from hub.models import ConnectorConfig

    now = datetime.now(UTC)
    rows = db.session.execute(
        select(ConnectorConfig.id, ConnectorConfig.schedule_minutes, ConnectorConfig.last_run_at)
        .where(ConnectorConfig.enabled.is_(True))
        .order_by(ConnectorConfig.id)
    ).all()
    enqueued = 0
    for connector_id, minutes, last_run in rows:
        if last_run is not None and last_run + timedelta(minutes=minutes) > now:
            continue
        _, new = enqueue_run(connector_id, ttl_s=minutes * 60)
        enqueued += int(new)
    log.info("connectors.run_due enqueued %d of %d", enqueued, len(rows))
    return enqueued


@job(timeout=RUN_TIMEOUT, retries=0)
def run(connector_id: int) -> dict[str, Any]:
    """Run one connector once; its outcome is recorded on the connector."""
    from flask import current_app

    from hub.db import db
    from hub.queue import queues
    from integrations.connectors.runner import ConnectorNotFound, run_connector

    try:
        outcome = run_connector(
            db.engine, connector_id, ca_bundle=current_app.config["CSHUB"].requests_ca_bundle
        )
    except ConnectorNotFound as exc:
        return {"skipped": str(exc)}
    finally:
        queues.redis.delete(queued_key(connector_id))
    return outcome.as_dict()


def on_run_failure(rq_job, connection, exc_type, exc_value, traceback) -> None:
    """RQ failure callback (a timeout or a crash): mark the connector unhealthy."""
    from hub.db import db
    from integrations.connectors.runner import mark_unhealthy
    from jobs.base import get_app

    connector_id = rq_job.args[0]
    with get_app().app_context():
        mark_unhealthy(db.engine, connector_id, f"{exc_type.__name__}: {exc_value}")
    connection.delete(queued_key(connector_id))
