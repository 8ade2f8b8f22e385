"""Customer accounts and their contacts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base, UTCDateTime, utcnow

SEGMENTS = ("individual_miner", "mining_farm", "crypto_trader", "institution")
LIFECYCLE_STAGES = ("onboarding", "adoption", "expansion", "advocacy", "renewal", "churned")
STATUSES = ("trial", "active", "past_due", "canceled", "churned")


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    salesforce_id: Mapped[str | None] = mapped_column(String(18), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    mixpanel_group_key: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    domain: Mapped[str | None] = mapped_column(String(255), index=True)
    segment: Mapped[str] = mapped_column(String(32), index=True, default="individual_miner")
    plan: Mapped[str | None] = mapped_column(String(64))
    mrr: Mapped[float] = mapped_column(Numeric(14, 2, asdecimal=False), default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    signup_date: Mapped[date | None] = mapped_column(Date, index=True)
    renewal_date: Mapped[date | None] = mapped_column(Date)
    churned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    owner_email: Mapped[str | None] = mapped_column(String(255), index=True)
    owner_salesforce_id: Mapped[str | None] = mapped_column(String(18))
    lifecycle_stage: Mapped[str] = mapped_column(String(32), default="onboarding", index=True)
    status: Mapped[str] = mapped_column(String(32), default="active", index=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cohorts: Mapped[list[str]] = mapped_column(JSON, default=list)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    contacts: Mapped[list[Contact]] = relationship(back_populates="account")


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_account_email", "account_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    salesforce_id: Mapped[str | None] = mapped_column(String(18), unique=True)
    mixpanel_distinct_id: Mapped[str | None] = mapped_column(String(255), index=True)
    email: Mapped[str | None] = mapped_column(String(255), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    slack_user_id: Mapped[str | None] = mapped_column(String(32))
    unsubscribed: Mapped[list[str]] = mapped_column(JSON, default=list)  # channel names
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cohorts: Mapped[list[str]] = mapped_column(JSON, default=list)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    account: Mapped[Account] = relationship(back_populates="contacts")


class SubscriptionChange(Base):
    """One change of an account's recurring revenue (from Stripe), for NRR and churn labels."""

    __tablename__ = "subscription_changes"
    __table_args__ = (UniqueConstraint("source", "source_event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    kind: Mapped[str] = mapped_column(
        String(16)
    )  # new, expansion, contraction, churn, reactivation
    plan: Mapped[str | None] = mapped_column(String(64))
    mrr_before: Mapped[float] = mapped_column(Numeric(14, 2, asdecimal=False), default=0)
    mrr_after: Mapped[float] = mapped_column(Numeric(14, 2, asdecimal=False), default=0)
    source: Mapped[str] = mapped_column(String(32), default="stripe")
    source_event_id: Mapped[str | None] = mapped_column(String(255))
