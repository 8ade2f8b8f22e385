"""Record an answer (one-click link, in-app, or the API), analyse it, follow it up once.

A detractor or strongly negative answer opens a Salesforce Case for the account's owner
(one per answer); a promoter gets the referral invitation (one per window).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.feedback.analysis import Analysis, analyse
from hub.feedback.config import settings
from hub.growth.crm import request_work
from hub.models import Account, Contact, Survey, SurveyResponse

MAX_COMMENT = 5000


class SurveyClosed(Exception):
    """The survey expired or does not accept answers any more."""


class BadAnswer(ValueError):
    """The score is outside the survey's scale, or the comment is unusable."""


def check_score(doc: dict[str, Any], kind: str, score: Any) -> int:
    scale = doc["scales"].get(kind)
    if scale is None:
        raise BadAnswer(f"unknown survey kind {kind}")
    if isinstance(score, bool) or not isinstance(score, int | float) or score != int(score):
        raise BadAnswer("the score must be a whole number")
    if not scale["min"] <= score <= scale["max"]:
        raise BadAnswer(f"the score must be between {scale['min']} and {scale['max']}")
    return int(score)


def answer_survey(
    session: Session,
    survey: Survey,
    *,
    score: int | None,
    comment: str | None,
    now: datetime,
    base_url: str,
    source: str,
) -> SurveyResponse:
    """Store (or update) the answer to ``survey``; the last click before closing wins."""
    doc = settings(session)
    if survey.status == "expired" or (survey.expires_at and survey.expires_at < now):
        raise SurveyClosed("this survey has closed")
    existing = session.scalar(select(SurveyResponse).where(SurveyResponse.survey_id == survey.id))
    if score is None and existing is None:
        raise BadAnswer("choose a score first")
    value = check_score(doc, survey.kind, score) if score is not None else existing.score
    response = existing or SurveyResponse(
        survey_id=survey.id,
        account_id=survey.account_id,
        contact_id=survey.contact_id,
        kind=survey.kind,
        answered_at=now,
        extra={},
    )
    response.score = value
    if comment is not None:
        response.comment = _clean(comment)
    response.extra = {
        **(response.extra or {}),
        "definition": survey.definition_key,
        "source": source,
        "channel": survey.channel,
        **({"context": survey.context} if survey.context else {}),
    }
    if existing is None:
        session.add(response)
    survey.status = "answered"
    session.flush()
    _analyse_and_follow_up(session, doc, response, now, base_url)
    return response


def record_response(
    session: Session,
    *,
    account_id: int,
    contact_id: int | None,
    kind: str,
    score: Any,
    comment: str | None,
    now: datetime,
    base_url: str,
    source: str = "api",
) -> SurveyResponse:
    """An answer collected outside a hub survey (the product's own in-app prompt)."""
    doc = settings(session)
    response = SurveyResponse(
        account_id=account_id,
        contact_id=contact_id,
        kind=kind,
        score=check_score(doc, kind, score),
        comment=_clean(comment) if comment is not None else None,
        answered_at=now,
        extra={"source": source},
    )
    session.add(response)
    session.flush()
    _analyse_and_follow_up(session, doc, response, now, base_url)
    return response


def _clean(comment: str) -> str | None:
    text = comment.strip()
    if len(text) > MAX_COMMENT:
        raise BadAnswer(f"the comment is longer than {MAX_COMMENT} characters")
    return text or None


def _analyse_and_follow_up(
    session: Session, doc: dict[str, Any], response: SurveyResponse, now: datetime, base_url: str
) -> Analysis:
    account = session.get(Account, response.account_id)
    result = analyse(
        doc,
        response.kind,
        response.score,
        response.comment,
        float(account.mrr or 0) if account else 0.0,
        account.segment if account else None,
    )
    response.sentiment = result.sentiment
    response.topics = result.topics
    response.priority = result.priority
    response.extra = {
        **(response.extra or {}),
        "label": result.label,
        "impact": result.impact,
        "urgency": result.urgency,
        "detractor": result.detractor,
        "promoter": result.promoter,
    }
    follow = doc["follow_up"]
    needs_case = (result.detractor and follow["detractor_case"]) or (
        result.strongly_negative and follow["strongly_negative_case"]
    )
    if needs_case and account is not None:
        _open_case(session, account, response, result, now)
    if result.promoter and response.kind == "nps" and follow["promoter_referral"]:
        contact = session.get(Contact, response.contact_id) if response.contact_id else None
        if contact is not None and contact.deleted_at is None:
            from hub.referrals.invites import invite

            invite(session, contact, "nps_promoter", now, base_url)
    return result


def _open_case(
    session: Session, account: Account, response: SurveyResponse, result: Analysis, now: datetime
) -> None:
    contact = session.get(Contact, response.contact_id) if response.contact_id else None
    who = (contact.name or contact.email) if contact else "a contact"
    reason = "detractor" if result.detractor else "strongly negative comment"
    definition = (response.extra or {}).get("definition") or response.kind
    description = (
        f"{who} at {account.name} answered {response.kind.upper()} {response.score:g} "
        f"({definition}): {reason}.\n"
        f"Comment: {response.comment or '(none)'}\n"
        f"Sentiment: {result.sentiment if result.sentiment is not None else 'n/a'}; "
        f"topics: {', '.join(result.topics) or 'none'}; priority {result.priority} "
        f"(impact {result.impact}, urgency {result.urgency})."
    )
    due_days = {"P1": 1, "P2": 2, "P3": 5}.get(result.priority, 7)
    _, created = request_work(
        session,
        "case",
        f"feedback-case:{response.id}",
        account,
        subject=f"Feedback follow-up ({result.priority}): {account.name}",
        description=description,
        priority=result.priority,
        due=(now + timedelta(days=due_days)).date(),
        contact_id=response.contact_id,
        extra={"origin": "Feedback", "survey_response_id": response.id},
    )
    if created:
        response.extra = {**(response.extra or {}), "case_requested": now.isoformat()}
