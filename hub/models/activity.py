"""What accounts do: product events and metric samples from rigs, pools and portfolios."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, BigID, UTCDateTime, utcnow


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("source", "source_event_id"),
        Index("ix_events_account_time", "account_id", "occurred_at"),
        Index("ix_events_name_time", "name", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(255))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(32))  # mixpanel, stripe, salesforce, product, hub
    source_event_id: Mapped[str] = mapped_column(String(255))
    distinct_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MetricSample(Base):
    __tablename__ = "metric_samples"
    __table_args__ = (
        Index("ix_metric_samples_account_metric_time", "account_id", "metric", "measured_at"),
        Index("ix_metric_samples_measured_at", "measured_at"),  # daily roll-ups (scoring)
        UniqueConstraint("account_id", "source", "metric", "measured_at", "subject"),
    )

    id: Mapped[int] = mapped_column(BigID, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    connector_id: Mapped[int | None] = mapped_column(
        ForeignKey("connector_configs.id", ondelete="SET NULL")
    )
    source: Mapped[str] = mapped_column(String(64))  # cgminer, pool, exchange, http_json, demo
    subject: Mapped[str] = mapped_column(String(128), default="")  # rig / worker / asset
    metric: Mapped[str] = mapped_column(String(64))  # hashrate_ths, efficiency_j_th, ...
    value: Mapped[float] = mapped_column(Float)
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime)
