"""What a source's processor returns, and helpers the processors share."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.ingest.hooks import FollowUp


class PermanentError(Exception):
    """The row cannot be processed as it is; retrying will not help (it is marked failed)."""


@dataclass
class Outcome:
    status: str  # processed or ignored
    notes: dict[str, Any] = field(default_factory=dict)
    followups: list[FollowUp] = field(default_factory=list)


def insert_ignore(session: Session, model: type, values: dict[str, Any], *keys: str) -> Any:
    """INSERT ... ON CONFLICT (keys) DO NOTHING; the new primary key, or None if it existed."""
    dialect = session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt: Insert = make(model).values(**values)
    stmt = stmt.on_conflict_do_nothing(index_elements=list(keys) or None)
    return session.execute(stmt.returning(model.id)).scalar()


def parse_time(value: Any, default: datetime | None = None) -> datetime | None:
    """An ISO 8601 string or unix seconds as an aware UTC datetime; ``default`` otherwise."""
    if value is None or isinstance(value, bool):
        return default
    try:
        if isinstance(value, int | float):
            if not math.isfinite(value):
                return default
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str) and value:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return default
    return default
