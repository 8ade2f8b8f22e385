"""Conditions: a YAML mapping of predicates that must all hold, with ``all``/``any``/``not``.

    audience:
      segment: [individual_miner, mining_farm]
      lifecycle_stage: onboarding
      milestone_missing: hardware_connection_complete
      any:
        - tier: [at_risk, critical]
        - churn_probability: {gte: 0.4}

Each predicate is a registered ``ConditionType`` (parse the YAML value, build a function of
``AccountFacts`` and ``EvalContext``, declare what facts it needs). Another capability adds
its own with ``register(ConditionType(...))``. Comparisons take a scalar (equality) or a
mapping of operators ``gt gte lt lte eq ne in not_in``; a missing fact never matches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hub.playbooks.facts import (
    USAGE,
    USAGE_EVENTS,
    AccountFacts,
    EvalContext,
    MetricWindow,
    Needs,
)

Predicate = Callable[[AccountFacts, EvalContext], bool]


class ConditionError(ValueError):
    """Invalid condition YAML; ``errors`` is nested like marshmallow's messages."""

    def __init__(self, errors: dict[str, Any] | list[Any]):
        super().__init__(str(errors))
        self.errors = errors


@dataclass(frozen=True)
class ConditionType:
    name: str
    doc: str
    parse: Callable[[Any], Any]
    build: Callable[[Any], Predicate]
    needs: Callable[[Any], Needs] | None = None


CONDITIONS: dict[str, ConditionType] = {}
COMBINATORS = ("all", "any", "not")


def register(kind: ConditionType) -> ConditionType:
    if kind.name in COMBINATORS:
        raise ValueError(f"{kind.name} is reserved")
    CONDITIONS[kind.name] = kind
    return kind


# -- value parsers ---------------------------------------------------------------------------
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
}


def names(value: Any) -> tuple[str, ...]:
    """A string or a non-empty list of strings."""
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ValueError("expected a name or a list of names")


def comparison(value: Any) -> dict[str, Any]:
    """A scalar (equality) or {op: value} with the operators in OPS."""
    if isinstance(value, dict):
        if not value:
            raise ValueError("expected at least one operator")
        unknown = set(value) - set(OPS)
        if unknown:
            raise ValueError(f"unknown operator(s) {sorted(unknown)}; use {sorted(OPS)}")
        for op, operand in value.items():
            if op in ("in", "not_in") and not isinstance(operand, list):
                raise ValueError(f"{op} takes a list")
        return dict(value)
    if isinstance(value, str | int | float | bool):
        return {"eq": value}
    raise ValueError("expected a value or a mapping of operators")


def numeric(value: Any) -> dict[str, Any]:
    ops = comparison(value)
    for op, operand in ops.items():
        if op in ("in", "not_in"):
            continue
        if isinstance(operand, bool) or not isinstance(operand, int | float):
            raise ValueError(f"{op} needs a number")
    return ops


def compare(actual: Any, ops: dict[str, Any]) -> bool:
    if actual is None:
        return False
    try:
        return all(OPS[op](actual, operand) for op, operand in ops.items())
    except TypeError:
        return False


def positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("expected a whole number of at least 1")
    return value


# -- registered predicates -------------------------------------------------------------------
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


def parse_metric_window(value: Any, default_recent: int = 3) -> tuple[MetricWindow, float]:
    """{metric, recent_days, baseline_days, pct} -> (window, pct)."""
    if not isinstance(value, dict) or "metric" not in value:
        raise ValueError("expected {metric: <name>, recent_days: n, baseline_days: n, pct: n}")
    metric = value["metric"]
    if not isinstance(metric, str) or not metric:
        raise ValueError("metric must be a metric name (or 'usage')")
    unknown = set(value) - {"metric", "recent_days", "baseline_days", "pct", "direction"}
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)}")
    recent = positive_int(value.get("recent_days", default_recent))
    baseline = positive_int(value.get("baseline_days", 28))
    pct = value.get("pct", 10)
    if isinstance(pct, bool) or not isinstance(pct, int | float) or not 0 <= pct < 100:
        raise ValueError("pct must be a number from 0 to 100")
    return MetricWindow(metric, recent, baseline), float(pct)


def metric_needs(window: MetricWindow) -> Needs:
    needs = Needs(metrics={window})
    if window.metric == USAGE:
        for name in USAGE_EVENTS:
            needs.event(name, timedelta(days=1))
    return needs


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


# -- compile ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    """A compiled condition: call it with facts and a context."""

    predicate: Predicate
    needs: Needs
    source: Any

    def __call__(self, facts: AccountFacts, ctx: EvalContext) -> bool:
        return self.predicate(facts, ctx)


ALWAYS = Condition(lambda _f, _c: True, Needs(), None)


def compile_condition(spec: Any) -> Condition:
    """Compile a condition mapping (None means always true); ConditionError when invalid."""
    if spec is None:
        return ALWAYS
    predicate, needs = _compile(spec)
    return Condition(predicate, needs, spec)


def _compile(spec: Any) -> tuple[Predicate, Needs]:
    if not isinstance(spec, dict) or not spec:
        raise ConditionError(["a condition is a non-empty mapping of predicates"])
    parts: list[Predicate] = []
    needs = Needs()
    errors: dict[str, Any] = {}
    for key, value in spec.items():
        try:
            if key in ("all", "any"):
                if not isinstance(value, list) or not value:
                    raise ConditionError([f"{key} takes a non-empty list of conditions"])
                subs, sub_errors = [], {}
                for i, item in enumerate(value):
                    try:
                        p, n = _compile(item)
                        subs.append(p)
                        needs.merge(n)
                    except ConditionError as exc:
                        sub_errors[i] = exc.errors
                if sub_errors:
                    raise ConditionError(sub_errors)
                combine = all if key == "all" else any
                parts.append(
                    lambda f, c, subs=tuple(subs), combine=combine: combine(s(f, c) for s in subs)
                )
            elif key == "not":
                inner, n = _compile(value)
                needs.merge(n)
                parts.append(lambda f, c, inner=inner: not inner(f, c))
            elif key in CONDITIONS:
                kind = CONDITIONS[key]
                try:
                    parsed = kind.parse(value)
                except ValueError as exc:
                    raise ConditionError([str(exc)]) from exc
                parts.append(kind.build(parsed))
                if kind.needs:
                    needs.merge(kind.needs(parsed))
            else:
                known = ", ".join(sorted([*CONDITIONS, *COMBINATORS]))
                raise ConditionError([f"unknown condition {key!r}; known: {known}"])
        except ConditionError as exc:
            errors[str(key)] = exc.errors
    if errors:
        raise ConditionError(errors)
    if len(parts) == 1:
        return parts[0], needs
    frozen = tuple(parts)
    return (lambda f, c: all(p(f, c) for p in frozen)), needs
