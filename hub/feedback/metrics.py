"""Measured feedback figures: response rates, NPS, CSAT and CES per month, sentiment, topics."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.models import Survey, SurveyResponse


def _rate(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def response_rates(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """Answered / sent per survey definition and channel, for surveys sent in the period."""
    rows = session.execute(
        select(Survey.definition_key, Survey.channel, Survey.status, func.count())
        .where(Survey.sent_at >= since, Survey.sent_at < until)
        .group_by(Survey.definition_key, Survey.channel, Survey.status)
    ).all()
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {"sent": 0, "answered": 0})
    for key, channel, status, count in rows:
        for bucket in (key, f"{key}:{channel}", "all"):
            out[bucket]["sent"] += count
            out[bucket]["answered"] += count if status == "answered" else 0
    return {k: {**v, "response_rate": _rate(v["answered"], v["sent"])} for k, v in out.items()}


def trends(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """Per month: NPS (% promoters - % detractors), CSAT (% 4-5 of 5), CES mean, sentiment."""
    rows = session.execute(
        select(
            SurveyResponse.kind,
            SurveyResponse.score,
            SurveyResponse.sentiment,
            SurveyResponse.topics,
            SurveyResponse.answered_at,
        ).where(SurveyResponse.answered_at >= since, SurveyResponse.answered_at < until)
    ).all()
    months: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    topic_counts: dict[str, int] = defaultdict(int)
    for kind, score, sentiment, topics, at in rows:
        month = at.strftime("%Y-%m")
        months[month][kind].append(float(score))
        if sentiment is not None:
            months[month]["sentiment"].append(float(sentiment))
        for topic in topics or []:
            topic_counts[topic] += 1
    series = []
    for month in sorted(months):
        data = months[month]
        nps, csat, ces, sent = data["nps"], data["csat"], data["ces"], data["sentiment"]
        series.append(
            {
                "month": month,
                "nps": round(
                    100 * (sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps)) / len(nps), 1
                )
                if nps
                else None,
                "nps_responses": len(nps),
                "csat": round(100 * sum(s >= 4 for s in csat) / len(csat), 1) if csat else None,
                "csat_responses": len(csat),
                "ces": round(sum(ces) / len(ces), 2) if ces else None,
                "ces_responses": len(ces),
                "sentiment": round(sum(sent) / len(sent), 3) if sent else None,
            }
        )
    return {
        "measured": True,
        "months": series,
        "topics": dict(sorted(topic_counts.items(), key=lambda kv: -kv[1])),
    }
