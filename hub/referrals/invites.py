"""Invitations to refer: the seed's triggers (ROI target achieved, NPS 9+, top 10% usage).

One invitation per contact per window (``invite.window_days``): the outbox key carries the
window, and the code row remembers when its owner was last invited.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.growth.outbox import queue_message
from hub.growth.people import primary_contact, reachable
from hub.growth.render import render
from hub.models import Account, Contact, SurveyResponse
from hub.offers.config import settings as offer_settings
from hub.offers.facts import AccountFacts, roi_ratio, usage_ranks
from hub.referrals.codes import display
from hub.referrals.config import settings
from hub.referrals.programme import code_for_contact, link_for

REASONS = {
    "roi_target_achieved": "You've reached your return target with us.",
    "nps_promoter": "Thank you for recommending us so warmly.",
    "top_usage": "Your team is among our most active users.",
}
LIVE = ("active", "trial", "past_due")


def _reward_text(rewards: list[dict[str, Any]]) -> str:
    parts = []
    for r in rewards:
        if not r.get("enabled", True):
            continue
        kind = r["kind"]
        if kind in ("account_credit", "cash_bonus"):
            what = "account credit" if kind == "account_credit" else "a cash bonus"
            parts.append(f"{r['amount']:g} {r.get('currency', 'USD')} {what}")
        elif kind == "first_year_discount":
            parts.append(f"{r['percent_off']:g}% off their first year")
        else:
            parts.append(f"{r['months']} month(s) of premium")
    return " and ".join(parts) or "our thanks"


def invite(
    session: Session,
    contact: Contact,
    trigger: str,
    now: datetime,
    base_url: str,
    cfg: dict[str, Any] | None = None,
) -> bool:
    """Invite ``contact`` to refer; False when invited already in this window."""
    cfg = cfg or settings(session)
    window_days = int(cfg["invite"]["window_days"])
    code = code_for_contact(session, contact)
    if code.invited_at is not None and now - code.invited_at < timedelta(days=window_days):
        return False
    epoch_day = (now.date() - datetime(1970, 1, 1, tzinfo=UTC).date()).days
    window = epoch_day // window_days
    link = link_for(code, base_url)
    context = {
        "product": cfg["product_name"],
        "contact_name": contact.name or "there",
        "reason": REASONS.get(trigger, ""),
        "link": link,
        "code": display(code.code),
        "referrer_reward": _reward_text(cfg["rewards"]["referrer"]),
        "referred_reward": _reward_text(cfg["rewards"]["referred"]),
    }
    subject = render(cfg["invite"]["subject"], context)
    body = render(cfg["invite"]["body"], context)
    queued = False
    for channel in cfg["invite"]["channels"]:
        if not reachable(contact, channel):
            continue
        _, created = queue_message(
            session,
            f"referral-invite:{contact.id}:w{window_days}:{window}:{channel}",
            channel,
            account_id=contact.account_id,
            contact_id=contact.id,
            template="referral_invite",
            subject=subject,
            body=body,
            payload={"link": link, "code": display(code.code), "trigger": trigger},
            now=now,
        )
        queued = queued or created
    code.invited_at = now
    return queued


def candidates(session: Session, now: datetime, cfg: dict[str, Any]) -> dict[int, str]:
    """Contacts to invite now and why: {contact id: trigger}."""
    triggers = cfg["invite"]["triggers"]
    out: dict[int, str] = {}
    nps = triggers.get("nps_promoter") or {}
    if nps.get("enabled", True):
        since = now - timedelta(days=int(nps.get("lookback_days", 14)))
        rows = session.execute(
            select(SurveyResponse.contact_id, SurveyResponse.account_id).where(
                SurveyResponse.kind == "nps",
                SurveyResponse.score >= int(nps.get("min_score", 9)),
                SurveyResponse.answered_at >= since,
            )
        ).all()
        for contact_id, account_id in rows:
            if contact_id is None:
                contact = primary_contact(session, account_id)
                contact_id = contact.id if contact else None
            if contact_id is not None:
                out.setdefault(contact_id, "nps_promoter")
    accounts = session.scalars(
        select(Account).where(Account.deleted_at.is_(None), Account.status.in_(LIVE))
    ).all()
    top = triggers.get("top_usage") or {}
    if top.get("enabled", True):
        ranks = usage_ranks(session, now, int(top.get("days", 30)))
        if len(ranks) >= int(top.get("min_accounts", 10)):
            cut = 1 - float(top.get("top_fraction", 0.1))
            for account in accounts:
                if ranks.get(account.id, 0) > cut:
                    contact = primary_contact(session, account.id)
                    if contact is not None:
                        out.setdefault(contact.id, "top_usage")
    roi = triggers.get("roi_target_achieved") or {}
    if roi.get("enabled", True):
        _, offers_doc = offer_settings(session)
        for account in accounts:
            ratio = roi_ratio(AccountFacts(session, account, now), offers_doc.get("roi") or {})
            if ratio is not None and ratio >= float(roi.get("min_ratio", 1.0)):
                contact = primary_contact(session, account.id)
                if contact is not None:
                    out.setdefault(contact.id, "roi_target_achieved")
    return out


def run(session: Session, now: datetime, base_url: str) -> dict[str, Any]:
    """Invite every contact a trigger picks; answer counts per trigger."""
    cfg = settings(session)
    sent: dict[str, int] = {}
    for contact_id, trigger in sorted(candidates(session, now, cfg).items()):
        contact = session.get(Contact, contact_id)
        if contact is None or contact.deleted_at is not None:
            continue
        if invite(session, contact, trigger, now, base_url, cfg):
            sent[trigger] = sent.get(trigger, 0) + 1
    return {"invited": sum(sent.values()), "by_trigger": sent}
