"""Where the customer base stands: tier and churn-risk distributions, and tier moves."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from hub.metrics.base import ALL, Scope
from hub.models import Account, ChurnPrediction, HealthScore

TIERS = ("champion", "healthy", "at_risk", "critical")
RISK_SEGMENTS = ("high", "medium", "low", "minimal")
TIER_RANK = {tier: rank for rank, tier in enumerate(reversed(TIERS))}
MOVES_LISTED = 50


def latest_scores(scope: Scope, as_of: datetime):
    """(account id, segment, name, tier, score) of each live account's newest score up to
    ``as_of`` (rows are only ever inserted, so the highest id is the newest)."""
    newest = (
        select(func.max(HealthScore.id))
        .where(HealthScore.computed_at <= as_of)
        .group_by(HealthScore.account_id)
    )
    stmt = (
        select(Account.id, Account.segment, Account.name, HealthScore.tier, HealthScore.score)
        .join(HealthScore, HealthScore.account_id == Account.id)
        .where(HealthScore.id.in_(newest))
        .where(Account.deleted_at.is_(None), Account.churned_at.is_(None))
    )
    return scope.session.execute(scope.where_segment(stmt)).all()


def latest_risk(scope: Scope, as_of: datetime):
    newest = (
        select(func.max(ChurnPrediction.id))
        .where(ChurnPrediction.predicted_at <= as_of)
        .group_by(ChurnPrediction.account_id)
    )
    stmt = (
        select(Account.segment, ChurnPrediction.segment)
        .join(ChurnPrediction, ChurnPrediction.account_id == Account.id)
        .where(ChurnPrediction.id.in_(newest))
        .where(Account.deleted_at.is_(None), Account.churned_at.is_(None))
    )
    return scope.session.execute(scope.where_segment(stmt)).all()


def _count(pairs, keys, labels) -> dict[str, dict[str, int]]:
    counts = {key: Counter() for key in keys}
    for segment, label in pairs:
        for key in (segment, ALL):
            if key in counts:
                counts[key][label] += 1
    return {key: {label: int(c.get(label, 0)) for label in labels} for key, c in counts.items()}


def distributions(scope: Scope, as_of: datetime, week_ago: datetime | None = None) -> dict:
    """Per key: accounts per tier and per churn-risk segment now, and the tier moves since
    ``week_ago`` (default: 7 days before ``as_of``)."""
    week_ago = week_ago or as_of - timedelta(days=7)
    now_rows = latest_scores(scope, as_of)
    before = {row[0]: row[3] for row in latest_scores(scope, week_ago)}
    tiers = _count(((seg, tier) for _id, seg, _n, tier, _s in now_rows), scope.keys, TIERS)
    risk = _count(latest_risk(scope, as_of), scope.keys, RISK_SEGMENTS)
    moves: dict[str, dict[str, Any]] = {
        key: {"count": 0, "up": 0, "down": 0, "accounts": []} for key in scope.keys
    }
    for account_id, segment, name, tier, score in now_rows:
        old = before.get(account_id)
        if old is None or old == tier:
            continue
        up = TIER_RANK.get(tier, 0) > TIER_RANK.get(old, 0)
        move = {"id": account_id, "name": name, "from": old, "to": tier, "score": score, "up": up}
        for key in (segment, ALL):
            if key in moves:
                moves[key]["count"] += 1
                moves[key]["up" if up else "down"] += 1
                moves[key]["accounts"].append(move)
    for m in moves.values():  # falls first, lowest score first
        m["accounts"] = sorted(m["accounts"], key=lambda a: (a["up"], a["score"]))[:MOVES_LISTED]
    return {
        key: {"tiers": tiers[key], "churn_risk": risk[key], "tier_moves": moves[key]}
        for key in scope.keys
    }
