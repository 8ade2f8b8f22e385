"""Daily KPI roll-ups, so the dashboard reads stored figures rather than recomputing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime, utcnow


class KpiRollup(Base):
    __tablename__ = "kpi_rollups"
    __table_args__ = (UniqueConstraint("day", "segment"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    segment: Mapped[str] = mapped_column(String(32), default="all")
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KpiSetting(Base):
    """An admin's override of KPI defaults (``targets``, ``roi``): one JSON document per key."""

    __tablename__ = "kpi_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_by: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
