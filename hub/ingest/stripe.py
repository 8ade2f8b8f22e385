"""Stripe events -> account plan, MRR, status, renewal date, churn, and revenue changes.

Handled types: ``customer.subscription.created|updated|deleted``,
``customer.subscription.trial_will_end``, ``invoice.paid`` and ``invoice.payment_failed``;
other types are processed only when a hook subscribes to them (``hub.ingest.hooks``).

The account is found by ``stripe_customer_id``. Each of its subscriptions is kept under
``attributes["stripe"]["subscriptions"][sub_id]`` (status, monthly amount, plan, period end,
the ``created`` time of the event that set it); an event older than the one already applied
to a subscription does not overwrite it (Stripe does not promise order). Account MRR is the
sum over subscriptions that bring revenue (active, past_due); every change of it writes a
``SubscriptionChange`` (new, expansion, contraction, churn, reactivation) keyed by the event
id, and every handled event an ``Event`` row named after its type.

MRR per item is the price's ``unit_amount`` x quantity normalised to a month (day x 365/12,
week x 52/12, year / 12, divided by ``interval_count``), in major units; discounts and
metered or tiered prices without a unit amount count as 0. Invoices name their subscription
in ``invoice.subscription`` (API versions before 2025-03-31) or
``invoice.parent.subscription_details.subscription`` (since); both are read.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.ingest import hooks
from hub.ingest.base import Outcome, PermanentError, insert_ignore, parse_time
from hub.models import Account, Event, InboxEvent, SubscriptionChange

SOURCE = "stripe"
REVENUE_STATUSES = {"active", "past_due"}
ENDED_STATUSES = {"canceled", "incomplete_expired"}
MONTH_FACTOR = {"day": 365 / 12, "week": 52 / 12, "month": 1.0, "year": 1 / 12}
ZERO_DECIMAL = {
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
}  # fmt: skip


def _id(value: Any) -> str | None:
    """An object reference: a plain id or an expanded object's ``id``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    return None


def invoice_subscription(invoice: dict[str, Any]) -> str | None:
    """The subscription of an invoice, in the pre-2025 or the 2025-03-31+ shape."""
    found = _id(invoice.get("subscription"))
    if found:
        return found
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") if isinstance(parent, dict) else None
    return _id((details or {}).get("subscription")) if isinstance(details, dict) else None


def _minor_units(currency: str | None) -> int:
    return 1 if (currency or "").lower() in ZERO_DECIMAL else 100


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def item_mrr(item: dict[str, Any], currency: str | None) -> float:
    """Monthly recurring amount of one subscription item, in major units."""
    price = item.get("price") or item.get("plan") or {}
    if not isinstance(price, dict):
        return 0.0
    recurring = price.get("recurring") if isinstance(price.get("recurring"), dict) else {}
    interval = recurring.get("interval") or price.get("interval") or "month"
    count = _number(recurring.get("interval_count") or price.get("interval_count")) or 1.0
    amount = _number(price.get("unit_amount"))
    if amount is None:
        amount = _number(price.get("unit_amount_decimal"))
    if amount is None:
        amount = _number(price.get("amount"))  # legacy Plan objects
    quantity = _number(item.get("quantity"))
    if amount is None or interval not in MONTH_FACTOR or count <= 0:
        return 0.0
    quantity = 1.0 if quantity is None else quantity
    minor = _minor_units(price.get("currency") or currency)
    return amount * quantity * MONTH_FACTOR[interval] / count / minor


def _items(subscription: dict[str, Any]) -> list[dict[str, Any]]:
    items = subscription.get("items") or {}
    data = items.get("data") if isinstance(items, dict) else None
    return [i for i in (data or []) if isinstance(i, dict)]


def subscription_mrr(subscription: dict[str, Any]) -> float:
    currency = subscription.get("currency")
    return round(sum(item_mrr(i, currency) for i in _items(subscription)), 2)


def plan_name(subscription: dict[str, Any]) -> str | None:
    """The plan of the item that brings the most revenue: nickname, lookup key or ids."""
    currency = subscription.get("currency")
    items = sorted(_items(subscription), key=lambda i: item_mrr(i, currency), reverse=True)
    for item in items:
        price = item.get("price") or item.get("plan") or {}
        if not isinstance(price, dict):
            continue
        product = price.get("product")
        for candidate in (
            price.get("nickname"),
            price.get("lookup_key"),
            product.get("name") if isinstance(product, dict) else None,
            _id(product),
            price.get("id"),
        ):
            if isinstance(candidate, str) and candidate:
                return candidate[:64]
    return None


def period_end(subscription: dict[str, Any]) -> int | None:
    """Current period end: on the subscription (older API versions) or its items (2025+)."""
    value = _number(subscription.get("current_period_end"))
    if value is not None:
        return int(value)
    ends = [_number(i.get("current_period_end")) for i in _items(subscription)]
    ends = [e for e in ends if e is not None]
    return int(max(ends)) if ends else None


def _state(account: Account) -> tuple[dict[str, Any], dict[str, Any]]:
    """A private copy of the account's attributes and its Stripe subscriptions map."""
    attributes = copy.deepcopy(account.attributes or {})
    stripe_state = attributes.setdefault("stripe", {})
    return attributes, stripe_state.setdefault("subscriptions", {})


def _kind(before: float, after: float, was_churned: bool, live: bool) -> str | None:
    if after > before:
        if before == 0:
            return "reactivation" if was_churned else "new"
        return "expansion"
    if after < before:
        return "contraction" if after > 0 or live else "churn"
    return None


def _recompute(account: Account, subs: dict[str, Any], occurred: datetime) -> None:
    """Account status, plan, MRR, renewal date and churn from its subscriptions."""
    statuses = {s.get("status") for s in subs.values()}
    paying = [s for s in subs.values() if s.get("status") in REVENUE_STATUSES]
    live = [s for s in subs.values() if s.get("status") not in ENDED_STATUSES]
    if "active" in statuses:
        active = [s for s in subs.values() if s.get("status") == "active"]
        status = "canceled" if all(s.get("cancel_at_period_end") for s in active) else "active"
    elif statuses & {"past_due", "unpaid", "paused"}:
        status = "past_due"
    elif "trialing" in statuses:
        status = "trial"
    elif subs and not live:
        status = "churned"
    else:
        status = account.status
    if status == "churned" and account.status != "churned":
        account.churned_at = occurred
        account.lifecycle_stage = "churned"
    elif status in ("active", "trial", "past_due", "canceled") and account.churned_at is not None:
        account.churned_at = None
        if account.lifecycle_stage == "churned":
            account.lifecycle_stage = "adoption"
    account.status = status
    account.mrr = round(sum(float(s.get("mrr") or 0) for s in paying), 2)
    primary = max(live or paying, key=lambda s: float(s.get("mrr") or 0), default=None)
    if primary is not None:
        account.plan = primary.get("plan") or account.plan
        end = primary.get("current_period_end")
        account.renewal_date = datetime.fromtimestamp(end, UTC).date() if end else None
        account.stripe_subscription_id = primary.get("id")


def _record_event(
    session: Session, event: dict[str, Any], account: Account | None, properties: dict[str, Any]
) -> None:
    insert_ignore(
        session,
        Event,
        {
            "account_id": account.id if account else None,
            "name": event["type"][:255],
            "occurred_at": _created(event),
            "properties": properties,
            "source": SOURCE,
            "source_event_id": event["id"],
        },
        "source",
        "source_event_id",
    )


def _created(event: dict[str, Any]) -> datetime:
    return parse_time(event.get("created")) or datetime.now(UTC)


def _apply_subscription(session: Session, account: Account, event: dict[str, Any]) -> dict:
    sub = event["data"]["object"]
    sub_id = _id(sub)
    if not sub_id:
        raise PermanentError("the subscription has no id")
    created = int(_number(event.get("created")) or 0)
    attributes, subs = _state(account)
    known = subs.get(sub_id)
    if known and int(known.get("event_at") or 0) > created:
        return {"stale": True, "subscription": sub_id}
    status = str(sub.get("status") or "")
    if event["type"] == "customer.subscription.deleted":
        status = status if status in ENDED_STATUSES else "canceled"
    mrr = subscription_mrr(sub) if status in REVENUE_STATUSES else 0.0
    subs[sub_id] = {
        "id": sub_id,
        "status": status,
        "mrr": mrr,
        "plan": plan_name(sub),
        "currency": (sub.get("currency") or account.currency or "usd").upper()[:3],
        "cancel_at_period_end": bool(sub.get("cancel_at_period_end")),
        "current_period_end": period_end(sub),
        "trial_end": _number(sub.get("trial_end")),
        "event_at": created,
    }
    before = float(account.mrr or 0)
    was_churned = account.churned_at is not None
    ended = None
    if status in ENDED_STATUSES:
        ended = parse_time(sub.get("ended_at") or sub.get("canceled_at"))
    _recompute(account, subs, ended or _created(event))
    account.currency = subs[sub_id]["currency"]
    account.attributes = attributes
    after = float(account.mrr or 0)
    live = any(s.get("status") not in ENDED_STATUSES for s in subs.values())
    kind = _kind(before, after, was_churned, live)
    if kind:
        insert_ignore(
            session,
            SubscriptionChange,
            {
                "account_id": account.id,
                "occurred_at": _created(event),
                "kind": kind,
                "plan": account.plan,
                "mrr_before": before,
                "mrr_after": after,
                "source": SOURCE,
                "source_event_id": event["id"],
            },
            "source",
            "source_event_id",
        )
    return {"subscription": sub_id, "status": status, "mrr_before": before, "mrr_after": after}


def _apply_invoice(account: Account, event: dict[str, Any], paid: bool) -> dict[str, Any]:
    invoice = event["data"]["object"]
    sub_id = invoice_subscription(invoice)
    created = int(_number(event.get("created")) or 0)
    attributes, subs = _state(account)
    entry = subs.get(sub_id or "")
    if entry and int(entry.get("event_at") or 0) <= created:
        if paid and entry.get("status") in ("past_due", "unpaid"):
            entry["status"] = "active"
        elif not paid and entry.get("status") == "active":
            entry["status"] = "past_due"
        _recompute(account, subs, _created(event))
        account.attributes = attributes
    return {"subscription": sub_id}


def _invoice_properties(invoice: dict[str, Any]) -> dict[str, Any]:
    minor = _minor_units(invoice.get("currency"))
    amount = _number(invoice.get("amount_paid") or invoice.get("amount_due")) or 0.0
    return {
        "invoice": _id(invoice),
        "subscription": invoice_subscription(invoice),
        "amount": round(amount / minor, 2),
        "currency": (invoice.get("currency") or "").upper(),
        "billing_reason": invoice.get("billing_reason"),
        "attempt_count": invoice.get("attempt_count"),
        "next_payment_attempt": invoice.get("next_payment_attempt"),
    }


def handle(session: Session, account: Account | None, event: dict[str, Any]) -> dict[str, Any]:
    """The built-in mapping of one handled event type."""
    kind = event["type"]
    obj = event["data"]["object"]
    if kind.startswith("invoice."):
        properties = _invoice_properties(obj)
    else:
        properties = {
            "subscription": _id(obj),
            "status": obj.get("status"),
            "plan": plan_name(obj),
            "mrr": subscription_mrr(obj),
            "trial_end": obj.get("trial_end"),
            "cancel_at_period_end": bool(obj.get("cancel_at_period_end")),
        }
    _record_event(session, event, account, properties)
    if account is None:
        return {"account": None}
    if kind in SUBSCRIPTION_TYPES:
        return _apply_subscription(session, account, event)
    if kind in ("invoice.paid", "invoice.payment_failed"):
        return _apply_invoice(account, event, paid=kind == "invoice.paid")
    return {}


SUBSCRIPTION_TYPES = {
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
}
HANDLED = SUBSCRIPTION_TYPES | {
    "customer.subscription.trial_will_end",
    "invoice.paid",
    "invoice.payment_failed",
}


def customer_of(obj: dict[str, Any]) -> str | None:
    return _id(obj.get("customer")) if obj.get("object") != "customer" else _id(obj)


def process(session: Session, row: InboxEvent) -> Outcome:
    """Apply one stored Stripe event (built-in mapping, then hooks) in the caller's session."""
    event = orjson.loads(row.body)
    kind = event.get("type")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise PermanentError("the event has no data.object")
    subscribed = hooks.subscribers(SOURCE, kind)
    if kind not in HANDLED and not subscribed:
        return Outcome("ignored", {"reason": f"no handler for {kind}"})
    customer = customer_of(data["object"])
    account = None
    if customer:
        account = session.scalar(
            select(Account).where(Account.stripe_customer_id == customer).with_for_update()
        )
    notes: dict[str, Any] = {"customer": customer, "account_id": account.id if account else None}
    if kind in HANDLED:
        notes.update(handle(session, account, event))
    ctx = hooks.HookContext(
        session=session,
        source=SOURCE,
        event_type=kind,
        event=event,
        inbox_id=row.id,
        external_id=row.external_id,
        account=account,
    )
    notes["hooks"] = hooks.publish(ctx)
    return Outcome("processed", notes, ctx.followups)
