"""Growth reactions to processed webhook events (subscribed on ``hub.ingest.hooks``).

Stripe: checkout with a ``referral_code`` (or ``referral_click``) in its metadata attributes a
signup; ``invoice.paid`` converts a referral on the first paid invoice; a full refund or a
dispute reverses rewards still on hold; subscription changes accept the offers they fulfil.
Product (``/webhooks/events``): ``account.signup`` with ``data.referral_code`` or
``data.referral_click`` attributes a signup. Everything runs inside the inbox row's processing
transaction, so a replayed webhook finds its work done; Stripe calls go to jobs after commit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.db import utcnow
from hub.ingest import hooks
from hub.ingest.base import parse_time
from hub.offers.config import settings as offer_settings
from hub.offers.tracking import accept_from_subscription
from hub.referrals import attribution

ZERO_DECIMAL = {"jpy", "krw", "vnd", "clp", "xof", "xaf", "isk", "ugx", "pyg", "rwf"}


def _when(event: dict[str, Any]) -> datetime:
    return parse_time(event.get("created") or event.get("timestamp")) or utcnow()


def _id(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    return None


def _major(amount: Any, currency: str | None) -> float:
    try:
        value = float(amount or 0)
    except (TypeError, ValueError):
        return 0.0
    return value if (currency or "").lower() in ZERO_DECIMAL else value / 100


def _grant_soon(ctx: hooks.HookContext) -> None:
    ctx.enqueue_after_commit("jobs.growth.grant_rewards")


@hooks.on("stripe", "checkout.session.completed")
def checkout_completed(ctx: hooks.HookContext) -> None:
    obj = ctx.event["data"]["object"]
    meta = obj.get("metadata") or {}
    code, click = meta.get("referral_code"), meta.get("referral_click")
    if not code and not click:
        return
    details = obj.get("customer_details") or {}
    outcome = attribution.record_signup(
        ctx.session,
        code,
        now=_when(ctx.event),
        email=details.get("email") or obj.get("customer_email"),
        account_id=ctx.account.id if ctx.account else None,
        stripe_customer_id=_id(obj.get("customer")),
        click_token=click,
        source="checkout",
    )
    if outcome.status == "signed_up":
        _grant_soon(ctx)


@hooks.on("stripe", "invoice.paid")
def invoice_paid(ctx: hooks.HookContext) -> None:
    invoice = ctx.event["data"]["object"]
    customer = _id(invoice.get("customer"))
    if not customer:
        return
    outcome = attribution.record_paid_invoice(
        ctx.session,
        stripe_customer_id=customer,
        invoice_id=_id(invoice) or ctx.external_id,
        amount_paid=_major(invoice.get("amount_paid"), invoice.get("currency")),
        now=_when(ctx.event),
    )
    if outcome.status == "converted":
        _grant_soon(ctx)


@hooks.on("stripe", "charge.refunded")
def charge_refunded(ctx: hooks.HookContext) -> None:
    charge = ctx.event["data"]["object"]
    customer = _id(charge.get("customer"))
    if customer and charge.get("refunded"):  # fully refunded
        attribution.record_reversal(
            ctx.session,
            stripe_customer_id=customer,
            kind="refund",
            now=_when(ctx.event),
            ref=_id(charge) or ctx.external_id,
        )


@hooks.on("stripe", "charge.dispute.created")
def dispute_created(ctx: hooks.HookContext) -> None:
    dispute = ctx.event["data"]["object"]
    charge = _id(dispute.get("charge"))
    if charge:  # the dispute does not name the customer: the job reads the charge
        ctx.enqueue_after_commit(
            "jobs.growth.chargeback", charge, _when(ctx.event).astimezone(UTC).isoformat()
        )


def _subscription_changed(ctx: hooks.HookContext) -> None:
    if ctx.account is None:
        return
    _, doc = offer_settings(ctx.session)
    accept_from_subscription(
        ctx.session,
        ctx.account.id,
        ctx.event["data"]["object"],
        doc,
        _when(ctx.event),
        ctx.external_id,
    )


hooks.subscribe("stripe", "customer.subscription.created", _subscription_changed)
hooks.subscribe("stripe", "customer.subscription.updated", _subscription_changed)


@hooks.on("events", "account.signup")
def product_signup(ctx: hooks.HookContext) -> None:
    data = ctx.event.get("data") or {}
    code, click = data.get("referral_code"), data.get("referral_click")
    if not code and not click:
        return
    user = data.get("user") if isinstance(data.get("user"), dict) else {}
    account_ref = data.get("account") if isinstance(data.get("account"), dict) else {}
    outcome = attribution.record_signup(
        ctx.session,
        code if isinstance(code, str) else None,
        now=_when(ctx.event),
        email=user.get("email") or data.get("email"),
        account_id=ctx.account.id if ctx.account else None,
        stripe_customer_id=account_ref.get("stripe_customer_id") or data.get("stripe_customer_id"),
        click_token=click if isinstance(click, str) else None,
        source="signup",
    )
    if outcome.status == "signed_up":
        _grant_soon(ctx)
