"""The audit log: who changed what, from the API, the UI or the CLI."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hub.models import AuditLog


def record(session: Session, actor: str, action: str, target: str, **details: Any) -> None:
    """Add one audit row to ``session`` (committed with the change it describes)."""
    session.add(AuditLog(actor=actor, action=action, target=target, details=details))
