"""Signed one-click answer links: /s/<token>, where the token names the survey and the score.

The token is signed with the hub's secret (itsdangerous, salted per purpose): a changed
survey id or score fails the signature and is refused.
"""

from __future__ import annotations

from typing import Any

from hub.growth.tokens import sign, unsign

PURPOSE = "survey-answer"


def answer_token(survey_id: int, score: int | None = None) -> str:
    payload: dict[str, Any] = {"s": survey_id}
    if score is not None:
        payload["v"] = score
    return sign(PURPOSE, payload)


def answer_url(base_url: str, survey_id: int, score: int | None = None) -> str:
    return f"{base_url.rstrip('/')}/s/{answer_token(survey_id, score)}"


def read_token(token: str, max_age_s: int | None = None) -> tuple[int, int | None]:
    """(survey id, score or None) of a genuine token; ``InvalidToken`` otherwise."""
    from hub.growth.tokens import InvalidToken

    payload = unsign(PURPOSE, token, max_age=max_age_s)
    survey_id, score = payload.get("s"), payload.get("v")
    if not isinstance(survey_id, int) or (score is not None and not isinstance(score, int)):
        raise InvalidToken("the link is not valid")
    return survey_id, score
