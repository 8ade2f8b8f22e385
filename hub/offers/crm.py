"""Open a Salesforce Opportunity for each offer a person must close, once per offer.

Creation goes through ``integrations.salesforce.work.open_opportunity`` (one record per
idempotency key ``offer-work:<offer id>``, adopted rather than duplicated after a crash); the
Opportunity id is kept on the offer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Account, Offer
from hub.offers.tracking import OPEN
from integrations.errors import FatalError, SkippableError


def pending(session: Session, limit: int = 200) -> list[int]:
    """Open offers to be closed by a person that have no Opportunity yet."""
    rows = session.execute(
        select(Offer.id, Offer.details)
        .where(Offer.status.in_(OPEN), Offer.salesforce_id.is_(None))
        .order_by(Offer.id)
    ).all()
    wanted = [oid for oid, details in rows if (details or {}).get("close_by") == "opportunity"]
    return wanted[:limit]


def describe(offer: Offer, account: Account) -> dict[str, Any]:
    target = (offer.details or {}).get("target") or {}
    what = target.get("plan") or target.get("product") or f"{target.get('interval')}ly plan"
    evidence = (offer.details or {}).get("evidence") or {}
    close = (offer.expires_at or offer.offered_at + timedelta(days=30)).date()
    return {
        "name": f"{account.name}: {str(what).replace('_', ' ')} ({offer.rule_key})",
        "close_date": close,
        "kind": "Existing Customer - Upgrade" if offer.kind == "upsell" else "New Business",
        "description": (
            f"cshub offer {offer.id}, rule {offer.rule_key} ({offer.kind}).\n"
            f"Evidence: {evidence}\nProposed: {target}"
        ),
    }


def open_opportunities(client, transaction, settings, offer_ids: list[int]) -> dict[str, int]:
    """Open the Opportunities of ``offer_ids``; counts of created, existing, skipped, failed."""
    from integrations.salesforce.work import AccountRef, open_opportunity

    counts = {"created": 0, "existing": 0, "skipped": 0, "failed": 0}
    for offer_id in offer_ids:
        with transaction() as session:
            offer = session.get(Offer, offer_id)
            account = session.get(Account, offer.account_id) if offer else None
            if offer is None or account is None:
                continue
            ref = AccountRef.of(account)
            spec = describe(offer, account)
        try:
            result = open_opportunity(
                client, transaction, settings, key=f"offer-work:{offer_id}", account=ref, **spec
            )
        except SkippableError:
            counts["skipped"] += 1
            continue
        except FatalError:
            counts["failed"] += 1
            continue
        with transaction() as session:
            session.get(Offer, offer_id).salesforce_id = result.salesforce_id
        counts["created" if result.created else "existing"] += 1
    return counts
