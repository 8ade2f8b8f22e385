"""Daily roll-ups of events and metric samples per account, kept by the scoring jobs so a
scoring run reads a few rows per account and day instead of every raw event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime, utcnow


class EventDaily(Base):
    """How many times an account did ``name`` (with ``feature``, for the feature event) on
    one UTC day (an epoch day number). Keyed day last, so a scoring read groups per
    (account, event, feature) in key order, without a sort."""

    __tablename__ = "event_daily"
    __table_args__ = (
        PrimaryKeyConstraint("account_id", "name", "feature", "day"),
        {"sqlite_with_rowid": False},  # the rows are the key's b-tree: reads scan it in order
    )

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    feature: Mapped[str] = mapped_column(String(255), primary_key=True, default="")
    count: Mapped[int] = mapped_column(Integer)


class MetricDaily(Base):
    """Sum and number of an account's samples of one metric on one UTC day (keyed day
    last, like ``EventDaily``)."""

    __tablename__ = "metric_daily"
    __table_args__ = (
        PrimaryKeyConstraint("account_id", "metric", "day"),
        {"sqlite_with_rowid": False},
    )

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    total: Mapped[float] = mapped_column(Float)
    n: Mapped[int] = mapped_column(Integer)


class RollupDay(Base):
    """A day whose roll-up of ``kind`` (events, metrics) is complete."""

    __tablename__ = "rollup_days"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)


class RollupState(Base):
    """How far the raw rows of ``kind`` have been rolled up (highest raw id seen) and with
    which feature settings (``spec``): rows added later mark their days for a redo."""

    __tablename__ = "rollup_state"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    max_id: Mapped[int] = mapped_column(BigInteger, default=0)
    spec: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
