"""The built-in condition predicates (registered on import by ``hub.playbooks.conditions``).

Membership (segment, lifecycle_stage, status, plan, tier, churn_segment, cohort), milestones
(reached, missing, since the enrolment), events (since the enrolment, within N days),
numbers (health_score, churn_probability, mrr, days_since_signup, days_to_renewal,
days_since_churn, nps_latest), account attributes, metric recovery against the account's own
baseline, and feature use.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hub.playbooks.conditions import (
    ConditionType,
    Predicate,
    compare,
    comparison,
    metric_needs,
    names,
    numeric,
    parse_metric_window,
    positive_int,
    register,
)
from hub.playbooks.facts import AccountFacts, EvalContext, MetricWindow, Needs


def _membership(name: str, getter: Callable[[AccountFacts], Any], doc: str) -> None:
    register(
        ConditionType(
            name,
            doc,
            parse=names,
            build=lambda wanted: lambda f, _c: getter(f) in wanted,
        )
    )


_membership("segment", lambda f: f.segment, "the account's segment is one of these")
_membership("lifecycle_stage", lambda f: f.lifecycle_stage, "the lifecycle stage is one of these")
_membership("status", lambda f: f.status, "the account status is one of these")
_membership("plan", lambda f: f.plan, "the plan is one of these")
_membership("tier", lambda f: f.tier, "the latest health tier is one of these")
_membership("churn_segment", lambda f: f.churn_segment, "the latest churn segment is one of these")

register(
    ConditionType(
        "cohort",
        "the account or one of its contacts is in any of these cohorts",
        parse=names,
        build=lambda wanted: lambda f, _c: bool(f.cohort_members() & set(wanted)),
    )
)


def _reached(f: AccountFacts, key: str, ctx: EvalContext) -> bool:
    at = f.milestones.get(key)
    return at is not None and at <= ctx.now


register(
    ConditionType(
        "milestone",
        "every one of these milestones has been reached",
        parse=names,
        build=lambda keys: lambda f, c: all(_reached(f, k, c) for k in keys),
    )
)
register(
    ConditionType(
        "milestone_missing",
        "none of these milestones has been reached",
        parse=names,
        build=lambda keys: lambda f, c: not any(_reached(f, k, c) for k in keys),
    )
)


def _since_enrolment(at, ctx: EvalContext) -> bool:
    start = ctx.step_started_at or ctx.enrolled_at
    return at is not None and at <= ctx.now and (start is None or at >= start)


register(
    ConditionType(
        "milestone_since_enrolment",
        "one of these milestones was reached since the enrolment (or step) started",
        parse=names,
        build=lambda keys: lambda f, c: any(_since_enrolment(f.milestones.get(k), c) for k in keys),
    )
)

SINCE_ENROLMENT_LOOKBACK = timedelta(days=45)


def _event_needs(keys) -> Needs:
    needs = Needs()
    for key in keys:
        needs.event(key, SINCE_ENROLMENT_LOOKBACK)
    return needs


register(
    ConditionType(
        "event_since_enrolment",
        "one of these events happened since the enrolment (or step) started",
        parse=names,
        build=lambda keys: lambda f, c: any(_since_enrolment(f.events.get(k), c) for k in keys),
        needs=_event_needs,
    )
)


def _parse_event_within(value: Any) -> tuple[tuple[str, ...], int]:
    if not isinstance(value, dict) or "name" not in value or "days" not in value:
        raise ValueError("expected {name: <event>, days: <n>}")
    return names(value["name"]), positive_int(value["days"])


def _event_within_needs(value) -> Needs:
    keys, days = value
    needs = Needs()
    for key in keys:
        needs.event(key, timedelta(days=days))
    return needs


register(
    ConditionType(
        "event_within",
        "one of these events happened within the last N days",
        parse=_parse_event_within,
        build=lambda v: (
            lambda f, c: any(
                (at := f.events.get(k)) is not None and c.now - timedelta(days=v[1]) < at <= c.now
                for k in v[0]
            )
        ),
        needs=_event_within_needs,
    )
)


def _numeric(name: str, getter: Callable[[AccountFacts, EvalContext], Any], doc: str) -> None:
    register(
        ConditionType(
            name, doc, parse=numeric, build=lambda ops: lambda f, c: compare(getter(f, c), ops)
        )
    )


_numeric("health_score", lambda f, c: f.health[0].value if f.health else None, "latest score")
_numeric(
    "churn_probability", lambda f, c: f.churn[0].value if f.churn else None, "churn probability"
)
_numeric("mrr", lambda f, c: f.mrr, "monthly recurring revenue")
_numeric("days_since_signup", lambda f, c: f.days_since_signup(c.now), "account age in days")
_numeric("days_to_renewal", lambda f, c: f.days_to_renewal(c.now), "days until renewal")
_numeric(
    "days_since_churn",
    lambda f, c: (c.now - f.churned_at).days if f.churned_at else None,
    "days since the account churned",
)


def _latest_nps(f: AccountFacts, _c) -> float | None:
    return f.nps[0].score if f.nps else None


register(
    ConditionType(
        "nps_latest",
        "the latest NPS answer (within the look-back) compares so",
        parse=numeric,
        build=lambda ops: lambda f, c: compare(_latest_nps(f, c), ops),
        needs=lambda _ops: Needs(nps_days=180),
    )
)


def _parse_attributes(value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict) or not value:
        raise ValueError("expected {attribute_name: value or {operator: value}}")
    return {str(k): comparison(v) for k, v in value.items()}


register(
    ConditionType(
        "attribute",
        "account attributes compare so (e.g. attribute: {region: EU, seats: {gte: 10}})",
        parse=_parse_attributes,
        build=lambda spec: (
            lambda f, c: all(compare((f.attributes or {}).get(k), ops) for k, ops in spec.items())
        ),
    )
)


def parse_metric_choice(value: Any) -> tuple[dict[str, MetricWindow], float]:
    """Like ``parse_metric_window`` but ``metric`` may map segments ("*" = any) to metrics."""
    if isinstance(value, dict) and isinstance(value.get("metric"), dict):
        rest = {k: v for k, v in value.items() if k != "metric"}
        windows, pct = {}, 0.0
        if not value["metric"]:
            raise ValueError("metric: give at least one segment")
        for segment, name in value["metric"].items():
            window, pct = parse_metric_window({"metric": name, **rest})
            windows[str(segment)] = window
        return windows, pct
    window, pct = parse_metric_window(value)
    return {"*": window}, pct


def _recovered(value) -> Predicate:
    windows, pct = value

    def check(f: AccountFacts, _c: EvalContext) -> bool:
        window = windows.get(f.segment) or windows.get("*")
        stats = f.metrics.get(window) if window else None
        if stats is None or stats.baseline is None or stats.recent_mean is None:
            return False
        return stats.recent_mean >= stats.baseline * (1 - pct / 100)

    return check


def _recovered_needs(value) -> Needs:
    needs = Needs()
    for window in value[0].values():
        needs.merge(metric_needs(window))
    return needs


register(
    ConditionType(
        "metric_recovered",
        "the metric's recent mean is back within pct% of the account's own baseline",
        parse=parse_metric_choice,
        build=_recovered,
        needs=_recovered_needs,
    )
)


def _trigger_features_used(value: Any) -> bool:
    if value is not True:
        raise ValueError("write trigger_features_used: true")
    return True


def _features_since(f: AccountFacts, c: EvalContext) -> bool:
    wanted = (c.trigger or {}).get("unused_features") or []
    start = c.enrolled_at
    return bool(wanted) and all(
        (at := f.features.get(k)) is not None and (start is None or at >= start) and at <= c.now
        for k in wanted
    )


register(
    ConditionType(
        "trigger_features_used",
        "every feature the feature_unused trigger named has been used since the enrolment",
        parse=_trigger_features_used,
        build=lambda _v: _features_since,
        needs=lambda _v: Needs(feature_days=45),
    )
)


def _parse_features(value: Any) -> tuple[tuple[str, ...], int]:
    if not isinstance(value, dict) or "features" not in value:
        raise ValueError("expected {features: [..], days: n}")
    return names(value["features"]), positive_int(value.get("days", 14))


register(
    ConditionType(
        "feature_used_within",
        "every one of these features was used within the last N days",
        parse=_parse_features,
        build=lambda v: (
            lambda f, c: all(
                (at := f.features.get(k)) is not None and at > c.now - timedelta(days=v[1])
                for k in v[0]
            )
        ),
        needs=lambda v: Needs(feature_days=v[1]),
    )
)
