"""Make offers: evaluate every rule for every account, once per account, rule and window.

Guards, in order: the rule is enabled and applies to the account (segment, plan, status);
the target makes sense (a next plan exists, the product is not owned yet); no offer for the
same rule in the last window (sliding); and the unique (account, rule, window) key, which
holds even when two evaluations race.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.growth.crm import request_work
from hub.growth.events import record as record_event
from hub.growth.outbox import queue_message
from hub.growth.people import primary_contact, reachable
from hub.growth.render import render
from hub.growth.store import insert_once
from hub.growth.tokens import sign
from hub.models import Account, Offer
from hub.offers.config import settings
from hub.offers.facts import AccountFacts
from hub.offers.rules import SIGNALS

log = logging.getLogger(__name__)

LIVE_STATUSES = ("active", "trial", "past_due")
VIEW_PURPOSE = "offer-view"


@dataclass
class EvaluationStats:
    accounts: int = 0
    offers: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "accounts": self.accounts,
            "offers": self.offers,
            "by_rule": self.by_rule,
            "errors": self.errors,
        }


def resolve_target(rule: dict[str, Any], account: Account, doc: dict[str, Any]) -> dict | None:
    """What the offer proposes, concretely; None when nothing sensible can be offered."""
    target = dict(rule.get("target") or {})
    plan = target.get("plan")
    if plan == "next":
        nxt = (doc.get("plan_ladder") or {}).get(account.plan or "")
        if not nxt:
            return None
        target["plan"] = nxt
    elif plan == "premium":
        premium = list(doc.get("premium_plans") or [])
        if not premium or account.plan in premium:
            return None
        target["plan"] = premium[0]
    product = target.get("product")
    if product and product in set((account.attributes or {}).get("products") or []):
        return None
    if (
        target.get("interval") == "year"
        and (account.attributes or {}).get("billing_interval") == "year"
    ):
        return None
    return target


def window_key(rule: dict[str, Any], account: Account, now: datetime) -> str | None:
    window = rule.get("window", "days")
    if window == "once":
        return "once"
    if window == "renewal":
        return f"renewal:{account.renewal_date.isoformat()}" if account.renewal_date else None
    days = int(rule["window_days"])
    epoch_day = (now.date() - datetime(1970, 1, 1, tzinfo=UTC).date()).days
    return f"d{days}:{epoch_day // days}"


def applies(rule: dict[str, Any], account: Account) -> bool:
    if not rule.get("enabled", True):
        return False
    if rule.get("segments") and account.segment not in rule["segments"]:
        return False
    return not (rule.get("plans") and account.plan not in rule["plans"])


def recently_offered(
    session: Session, account_id: int, rule: dict[str, Any], now: datetime
) -> bool:
    if rule.get("window", "days") != "days":
        return False
    since = now - timedelta(days=int(rule["window_days"]))
    return (
        session.scalar(
            select(Offer.id)
            .where(
                Offer.account_id == account_id,
                Offer.rule_key == rule["key"],
                Offer.offered_at >= since,
            )
            .limit(1)
        )
        is not None
    )


def evaluate_account(
    session: Session,
    account: Account,
    now: datetime,
    base_url: str,
    doc: dict[str, Any] | None = None,
    version: int = 0,
) -> list[Offer]:
    """Make the offers ``account`` qualifies for now; returns the new ones."""
    if doc is None:
        version, doc = settings(session)
    if account.deleted_at is not None or account.status not in LIVE_STATUSES:
        return []
    facts = AccountFacts(session, account, now)
    made: list[Offer] = []
    for rule in doc["rules"]:
        if len(made) >= doc.get("max_new_offers_per_account", 1):
            break
        if not applies(rule, account):
            continue
        target = resolve_target(rule, account, doc)
        key = window_key(rule, account, now)
        if target is None or key is None or recently_offered(session, account.id, rule, now):
            continue
        evidence = SIGNALS[rule["signal"]].evaluate(facts, rule.get("params") or {}, doc)
        if evidence is None:
            continue
        offer, created = insert_once(
            session,
            Offer,
            {
                "account_id": account.id,
                "rule_key": rule["key"],
                "kind": rule["kind"],
                "window_key": key,
                "status": "offered",
                "target_plan": target.get("plan"),
                "details": {
                    "evidence": evidence,
                    "target": target,
                    "close_by": rule.get("close_by", "self_serve"),
                    "config_version": version,
                },
                "offered_at": now,
                "expires_at": now + timedelta(days=int(doc.get("expire_after_days", 30))),
            },
            ["account_id", "rule_key", "window_key"],
        )
        if created:
            deliver(session, offer, rule, account, doc, base_url, evidence, target)
            record_event(
                session,
                account.id,
                "offer_made",
                str(offer.id),
                now,
                {"offer_id": offer.id, "rule": rule["key"], "kind": rule["kind"]},
            )
            made.append(offer)
    return made


def deliver(
    session: Session,
    offer: Offer,
    rule: dict[str, Any],
    account: Account,
    doc: dict[str, Any],
    base_url: str,
    evidence: dict[str, Any],
    target: dict[str, Any],
) -> None:
    """Queue the customer messages and, when a person must close it, the rep's work."""
    close_by = rule.get("close_by", "self_serve")
    channels = rule.get("channels")
    if channels is None:
        channels = doc.get("channels", ["email"]) if close_by == "self_serve" else ["inapp"]
    contact = primary_contact(session, account.id, "email") or primary_contact(
        session, account.id, "inapp"
    )
    offer.contact_id = contact.id if contact else None
    link = f"{base_url.rstrip('/')}/o/{sign(VIEW_PURPOSE, {'o': offer.id})}"
    target_text = target.get("plan") or target.get("product") or "an annual plan"
    context = {
        **evidence,
        "account_name": account.name,
        "contact_name": (contact.name if contact else None) or "there",
        "target": str(target_text).replace("_", " "),
        "link": link,
    }
    subject = render(rule["subject"], context)
    body = render(rule["body"], context)
    for channel in channels:
        if contact is None or not reachable(contact, channel):
            continue
        queue_message(
            session,
            f"offer:{offer.id}:{channel}",
            channel,
            account_id=account.id,
            contact_id=contact.id,
            template=f"offer_{rule['key']}",
            subject=subject,
            body=body,
            payload={"offer_id": offer.id, "link": link, "rule": rule["key"]},
            now=offer.offered_at,
        )
    if close_by == "task":  # opportunities are opened by hub.offers.crm (jobs.growth)
        request_work(
            session,
            "task",
            f"offer-work:{offer.id}",
            account,
            subject=f"{rule['kind'].replace('_', '-')} offer: {target_text} for {account.name}",
            description=(
                f"cshub rule '{rule['key']}' fired for {account.name}.\n"
                f"Evidence: {evidence}\nProposed: {target}\n"
                f"The customer was sent: {subject}"
            ),
            priority="Normal",
            due=(offer.offered_at + timedelta(days=7)).date(),
            contact_id=offer.contact_id,
            extra={"offer_id": offer.id},
        )


def evaluate_all(
    session: Session, now: datetime, base_url: str, account_ids: list[int] | None = None
) -> EvaluationStats:
    """Evaluate every live account (or ``account_ids``)."""
    version, doc = settings(session)
    stmt = (
        select(Account)
        .where(Account.deleted_at.is_(None), Account.status.in_(LIVE_STATUSES))
        .order_by(Account.id)
    )
    if account_ids is not None:
        stmt = stmt.where(Account.id.in_(account_ids))
    stats = EvaluationStats()
    for account in session.scalars(stmt):
        stats.accounts += 1
        for offer in evaluate_account(session, account, now, base_url, doc, version):
            stats.offers += 1
            stats.by_rule[offer.rule_key] = stats.by_rule.get(offer.rule_key, 0) + 1
    return stats
