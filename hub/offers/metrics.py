"""Measured offer figures: per rule and kind, from the offers actually made.

Rates are computed from stored offers over the period asked; nothing here is a target.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from hub.models import Account, Offer

STATUSES = ("offered", "viewed", "accepted", "declined", "expired")


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def offer_metrics(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """Counts and rates per rule and per kind for offers made in [since, until)."""
    viewed = case((Offer.viewed_at.is_not(None), 1), else_=0).label("viewed")
    rows = session.execute(
        select(Offer.rule_key, Offer.kind, Offer.status, viewed, func.count())
        .where(Offer.offered_at >= since, Offer.offered_at < until)
        .group_by(Offer.rule_key, Offer.kind, Offer.status, viewed)
    ).all()
    per_rule: dict[str, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
    kinds: dict[str, str] = {}
    views: dict[str, int] = defaultdict(int)
    for rule, kind, status, was_viewed, count in rows:
        per_rule[rule][status] += count
        kinds[rule] = kind
        if was_viewed:
            views[rule] += count
    rules_out = {}
    by_kind: dict[str, dict[str, int]] = defaultdict(lambda: {"made": 0, "accepted": 0})
    for rule, counts in per_rule.items():
        made = sum(counts.values())
        resolved = counts["accepted"] + counts["declined"] + counts["expired"]
        rules_out[rule] = {
            "kind": kinds[rule],
            "made": made,
            "status": counts,
            "viewed": views[rule],
            "view_rate": _rate(views[rule], made),
            "conversion_rate": _rate(counts["accepted"], made),
            "conversion_rate_resolved": _rate(counts["accepted"], resolved),
        }
        by_kind[kinds[rule]]["made"] += made
        by_kind[kinds[rule]]["accepted"] += counts["accepted"]
    live_accounts = session.scalar(
        select(func.count())
        .select_from(Account)
        .where(Account.deleted_at.is_(None), Account.status.in_(("active", "trial", "past_due")))
    )
    expanded = dict(
        session.execute(
            select(Offer.kind, func.count(func.distinct(Offer.account_id)))
            .where(
                Offer.status == "accepted",
                Offer.resolved_at >= since,
                Offer.resolved_at < until,
            )
            .group_by(Offer.kind)
        ).all()
    )
    kinds_out = {
        kind: {
            **counts,
            "conversion_rate": _rate(counts["accepted"], counts["made"]),
            "accounts_accepted": int(expanded.get(kind, 0)),
            "account_rate": _rate(int(expanded.get(kind, 0)), live_accounts or 0),
        }
        for kind, counts in by_kind.items()
    }
    return {
        "period": {"since": since.isoformat(), "until": until.isoformat()},
        "measured": True,
        "live_accounts": live_accounts,
        # as the KPI catalogue defines them: of the offers made, the share accepted
        "upsell_rate": kinds_out.get("upsell", {}).get("conversion_rate"),
        "cross_sell_rate": kinds_out.get("cross_sell", {}).get("conversion_rate"),
        "by_kind": kinds_out,
        "by_rule": dict(sorted(rules_out.items())),
    }
