"""What an evaluation did: counts per playbook and outcome, and (for a dry run) each action."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass
class EvaluationReport:
    now: str = ""
    accounts: int = 0
    chunks: int = 0
    enrolled: Counter = field(default_factory=Counter)
    finished: Counter = field(default_factory=Counter)
    messages: Counter = field(default_factory=Counter)  # by status
    milestones: int = 0
    stage_moves: int = 0
    skipped: Counter = field(default_factory=Counter)  # guard reasons
    actions: list[dict[str, Any]] = field(default_factory=list)

    def merge(self, other: EvaluationReport) -> None:
        self.accounts += other.accounts
        self.chunks += other.chunks
        self.enrolled.update(other.enrolled)
        self.finished.update(other.finished)
        self.messages.update(other.messages)
        self.milestones += other.milestones
        self.stage_moves += other.stage_moves
        self.skipped.update(other.skipped)
        self.actions.extend(other.actions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "accounts": self.accounts,
            "chunks": self.chunks,
            "enrolled": dict(self.enrolled),
            "finished": dict(self.finished),
            "messages": dict(self.messages),
            "milestones": self.milestones,
            "stage_moves": self.stage_moves,
            "skipped": dict(self.skipped),
            **({"actions": self.actions} if self.actions else {}),
        }


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
