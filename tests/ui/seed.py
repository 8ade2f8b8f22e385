"""A small, complete demo tenant for the UI tests: the demo generator's accounts and activity,
plus score history, churn predictions, journeys, messages, a webhook delivery and KPI
roll-ups, so every page has something real to show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from hub import metrics
from hub.db import db
from hub.demo import generate
from hub.models import (
    Account,
    ChurnModelVersion,
    ChurnPrediction,
    HealthScore,
    InboxEvent,
    JourneyEnrolment,
    OutboxMessage,
    PlaybookVersion,
)

PLAYBOOK_KEY = "intervention_usage_decline"
PLAYBOOK_FILE = (
    Path(__file__).resolve().parents[2] / "hub/playbooks/defaults" / f"{PLAYBOOK_KEY}.yaml"
)


def tier_of(score: float) -> str:
    return (
        "champion"
        if score >= 90
        else "healthy"
        if score >= 70
        else "at_risk"
        if score >= 50
        else "critical"
    )


def seed(session, accounts: int = 40) -> dict:
    today = datetime.now(UTC).date()
    with db.engine.begin() as conn:
        generate(conn, accounts=accounts, seed=11, days=45, as_of=today)
    now = datetime.now(UTC)
    live = list(session.scalars(select(Account).where(Account.churned_at.is_(None))))
    for a in live:
        base = 30 + (a.id * 37) % 70
        for back in range(8, -1, -1):
            score = max(0.0, min(100.0, base + (back - 4) * ((a.id % 5) - 2)))
            session.add(
                HealthScore(
                    account_id=a.id,
                    score=score,
                    tier=tier_of(score),
                    components={
                        "usage": score,
                        "engagement": min(100, score + 8),
                        "value": max(0, score - 10),
                        "relationship": score,
                    },
                    contributions={
                        "active_days_30": round(score * 0.1, 1),
                        "feature_adoption": round(score * 0.12, 1),
                        "nps_latest": round(score * 0.08, 1),
                    },
                    drivers={
                        "up": ["active on 20 of the last 30 days"],
                        "down": ["hashrate at 81% of nominal"],
                    },
                    computed_at=now - timedelta(days=back, hours=1),
                )
            )
        p = round(1 - base / 100, 3)
        session.add(
            ChurnPrediction(
                account_id=a.id,
                probability=p,
                segment="high"
                if p >= 0.7
                else "medium"
                if p >= 0.4
                else "low"
                if p >= 0.2
                else "minimal",
                model_version="v2",
                reasons=["usage fell 40% this month", "no NPS answer in 90 days"],
                predicted_at=now - timedelta(hours=2),
            )
        )
    session.add_all(
        [
            ChurnModelVersion(
                version="v1",
                algorithm="gbm",
                metrics={"roc_auc": 0.74, "pr_auc": 0.41, "brier": 0.12},
                created_at=now - timedelta(days=14),
            ),
            ChurnModelVersion(
                version="v2",
                algorithm="gbm",
                metrics={"roc_auc": 0.79, "pr_auc": 0.47, "brier": 0.1},
                active=True,
                created_at=now - timedelta(days=7),
            ),
            PlaybookVersion(
                key=PLAYBOOK_KEY,
                version=1,
                yaml=PLAYBOOK_FILE.read_text(),
                enabled=True,
                created_by="seed",
            ),
        ]
    )
    for i, a in enumerate(live[:6]):
        session.add(
            JourneyEnrolment(
                account_id=a.id,
                playbook_key=PLAYBOOK_KEY,
                playbook_version=1,
                status="completed",
                outcome="goal_met" if i % 2 == 0 else "not_met",
                enrolled_at=now - timedelta(days=12),
                completed_at=now - timedelta(days=2),
            )
        )
    session.add_all(
        [
            OutboxMessage(
                idempotency_key="seed-1",
                channel="email",
                account_id=live[0].id,
                subject="Your rigs lost 12% hashrate",
                status="failed",
                attempts=3,
                last_error="SMTP 451 try again later",
            ),
            OutboxMessage(
                idempotency_key="seed-2",
                channel="sf_task",
                account_id=live[1].id,
                subject="Call about renewal",
                status="sent",
                sent_at=now,
            ),
        ]
    )
    inbox = InboxEvent(
        source="events",
        external_id="evt_seed_1",
        event_type="session_start",
        headers={"webhook-id": "evt_seed_1", "webhook-signature": "v1,abc"},
        body=b'{"type": "session_start", "account": "none"}',
        status="failed",
        attempts=5,
        last_error="no account matches",
    )
    session.add(inbox)
    session.commit()
    for back in range(7, -1, -1):
        metrics.rollup(session, today - timedelta(days=back))
    session.commit()
    return {"account_id": live[0].id, "inbox_id": inbox.id, "playbook": PLAYBOOK_KEY}
