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


# the built-in predicates register themselves (after everything they import is defined)
from hub.playbooks import condition_types  # noqa: E402, F401
