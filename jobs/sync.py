"""Sync jobs: pull from and push to Salesforce and Mixpanel."""

from __future__ import annotations

import logging

from jobs.base import job

log = logging.getLogger(__name__)


@job(timeout=3600)
def salesforce_pull() -> dict:
    """Incremental pull of Account, Contact, Opportunity and Case."""
    log.info("salesforce_pull ran (not configured yet)")
    return {}


@job(timeout=3600)
def salesforce_push() -> dict:
    """Write changed scores back to Salesforce Accounts."""
    log.info("salesforce_push ran (not configured yet)")
    return {}


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
    log.info("salesforce_pull_records %s %d ids (not configured yet)", sobject, len(record_ids))
    return {}
