"""Growth jobs: offers evaluation, survey sending, referral invitations, reward granting."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import current_app

from hub.db import db, utcnow
from jobs.base import enqueue, job

log = logging.getLogger(__name__)


def _base_url() -> str:
    return current_app.config["CSHUB"].base_url


@job(timeout=3600)
def evaluate_offers(now: str | None = None) -> dict[str, Any]:
    """Expire stale offers, accept fulfilled ones, then make the offers every rule calls for."""
    from hub.offers import engine, tracking

    at = datetime.fromisoformat(now) if now else utcnow()
    with db.begin() as session:
        expired = tracking.expire_due(session, at)
        accepted = tracking.accept_from_changes(session, at)
    with db.begin() as session:
        stats = engine.evaluate_all(session, at, _base_url())
    if stats.offers:
        enqueue(open_offer_opportunities)
    return {**stats.as_dict(), "expired": expired, "accepted": accepted}


@job(timeout=1800)
def open_offer_opportunities() -> dict[str, Any]:
    """Open a Salesforce Opportunity for each open offer a person must close (once each)."""
    from hub.offers import crm
    from integrations.salesforce.runner import NotConfigured, open_client

    with db.begin() as session:
        ids = crm.pending(session)
    if not ids:
        return {"pending": 0}
    try:
        with open_client(db.begin, current_app.config["CSHUB"]) as client:
            return crm.open_opportunities(client, db.begin, client.settings, ids)
    except NotConfigured:
        return {"pending": len(ids), "skipped": "salesforce not configured"}


@job(timeout=1800)
def send_surveys(now: str | None = None) -> dict[str, Any]:
    """Send every survey that is due to every eligible contact."""
    from hub.feedback import sender

    at = datetime.fromisoformat(now) if now else utcnow()
    with db.begin() as session:
        expired = sender.expire_due(session, at)
        sent = sender.send_due(session, at, _base_url())
    return {**sent, "expired": expired}


@job(timeout=1800)
def invite_referrers(now: str | None = None) -> dict[str, Any]:
    """Invite the contacts the referral triggers pick (once per window)."""
    from hub.referrals import invites

    at = datetime.fromisoformat(now) if now else utcnow()
    with db.begin() as session:
        return invites.run(session, at, _base_url())


@job(queue="high", timeout=900)
def grant_rewards(now: str | None = None) -> dict[str, int]:
    """Pay every reward whose hold has passed; a retriable failure waits for the next run."""
    from hub.referrals import rewards
    from integrations.errors import RetriableError

    at = datetime.fromisoformat(now) if now else utcnow()
    with db.begin() as session:
        ids = rewards.due_ids(session, at)
    counts: dict[str, int] = {}
    for entry_id in ids:
        try:
            status = rewards.grant(entry_id, at)
        except RetriableError as exc:
            log.warning("reward %s will be retried: %s", entry_id, exc)
            status = "retry"
        counts[status] = counts.get(status, 0) + 1
    return counts


@job(queue="high", timeout=300)
def grant_reward(entry_id: int) -> str:
    """Pay one reward now (RQ retries a retriable failure; Stripe sees one idempotency key)."""
    from hub.referrals import rewards

    return rewards.grant(entry_id)


@job(queue="high", timeout=300)
def chargeback(charge_id: str, at: str) -> dict[str, Any]:
    """A dispute was opened: find the charge's customer and reverse rewards still on hold."""
    from hub.referrals import attribution
    from integrations.stripe import gateway_for

    config = current_app.config["CSHUB"]
    with db.begin() as session:
        gateway = gateway_for(session, config)
    charge = gateway.charge(charge_id)
    customer = charge.get("customer")
    customer = customer.get("id") if isinstance(customer, dict) else customer
    if not customer:
        return {"status": "no_customer"}
    with db.begin() as session:
        outcome = attribution.record_reversal(
            session,
            stripe_customer_id=customer,
            kind="chargeback",
            now=datetime.fromisoformat(at),
            ref=charge_id,
        )
        return outcome.as_dict()
