"""Feature names in words a CS rep understands (for churn reasons)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

# feature -> (sentence with {value}, how a typical value is written)
WORDS: dict[str, tuple[str, str]] = {
    "active_days_7": ("active on {value:.0f} of the last 7 days", "{value:.0f}"),
    "active_days_30": ("active on {value:.0f} of the last 30 days", "{value:.0f}"),
    "active_rate_30": ("active on {value:.0%} of recent days", "{value:.0%}"),
    "days_since_active": ("last active {value:.0f} days ago", "{value:.0f}"),
    "sessions_7": ("{value:.0f} sessions in the last 7 days", "{value:.0f}"),
    "sessions_30": ("{value:.0f} sessions in the last 30 days", "{value:.0f}"),
    "usage_trend": ("usage {value:+.0%} this week against the 4 weeks before", "{value:+.0%}"),
    "feature_adoption": ("uses {value:.0%} of the key features", "{value:.0%}"),
    "milestones_done": ("reached {value:.0%} of the onboarding milestones", "{value:.0%}"),
    "in_app_actions_30": ("{value:.0f} in-app actions in the last 30 days", "{value:.0f}"),
    "email_opens_30": ("opened {value:.0f} emails in the last 30 days", "{value:.0f}"),
    "email_clicks_30": ("clicked {value:.0f} emails in the last 30 days", "{value:.0f}"),
    "tickets_30": ("{value:.0f} support tickets in the last 30 days", "{value:.0f}"),
    "hashrate_ratio": ("hashrate at {value:.0%} of nominal", "{value:.0%}"),
    "hashrate_trend": ("hashrate {value:+.1%} against the month before", "{value:+.1%}"),
    "efficiency_j_th": ("rigs use {value:.1f} J per TH", "{value:.1f}"),
    "uptime_pct": ("rigs up {value:.1f}% of the time", "{value:.1f}%"),
    "rejected_share_pct": ("{value:.1f}% of shares rejected", "{value:.1f}%"),
    "yield_vs_target": ("yield {value:+.1f} points against target", "{value:+.1f}"),
    "pnl_return_30d_pct": (
        "realised PnL {value:+.2f}% of the portfolio in 30 days",
        "{value:+.2f}%",
    ),
    "portfolio_value_change": (
        "portfolio value {value:+.0%} against the month before",
        "{value:+.0%}",
    ),
    "nps_latest": ("last NPS answer {value:.0f} out of 10", "{value:.0f}"),
    "nps_age_days": ("last NPS answer {value:.0f} days ago", "{value:.0f}"),
    "csat_latest": ("last CSAT answer {value:.0f} out of 5", "{value:.0f}"),
    "sentiment": ("feedback tone {value:+.2f} (-1 to +1)", "{value:+.2f}"),
    "tenure_days": ("customer for {value:.0f} days", "{value:.0f}"),
    "mrr": ("pays {value:,.0f} a month", "{value:,.0f}"),
    "mrr_change_90d": ("monthly revenue {value:+.0%} over 90 days", "{value:+.0%}"),
    "days_to_renewal": ("renewal in {value:.0f} days", "{value:.0f}"),
}


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def describe_reason(
    feature: str, value: Any, typical: Any, words: Mapping[str, tuple[str, str]] = WORDS
) -> str:
    """A reason in words: 'Active on 3 of the last 30 days (typical: 18)', or for a feature
    without words 'Contract is Month-to-month (typical: Two year)'."""
    missing = value is None or (isinstance(value, float) and np.isnan(value))
    if feature in words and not missing and not isinstance(value, str):
        sentence, short = words[feature]
        text = sentence.format(value=float(value))
        typical_text = (
            short.format(value=float(typical))
            if isinstance(typical, int | float) and np.isfinite(typical)
            else str(typical)
        )
    else:
        name = feature.replace("_", " ")
        shown = (
            "missing"
            if missing
            else (_number(value) if isinstance(value, int | float) else str(value))
        )
        text = f"{name} is {shown}"
        typical_text = _number(typical) if isinstance(typical, int | float) else str(typical)
    return f"{text[:1].upper()}{text[1:]} (typical: {typical_text})"
