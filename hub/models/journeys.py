"""Playbook definitions, milestones, enrolments and their step outcomes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime, utcnow


class PlaybookVersion(Base):
    """One saved version of a playbook's YAML; the newest enabled version is live."""

    __tablename__ = "playbook_versions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    yaml: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Milestone(Base):
    __tablename__ = "milestones"
    __table_args__ = (UniqueConstraint("account_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class JourneyEnrolment(Base):
    __tablename__ = "journey_enrolments"
    __table_args__ = (
        UniqueConstraint("account_id", "playbook_key", "occurrence"),
        UniqueConstraint("account_id", "playbook_key", "trigger_ref"),
        Index("ix_journey_enrolments_status", "status", "next_run_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    playbook_key: Mapped[str] = mapped_column(String(128), index=True)
    playbook_version: Mapped[int] = mapped_column(Integer)
    occurrence: Mapped[int] = mapped_column(Integer, default=1)
    trigger_ref: Mapped[str | None] = mapped_column(String(255))  # what fired it, once
    status: Mapped[str] = mapped_column(String(16), default="active")  # active, completed, exited
    current_step: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))  # goal_met, not_met, escalated
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StepOutcome(Base):
    __tablename__ = "step_outcomes"
    __table_args__ = (UniqueConstraint("enrolment_id", "step_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("journey_enrolments.id", ondelete="CASCADE")
    )
    step_index: Mapped[int] = mapped_column(Integer)
    step_key: Mapped[str] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(16))  # done, goal_met, not_met, escalated, skipped
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
