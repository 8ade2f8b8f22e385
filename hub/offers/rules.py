"""The signals an offer rule can fire on: each reads account facts and returns evidence.

A signal returns ``None`` (no offer) or a dict of evidence, which is stored on the offer and
is available to the rule's message template.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.offers.facts import AccountFacts, roi_ratio

Evidence = dict[str, Any] | None


@dataclass(frozen=True)
class Signal:
    required: frozenset[str]
    evaluate: Callable[[AccountFacts, dict[str, Any], dict[str, Any]], Evidence]


SIGNALS: dict[str, Signal] = {}


def signal(name: str, *required: str):
    def wrap(func):
        SIGNALS[name] = Signal(frozenset(required), func)
        return func

    return wrap


def _limit(facts: AccountFacts, doc: dict[str, Any], attribute: str, key: str) -> float | None:
    own = facts.attributes.get(attribute)
    if own is not None:
        try:
            return float(own)
        except (TypeError, ValueError):
            return None
    plan = (doc.get("plan_limits") or {}).get(facts.account.plan or "", {})
    return plan.get(key)


@signal("storage_usage", "threshold")
def storage_usage(facts: AccountFacts, p: dict[str, Any], doc: dict[str, Any]) -> Evidence:
    metric = (doc.get("metrics") or {}).get("storage_used", "storage_used_gb")
    used = facts.metric_latest(metric, 7)
    limit = _limit(facts, doc, "storage_limit_gb", "storage_gb")
    if used is None or not limit:
        return None
    ratio = used / limit
    if ratio < float(p["threshold"]):
        return None
    return {"used_gb": round(used, 1), "limit_gb": limit, "percent": round(100 * ratio)}


@signal("api_usage", "threshold")
def api_usage(facts: AccountFacts, p: dict[str, Any], doc: dict[str, Any]) -> Evidence:
    metric = (doc.get("metrics") or {}).get("api_calls", "api_calls")
    calls = facts.metric_latest(metric, 2)
    limit = _limit(facts, doc, "api_calls_per_day", "api_calls_per_day")
    if calls is None or not limit:
        return None
    ratio = calls / limit
    if ratio < float(p["threshold"]):
        return None
    return {"calls": round(calls), "limit": limit, "percent": round(100 * ratio)}


@signal("optimisation_plateau", "days", "min_runs", "max_improvement")
def optimisation_plateau(facts: AccountFacts, p: dict[str, Any], doc: dict[str, Any]) -> Evidence:
    days = float(p["days"])
    runs = facts.event_count("optimization_run", days)
    if runs < int(p["min_runs"]):
        return None
    metric = (doc.get("metrics") or {}).get("efficiency", "efficiency_j_th")
    recent = facts.metric_mean(metric, days)
    before = facts.metric_mean(metric, 2 * days, days)
    if recent is None or before is None or before <= 0:
        return None
    improvement = (before - recent) / before  # lower J/TH is better
    if improvement > float(p["max_improvement"]):
        return None
    return {"runs": runs, "improvement_percent": round(100 * improvement, 1)}


@signal("roi_ratio", "min_ratio")
def roi_exceeded(facts: AccountFacts, p: dict[str, Any], doc: dict[str, Any]) -> Evidence:
    ratio = roi_ratio(facts, doc.get("roi") or {}, float(p.get("days", 30)))
    if ratio is None or ratio < float(p["min_ratio"]):
        return None
    return {"roi_ratio": round(ratio, 3), "over_percent": round(100 * (ratio - 1))}


@signal("efficiency_gain", "min_gain")
def efficiency_gain(facts: AccountFacts, p: dict[str, Any], doc: dict[str, Any]) -> Evidence:
    metric = (doc.get("metrics") or {}).get("efficiency", "efficiency_j_th")
    baseline_days = float(p.get("baseline_days", 14))
    recent_days = float(p.get("recent_days", 14))
    baseline = facts.metric_first_days_mean(metric, baseline_days)
    # the baseline must lie wholly before the recent window, or there is no gain to measure
    history = facts.metric_mean(metric, 10_000, baseline_days + recent_days)
    recent = facts.metric_mean(metric, recent_days)
    if baseline is None or history is None or recent is None or baseline <= 0:
        return None
    gain = (baseline - recent) / baseline
    if gain < float(p["min_gain"]):
        return None
    return {"gain_percent": round(100 * gain), "baseline": round(baseline, 2)}


@signal("renewal_approaching", "days_before")
def renewal_approaching(facts: AccountFacts, p: dict[str, Any], doc: dict[str, Any]) -> Evidence:
    renewal = facts.account.renewal_date
    if renewal is None or facts.attributes.get("billing_interval") == "year":
        return None
    days_left = (renewal - facts.now.date()).days
    if not 0 < days_left <= int(p["days_before"]):
        return None
    return {
        "renewal_date": renewal.isoformat(),
        "days_left": days_left,
        "discount": p.get("discount_pct", 0),
    }


@signal("good_usage", "tenure_days", "min_active_ratio")
def good_usage(facts: AccountFacts, p: dict[str, Any], doc: dict[str, Any]) -> Evidence:
    tenure = facts.tenure_days
    if tenure is None or tenure < int(p["tenure_days"]):
        return None
    if facts.account.plan in set(doc.get("premium_plans") or []):
        return None
    days = min(float(p.get("days", p["tenure_days"])), float(tenure))
    ratio = facts.active_days(days) / days if days else 0.0
    if ratio < float(p["min_active_ratio"]):
        return None
    health = facts.health
    if health is not None and health < float(p.get("min_health", 0)):
        return None
    return {
        "active_ratio": round(ratio, 2),
        "health": health,
        "trial_days": p.get("trial_days", 14),
        "tenure_days": tenure,
    }


@signal("product_missing", "product")
def product_missing(facts: AccountFacts, p: dict[str, Any], doc: dict[str, Any]) -> Evidence:
    if p["product"] in facts.products:
        return None
    tenure = facts.tenure_days
    if tenure is None or tenure < int(p.get("min_tenure_days", 0)):
        return None
    return {"product": p["product"], "tenure_days": tenure}


@signal("repeated_tickets", "tickets", "days")
def repeated_tickets(facts: AccountFacts, p: dict[str, Any], doc: dict[str, Any]) -> Evidence:
    count = facts.event_count("support_ticket_created", float(p["days"]))
    if count < int(p["tickets"]):
        return None
    return {"tickets": count}


@signal("heavy_api_use", "calls_per_day", "days")
def heavy_api_use(facts: AccountFacts, p: dict[str, Any], doc: dict[str, Any]) -> Evidence:
    metric = (doc.get("metrics") or {}).get("api_calls", "api_calls")
    mean = facts.metric_mean(metric, float(p["days"]))
    if mean is None or mean < float(p["calls_per_day"]):
        return None
    return {"calls": round(mean)}


@signal("team_growth", "new_active_users", "days")
def team_growth(facts: AccountFacts, p: dict[str, Any], doc: dict[str, Any]) -> Evidence:
    days = float(p["days"])
    recent = facts.active_contacts(days, 0)
    before = facts.active_contacts(2 * days, days)
    if recent - before < int(p["new_active_users"]):
        return None
    return {"new_users": recent - before, "active_users": recent}
