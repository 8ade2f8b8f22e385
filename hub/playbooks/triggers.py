"""Triggers: what enrols an account in a playbook. A playbook's ``trigger`` is a mapping with
exactly one registered trigger name and its parameters:

    trigger:
      metric_decline: {metric: usage, recent_days: 3, baseline_days: 28, pct: 30}

A ``TriggerType`` parses its parameters (ValueError with a readable message), declares the
facts it needs, and ``fire(facts, params, now)`` answers a ``Firing`` or None. A firing's
``ref`` names the thing that fired (an event, a score row, a churn date): the same ref never
enrols an account twice in one playbook. State triggers (a decline, an unused feature) answer
no ref and rely on the re-entry guard. Another capability adds triggers with ``register``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hub.playbooks.conditions import (
    compare,
    comparison,
    metric_needs,
    names,
    numeric,
    parse_metric_window,
    positive_int,
)
from hub.playbooks.durations import parse_duration
from hub.playbooks.facts import AccountFacts, MetricWindow, Needs


@dataclass(frozen=True)
class Firing:
    ref: str | None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TriggerType:
    name: str
    doc: str
    parse: Callable[[Any], Any]
    fire: Callable[[AccountFacts, Any, datetime], Firing | None]
    needs: Callable[[Any], Needs] = lambda _params: Needs()


TRIGGERS: dict[str, TriggerType] = {}


def register(kind: TriggerType) -> TriggerType:
    TRIGGERS[kind.name] = kind
    return kind


def _mapping(value: Any, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ValueError("expected a mapping of parameters")
    unknown = set(value) - allowed
    if unknown:
        raise ValueError(f"unknown parameter(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    missing = required - set(value)
    if missing:
        raise ValueError(f"missing parameter(s) {sorted(missing)}")
    return dict(value)


def _non_negative(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a whole number of at least 0")
    return value


# -- journey day -----------------------------------------------------------------------------
def _parse_journey(value: Any) -> tuple[int, int]:
    p = _mapping(value, {"min_day", "max_day"})
    lo = _non_negative(p.get("min_day", 0), "min_day")
    hi = _non_negative(p.get("max_day", 14), "max_day")
    if hi < lo:
        raise ValueError("max_day must not be before min_day")
    return lo, hi


def _fire_journey(f: AccountFacts, params, now: datetime) -> Firing | None:
    day = f.days_since_signup(now)
    if day is None or not params[0] <= day <= params[1]:
        return None
    return Firing(f"signup:{f.signup_date.isoformat()}", {"journey_day": day})


register(
    TriggerType(
        "journey_day",
        "time since signup: enrol accounts between min_day and max_day days after signup",
        _parse_journey,
        _fire_journey,
    )
)


# -- events ----------------------------------------------------------------------------------
def _parse_event(value: Any) -> tuple[tuple[str, ...], timedelta]:
    p = _mapping(value, {"name", "within"}, {"name"})
    return names(p["name"]), parse_duration(p.get("within", "1d"))


def _fire_event(f: AccountFacts, params, now: datetime) -> Firing | None:
    keys, within = params
    best = None
    for key in keys:
        at = f.events.get(key)
        if at is not None and now - within < at <= now and (best is None or at > best[1]):
            best = (key, at)
    if best is None:
        return None
    return Firing(f"event:{best[0]}:{best[1].isoformat()}", {"event": best[0], "at": best[1]})


def _event_needs(params) -> Needs:
    needs = Needs()
    for key in params[0]:
        needs.event(key, params[1])
    return needs


register(
    TriggerType(
        "event", "an event happened (within the look-back)", _parse_event, _fire_event, _event_needs
    )
)

PAYMENT_FAILED_EVENTS = ("invoice.payment_failed",)


def _parse_payment(value: Any):
    p = _mapping(value, {"within", "events"})
    return names(p.get("events", list(PAYMENT_FAILED_EVENTS))), parse_duration(
        p.get("within", "2d")
    )


register(
    TriggerType(
        "payment_failed",
        "a Stripe payment failed (Event invoice.payment_failed from the Stripe ingest)",
        _parse_payment,
        _fire_event,
        _event_needs,
    )
)


# -- milestones ------------------------------------------------------------------------------
def _parse_reached(value: Any):
    p = _mapping(value, {"milestone", "within"}, {"milestone"})
    return names(p["milestone"]), parse_duration(p.get("within", "2d"))


def _fire_reached(f: AccountFacts, params, now: datetime) -> Firing | None:
    keys, within = params
    for key in keys:
        at = f.milestones.get(key)
        if at is not None and now - within < at <= now:
            return Firing(f"milestone:{key}", {"milestone": key, "at": at})
    return None


register(
    TriggerType("milestone_reached", "a milestone was just reached", _parse_reached, _fire_reached)
)


def _parse_missed(value: Any):
    p = _mapping(value, {"milestone", "by_day", "until_day"}, {"milestone", "by_day"})
    by_day = _non_negative(p["by_day"], "by_day")
    until = _non_negative(p.get("until_day", by_day + 14), "until_day")
    if until < by_day:
        raise ValueError("until_day must not be before by_day")
    return names(p["milestone"]), by_day, until


def _fire_missed(f: AccountFacts, params, now: datetime) -> Firing | None:
    keys, by_day, until = params
    day = f.days_since_signup(now)
    if day is None or not by_day <= day <= until:
        return None
    missing = [k for k in keys if not (f.milestones.get(k) and f.milestones[k] <= now)]
    if not missing:
        return None
    return Firing(f"missed:{','.join(missing)}", {"missed": missing, "journey_day": day})


register(
    TriggerType(
        "milestone_missed",
        "a milestone was not reached by a journey day",
        _parse_missed,
        _fire_missed,
    )
)


# -- scores: tier, churn segment, score crossing --------------------------------------------
def _parse_transition(value: Any):
    p = _mapping(value, {"entered", "left", "is", "within"})
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
    p = _mapping(value, {"below", "above", "within"})
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
    p = _mapping(value, {"metric", "recent_days", "baseline_days", "pct", "direction"}, {"metric"})
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
    p = _mapping(value, {"features", "days"}, {"features"})
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
    p = _mapping(value, {"score", "within"}, {"score"})
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


# -- renewal, churn, cohort, manual ----------------------------------------------------------
def _parse_renewal(value: Any) -> int:
    p = _mapping(value, {"days_before"}, {"days_before"})
    return _non_negative(p["days_before"], "days_before")


def _fire_renewal(f: AccountFacts, days_before: int, now: datetime) -> Firing | None:
    left = f.days_to_renewal(now)
    if left is None or not 0 <= left <= days_before or f.status == "churned":
        return None
    return Firing(f"renewal:{f.renewal_date.isoformat()}", {"days_to_renewal": left})


register(TriggerType("renewal", "N days before renewal", _parse_renewal, _fire_renewal))


def _parse_churned(value: Any) -> tuple[int, int]:
    p = _mapping(value, {"min_days", "max_days"}, {"max_days"})
    lo, hi = _non_negative(p.get("min_days", 0), "min_days"), _non_negative(p["max_days"], "max")
    if hi < lo:
        raise ValueError("max_days must not be before min_days")
    return lo, hi


def _fire_churned(f: AccountFacts, params, now: datetime) -> Firing | None:
    if f.churned_at is None or f.churned_at > now or f.status not in ("churned", "canceled"):
        return None
    days = (now - f.churned_at).days
    if not params[0] <= days <= params[1]:
        return None
    return Firing(f"churned:{f.churned_at.date().isoformat()}", {"days_since_churn": days})


register(
    TriggerType(
        "churned", "the account churned between N and M days ago", _parse_churned, _fire_churned
    )
)


def _parse_cohort(value: Any):
    p = _mapping(value, {"cohort"}, {"cohort"})
    return names(p["cohort"])


def _fire_cohort(f: AccountFacts, cohorts, now: datetime) -> Firing | None:
    found = sorted(f.cohort_members() & set(cohorts))
    if not found:
        return None
    return Firing(f"cohort:{found[0]}", {"cohort": found[0]})


register(
    TriggerType(
        "cohort_entered", "the account or a contact is in the cohort", _parse_cohort, _fire_cohort
    )
)


def _parse_attribute(value: Any):
    if not isinstance(value, dict) or not value:
        raise ValueError("expected {attribute: value or {operator: value}}")
    return {str(k): comparison(v) for k, v in value.items()}


register(
    TriggerType(
        "attribute",
        "account attributes compare so (state)",
        _parse_attribute,
        lambda f, spec, now: (
            Firing(None)
            if all(compare((f.attributes or {}).get(k), ops) for k, ops in spec.items())
            else None
        ),
    )
)

register(
    TriggerType(
        "manual",
        "never fires by itself: enrolment by another playbook's enrol step or the API",
        lambda value: _mapping(value, set()),
        lambda f, params, now: None,
    )
)


def parse_trigger(spec: Any) -> tuple[TriggerType, Any]:
    """(type, parsed params) from ``{name: params}``; ValueError when invalid."""
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ValueError(f"a trigger is one of: {', '.join(sorted(TRIGGERS))}, with parameters")
    ((name, value),) = spec.items()
    if name not in TRIGGERS:
        raise ValueError(f"unknown trigger {name!r}; known: {', '.join(sorted(TRIGGERS))}")
    return TRIGGERS[name], TRIGGERS[name].parse(value)
