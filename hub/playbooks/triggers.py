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
    names,
)
from hub.playbooks.durations import parse_duration
from hub.playbooks.facts import AccountFacts, Needs


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


def params_mapping(
    value: Any, allowed: set[str], required: set[str] = frozenset()
) -> dict[str, Any]:
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


def non_negative(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a whole number of at least 0")
    return value


# -- journey day -----------------------------------------------------------------------------
def _parse_journey(value: Any) -> tuple[int, int]:
    p = params_mapping(value, {"min_day", "max_day"})
    lo = non_negative(p.get("min_day", 0), "min_day")
    hi = non_negative(p.get("max_day", 14), "max_day")
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
    p = params_mapping(value, {"name", "within"}, {"name"})
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
    p = params_mapping(value, {"within", "events"})
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
    p = params_mapping(value, {"milestone", "within"}, {"milestone"})
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
    p = params_mapping(value, {"milestone", "by_day", "until_day"}, {"milestone", "by_day"})
    by_day = non_negative(p["by_day"], "by_day")
    until = non_negative(p.get("until_day", by_day + 14), "until_day")
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


# -- renewal, churn, cohort, manual ----------------------------------------------------------
def _parse_renewal(value: Any) -> int:
    p = params_mapping(value, {"days_before"}, {"days_before"})
    return non_negative(p["days_before"], "days_before")


def _fire_renewal(f: AccountFacts, days_before: int, now: datetime) -> Firing | None:
    left = f.days_to_renewal(now)
    if left is None or not 0 <= left <= days_before or f.status == "churned":
        return None
    return Firing(f"renewal:{f.renewal_date.isoformat()}", {"days_to_renewal": left})


register(TriggerType("renewal", "N days before renewal", _parse_renewal, _fire_renewal))


def _parse_churned(value: Any) -> tuple[int, int]:
    p = params_mapping(value, {"min_days", "max_days"}, {"max_days"})
    lo, hi = non_negative(p.get("min_days", 0), "min_days"), non_negative(p["max_days"], "max")
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
    p = params_mapping(value, {"cohort"}, {"cohort"})
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
        lambda value: params_mapping(value, set()),
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


# the score, metric, feature and NPS triggers register themselves
from hub.playbooks import trigger_signals  # noqa: E402, F401
