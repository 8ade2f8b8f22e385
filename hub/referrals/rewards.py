"""Rewards: planned as ledger rows (one per referral, role and kind), paid through Stripe once.

Exactly once, however often jobs retry or webhooks repeat:
1. the ledger row's idempotency key is unique, so a reward is planned once;
2. a grant first marks the row ``granting`` (committed), then calls Stripe with an idempotency
   key derived from the ledger key, so a retried call is answered with the first result;
3. a row found ``granting`` again (the worker died after the call) is reconciled against
   Stripe first (balance transaction metadata, fixed coupon id, fixed promotion code), which
   also holds beyond Stripe's 24-hour idempotency window.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.db import db, utcnow
from hub.growth.crm import request_work
from hub.growth.outbox import queue_message
from hub.growth.people import primary_contact
from hub.growth.store import insert_once
from hub.models import Account, Contact, Referral, ReferralCode, RewardLedgerEntry
from hub.referrals import fraud
from hub.referrals.config import MONEY_KINDS
from hub.referrals.config import settings as referral_settings
from integrations.errors import FatalError, IntegrationError
from integrations.stripe import StripeGateway, gateway_for

log = logging.getLogger(__name__)

GRANTABLE = ("pending", "granting")
COUPON_KINDS = ("premium_months", "first_year_discount", "premium_trial")


def ledger_key(referral_id: int, role: str, kind: str) -> str:
    return f"referral:{referral_id}:{role}:{kind}"


def plan(
    session: Session,
    referral: Referral,
    role: str,
    rewards: list[dict[str, Any]],
    account_id: int,
    hold_until: datetime,
    status: str = "pending",
) -> list[RewardLedgerEntry]:
    """Write the ledger rows for ``role``'s enabled rewards (existing ones are kept)."""
    out = []
    for reward in rewards:
        if not reward.get("enabled", True):
            continue
        values = {
            "idempotency_key": ledger_key(referral.id, role, reward["kind"]),
            "referral_id": referral.id,
            "account_id": account_id,
            "role": role,
            "kind": reward["kind"],
            "amount": float(reward.get("amount") or 0),
            "currency": reward.get("currency", "USD").upper(),
            "status": status,
            "hold_until": hold_until,
            "details": {k: v for k, v in reward.items() if k not in ("kind", "enabled")},
        }
        row, _ = insert_once(session, RewardLedgerEntry, values, ["idempotency_key"])
        out.append(row)
    return out


def money_total(rewards: list[dict[str, Any]]) -> float:
    return sum(
        float(r.get("amount") or 0)
        for r in rewards
        if r.get("enabled", True) and r["kind"] in MONEY_KINDS
    )


def reverse_pending(session: Session, referral: Referral, reason: str, now: datetime) -> int:
    """Reverse every reward of ``referral`` not paid yet; returns how many."""
    rows = session.scalars(
        select(RewardLedgerEntry).where(
            RewardLedgerEntry.referral_id == referral.id,
            RewardLedgerEntry.status == "pending",
        )
    ).all()
    for row in rows:
        row.status = "reversed"
        row.reversed_at = now
        row.last_error = reason
    return len(rows)


# -- granting -----------------------------------------------------------------------------


def due_ids(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Ledger rows whose hold has passed and that are not paid yet."""
    return list(
        session.scalars(
            select(RewardLedgerEntry.id)
            .where(
                RewardLedgerEntry.status.in_(GRANTABLE),
                RewardLedgerEntry.hold_until <= now,
            )
            .order_by(RewardLedgerEntry.id)
            .limit(limit)
        )
    )


def grant(entry_id: int, now: datetime | None = None, gateway: StripeGateway | None = None) -> str:
    """Pay one ledger row if it is due; returns its status afterwards. Safe to repeat."""
    now = now or utcnow()
    config = current_app.config["CSHUB"]
    with db.begin() as session:
        entry = session.get(RewardLedgerEntry, entry_id, with_for_update=True)
        if entry is None:
            return "missing"
        if entry.status not in GRANTABLE or (entry.hold_until and entry.hold_until > now):
            return entry.status
        reconcile = entry.status == "granting"
        entry.status = "granting"
        entry.attempts = (entry.attempts or 0) + 1
        if entry.kind == "cash_bonus":
            _request_payout(session, entry)
            return entry.status
        target = _recipient(session, entry)
        if entry.kind == "account_credit" and not target["customer"]:
            entry.status = "pending"
            entry.last_error = "waiting for the recipient's Stripe customer"
            return entry.status
        gateway = gateway or gateway_for(session, config)
        fraud_cfg = referral_settings(session)["fraud"]
        check_cards = (
            entry.role == "referrer"
            and fraud_cfg.get("check_payment_fingerprint", True)
            and not (entry.details or {}).get("fingerprint_checked")
        )
        snapshot = {
            "key": entry.idempotency_key,
            "kind": entry.kind,
            "amount": entry.amount,
            "currency": entry.currency,
            "details": dict(entry.details or {}),
            "referral_id": entry.referral_id,
            "id": entry.id,
        }
    try:
        if check_cards and fraud.same_payment_fingerprint(
            gateway.card_fingerprints, target["customer"], target["referred_customer"]
        ):
            return _reject_for_card(entry_id, now)
        result = _pay(gateway, snapshot, target, reconcile)
    except FatalError as exc:
        with db.begin() as session:
            entry = session.get(RewardLedgerEntry, entry_id)
            entry.status = "failed"
            entry.last_error = str(exc)[:2000]
        log.warning("reward %s failed: %s", entry_id, exc)
        return "failed"
    except IntegrationError as exc:  # retriable: stays 'granting', reconciled next time
        with db.begin() as session:
            session.get(RewardLedgerEntry, entry_id).last_error = str(exc)[:2000]
        raise
    with db.begin() as session:
        entry = session.get(RewardLedgerEntry, entry_id, with_for_update=True)
        entry.status = "granted"
        entry.granted_at = now
        entry.stripe_object_id = result["id"]
        entry.last_error = None
        entry.details = {
            **(entry.details or {}),
            **result.get("details", {}),
            "fingerprint_checked": check_cards or None,
        }
        if entry.kind in COUPON_KINDS:
            _notify_code(session, entry, target)
        _maybe_rewarded(session, entry.referral_id, now)
        return entry.status


def _reject_for_card(entry_id: int, now: datetime) -> str:
    """Referrer and referred pay with the same card: a self-referral; nothing is paid."""
    with db.begin() as session:
        entry = session.get(RewardLedgerEntry, entry_id, with_for_update=True)
        entry.status = "reversed"
        entry.reversed_at = now
        entry.last_error = "same_payment_fingerprint"
        referral = session.get(Referral, entry.referral_id)
        if referral is not None:
            referral.status = "rejected"
            referral.rejection_reason = "same_payment_fingerprint"
            reverse_pending(session, referral, "same_payment_fingerprint", now)
    return "reversed"


def _recipient(session: Session, entry: RewardLedgerEntry) -> dict[str, Any]:
    referral = session.get(Referral, entry.referral_id) if entry.referral_id else None
    account = session.get(Account, entry.account_id)
    customer = account.stripe_customer_id if account else None
    referred_customer = None
    if referral is not None:
        referred_account = (
            session.get(Account, referral.referred_account_id)
            if referral.referred_account_id
            else None
        )
        referred_customer = referral.referred_stripe_customer_id or (
            referred_account.stripe_customer_id if referred_account else None
        )
    contact_id = None
    email = None
    if entry.role == "referrer" and referral is not None:
        code = session.get(ReferralCode, referral.code_id)
        contact_id = code.contact_id if code else None
    elif referral is not None:
        customer = customer or referral.referred_stripe_customer_id
        email = referral.referred_email
    if contact_id is None and account is not None:
        contact = primary_contact(session, account.id)
        contact_id = contact.id if contact else None
    if contact_id is not None and email is None:
        contact = session.get(Contact, contact_id)
        email = contact.email if contact else None
    return {
        "customer": customer,
        "contact_id": contact_id,
        "email": email,
        "referred_customer": referred_customer,
    }


def _pay(
    gateway: StripeGateway, entry: dict[str, Any], target: dict[str, Any], reconcile: bool
) -> dict[str, Any]:
    key = entry["key"]
    stripe_key = f"cshub-reward-{key}"
    metadata = {
        "cshub_ledger_key": key,
        "cshub_referral_id": str(entry["referral_id"]),
        "cshub_reward": entry["kind"],
    }
    if entry["kind"] == "account_credit":
        if reconcile:
            found = gateway.find_balance_transaction(target["customer"], key)
            if found is not None:
                return {"id": found["id"]}
        txn = gateway.credit_balance(
            target["customer"],
            round(float(entry["amount"]) * 100),
            entry["currency"],
            idempotency_key=stripe_key,
            description=f"Referral reward ({entry['kind']})",
            metadata=metadata,
        )
        return {"id": txn["id"]}
    details = entry["details"]
    months = int(details.get("months") or 12)
    percent = float(details.get("percent_off") or 100)
    coupon_id = f"cshub-{entry['kind'].replace('_', '-')}-{percent:g}pct-{months}m"
    gateway.ensure_coupon(
        coupon_id,
        {
            "percent_off": percent,
            "duration": "repeating",
            "duration_in_months": months,
            "name": f"Referral {entry['kind'].replace('_', ' ')}",
            "metadata": {"cshub_reward": entry["kind"]},
        },
    )
    promo = gateway.ensure_promotion_code(
        promotion_code(key),
        coupon_id,
        customer_id=target["customer"],
        idempotency_key=stripe_key,
        metadata=metadata,
    )
    return {
        "id": promo["id"],
        "details": {"coupon": coupon_id, "promotion_code": promo.get("code")},
    }


def promotion_code(ledger_key_: str) -> str:
    """A fixed, customer-facing code per ledger row (Stripe: letters, digits, dashes)."""
    digest = hashlib.sha256(ledger_key_.encode()).hexdigest()[:10].upper()
    return f"REF-{digest}"


def _request_payout(session: Session, entry: RewardLedgerEntry) -> None:
    """A cash bonus is paid by a person: open a Task for the referrer's owner."""
    account = session.get(Account, entry.account_id)
    entry.status = "payout_due"
    if account is not None:
        request_work(
            session,
            "task",
            f"reward-payout:{entry.idempotency_key}",
            account,
            subject=f"Pay referral cash bonus {entry.amount:.2f} {entry.currency}",
            description=(
                f"{account.name} earned a referral cash bonus (ledger {entry.id}). Pay it, "
                f"then mark it paid: POST /api/referrals/rewards/{entry.id}/paid"
            ),
            priority="Normal",
            due=(utcnow() + timedelta(days=7)).date(),
        )


def _notify_code(session: Session, entry: RewardLedgerEntry, target: dict[str, Any]) -> None:
    code = (entry.details or {}).get("promotion_code")
    if not code or not (target["contact_id"] or target["email"]):
        return
    cfg = referral_settings(session)
    what = entry.kind.replace("_", " ")
    queue_message(
        session,
        f"reward-notice:{entry.idempotency_key}",
        "email",
        account_id=entry.account_id,
        contact_id=target["contact_id"],
        template="referral_reward",
        subject=f"Your {cfg['product_name']} referral reward: {what}",
        body=(
            f"Thank you for being part of the {cfg['product_name']} referral programme.\n"
            f"Your reward ({what}) is ready: use the code {code} at checkout."
        ),
        payload={"to": target["email"], "promotion_code": code, "ledger_id": entry.id},
    )


def _maybe_rewarded(session: Session, referral_id: int | None, now: datetime) -> None:
    if referral_id is None:
        return
    referral = session.get(Referral, referral_id)
    if referral is None or referral.status != "converted":
        return
    open_referrer = session.scalar(
        select(RewardLedgerEntry.id).where(
            RewardLedgerEntry.referral_id == referral_id,
            RewardLedgerEntry.role == "referrer",
            RewardLedgerEntry.status.in_(("pending", "granting")),
        )
    )
    if open_referrer is None:
        referral.status = "rewarded"
        referral.details = {**(referral.details or {}), "rewarded_at": now.isoformat()}
