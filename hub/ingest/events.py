"""Product and rig events (Standard Webhooks deliveries) -> ``Event`` and ``MetricSample`` rows.

A delivery is one event or a JSON array of them; each is ``{"type", "timestamp", "data"}``.

``product.event``: something a user did in the product::

    {"type": "product.event", "timestamp": "2026-03-01T10:00:00Z",
     "data": {"id": "optional unique id", "name": "feature_used",
              "account": {"salesforce_id" | "stripe_customer_id" | "mixpanel_group_key"
                          | "domain" | "id": ...},
              "user": {"distinct_id": "...", "email": "..."},
              "occurred_at": "...", "properties": {"feature": "auto_tuning"}}}

``rig.metrics``, ``portfolio.metrics`` (or ``metrics``): readings from a rig, pool or portfolio::

    {"type": "rig.metrics", "timestamp": "...",
     "data": {"account": {...}, "subject": "rig-17", "measured_at": "...",
              "metrics": {"hashrate_ths": 118.2, "efficiency_j_th": 21.4, "uptime_pct": 99.1}}}

The account is found by the first key of ``data.account`` that matches, else through the
user's contact. An event keeps its ``data.id`` as idempotency key (else ``<webhook-id>:<n>``);
samples are unique per account, source, metric, time and subject, so a replay adds nothing.
Items that cannot be used (no name, unknown account for a sample, a value that is not a
number) are counted in the row's result and skipped; other types are ignored unless a hook
subscribes to them.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.ingest import hooks
from hub.ingest.base import Outcome, insert_ignore, parse_time
from hub.models import Account, Contact, Event, InboxEvent, MetricSample

SOURCE = "events"
EVENT_SOURCE = "product"
METRIC_TYPES = {"rig.metrics", "portfolio.metrics", "metrics"}
HANDLED = {"product.event"} | METRIC_TYPES
METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ACCOUNT_KEYS = ("id", "salesforce_id", "stripe_customer_id", "mixpanel_group_key", "domain")


class Skip(Exception):
    """This item cannot be used; count it and go on with the others."""


def find_account(session: Session, ref: Any) -> Account | None:
    if not isinstance(ref, dict):
        return None
    for key in ACCOUNT_KEYS:
        value = ref.get(key)
        if value is None or isinstance(value, bool | dict | list):
            continue
        if key == "id" and not isinstance(value, int):
            continue
        column = getattr(Account, key)
        found = session.scalar(
            select(Account).where(column == value, Account.deleted_at.is_(None)).limit(1)
        )
        if found is not None:
            return found
    return None


def find_contact(session: Session, user: Any) -> Contact | None:
    if not isinstance(user, dict):
        return None
    distinct_id, email = user.get("distinct_id"), user.get("email")
    if isinstance(distinct_id, str) and distinct_id:
        found = session.scalar(
            select(Contact).where(Contact.mixpanel_distinct_id == distinct_id).limit(1)
        )
        if found is not None:
            return found
    if isinstance(email, str) and email:
        return session.scalar(select(Contact).where(Contact.email == email.lower()).limit(1))
    return None


def _product_event(
    session: Session, data: dict[str, Any], when: datetime, key: str
) -> tuple[Account | None, dict[str, Any]]:
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise Skip("a product event needs a 'name' of 1-255 characters")
    properties = data.get("properties") or {}
    if not isinstance(properties, dict):
        raise Skip("'properties' must be an object")
    account = find_account(session, data.get("account"))
    contact = find_contact(session, data.get("user"))
    if account is None and contact is not None:
        account = session.get(Account, contact.account_id)
    own_id = data.get("id")
    source_event_id = own_id if isinstance(own_id, str) and 0 < len(own_id) <= 255 else key
    user = data.get("user") if isinstance(data.get("user"), dict) else {}
    distinct_id = user.get("distinct_id") if isinstance(user.get("distinct_id"), str) else None
    new = insert_ignore(
        session,
        Event,
        {
            "account_id": account.id if account else None,
            "contact_id": contact.id if contact else None,
            "name": name,
            "occurred_at": parse_time(data.get("occurred_at"), when),
            "properties": properties,
            "source": EVENT_SOURCE,
            "source_event_id": source_event_id,
            "distinct_id": distinct_id[:255] if distinct_id else None,
        },
        "source",
        "source_event_id",
    )
    return account, {"events": 1 if new else 0, "unmatched": 0 if account else 1}


def _value(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise Skip("a metric value must be a number")
    value = float(raw)
    if not math.isfinite(value):
        raise Skip("a metric value must be finite")
    return value


def _metrics(
    session: Session, data: dict[str, Any], when: datetime
) -> tuple[Account | None, dict[str, Any]]:
    account = find_account(session, data.get("account"))
    if account is None:
        raise Skip("no account matches data.account")
    subject = data.get("subject") or ""
    source = data.get("source") or "webhook"
    if not isinstance(subject, str) or len(subject) > 128:
        raise Skip("'subject' must be a string of at most 128 characters")
    if not isinstance(source, str) or len(source) > 64:
        raise Skip("'source' must be a string of at most 64 characters")
    measured_at = parse_time(data.get("measured_at"), when)
    readings = data.get("metrics")
    if not isinstance(readings, dict) or not readings:
        raise Skip("'metrics' must be an object of metric name -> number")
    values = {}
    for metric, raw in readings.items():
        if not METRIC_NAME.match(metric):
            raise Skip(f"{metric!r} is not a metric name (lowercase, digits, _)")
        values[metric] = _value(raw)
    added = 0
    for metric, value in values.items():
        new = insert_ignore(
            session,
            MetricSample,
            {
                "account_id": account.id,
                "source": source,
                "subject": subject,
                "metric": metric,
                "value": value,
                "measured_at": measured_at,
            },
            "account_id",
            "source",
            "metric",
            "measured_at",
            "subject",
        )
        added += 1 if new else 0
    return account, {"samples": added}


def process(session: Session, row: InboxEvent) -> Outcome:
    """Apply every event of one delivery (built-in mapping, then hooks)."""
    doc = orjson.loads(row.body)
    items = doc if isinstance(doc, list) else [doc]
    totals: dict[str, Any] = {"events": 0, "samples": 0, "unmatched": 0, "ignored": 0}
    skipped: list[str] = []
    followups: list[hooks.FollowUp] = []
    for index, item in enumerate(items):
        kind = item.get("type")
        data = item.get("data") if isinstance(item.get("data"), dict) else {}
        subscribed = hooks.subscribers(SOURCE, kind)
        if kind not in HANDLED and not subscribed:
            totals["ignored"] += 1
            continue
        when = parse_time(item.get("timestamp"), row.received_at)
        account = None
        try:
            if kind == "product.event":
                account, counts = _product_event(session, data, when, f"{row.external_id}:{index}")
            elif kind in METRIC_TYPES:
                account, counts = _metrics(session, data, when)
            else:
                account, counts = find_account(session, data.get("account")), {}
        except Skip as exc:
            skipped.append(f"{index}: {exc}")
            continue
        for key, value in counts.items():
            totals[key] += value
        ctx = hooks.HookContext(
            session=session,
            source=SOURCE,
            event_type=kind,
            event=item,
            inbox_id=row.id,
            external_id=row.external_id,
            account=account,
        )
        hooks.publish(ctx)
        followups.extend(ctx.followups)
    if skipped:
        totals["skipped"] = skipped[:50]
        totals["skipped_count"] = len(skipped)
    status = "ignored" if totals["ignored"] == len(items) else "processed"
    return Outcome(status, totals, followups)
