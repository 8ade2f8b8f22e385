"""Everything the account page shows, gathered from the store in a few bounded queries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hub.db import utcnow
from hub.models import (
    Account,
    ChurnPrediction,
    ConnectorConfig,
    Event,
    HealthScore,
    JourneyEnrolment,
    MetricSample,
    Milestone,
    Offer,
    OutboxMessage,
    Referral,
    ReferralCode,
    StepOutcome,
    SubscriptionChange,
    SurveyResponse,
)

HISTORY_DAYS = 180
TIMELINE_EACH = 40
TIMELINE_MAX = 150


def _salesforce_work(session: Session, account_id: int) -> list[Any]:
    """Tasks and Cases cshub opened in Salesforce (when that capability is installed)."""
    try:
        from hub.models.salesforce import SalesforceWork
    except ImportError:
        return []
    return list(
        session.scalars(
            select(SalesforceWork)
            .where(SalesforceWork.account_id == account_id)
            .order_by(SalesforceWork.created_at.desc())
            .limit(TIMELINE_EACH)
        )
    )


def timeline(session: Session, account: Account) -> list[dict[str, Any]]:
    """Events, messages, tasks, surveys, offers, referrals, milestones and subscription
    changes, newest first."""
    aid = account.id
    items: list[dict[str, Any]] = []

    def add(when, kind: str, text: str, status: str | None = None, link: str | None = None):
        if when is not None:
            items.append({"at": when, "kind": kind, "text": text, "status": status, "link": link})

    for e in session.scalars(
        select(Event)
        .where(Event.account_id == aid)
        .order_by(Event.occurred_at.desc())
        .limit(TIMELINE_EACH)
    ):
        extra = ", ".join(f"{k}={v}" for k, v in sorted((e.properties or {}).items()))
        add(e.occurred_at, "event", f"{e.name}{f' ({extra})' if extra else ''} · {e.source}")
    for m in session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.account_id == aid)
        .order_by(OutboxMessage.created_at.desc())
        .limit(TIMELINE_EACH)
    ):
        kind = "task" if m.channel in ("sf_task", "sf_case") else "message"
        what = m.subject or m.template or m.channel
        add(m.sent_at or m.created_at, kind, f"{m.channel}: {what}", m.status)
    for w in _salesforce_work(session, aid):
        add(
            w.created_at, "task", f"Salesforce {w.sobject}: {w.fields.get('Subject', '')}", w.status
        )
    for r in session.scalars(
        select(SurveyResponse)
        .where(SurveyResponse.account_id == aid)
        .order_by(SurveyResponse.answered_at.desc())
        .limit(TIMELINE_EACH)
    ):
        comment = f": \u201c{r.comment}\u201d" if r.comment else ""
        add(r.answered_at, "survey", f"{r.kind.upper()} {r.score:g}{comment}")
    for o in session.scalars(
        select(Offer).where(Offer.account_id == aid).order_by(Offer.offered_at.desc()).limit(20)
    ):
        add(o.offered_at, "offer", f"{o.kind} {o.rule_key} → {o.target_plan or ''}", o.status)
    referrals = session.execute(
        select(Referral, ReferralCode.account_id)
        .join(ReferralCode, ReferralCode.id == Referral.code_id)
        .where(or_(ReferralCode.account_id == aid, Referral.referred_account_id == aid))
        .limit(20)
    ).all()
    for ref, referrer in referrals:
        when = ref.converted_at or ref.signed_up_at or ref.clicked_at
        text = (
            f"referred {ref.referred_email or 'someone'}"
            if referrer == aid
            else f"was referred by account {referrer}"
        )
        add(when, "referral", text, ref.status)
    for ms in session.scalars(select(Milestone).where(Milestone.account_id == aid)):
        add(ms.reached_at, "milestone", ms.key.replace("_", " "))
    for c in session.scalars(
        select(SubscriptionChange)
        .where(SubscriptionChange.account_id == aid)
        .order_by(SubscriptionChange.occurred_at.desc())
        .limit(20)
    ):
        add(c.occurred_at, "billing", f"{c.kind}: MRR {c.mrr_before:,.2f} → {c.mrr_after:,.2f}")
    items.sort(key=lambda i: i["at"], reverse=True)
    return items[:TIMELINE_MAX]


def journeys(session: Session, account_id: int) -> list[dict[str, Any]]:
    rows = list(
        session.scalars(
            select(JourneyEnrolment)
            .where(JourneyEnrolment.account_id == account_id)
            .order_by(JourneyEnrolment.enrolled_at.desc())
            .limit(30)
        )
    )
    steps: dict[int, list[StepOutcome]] = {}
    if rows:
        for s in session.scalars(
            select(StepOutcome)
            .where(StepOutcome.enrolment_id.in_([r.id for r in rows]))
            .order_by(StepOutcome.step_index)
        ):
            steps.setdefault(s.enrolment_id, []).append(s)
    return [{"enrolment": r, "steps": steps.get(r.id, [])} for r in rows]


def feeds(session: Session, account_id: int) -> dict[str, Any]:
    """Connectors configured for the account and the metric sources that reported for it."""
    connectors = list(
        session.scalars(select(ConnectorConfig).where(ConnectorConfig.account_id == account_id))
    )
    since = utcnow() - timedelta(days=30)
    sources = session.execute(
        select(
            MetricSample.source,
            MetricSample.metric,
            func.count(),
            func.max(MetricSample.measured_at),
        )
        .where(MetricSample.account_id == account_id, MetricSample.measured_at >= since)
        .group_by(MetricSample.source, MetricSample.metric)
        .order_by(MetricSample.source, MetricSample.metric)
    ).all()
    event_sources = session.execute(
        select(Event.source, func.count(), func.max(Event.occurred_at))
        .where(Event.account_id == account_id, Event.occurred_at >= since)
        .group_by(Event.source)
    ).all()
    return {"connectors": connectors, "metrics": sources, "events": event_sources}


def detail(session: Session, account: Account) -> dict[str, Any]:
    since = utcnow() - timedelta(days=HISTORY_DAYS)
    scores = list(
        session.scalars(
            select(HealthScore)
            .where(HealthScore.account_id == account.id, HealthScore.computed_at >= since)
            .order_by(HealthScore.computed_at)
        )
    )
    latest = (
        scores[-1]
        if scores
        else session.scalar(
            select(HealthScore)
            .where(HealthScore.account_id == account.id)
            .order_by(HealthScore.computed_at.desc())
            .limit(1)
        )
    )
    risks = list(
        session.scalars(
            select(ChurnPrediction)
            .where(ChurnPrediction.account_id == account.id, ChurnPrediction.predicted_at >= since)
            .order_by(ChurnPrediction.predicted_at)
        )
    )
    risk = risks[-1] if risks else None
    components: list[dict[str, Any]] = []
    contributions: list[tuple[str, float]] = []
    if latest is not None:
        components = [
            {"name": name, "value": value}
            for name, value in sorted((latest.components or {}).items())
            if value is not None
        ]
        contributions = sorted(
            ((k, v) for k, v in (latest.contributions or {}).items() if v is not None),
            key=lambda kv: -abs(kv[1]),
        )[:12]
    milestones = list(
        session.scalars(
            select(Milestone)
            .where(Milestone.account_id == account.id)
            .order_by(Milestone.reached_at)
        )
    )
    return {
        "latest": latest,
        "components": components,
        "contributions": contributions,
        "score_points": [(s.computed_at.date().isoformat(), s.score) for s in scores],
        "risk": risk,
        "risk_points": [(r.predicted_at.date().isoformat(), r.probability) for r in risks],
        "timeline": timeline(session, account),
        "journeys": journeys(session, account.id),
        "milestones": milestones,
        "feeds": feeds(session, account.id),
        "contacts": list(account.contacts),
    }
