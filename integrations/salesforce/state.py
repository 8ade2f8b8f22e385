"""Stored sync state: per-stream cursors and the API-limit pause, in ``sync_state`` rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import SyncState

LIMITS_STREAM = "salesforce:limits"


def stream_name(sobject: str) -> str:
    return f"salesforce:{sobject}"


def get(session: Session, stream: str, *, lock: bool = False) -> SyncState:
    """The state row of ``stream`` (created empty when missing)."""
    stmt = select(SyncState).where(SyncState.stream == stream)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        row = SyncState(stream=stream, cursor=None, state={})
        session.add(row)
        session.flush()
    return row


def update(row: SyncState, **values: Any) -> None:
    """Merge ``values`` into the row's JSON state (reassigned so the change is saved)."""
    row.state = {**(row.state or {}), **values}


def parse_ts(value: str | None) -> datetime | None:
    """A Salesforce datetime (``2026-01-02T03:04:05.000+0000``) as an aware UTC datetime."""
    if not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # +0000 -> +00:00
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not a Salesforce datetime: {value!r}") from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def soql_ts(value: datetime) -> str:
    """A SOQL datetime literal (UTC, no quotes)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_pause(session: Session) -> tuple[float | None, dict[str, Any]]:
    """When API calls may resume (epoch seconds) and the last known usage."""
    row = session.scalar(select(SyncState).where(SyncState.stream == LIMITS_STREAM))
    if row is None:
        return None, {}
    state = row.state or {}
    return state.get("paused_until"), state


def save_pause(
    session: Session, paused_until: float | None, used: int | None, total: int | None
) -> None:
    row = get(session, LIMITS_STREAM)
    update(
        row,
        paused_until=paused_until,
        used=used,
        total=total,
        observed_at=datetime.now(UTC).isoformat(),
    )
