"""The customer's voice: NPS, CSAT, CES and support satisfaction from survey responses."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from hub.metrics.base import Figure, Scope, Split, by_segment_lists, mean
from hub.models import Account, Survey, SurveyResponse


def _responses(scope: Scope, kinds: tuple[str, ...]):
    period = scope.period
    stmt = (
        select(
            Account.segment,
            SurveyResponse.kind,
            SurveyResponse.score,
            Survey.definition_key,
            SurveyResponse.extra,
        )
        .join(Account, Account.id == SurveyResponse.account_id)
        .outerjoin(Survey, Survey.id == SurveyResponse.survey_id)
        .where(SurveyResponse.kind.in_(kinds))
        .where(SurveyResponse.answered_at >= period.start_at)
        .where(SurveyResponse.answered_at < period.end_at)
    )
    return scope.session.execute(scope.where_segment(stmt)).all()


def nps(scope: Scope) -> dict[str, Figure]:
    """% promoters (9-10) minus % detractors (0-6) among NPS answers in the period."""
    split = Split()
    for segment, _kind, score, _key, _extra in _responses(scope, ("nps",)):
        split.add(segment, 100.0 if score >= 9 else -100.0 if score <= 6 else 0.0)
    return split.result(scope.keys)


def _is_support(definitions: dict, key: str | None, extra: dict | None) -> bool:
    prefixes = tuple(definitions.get("support_survey_prefixes") or ["support"])
    if key and key.startswith(prefixes):
        return True
    return bool(extra) and str(extra.get("context", "")).startswith(prefixes)


def csat_ces_support(scope: Scope) -> tuple[dict, dict, dict]:
    """CSAT (share of 4-5 answers on 1-5), CES (mean on 1-7) and CSAT of support surveys."""
    csat, support = Split(), Split()
    ces: dict[str, list[float]] = defaultdict(list)
    for segment, kind, score, key, extra in _responses(scope, ("csat", "ces")):
        if kind == "ces":
            ces[segment].append(float(score))
            continue
        satisfied = 1.0 if score >= 4 else 0.0
        csat.add(segment, satisfied)
        if _is_support(scope.definitions, key, extra):
            support.add(segment, satisfied)
    return (
        csat.result(scope.keys),
        by_segment_lists(ces, scope.keys, mean),
        support.result(scope.keys),
    )
