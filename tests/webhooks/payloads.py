"""Payloads in the shapes the providers document (Stripe events, Mixpanel cohort sync,
Salesforce Outbound Messages, Standard Webhooks events)."""

from __future__ import annotations

import time
from typing import Any

NOW = int(time.time())


def stripe_event(
    event_id: str, kind: str, obj: dict[str, Any], created: int | None = None, **extra: Any
) -> dict[str, Any]:
    """A Stripe ``event`` object (API version 2025-03-31.basil unless overridden)."""
    return {
        "id": event_id,
        "object": "event",
        "api_version": extra.pop("api_version", "2025-03-31.basil"),
        "created": NOW if created is None else created,
        "data": {
            "object": obj,
            **({"previous_attributes": extra.pop("previous")} if "previous" in extra else {}),
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_8fGx1w2zYq", "idempotency_key": "6b1f1f0c-7c42-4f5e"},
        "type": kind,
    }


def price(
    price_id: str = "price_pro_monthly",
    unit_amount: int = 14900,
    interval: str = "month",
    nickname: str | None = "pro",
    currency: str = "usd",
    interval_count: int = 1,
) -> dict[str, Any]:
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "currency": currency,
        "lookup_key": None,
        "nickname": nickname,
        "product": "prod_RigMonitor",
        "recurring": {
            "interval": interval,
            "interval_count": interval_count,
            "usage_type": "licensed",
        },
        "type": "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def subscription(
    sub_id: str = "sub_1QxAbc",
    customer: str = "cus_Miner001",
    status: str = "active",
    prices: list[tuple[dict[str, Any], int]] | None = None,
    period_end: int | None = None,
    item_level_period: bool = True,
    cancel_at_period_end: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """A Subscription; 2025+ API versions keep the period on the items."""
    end = period_end or NOW + 30 * 86400
    items = []
    for n, (p, quantity) in enumerate(prices or [(price(), 1)]):
        item = {
            "id": f"si_{sub_id[4:]}{n}",
            "object": "subscription_item",
            "price": p,
            "quantity": quantity,
            "subscription": sub_id,
        }
        if item_level_period:
            item["current_period_start"] = end - 30 * 86400
            item["current_period_end"] = end
        items.append(item)
    sub = {
        "id": sub_id,
        "object": "subscription",
        "billing_cycle_anchor": end - 30 * 86400,
        "cancel_at": None,
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": None,
        "collection_method": "charge_automatically",
        "currency": "usd",
        "customer": customer,
        "ended_at": None,
        "items": {"object": "list", "data": items, "has_more": False},
        "livemode": False,
        "status": status,
        "trial_end": None,
        "trial_start": None,
    }
    if not item_level_period:
        sub["current_period_start"] = end - 30 * 86400
        sub["current_period_end"] = end
    sub.update(extra)
    return sub


def invoice(
    invoice_id: str = "in_1QxInv",
    customer: str = "cus_Miner001",
    sub_id: str = "sub_1QxAbc",
    amount: int = 14900,
    new_shape: bool = True,
    status: str = "paid",
) -> dict[str, Any]:
    """An Invoice: the subscription under ``parent.subscription_details`` (2025-03-31+) or,
    in older API versions, in ``subscription``."""
    inv: dict[str, Any] = {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": amount if status == "paid" else 0,
        "amount_remaining": 0 if status == "paid" else amount,
        "attempt_count": 1,
        "billing_reason": "subscription_cycle",
        "currency": "usd",
        "customer": customer,
        "next_payment_attempt": None if status == "paid" else NOW + 3 * 86400,
        "status": status,
    }
    if new_shape:
        inv["parent"] = {
            "quote_details": None,
            "subscription_details": {"metadata": {}, "subscription": sub_id},
            "type": "subscription_details",
        }
    else:
        inv["subscription"] = sub_id
    return inv


def cohort_message(
    action: str,
    members: list[dict[str, Any]],
    cohort_id: str = "1234567",
    name: str = "Power Miners",
    session_id: str = "7f1b2c3d-sync-1",
    page: int = 0,
    total: int = 1,
) -> dict[str, Any]:
    """A Mixpanel cohort sync message (custom webhook destination)."""
    return {
        "action": action,
        "parameters": {
            "mixpanel_project_id": "2201475",
            "mixpanel_cohort_id": cohort_id,
            "mixpanel_cohort_name": name,
            "mixpanel_cohort_description": "Miners with 3+ rigs online",
            "mixpanel_session_id": session_id,
            "page_info": {"total_pages": total, "page_count": page},
            "members": members,
        },
    }


def member(email: str, distinct_id: str, first: str = "Ana", last: str = "Li") -> dict[str, Any]:
    return {
        "email": email,
        "mixpanel_distinct_id": distinct_id,
        "first_name": first,
        "last_name": last,
    }


def outbound_message(
    notifications: list[tuple[str, str, dict[str, str | None]]],
    org_id: str = "00D5e000000ABCDEAA",
) -> str:
    """A Salesforce Outbound Message SOAP envelope; each notification is (id, sObject type,
    fields)."""
    parts = []
    for notification_id, kind, fields in notifications:
        body = "".join(
            f'<sf:{k} xsi:nil="true"/>' if v is None else f"<sf:{k}>{v}</sf:{k}>"
            for k, v in fields.items()
        )
        parts.append(
            f"<Notification><Id>{notification_id}</Id>"
            f'<sObject xsi:type="sf:{kind}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            f"{body}</sObject></Notification>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body>"
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org_id}</OrganizationId>"
        "<ActionId>04k5e000000Kz1AAAS</ActionId>"
        '<SessionId xsi:nil="true"/>'
        "<EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/00D5e000000ABCD"
        "</EnterpriseUrl>"
        "<PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/00D5e000000ABCD"
        "</PartnerUrl>" + "".join(parts) + "</notifications></soapenv:Body></soapenv:Envelope>"
    )
