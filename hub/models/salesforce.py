"""Salesforce mirrors: Opportunities and Cases read from the CRM, and the rep work opened there."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime, utcnow


class SalesforceRecord(Base):
    """One CRM record kept as read (Opportunity, Case), for renewals, expansion, support volume."""

    __tablename__ = "salesforce_records"
    __table_args__ = (
        UniqueConstraint("sobject", "salesforce_id"),
        Index("ix_salesforce_records_account_sobject", "account_id", "sobject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sobject: Mapped[str] = mapped_column(String(40))
    salesforce_id: Mapped[str] = mapped_column(String(18))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    account_salesforce_id: Mapped[str | None] = mapped_column(String(18), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    system_modstamp: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SalesforceWork(Base):
    """A Task, Case or Opportunity cshub opened in Salesforce, once per idempotency key."""

    __tablename__ = "salesforce_work"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    sobject: Mapped[str] = mapped_column(String(40))  # Task, Case, Opportunity
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # pending, creating (a create call may have gone out), created, failed
    salesforce_id: Mapped[str | None] = mapped_column(String(18))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    attempt_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
