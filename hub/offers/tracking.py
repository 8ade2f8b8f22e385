"""An offer's life: offered -> viewed -> accepted | declined | expired.

Acceptance is detected from Stripe subscription changes (the subscription now carries the
offered plan, product or billing interval) and from the hub's own subscription-change rows;
a rep can also record it through the API. Terminal states do not change, except that an
offer accepted shortly after it expired still counts as accepted (late).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.growth.events import record as record_event
from hub.models import Offer, SubscriptionChange

OPEN = ("offered", "viewed")
TRANSITIONS = {
    "offered": {"viewed", "accepted", "declined", "expired"},
    "viewed": {"accepted", "declined", "expired"},
    "expired": {"accepted"},
}
LATE_ACCEPT_DAYS = 30


class InvalidTransition(ValueError):
    pass


def transition(
    offer: Offer,
    status: str,
    now: datetime,
    source: str,
    detail: dict[str, Any] | None = None,
    session: Session | None = None,
) -> bool:
    """Move ``offer`` to ``status``; False when it is already there, error when not allowed."""
    if offer.status == status:
        return False
    if status not in TRANSITIONS.get(offer.status, set()):
        raise InvalidTransition(f"an offer cannot go from {offer.status} to {status}")
    late = offer.expires_at is not None and now - offer.expires_at > timedelta(
        days=LATE_ACCEPT_DAYS
    )
    if offer.status == "expired" and status == "accepted" and late:
        raise InvalidTransition("the offer expired too long ago to be accepted")
    history = list((offer.details or {}).get("history") or [])
    history.append({"status": status, "at": now.isoformat(), "source": source, **(detail or {})})
    offer.details = {**(offer.details or {}), "history": history}
    if status == "viewed":
        offer.viewed_at = offer.viewed_at or now
    else:
        offer.resolved_at = now
    offer.status = status
    if session is not None:
        record_event(
            session,
            offer.account_id,
            f"offer_{status}",
            str(offer.id),
            now,
            {"offer_id": offer.id, "rule": offer.rule_key, "kind": offer.kind},
        )
    return True


def mark_viewed(
    offer: Offer, now: datetime, source: str = "link", session: Session | None = None
) -> bool:
    if offer.status != "offered":
        return False
    return transition(offer, "viewed", now, source, session=session)


def expire_due(session: Session, now: datetime) -> int:
    rows = session.scalars(
        select(Offer).where(Offer.status.in_(OPEN), Offer.expires_at < now)
    ).all()
    for offer in rows:
        transition(offer, "expired", now, "expiry", session=session)
    return len(rows)


def subscription_facts(subscription: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """Plans, products, billing intervals and trial state of a Stripe subscription object."""
    product_names = doc.get("stripe_products") or {}
    plans: set[str] = set()
    products: set[str] = set()
    intervals: set[str] = set()
    meta = subscription.get("metadata") or {}
    if meta.get("plan"):
        plans.add(str(meta["plan"]))
    for item in (subscription.get("items") or {}).get("data") or []:
        price = item.get("price") or item.get("plan") or {}
        pmeta = price.get("metadata") or {}
        for name in (price.get("lookup_key"), pmeta.get("plan"), price.get("nickname")):
            if name:
                plans.add(str(name))
        product = price.get("product")
        product_id = product.get("id") if isinstance(product, dict) else product
        if isinstance(product, dict) and (product.get("metadata") or {}).get("cshub_product"):
            products.add(product["metadata"]["cshub_product"])
        if pmeta.get("cshub_product"):
            products.add(pmeta["cshub_product"])
        if product_id and product_id in product_names:
            products.add(product_names[product_id])
        if price.get("lookup_key"):
            products.add(str(price["lookup_key"]))
        interval = (price.get("recurring") or {}).get("interval") or price.get("interval")
        if interval:
            intervals.add(interval)
    return {
        "plans": plans,
        "products": products,
        "intervals": intervals,
        "trialing": subscription.get("status") == "trialing",
        "active": subscription.get("status") in ("active", "trialing", "past_due"),
    }


def matches(offer: Offer, facts: dict[str, Any]) -> bool:
    target = (offer.details or {}).get("target") or {}
    if not target or not facts["active"]:
        return False
    if target.get("plan") and target["plan"] not in facts["plans"]:
        return False
    if target.get("product") and target["product"] not in facts["products"]:
        return False
    return not (target.get("interval") and target["interval"] not in facts["intervals"])


def accept_from_subscription(
    session: Session,
    account_id: int,
    subscription: dict[str, Any],
    doc: dict[str, Any],
    now: datetime,
    ref: str,
) -> list[Offer]:
    """Mark the account's open offers that this subscription fulfils as accepted."""
    facts = subscription_facts(subscription, doc)
    accepted = []
    candidates = session.scalars(
        select(Offer).where(
            Offer.account_id == account_id,
            Offer.status.in_((*OPEN, "expired")),
            Offer.offered_at <= now,
        )
    ).all()
    for offer in candidates:
        if not matches(offer, facts):
            continue
        try:
            if transition(offer, "accepted", now, "stripe", {"ref": ref}, session):
                accepted.append(offer)
        except InvalidTransition:
            continue
    return accepted


def accept_from_changes(session: Session, now: datetime, lookback_days: int = 45) -> int:
    """Accept open plan offers whose plan an account moved to (subscription-change rows)."""
    since = now - timedelta(days=lookback_days)
    rows = session.execute(
        select(Offer, SubscriptionChange)
        .join(SubscriptionChange, SubscriptionChange.account_id == Offer.account_id)
        .where(
            Offer.status.in_((*OPEN, "expired")),
            Offer.target_plan.is_not(None),
            SubscriptionChange.plan == Offer.target_plan,
            SubscriptionChange.kind.in_(("new", "expansion", "reactivation")),
            SubscriptionChange.occurred_at >= Offer.offered_at,
            SubscriptionChange.occurred_at >= since,
        )
    ).all()
    count = 0
    for offer, change in rows:
        if offer.status == "accepted":
            continue
        try:
            if transition(
                offer,
                "accepted",
                change.occurred_at,
                "subscription_change",
                {"ref": change.id},
                session,
            ):
                count += 1
        except InvalidTransition:
            continue
    return count
