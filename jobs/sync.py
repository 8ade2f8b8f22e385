"""Sync jobs: pull from and push to Salesforce and Mixpanel."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from jobs.base import job

log = logging.getLogger(__name__)


def _salesforce(
    kind: str, work: Callable[..., dict], resume: Callable[..., Any] | None, exclusive: bool = True
) -> dict:
    """Run ``work(client, settings)`` (one at a time if ``exclusive``); reschedule when paused."""
    import contextlib
    from datetime import timedelta

    from flask import current_app
    from redis.exceptions import LockError

    from hub.db import db
    from hub.queue import queues
    from integrations.errors import FatalError
    from integrations.salesforce.client import ApiLimitPaused
    from integrations.salesforce.runner import NotConfigured, open_client

    lock = queues.redis.lock(f"cshub:salesforce:{kind}", timeout=3600) if exclusive else None
    if lock is not None and not lock.acquire(blocking=False):
        return {"skipped": f"another salesforce {kind} is running"}
    try:
        with open_client(db.begin, current_app.config["CSHUB"]) as client:
            return work(client, client.settings)
    except NotConfigured:
        log.info("salesforce %s skipped: not configured", kind)
        return {"skipped": "not configured"}
    except ApiLimitPaused as exc:
        delay = max(60, int(exc.retry_after or 3600))
        log.warning("salesforce %s paused for %ss: %s", kind, delay, exc)
        if resume is not None:
            options = getattr(resume, "job_options", {})
            queues[options.get("queue", "default")].enqueue_in(
                timedelta(seconds=delay),
                resume,
                job_id=f"salesforce-{kind}-resume",
                job_timeout=options.get("job_timeout"),
            )
        return {"paused": True, "retry_after": delay, "reason": str(exc)}
    except FatalError as exc:  # retrying will not help; the status row shows the error
        log.error("salesforce %s failed: %s", kind, exc)
        return {"error": {"code": exc.code or "fatal", "message": str(exc)}}
    finally:
        if lock is not None:
            with contextlib.suppress(LockError):
                lock.release()


@job(timeout=3600)
def salesforce_pull() -> dict:
    """Incremental pull of Account, Contact, Opportunity and Case."""
    from hub.db import db
    from integrations.salesforce.pull import pull

    return _salesforce("pull", lambda c, s: pull(c, db.begin, s), salesforce_pull)


@job(timeout=3600)
def salesforce_push() -> dict:
    """Write changed scores back to Salesforce Accounts."""
    from hub.db import db
    from integrations.salesforce.push import push

    return _salesforce("push", lambda c, s: push(c, db.begin, s), salesforce_push)


@job(queue="low", timeout=3600)
def mixpanel_pull(since: str | None = None) -> dict:
    """Incremental Raw Event Export pull (``since``: YYYY-MM-DD backfill start)."""
    from datetime import date

    from flask import current_app

    from hub.db import db
    from hub.queue import queues
    from integrations.mixpanel.runner import pull_now

    start = date.fromisoformat(since) if since else None
    return pull_now(db.engine, current_app.config["CSHUB"], queues.redis, since=start)


@job(queue="low", timeout=3600)
def mixpanel_push() -> dict:
    """Push changed scores to Mixpanel profiles and hub actions as events."""
    from flask import current_app

    from hub.db import db
    from hub.queue import queues
    from integrations.mixpanel.runner import push_now

    return push_now(db.engine, current_app.config["CSHUB"], queues.redis)


@job(timeout=600)
def salesforce_pull_records(sobject: str, record_ids: list[str]) -> dict:
    """Pull the named records now (Salesforce Outbound Messages trigger this)."""
    from hub.db import db
    from integrations.salesforce.pull import STREAMS, pull_records

    if sobject not in STREAMS:
        log.warning("salesforce_pull_records: %s is not pulled", sobject)
        return {"skipped": f"{sobject} is not pulled"}
    ids = sorted(set(record_ids))
    return _salesforce(
        "records", lambda c, s: pull_records(c, db.begin, s, sobject, ids), None, exclusive=False
    )
