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
def mixpanel_pull() -> dict:
    """Incremental Raw Event Export pull."""
    log.info("mixpanel_pull ran (not configured yet)")
    return {}


@job(queue="low", timeout=3600)
def mixpanel_push() -> dict:
    """Push changed scores to Mixpanel profiles."""
    log.info("mixpanel_push ran (not configured yet)")
    return {}


@job(timeout=600)
def salesforce_pull_records(sobject: str, record_ids: list[str]) -> dict:
    """Pull the named records now (Salesforce Outbound Messages trigger this)."""
    log.info("salesforce_pull_records %s %d ids (not configured yet)", sobject, len(record_ids))
    return {}
