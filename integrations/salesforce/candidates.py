"""Which accounts may have a changed pushed value since the last push (a source watermark).

Comparing every account against the push ledger is exact but reads every score row; at
100,000 accounts that is tens of seconds for a run that sends nothing. So each push keeps a
watermark: the newest HealthScore and ChurnPrediction ids it saw and when it started. The
next push only diffs accounts with a newer score row, an account row updated since (minus a
margin for clock skew between hosts), or a write Salesforce refused last time. The ledger
still decides what is sent; the watermark only narrows what is compared. A full comparison
runs on the first push, whenever the pushed field set changes, and once a day as a safety net.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from hub.models import Account, ChurnPrediction, HealthScore, PushLedger
from integrations.salesforce import state
from integrations.salesforce.ledger import DESTINATION
from integrations.salesforce.mapping import FieldMapping

STREAM = "salesforce:push"
FULL_EVERY = timedelta(hours=24)
SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Watermark:
    health_id: int
    churn_id: int
    started_at: datetime
    fingerprint: str

    def as_state(self) -> dict[str, Any]:
        return {
            "health_id": self.health_id,
            "churn_id": self.churn_id,
            "started_at": self.started_at.isoformat(),
            "fingerprint": self.fingerprint,
        }


def fingerprint(mappings: list[FieldMapping]) -> str:
    return orjson.dumps(sorted((m.hub, m.salesforce) for m in mappings)).decode()


def current(session: Session, mappings: list[FieldMapping], now: datetime) -> Watermark:
    """The watermark a run starting now will leave behind if it finishes."""
    return Watermark(
        health_id=session.scalar(select(func.max(HealthScore.id))) or 0,
        churn_id=session.scalar(select(func.max(ChurnPrediction.id))) or 0,
        started_at=now,
        fingerprint=fingerprint(mappings),
    )


def candidates(session: Session, mark: Watermark) -> tuple[list[int] | None, str]:
    """Account ids to compare (None: all of them), and why."""
    saved = state.get(session, STREAM).state or {}
    if not saved.get("started_at"):
        return None, "first push"
    if saved.get("fingerprint") != mark.fingerprint:
        return None, "the pushed fields changed"
    full_at = saved.get("full_at")
    if not full_at or mark.started_at - datetime.fromisoformat(full_at) >= FULL_EVERY:
        return None, "daily full comparison"
    since = datetime.fromisoformat(saved["started_at"]) - SKEW
    ids = session.scalars(
        union(
            select(HealthScore.account_id).where(HealthScore.id > int(saved["health_id"])),
            select(ChurnPrediction.account_id).where(ChurnPrediction.id > int(saved["churn_id"])),
            select(Account.id).where(Account.updated_at > since),
            select(PushLedger.account_id).where(
                PushLedger.destination == DESTINATION, PushLedger.last_error.is_not(None)
            ),
        )
    ).all()
    return sorted(set(ids)), "changed since the last push"


def save(session: Session, mark: Watermark, full: bool) -> None:
    """Record a finished push (only then: a failed run compares again next time)."""
    row = state.get(session, STREAM)
    saved = row.state or {}
    values = mark.as_state()
    values["full_at"] = mark.started_at.isoformat() if full else saved.get("full_at")
    row.state = values
