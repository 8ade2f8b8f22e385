"""Measured success of playbooks, computed only from recorded outcomes, shown beside targets.

Every finished enrolment has an outcome (``goal_met``, ``not_met``, ``escalated``) and every
step visited a ``StepOutcome``. The success rate of a playbook (or of one segment) is
goal_met / finished enrolments with an outcome; of a step with a goal, goal_met / (goal_met +
not_met + escalated). Dry-run enrolments never count.

A target comes from the playbook's YAML (``targets.success_rate``, the seed's number or the
admin's); it is returned under ``target`` and never under ``measured``. When nothing has
finished yet, ``measured.success_rate`` is None: no figure is invented.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import Account, JourneyEnrolment, StepOutcome
from hub.playbooks.loader import LivePlaybook

FINAL = ("goal_met", "not_met", "escalated")


def _rate(counts: dict[str, int]) -> dict[str, Any]:
    finished = sum(counts.get(k, 0) for k in FINAL)
    return {
        "success_rate": round(counts.get("goal_met", 0) / finished, 4) if finished else None,
        "finished": finished,
        **{k: counts.get(k, 0) for k in FINAL},
    }


def _window(stmt, column, since: datetime | None, until: datetime | None):
    if since is not None:
        stmt = stmt.where(column >= since)
    if until is not None:
        stmt = stmt.where(column < until)
    return stmt


def enrolment_counts(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> tuple[dict[str, dict[str, int]], dict[tuple[str, str], dict[str, int]], dict[str, int]]:
    """(outcomes per playbook, outcomes per (playbook, segment), active per playbook)."""
    per_playbook: dict[str, dict[str, int]] = defaultdict(dict)
    per_segment: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    stmt = (
        select(
            JourneyEnrolment.playbook_key, Account.segment, JourneyEnrolment.outcome, func.count()
        )
        .join(Account, Account.id == JourneyEnrolment.account_id)
        .where(JourneyEnrolment.dry_run.is_(False), JourneyEnrolment.outcome.in_(FINAL))
        .group_by(JourneyEnrolment.playbook_key, Account.segment, JourneyEnrolment.outcome)
    )
    for key, segment, outcome, n in session.execute(
        _window(stmt, JourneyEnrolment.completed_at, since, until)
    ):
        per_playbook[key][outcome] = per_playbook[key].get(outcome, 0) + n
        per_segment[(key, segment)][outcome] = n
    active = dict(
        session.execute(
            select(JourneyEnrolment.playbook_key, func.count())
            .where(JourneyEnrolment.status == "active", JourneyEnrolment.dry_run.is_(False))
            .group_by(JourneyEnrolment.playbook_key)
        ).all()
    )
    return per_playbook, per_segment, active


def step_counts(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> dict[tuple[str, str], dict[str, int]]:
    """Outcome counts per (playbook, step)."""
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    stmt = (
        select(
            JourneyEnrolment.playbook_key, StepOutcome.step_key, StepOutcome.outcome, func.count()
        )
        .join(JourneyEnrolment, JourneyEnrolment.id == StepOutcome.enrolment_id)
        .where(JourneyEnrolment.dry_run.is_(False))
        .group_by(JourneyEnrolment.playbook_key, StepOutcome.step_key, StepOutcome.outcome)
    )
    for key, step, outcome, n in session.execute(
        _window(stmt, StepOutcome.recorded_at, since, until)
    ):
        out[(key, step)][outcome] = n
    return out


def target_of(live: LivePlaybook) -> dict[str, Any] | None:
    rate = live.playbook.targets.get("success_rate")
    if rate is None:
        return None
    return {
        "success_rate": rate,
        "note": live.playbook.targets.get("note"),
        "source": "playbook configuration" if live.origin == "edited" else "shipped default",
    }


def report(
    session: Session,
    playbooks: dict[str, LivePlaybook],
    since: datetime | None = None,
    until: datetime | None = None,
    with_steps: bool = True,
) -> dict[str, dict[str, Any]]:
    """Per playbook: measured rates (overall, per segment, per step) beside the targets."""
    per_playbook, per_segment, active = enrolment_counts(session, since, until)
    steps = step_counts(session, since, until) if with_steps else {}
    out: dict[str, dict[str, Any]] = {}
    for key, live in playbooks.items():
        segments = {
            segment: _rate(counts) for (k, segment), counts in per_segment.items() if k == key
        }
        entry: dict[str, Any] = {
            "measured": {**_rate(per_playbook.get(key, {})), "active": active.get(key, 0)},
            "target": target_of(live),
            "segments": segments,
        }
        if with_steps:
            entry["steps"] = [
                {
                    "key": node.key,
                    "action": node.action,
                    "escalates": node.escalates,
                    "has_goal": node.goal is not None,
                    "target": {"success_rate": node.target} if node.target is not None else None,
                    "measured": {
                        **_rate(steps.get((key, node.key), {})),
                        "done": steps.get((key, node.key), {}).get("done", 0),
                        "skipped": steps.get((key, node.key), {}).get("skipped", 0),
                    },
                }
                for node in live.playbook.nodes
            ]
        out[key] = entry
    return out
