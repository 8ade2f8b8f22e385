"""How well the hub's own programs work: playbook and intervention success, churn-model
quality over time, and the basis of the ROI estimate."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import yaml
from sqlalchemy import func, select

from hub.metrics.base import Figure, Scope, Split
from hub.models import Account, ChurnModelVersion, JourneyEnrolment, PlaybookVersion

SUCCESS = "goal_met"
MODEL_METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "precision_at_k", "recall_at_k")


def playbook_kinds(scope: Scope) -> dict[str, str | None]:
    """Each playbook's declared kind (``kind``, ``category`` or ``type``) in its newest version."""
    newest = (
        select(PlaybookVersion.key, func.max(PlaybookVersion.version).label("v"))
        .group_by(PlaybookVersion.key)
        .subquery()
    )
    stmt = select(PlaybookVersion.key, PlaybookVersion.yaml).join(
        newest, (PlaybookVersion.key == newest.c.key) & (PlaybookVersion.version == newest.c.v)
    )
    kinds: dict[str, str | None] = {}
    for key, text in scope.session.execute(stmt):
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            doc = None
        kind = None
        if isinstance(doc, dict):
            kind = doc.get("kind") or doc.get("category") or doc.get("type")
        kinds[key] = str(kind) if kind else None
    return kinds


def _is_intervention(key: str, kind: str | None, wanted: set[str]) -> bool:
    if kind:
        return kind in wanted
    return key.split("_", 1)[0] in wanted or key.split("-", 1)[0] in wanted


def success_rates(scope: Scope) -> dict[str, Any]:
    """Of journeys (not dry runs) that ended in the period, the share whose goal was met:
    over every playbook, over interventions only, and per playbook; plus the saves."""
    period = scope.period
    wanted = set(scope.definitions.get("intervention_kinds") or ["intervention"])
    kinds = playbook_kinds(scope)
    stmt = scope.where_segment(
        select(
            Account.segment,
            JourneyEnrolment.account_id,
            JourneyEnrolment.playbook_key,
            JourneyEnrolment.outcome,
            Account.status,
            Account.mrr,
        )
        .join(Account, Account.id == JourneyEnrolment.account_id)
        .where(JourneyEnrolment.dry_run.is_(False))
        .where(JourneyEnrolment.completed_at >= period.start_at)
        .where(JourneyEnrolment.completed_at < period.end_at)
    )
    overall, interventions = Split(), Split()
    per_playbook: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    saves: dict[str, dict[int, float]] = defaultdict(dict)
    for segment, account_id, key, outcome, status, mrr in scope.session.execute(stmt):
        met = outcome == SUCCESS
        overall.add(segment, 1.0 if met else 0.0)
        per_playbook[key][0] += 1
        per_playbook[key][1] += int(met)
        if _is_intervention(key, kinds.get(key), wanted):
            interventions.add(segment, 1.0 if met else 0.0)
            if met and status not in ("churned", "canceled"):
                saves[segment][account_id] = float(mrr or 0)
    basis = {}
    for key in scope.keys:
        chosen = [s for seg, s in saves.items() if key in ("all", seg)]
        basis[key] = {
            "saves": sum(len(s) for s in chosen),
            "saved_mrr": round(sum(v for s in chosen for v in s.values()), 2),
        }
    playbooks = [
        {"key": k, "kind": kinds.get(k), "ended": n, "goal_met": met, "rate": met / n}
        for k, (n, met) in sorted(per_playbook.items())
    ]
    return {
        "playbook_success": overall.result(scope.keys),
        "intervention_success": interventions.result(scope.keys),
        "per_playbook": playbooks,
        "roi_basis": basis,
    }


def model_quality(scope: Scope) -> tuple[Figure, list[dict[str, Any]]]:
    """The active churn model's ROC AUC, and every trained model's metrics over time."""
    rows = scope.session.execute(
        select(
            ChurnModelVersion.version,
            ChurnModelVersion.created_at,
            ChurnModelVersion.active,
            ChurnModelVersion.metrics,
            ChurnModelVersion.algorithm,
        ).order_by(ChurnModelVersion.created_at)
    ).all()
    history = []
    active: Figure = Figure(None, 0)
    for version, created_at, is_active, metrics, algorithm in rows:
        metrics = metrics or {}
        entry = {
            "version": version,
            "created_at": created_at.isoformat() if created_at else None,
            "active": bool(is_active),
            "algorithm": algorithm,
        }
        for name in MODEL_METRICS:
            value = metrics.get(name)
            entry[name] = float(value) if isinstance(value, int | float) else None
        history.append(entry)
        auc = entry["roc_auc"]
        if is_active and auc is not None:
            n = metrics.get("n_test") or metrics.get("test_size") or 0
            active = Figure(auc, int(n) if isinstance(n, int | float) else 0)
    return active, history
