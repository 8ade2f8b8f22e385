"""What an answer says: VADER sentiment of the comment, topics by keyword, and a priority
from impact (who the account is) and urgency (how bad the answer is)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@lru_cache(maxsize=8)
def _analyzer(lexicon: tuple[tuple[str, float], ...]) -> SentimentIntensityAnalyzer:
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update({word.lower(): value for word, value in lexicon})
    return analyzer


def compound(text: str, lexicon: dict[str, float] | None = None) -> float:
    """VADER's compound score (-1..1) with the configured extra words."""
    key = tuple(sorted((lexicon or {}).items()))
    return float(_analyzer(key).polarity_scores(text)["compound"])


def label(score: float, sentiment: dict[str, Any]) -> str:
    if score >= sentiment.get("positive", 0.05):
        return "positive"
    if score <= sentiment.get("negative", -0.05):
        return "negative"
    return "neutral"


@lru_cache(maxsize=256)
def _pattern(keyword: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w]){re.escape(keyword.lower())}(?![\w])")


def topics(text: str, keywords: dict[str, list[str]]) -> list[str]:
    lowered = text.lower()
    return sorted(
        topic
        for topic, words in keywords.items()
        if any(_pattern(w).search(lowered) for w in words)
    )


def position(score: float, scale: dict[str, Any]) -> float:
    """Where a score sits on its scale, 0 (worst) to 1 (best)."""
    return (score - scale["min"]) / (scale["max"] - scale["min"])


def is_detractor(kind: str, score: float, scale: dict[str, Any]) -> bool:
    if kind == "nps":
        return score <= 6
    return position(score, scale) <= 0.25


def is_promoter(kind: str, score: float, scale: dict[str, Any]) -> bool:
    if kind == "nps":
        return score >= 9
    return position(score, scale) >= 0.99


@dataclass
class Analysis:
    sentiment: float | None
    label: str | None
    topics: list[str] = field(default_factory=list)
    detractor: bool = False
    promoter: bool = False
    strongly_negative: bool = False
    impact: str = "low"
    urgency: str = "low"
    priority: str = "P4"


MATRIX = {
    ("high", "high"): "P1",
    ("high", "medium"): "P2",
    ("medium", "high"): "P2",
    ("medium", "medium"): "P3",
    ("high", "low"): "P3",
    ("low", "high"): "P3",
}


def analyse(
    doc: dict[str, Any],
    kind: str,
    score: float,
    comment: str | None,
    account_mrr: float,
    account_segment: str | None,
) -> Analysis:
    """Sentiment, topics, follow-up flags and priority of one answer."""
    scale = doc["scales"][kind]
    sentiment_cfg = doc.get("sentiment") or {}
    text = (comment or "").strip()
    value = compound(text, sentiment_cfg.get("lexicon")) if text else None
    result = Analysis(
        sentiment=value,
        label=label(value, sentiment_cfg) if value is not None else None,
        topics=topics(text, doc.get("topics") or {}) if text else [],
        detractor=is_detractor(kind, score, scale),
        promoter=is_promoter(kind, score, scale),
    )
    result.strongly_negative = value is not None and value <= sentiment_cfg.get(
        "strongly_negative", -0.5
    )
    rules = doc.get("priority") or {}
    if account_mrr >= rules.get("high_impact_mrr", 2000) or account_segment in rules.get(
        "high_impact_segments", []
    ):
        result.impact = "high"
    elif account_mrr >= rules.get("medium_impact_mrr", 300):
        result.impact = "medium"
    worst = position(score, scale) <= 0.2
    if (result.detractor and (result.strongly_negative or worst)) or (
        result.strongly_negative and "reliability" in result.topics
    ):
        result.urgency = "high"
    elif result.detractor or result.strongly_negative or result.label == "negative":
        result.urgency = "medium"
    result.priority = MATRIX.get((result.impact, result.urgency), "P4")
    return result
