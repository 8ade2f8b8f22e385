"""Send surveys that are due, to eligible contacts, once per definition, contact and occurrence.

Eligibility: the account is old enough (unless the survey is the onboarding one), the contact
was not surveyed in the last ``quiet_days`` (support surveys may ignore that), has no other
open survey, and can be reached on the survey's channel.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.feedback.config import settings
from hub.feedback.links import answer_url
from hub.growth.outbox import queue_message
from hub.growth.people import contacts_of, primary_contact, reachable
from hub.growth.render import render
from hub.growth.store import insert_once
from hub.models import Account, Contact, Event, Survey

LIVE = ("active", "trial", "past_due")


def expire_due(session: Session, now: datetime) -> int:
    rows = session.scalars(
        select(Survey).where(Survey.status == "sent", Survey.expires_at < now)
    ).all()
    for survey in rows:
        survey.status = "expired"
    return len(rows)


class _Ledger:
    """Open surveys and last send time per contact, kept current during one run."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.open = set(
            session.scalars(
                select(Survey.contact_id).where(
                    Survey.status == "sent",
                    Survey.contact_id.is_not(None),
                    (Survey.expires_at.is_(None)) | (Survey.expires_at > now),
                )
            )
        )
        self.last = dict(
            session.execute(
                select(Survey.contact_id, func.max(Survey.sent_at))
                .where(Survey.contact_id.is_not(None))
                .group_by(Survey.contact_id)
            ).all()
        )

    def sent(self, contact_id: int, now: datetime) -> None:
        self.open.add(contact_id)
        self.last[contact_id] = now


def _eligible(
    doc: dict[str, Any],
    definition: dict[str, Any],
    account: Account,
    contact: Contact,
    ledger: _Ledger,
    now: datetime,
) -> bool:
    rules = doc["eligibility"]
    if not definition.get("ignore_min_age"):
        age = (now.date() - account.signup_date).days if account.signup_date else None
        if age is None or age < rules["min_account_age_days"]:
            return False
    if rules["one_at_a_time"] and contact.id in ledger.open:
        return False
    last = ledger.last.get(contact.id)
    quiet = timedelta(days=rules["quiet_days"])
    if not definition.get("ignore_quiet_days") and last is not None and now - last < quiet:
        return False
    return reachable(contact, definition["channel"])


def _targets(
    session: Session, definition: dict[str, Any], now: datetime
) -> Iterator[tuple[Account, Contact, int, dict[str, Any]]]:
    """(account, contact, occurrence, context) a definition's trigger asks for now."""
    trigger = definition["trigger"]
    today = now.date()
    live = (Account.deleted_at.is_(None), Account.status.in_(LIVE))
    kind = trigger["type"]
    if kind == "journey_day":
        first = today - timedelta(days=trigger["day"] + trigger.get("grace_days", 7))
        last = today - timedelta(days=trigger["day"])
        for account in session.scalars(
            select(Account).where(*live, Account.signup_date.between(first, last))
        ):
            contact = primary_contact(session, account.id, definition["channel"])
            if contact is not None:
                yield account, contact, 1, {}
    elif kind == "every":
        days = trigger["days"]
        within = trigger.get("within_days", 14)
        for account in session.scalars(
            select(Account).where(*live, Account.signup_date <= today - timedelta(days=days))
        ):
            tenure = (today - account.signup_date).days
            if tenure % days > within:  # only early in each period, so sends spread out
                continue
            occurrence = tenure // days
            contacts = contacts_of(session, account.id)[: definition.get("max_contacts", 1)]
            for contact in contacts:
                yield account, contact, occurrence, {"period": occurrence}
    elif kind == "event":
        since = now - timedelta(days=trigger.get("lookback_days", 3))
        rows = session.execute(
            select(Event, Account)
            .join(Account, Account.id == Event.account_id)
            .where(
                *live,
                Event.name.in_(trigger["events"]),
                Event.occurred_at >= since,
                Event.occurred_at <= now,
            )
            .order_by(Event.occurred_at)
        ).all()
        for event, account in rows:
            contact = (
                session.get(Contact, event.contact_id)
                if event.contact_id
                else primary_contact(session, account.id, definition["channel"])
            )
            if contact is not None and contact.deleted_at is None:
                props = event.properties or {}
                context = {"event_id": event.id, "case": props.get("case_id") or props.get("id")}
                yield account, contact, int(event.id), context
    elif kind == "first_use":
        yield from _first_uses(session, definition, now, live)


def _first_uses(session: Session, definition: dict[str, Any], now: datetime, live: tuple):
    trigger = definition["trigger"]
    since = now - timedelta(days=trigger.get("lookback_days", 3))
    prop = Event.properties[trigger["property"]].as_string()
    rows = session.execute(
        select(Event.account_id, Event.contact_id, prop, func.min(Event.occurred_at))
        .join(Account, Account.id == Event.account_id)
        .where(
            *live,
            Event.name == trigger["event"],
            Event.contact_id.is_not(None),
            Event.occurred_at >= since,
            Event.occurred_at <= now,
        )
        .group_by(Event.account_id, Event.contact_id, prop)
    ).all()
    wanted = set(trigger.get("features") or [])
    contact_ids = sorted({row[1] for row in rows})
    used_before: set[tuple[int, str]] = set()
    for start in range(0, len(contact_ids), 500):  # one pass over the history per chunk
        used_before.update(
            session.execute(
                select(Event.contact_id, prop)
                .where(
                    Event.contact_id.in_(contact_ids[start : start + 500]),
                    Event.name == trigger["event"],
                    Event.occurred_at < since,
                )
                .distinct()
            ).all()
        )
    for account_id, contact_id, feature, _first in rows:
        if not feature or (wanted and feature not in wanted):
            continue
        if (contact_id, feature) in used_before:
            continue
        contact = session.get(Contact, contact_id)
        if contact is None or contact.deleted_at is not None:
            continue
        occurrence = zlib.crc32(feature.encode())  # one survey per contact and feature
        yield session.get(Account, account_id), contact, occurrence, {"feature": feature}


def send(
    session: Session,
    doc: dict[str, Any],
    definition: dict[str, Any],
    account: Account,
    contact: Contact,
    occurrence: int,
    context: dict[str, Any],
    now: datetime,
    base_url: str,
) -> Survey | None:
    """Create the survey row and queue its message; None when it existed already."""
    survey, created = insert_once(
        session,
        Survey,
        {
            "definition_key": definition["key"],
            "kind": definition["kind"],
            "account_id": account.id,
            "contact_id": contact.id,
            "occurrence": occurrence,
            "status": "sent",
            "channel": definition["channel"],
            "context": context,
            "sent_at": now,
            "expires_at": now + timedelta(days=doc["expire_after_days"]),
        },
        ["definition_key", "contact_id", "occurrence"],
    )
    if not created:
        return None
    scale = doc["scales"][definition["kind"]]
    names = {
        "product": doc["product_name"],
        "feature": str(context.get("feature", "")).replace("_", " "),
        "account_name": account.name,
    }
    subject_text = render(definition.get("subject") or "", names)
    question = render(scale["question"], {**names, "subject": subject_text})
    links = {
        str(v): answer_url(base_url, survey.id, v) for v in range(scale["min"], scale["max"] + 1)
    }
    lines = [f"Hi {contact.name or 'there'},", "", question, ""]
    lines += [f"  {score}: {url}" for score, url in links.items()]
    lines += ["", "One click records your answer; you can add a comment on the next page."]
    queue_message(
        session,
        f"survey:{survey.id}",
        definition["channel"],
        account_id=account.id,
        contact_id=contact.id,
        template=f"survey_{definition['kind']}",
        subject=question if len(question) < 200 else f"A quick question from {names['product']}",
        body="\n".join(lines),
        payload={
            "survey_id": survey.id,
            "kind": definition["kind"],
            "question": question,
            "scale": {"min": scale["min"], "max": scale["max"]},
            "answer_links": links,
            "comment_link": answer_url(base_url, survey.id),
        },
        now=now,
    )
    return survey


def send_due(session: Session, now: datetime, base_url: str) -> dict[str, Any]:
    """Send every due survey to every eligible contact; counts per definition."""
    doc = settings(session)
    ledger = _Ledger(session, now)
    counts: dict[str, int] = {}
    for definition in doc["surveys"]:
        if not definition.get("enabled", True):
            continue
        for account, contact, occurrence, context in list(_targets(session, definition, now)):
            if not _eligible(doc, definition, account, contact, ledger, now):
                continue
            survey = send(
                session, doc, definition, account, contact, occurrence, context, now, base_url
            )
            if survey is not None:
                ledger.sent(contact.id, now)
                counts[definition["key"]] = counts.get(definition["key"], 0) + 1
    return {"sent": sum(counts.values()), "by_survey": counts}
