"""Webhook deliveries as received, before any processing, and their processing state.

A row is written by a receiver (status ``pending``) and moved by ``jobs.inbox.process``:
``pending`` -> ``processing`` (claimed, ``claimed_at``/``attempts``) -> ``processed`` or
``ignored`` (no handler for its type), or back to ``pending`` with ``last_error`` and
``next_attempt_at`` while RQ retries, or ``failed`` after the last try.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime, utcnow

INBOX_STATUSES = ("pending", "processing", "processed", "ignored", "failed")


class InboxEvent(Base):
    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_inbox_status_received", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str | None] = mapped_column(String(128))
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    job_id: Mapped[str | None] = mapped_column(String(64))  # the RQ job that owns the row
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # RQ retry due
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # what processing did
