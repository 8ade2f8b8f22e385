"""Health score history, churn predictions, the churn model registry and score configs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime, utcnow


class HealthConfigVersion(Base):
    """One version of the health-score configuration (weights, indicators, profiles)."""

    __tablename__ = "health_config_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HealthScore(Base):
    __tablename__ = "health_scores"
    __table_args__ = (Index("ix_health_scores_account_time", "account_id", "computed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    tier: Mapped[str] = mapped_column(String(16), index=True)
    components: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    contributions: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    drivers: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)  # {"up":[],"down":[]}
    missing: Mapped[list[str]] = mapped_column(JSON, default=list)
    trend_7d: Mapped[float | None] = mapped_column(Float)
    trend_30d: Mapped[float | None] = mapped_column(Float)
    profile: Mapped[str | None] = mapped_column(String(64))
    config_version: Mapped[int | None] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChurnModelVersion(Base):
    """A trained churn model: its skops file, metrics and what it was trained on."""

    __tablename__ = "churn_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    algorithm: Mapped[str] = mapped_column(String(64))
    features: Mapped[list[str]] = mapped_column(JSON, default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    training_window: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data_fingerprint: Mapped[str | None] = mapped_column(String(64))
    artifact: Mapped[bytes | None] = mapped_column(LargeBinary)  # skops bytes
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChurnPrediction(Base):
    __tablename__ = "churn_predictions"
    __table_args__ = (Index("ix_churn_predictions_account_time", "account_id", "predicted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    probability: Mapped[float] = mapped_column(Float)
    segment: Mapped[str] = mapped_column(String(16), index=True)  # high, medium, low, minimal
    model_version: Mapped[str] = mapped_column(String(64))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    predicted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
