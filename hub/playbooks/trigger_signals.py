"""Triggers on what the hub measures (registered on import by ``hub.playbooks.triggers``):
health tier, churn-risk segment and score crossings (from the score history), a metric
against the account's own baseline, a key feature left unused, an NPS answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.playbooks.conditions import (
    compare,
    metric_needs,
    names,
    numeric,
    parse_metric_window,
    positive_int,
)
from hub.playbooks.durations import parse_duration
from hub.playbooks.facts import AccountFacts, MetricWindow, Needs
from hub.playbooks.triggers import Firing, TriggerType, params_mapping, register


# -- scores: tier, churn segment, score crossing --------------------------------------------
def _parse_transition(value: Any):
    p = params_mapping(value, {"entered", "left", "is", "within"})
    modes = [m for m in ("entered", "left", "is") if m in p]
    if len(modes) != 1:
        raise ValueError("give exactly one of entered, left, is")
    return modes[0], names(p[modes[0]]), parse_duration(p.get("within", "7d"))


def _fire_transition(which: str):
    def fire(f: AccountFacts, params, now: datetime) -> Firing | None:
        mode, wanted, within = params
        history = f.health if which == "tier" else f.churn
        if not history:
            return None
        latest = history[0]
        previous = history[1].label if len(history) > 1 else None
        if mode == "is":
            if latest.label in wanted:
                return Firing(None, {which: latest.label})
            return None
        if latest.at <= now - within:
            return None
        if mode == "entered" and latest.label in wanted and previous not in wanted:
            return Firing(f"{which}:{latest.id}", {which: latest.label, "from": previous})
        if (
            mode == "left"
            and previous is not None
            and previous in wanted
            and latest.label not in wanted
        ):
            return Firing(f"{which}:{latest.id}", {which: latest.label, "from": previous})
        return None

    return fire


register(
    TriggerType(
        "tier",
        "the health tier entered / left / is one of these",
        _parse_transition,
        _fire_transition("tier"),
    )
)
register(
    TriggerType(
        "churn_segment",
        "the churn-risk segment entered / left / is one of these",
        _parse_transition,
        _fire_transition("churn_segment"),
    )
)


def _parse_score(value: Any):
    p = params_mapping(value, {"below", "above", "within"})
    modes = [m for m in ("below", "above") if m in p]
    if len(modes) != 1:
        raise ValueError("give exactly one of below, above")
    threshold = p[modes[0]]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ValueError(f"{modes[0]} needs a number")
    return modes[0], float(threshold), parse_duration(p.get("within", "7d"))


def _fire_score(f: AccountFacts, params, now: datetime) -> Firing | None:
    mode, threshold, within = params
    if not f.health or f.health[0].at <= now - within:
        return None
    latest = f.health[0]
    previous = f.health[1].value if len(f.health) > 1 else None
    crossed_below = latest.value < threshold and (previous is None or previous >= threshold)
    crossed_above = latest.value > threshold and (previous is None or previous <= threshold)
    if (mode == "below" and crossed_below) or (mode == "above" and crossed_above):
        return Firing(f"score:{latest.id}", {"score": latest.value, "from": previous})
    return None


register(TriggerType("score", "the health score crossed a threshold", _parse_score, _fire_score))


# -- metric decline against the account's own baseline ---------------------------------------
@dataclass(frozen=True)
class DeclineParams:
    windows: dict[str, MetricWindow]  # segment ("*" for all) -> window
    pct: float
    direction: str


def _parse_decline(value: Any) -> DeclineParams:
    p = params_mapping(
        value, {"metric", "recent_days", "baseline_days", "pct", "direction"}, {"metric"}
    )
    direction = p.pop("direction", "down")
    if direction not in ("down", "up"):
        raise ValueError("direction is down (lower is worse) or up (higher is worse)")
    metric = p.pop("metric")
    per_segment = metric if isinstance(metric, dict) else {"*": metric}
    windows, pct = {}, 0.0
    for segment, name in per_segment.items():
        window, pct = parse_metric_window({"metric": name, **p})
        windows[str(segment)] = window
    return DeclineParams(windows, pct, direction)


def _fire_decline(f: AccountFacts, params: DeclineParams, now: datetime) -> Firing | None:
    window = params.windows.get(f.segment) or params.windows.get("*")
    if window is None:
        return None
    stats = f.metrics.get(window)
    if stats is None or not stats.baseline or stats.recent_days < window.recent_days:
        return None
    if params.direction == "down":
        threshold = stats.baseline * (1 - params.pct / 100)
        fired = stats.recent_max is not None and stats.recent_max < threshold
    else:
        threshold = stats.baseline * (1 + params.pct / 100)
        fired = stats.recent_min is not None and stats.recent_min > threshold
    if not fired:
        return None
    return Firing(
        None,
        {
            "metric": window.metric,
            "baseline": round(stats.baseline, 4),
            "recent_mean": round(stats.recent_mean or 0, 4),
            "change": round(stats.change() or 0, 4),
        },
    )


def _decline_needs(params: DeclineParams) -> Needs:
    needs = Needs()
    for window in params.windows.values():
        needs.merge(metric_needs(window))
    return needs


register(
    TriggerType(
        "metric_decline",
        "a metric stayed below (or above) the account's own baseline for every recent day",
        _parse_decline,
        _fire_decline,
        _decline_needs,
    )
)


# -- key feature unused ----------------------------------------------------------------------
def _parse_unused(value: Any):
    p = params_mapping(value, {"features", "days"}, {"features"})
    features = p["features"]
    per_segment = features if isinstance(features, dict) else {"*": features}
    parsed = {str(seg): names(v) for seg, v in per_segment.items()}
    return parsed, positive_int(p.get("days", 14))


def _fire_unused(f: AccountFacts, params, now: datetime) -> Firing | None:
    per_segment, days = params
    features = per_segment.get(f.segment) or per_segment.get("*")
    age = f.days_since_signup(now)
    if not features or age is None or age < days:
        return None
    since = now - timedelta(days=days)
    unused = [k for k in features if not ((at := f.features.get(k)) and since < at <= now)]
    if not unused:
        return None
    return Firing(None, {"unused_features": unused, "days": days})


register(
    TriggerType(
        "feature_unused",
        "a key feature (per segment) was not used for N days",
        _parse_unused,
        _fire_unused,
        lambda params: Needs(feature_days=params[1]),
    )
)


# -- NPS -------------------------------------------------------------------------------------
def _parse_nps(value: Any):
    p = params_mapping(value, {"score", "within"}, {"score"})
    return numeric(p["score"]), parse_duration(p.get("within", "2d"))


def _fire_nps(f: AccountFacts, params, now: datetime) -> Firing | None:
    ops, within = params
    for answer in f.nps:  # newest first
        if now - within < answer.at <= now and compare(answer.score, ops):
            return Firing(
                f"nps:{answer.id}", {"nps": answer.score, "contact_id": answer.contact_id}
            )
    return None


register(
    TriggerType(
        "nps_answer",
        "an NPS answer matching the score comparison arrived",
        _parse_nps,
        _fire_nps,
        lambda params: Needs(nps_days=max(1, params[1].days + 1)),
    )
)
