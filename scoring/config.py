"""The scoring configuration document: parsed into frozen dataclasses and validated.

The document has three sections: ``features`` (which events and metrics feed which feature),
``health`` (components, indicators, rules, tiers, profiles) and ``churn`` (horizon, risk
segments, training schedule). Defaults ship as YAML in the hub; an admin edits them through
the API. ``parse_config`` returns a ``ScoringConfig`` or raises ``ConfigError`` listing every
problem it found, each with the path of the offending field.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

RULES = ("linear", "threshold", "percentile")
DIRECTIONS = ("higher_is_better", "lower_is_better")
RISK_SEGMENTS = ("high", "medium", "low")


class ConfigError(ValueError):
    """The configuration document is invalid; ``problems`` lists each reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class FeatureConfig:
    """Which raw signals feed which feature."""

    onboarding_days: int = 30
    active_events: tuple[str, ...] = ("session_start",)
    session_events: tuple[str, ...] = ("session_start",)
    feature_event: str = "feature_used"
    feature_property: str = "feature"
    in_app_events: tuple[str, ...] = ("feature_used",)
    email_open_events: tuple[str, ...] = ("email_opened",)
    email_click_events: tuple[str, ...] = ("email_clicked",)
    ticket_events: tuple[str, ...] = ("support_ticket_created",)
    key_features: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    milestones: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    metrics: Mapping[str, str] = field(default_factory=dict)
    nominal_hashrate_attribute: str = "nominal_hashrate_ths"
    target_yield_attribute: str = "target_yield_pct"
    default_target_yield_pct: float = 8.0
    renewal_term_days: int = 365
    sentiment_days: int = 180

    @property
    def milestone_events(self) -> tuple[str, ...]:
        return tuple(sorted({m for names in self.milestones.values() for m in names}))


@dataclass(frozen=True)
class Indicator:
    """One scored input of a component: a feature, a rule and a weight."""

    name: str
    component: str
    weight: float
    rule: str
    direction: str = "higher_is_better"
    low: float | None = None
    high: float | None = None
    steps: tuple[tuple[float, float], ...] = ()
    otherwise: float = 0.0
    segments: tuple[str, ...] | None = None
    label: str = ""
    says: str = "{value}"

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher_is_better"


@dataclass(frozen=True)
class Profile:
    """The weights and indicators used for the accounts that match ``segments``/``lifecycles``."""

    name: str
    components: Mapping[str, float]
    indicators: tuple[Indicator, ...]
    segments: tuple[str, ...] | None = None
    lifecycles: tuple[str, ...] | None = None

    def matches(self, segment: str, lifecycle: str) -> bool:
        return (self.segments is None or segment in self.segments) and (
            self.lifecycles is None or lifecycle in self.lifecycles
        )


@dataclass(frozen=True)
class HealthConfig:
    tiers: tuple[tuple[str, float], ...]  # (name, lower bound), highest first
    component_labels: Mapping[str, str]
    profiles: tuple[Profile, ...]  # the default profile is last

    @property
    def default(self) -> Profile:
        return self.profiles[-1]

    def tier_of(self, score: float) -> str:
        for name, lower in self.tiers:
            if score >= lower:
                return name
        return self.tiers[-1][0]


@dataclass(frozen=True)
class ChurnConfig:
    horizon_days: int = 30
    segments: tuple[tuple[str, float], ...] = (("high", 0.7), ("medium", 0.4), ("low", 0.2))
    below_segments: str = "minimal"
    snapshot_every_days: int = 14
    history_days: int = 180
    validation_snapshots: int = 3
    max_training_accounts: int = 200_000
    promote_min_gain: float = 0.0
    reasons_min_probability: float = 0.2
    seed: int = 7

    def segment_of(self, probability: float) -> str:
        for name, lower in self.segments:
            if probability >= lower:
                return name
        return self.below_segments


@dataclass(frozen=True)
class ScoringConfig:
    features: FeatureConfig
    health: HealthConfig
    churn: ChurnConfig
    document: Mapping[str, Any]


def parse_config(doc: Mapping[str, Any]) -> ScoringConfig:
    """Validate ``doc`` and build the configuration; raise ``ConfigError`` on any problem."""
    problems: list[str] = []
    if not isinstance(doc, Mapping):
        raise ConfigError(["the configuration must be an object"])
    unknown = set(doc) - {"features", "health", "churn"}
    problems += [f"{k}: unknown section" for k in sorted(unknown)]
    features = _features(_section(doc, "features", problems), problems)
    health = _health(_section(doc, "health", problems), problems)
    churn = _churn(_section(doc, "churn", problems), problems)
    if problems:
        raise ConfigError(problems)
    assert features and health and churn
    return ScoringConfig(features=features, health=health, churn=churn, document=doc)


def _section(doc: Mapping[str, Any], name: str, problems: list[str]) -> Mapping[str, Any]:
    value = doc.get(name)
    if not isinstance(value, Mapping):
        problems.append(f"{name}: missing or not an object")
        return {}
    return value


def _number(value: Any, path: str, problems: list[str], lo: float | None = None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.append(f"{path}: must be a finite number")
        return None
    if lo is not None and value < lo:
        problems.append(f"{path}: must be at least {lo}")
        return None
    return float(value)


def _names(value: Any, path: str, problems: list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        problems.append(f"{path}: must be a list of names")
        return ()
    return tuple(value)


def _features(sec: Mapping[str, Any], problems: list[str]) -> FeatureConfig | None:
    if not sec:
        return None
    base = FeatureConfig()
    known = {f for f in FeatureConfig.__dataclass_fields__}
    problems += [f"features.{k}: unknown field" for k in sorted(set(sec) - known)]
    values: dict[str, Any] = {}
    for name in (
        "active_events",
        "session_events",
        "in_app_events",
        "email_open_events",
        "email_click_events",
        "ticket_events",
    ):
        if name in sec:
            values[name] = _names(sec[name], f"features.{name}", problems)
    for name in ("feature_event", "feature_property", "nominal_hashrate_attribute"):
        if name in sec:
            if not isinstance(sec[name], str) or not sec[name]:
                problems.append(f"features.{name}: must be a name")
            else:
                values[name] = sec[name]
    if "target_yield_attribute" in sec:
        values["target_yield_attribute"] = str(sec["target_yield_attribute"])
    for name in ("onboarding_days", "renewal_term_days", "sentiment_days"):
        if name in sec:
            n = _number(sec[name], f"features.{name}", problems, lo=1)
            if n is not None:
                values[name] = int(n)
    if "default_target_yield_pct" in sec:
        n = _number(sec["default_target_yield_pct"], "features.default_target_yield_pct", problems)
        if n is not None:
            values["default_target_yield_pct"] = n
    for name in ("key_features", "milestones"):
        mapping = sec.get(name, {})
        if not isinstance(mapping, Mapping):
            problems.append(f"features.{name}: must map segment to a list of names")
            continue
        values[name] = {
            str(seg): _names(v, f"features.{name}.{seg}", problems) for seg, v in mapping.items()
        }
    metrics = sec.get("metrics", {})
    if not isinstance(metrics, Mapping) or not all(
        isinstance(v, str) and v for v in metrics.values()
    ):
        problems.append("features.metrics: must map a role to a metric name")
    else:
        values["metrics"] = dict(metrics)
    return replace(base, **values)


def _indicator(
    name: str, raw: Mapping[str, Any], path: str, problems: list[str]
) -> Indicator | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{path}: must be an object")
        return None
    known = {f for f in Indicator.__dataclass_fields__} - {"name"}
    problems += [f"{path}.{k}: unknown field" for k in sorted(set(raw) - known)]
    start = len(problems)
    component = raw.get("component")
    if not isinstance(component, str) or not component:
        problems.append(f"{path}.component: required")
    weight = _number(raw.get("weight"), f"{path}.weight", problems, lo=0)
    rule = raw.get("rule")
    if rule not in RULES:
        problems.append(f"{path}.rule: must be one of {', '.join(RULES)}")
    direction = raw.get("direction", "higher_is_better")
    if direction not in DIRECTIONS:
        problems.append(f"{path}.direction: must be one of {', '.join(DIRECTIONS)}")
    low = high = None
    steps: tuple[tuple[float, float], ...] = ()
    if rule == "linear":
        low = _number(raw.get("low"), f"{path}.low", problems)
        high = _number(raw.get("high"), f"{path}.high", problems)
        if low is not None and high is not None and not low < high:
            problems.append(f"{path}: low must be below high")
    elif rule == "threshold":
        steps = _steps(raw.get("steps"), f"{path}.steps", problems)
    otherwise = _number(raw.get("otherwise", 0.0), f"{path}.otherwise", problems, lo=0)
    if otherwise is not None and otherwise > 100:
        problems.append(f"{path}.otherwise: must be at most 100")
    segments = None
    if raw.get("segments") is not None:
        segments = _names(raw["segments"], f"{path}.segments", problems)
    says = raw.get("says", "{value}")
    if not isinstance(says, str) or not _only_value_fields(says):
        problems.append(f"{path}.says: a text whose only placeholder is {{value}} (with a format)")
    if len(problems) > start:
        return None
    return Indicator(
        name=name,
        component=str(component),
        weight=float(weight or 0.0),
        rule=str(rule),
        direction=str(direction),
        low=low,
        high=high,
        steps=steps,
        otherwise=float(otherwise or 0.0),
        segments=segments,
        label=str(raw.get("label") or name.replace("_", " ")),
        says=str(says),
    )


def _steps(raw: Any, path: str, problems: list[str]) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, list | tuple) or not raw:
        problems.append(f"{path}: a non-empty list of [bound, points] pairs")
        return ()
    out: list[tuple[float, float]] = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            problems.append(f"{path}[{i}]: must be [bound, points]")
            return ()
        bound = _number(pair[0], f"{path}[{i}][0]", problems)
        points = _number(pair[1], f"{path}[{i}][1]", problems, lo=0)
        if bound is None or points is None:
            return ()
        if points > 100:
            problems.append(f"{path}[{i}][1]: points must be at most 100")
            return ()
        out.append((bound, points))
    if any(lower >= upper for (lower, _), (upper, _) in pairwise(out)):
        problems.append(f"{path}: bounds must increase")
        return ()
    return tuple(out)


def _only_value_fields(text: str) -> bool:
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError:
        return False
    for _literal, field_name, format_spec, conversion in parts:
        if field_name is None:
            continue
        if field_name != "value" or conversion or "{" in (format_spec or ""):
            return False
        try:
            format(0.5, format_spec or "")
        except ValueError:
            return False
    return True


def _weights(raw: Any, path: str, problems: list[str], names: set[str]) -> dict[str, float]:
    if not isinstance(raw, Mapping) or not raw:
        problems.append(f"{path}: must map component to weight")
        return {}
    weights: dict[str, float] = {}
    for name, value in raw.items():
        if isinstance(value, Mapping):
            value = value.get("weight")
        w = _number(value, f"{path}.{name}", problems, lo=0)
        if names and name not in names:
            problems.append(f"{path}.{name}: unknown component")
        elif w is not None:
            weights[str(name)] = w
    total = sum(weights.values())
    if weights and abs(total - 100.0) > 1e-6:
        problems.append(f"{path}: weights sum to {total:g}, they must sum to 100")
    return weights


def _health(sec: Mapping[str, Any], problems: list[str]) -> HealthConfig | None:
    if not sec:
        return None
    problems += [
        f"health.{k}: unknown field"
        for k in sorted(set(sec) - {"tiers", "components", "indicators", "profiles"})
    ]
    tiers = _tiers(sec.get("tiers"), problems)
    components_raw = sec.get("components")
    weights = _weights(components_raw, "health.components", problems, set())
    labels = {
        name: str(v.get("label") or name) if isinstance(v, Mapping) else name
        for name, v in (components_raw or {}).items()
    }
    indicators_raw = sec.get("indicators")
    if not isinstance(indicators_raw, Mapping) or not indicators_raw:
        problems.append("health.indicators: must map a feature name to its indicator")
        return None
    indicators: dict[str, Indicator] = {}
    for name, raw in indicators_raw.items():
        ind = _indicator(str(name), raw, f"health.indicators.{name}", problems)
        if ind is not None:
            if ind.component not in weights:
                problems.append(f"health.indicators.{name}.component: unknown component")
            indicators[str(name)] = ind
    default = Profile(name="default", components=weights, indicators=tuple(indicators.values()))
    profiles = [
        p
        for i, raw in enumerate(sec.get("profiles") or [])
        if (p := _profile(raw, f"health.profiles[{i}]", default, weights, problems)) is not None
    ]
    names = [p.name for p in profiles]
    if len(set(names)) != len(names) or "default" in names:
        problems.append("health.profiles: names must be unique and not 'default'")
    for profile in [*profiles, default]:
        for comp, w in profile.components.items():
            if w > 0 and not any(i.component == comp and i.weight > 0 for i in profile.indicators):
                problems.append(f"profile {profile.name}: component {comp} has no indicator")
    if not tiers:
        return None
    return HealthConfig(tiers=tiers, component_labels=labels, profiles=(*profiles, default))


def _tiers(raw: Any, problems: list[str]) -> tuple[tuple[str, float], ...]:
    if not isinstance(raw, Mapping) or not raw:
        problems.append("health.tiers: must map tier name to its lower bound")
        return ()
    pairs = []
    for name, value in raw.items():
        bound = _number(value, f"health.tiers.{name}", problems, lo=0)
        if bound is not None:
            if bound > 100:
                problems.append(f"health.tiers.{name}: must be at most 100")
            pairs.append((str(name), bound))
    pairs.sort(key=lambda p: -p[1])
    if pairs and pairs[-1][1] != 0:
        problems.append("health.tiers: the lowest tier must start at 0")
    if len({b for _, b in pairs}) != len(pairs):
        problems.append("health.tiers: two tiers start at the same score")
    return tuple(pairs)


def _profile(
    raw: Any,
    path: str,
    default: Profile,
    weights: dict[str, float],
    problems: list[str],
) -> Profile | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        problems.append(f"{path}: must be an object with a name")
        return None
    problems += [
        f"{path}.{k}: unknown field"
        for k in sorted(set(raw) - {"name", "when", "components", "indicators"})
    ]
    when = raw.get("when") or {}
    if not isinstance(when, Mapping) or set(when) - {"segment", "lifecycle"} or not when:
        problems.append(f"{path}.when: must name a segment and/or lifecycle list")
        return None
    segments = (
        _names(when["segment"], f"{path}.when.segment", problems) if "segment" in when else None
    )
    lifecycles = (
        _names(when["lifecycle"], f"{path}.when.lifecycle", problems)
        if "lifecycle" in when
        else None
    )
    components = dict(weights)
    if "components" in raw:
        components = _weights(raw["components"], f"{path}.components", problems, set(weights))
        components = {**{k: 0.0 for k in weights}, **components}
    by_name = {i.name: i for i in default.indicators}
    overrides = raw.get("indicators") or {}
    if not isinstance(overrides, Mapping):
        problems.append(f"{path}.indicators: must map indicator name to overrides")
        overrides = {}
    for name, patch in overrides.items():
        base = by_name.get(name)
        merged = dict(patch) if isinstance(patch, Mapping) else patch
        if base is not None and isinstance(merged, Mapping):
            merged = {**_as_raw(base), **merged}
        ind = _indicator(str(name), merged, f"{path}.indicators.{name}", problems)
        if ind is not None:
            if ind.component not in weights:
                problems.append(f"{path}.indicators.{name}.component: unknown component")
            by_name[str(name)] = ind
    return Profile(
        name=raw["name"],
        components=components,
        indicators=tuple(by_name.values()),
        segments=segments,
        lifecycles=lifecycles,
    )


def _as_raw(ind: Indicator) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "component": ind.component,
        "weight": ind.weight,
        "rule": ind.rule,
        "direction": ind.direction,
        "otherwise": ind.otherwise,
        "label": ind.label,
        "says": ind.says,
    }
    if ind.rule == "linear":
        raw.update(low=ind.low, high=ind.high)
    if ind.rule == "threshold":
        raw["steps"] = [list(s) for s in ind.steps]
    if ind.segments is not None:
        raw["segments"] = list(ind.segments)
    return raw


def _churn(sec: Mapping[str, Any], problems: list[str]) -> ChurnConfig | None:
    if not sec:
        return None
    known = set(ChurnConfig.__dataclass_fields__)
    problems += [f"churn.{k}: unknown field" for k in sorted(set(sec) - known)]
    values: dict[str, Any] = {}
    for name in (
        "horizon_days",
        "snapshot_every_days",
        "history_days",
        "validation_snapshots",
        "max_training_accounts",
    ):
        if name in sec:
            n = _number(sec[name], f"churn.{name}", problems, lo=1)
            if n is not None:
                values[name] = int(n)
    for name in ("promote_min_gain", "reasons_min_probability"):
        if name in sec:
            n = _number(sec[name], f"churn.{name}", problems, lo=0)
            if n is not None:
                values[name] = n
    if "seed" in sec:
        n = _number(sec["seed"], "churn.seed", problems, lo=0)
        if n is not None:
            values["seed"] = int(n)
    if "below_segments" in sec:
        values["below_segments"] = str(sec["below_segments"])
    if "segments" in sec:
        raw = sec["segments"]
        if not isinstance(raw, Mapping) or set(raw) != set(RISK_SEGMENTS):
            problems.append("churn.segments: must give high, medium and low thresholds")
        else:
            bounds = {k: _number(raw[k], f"churn.segments.{k}", problems, lo=0) for k in raw}
            if all(b is not None for b in bounds.values()):
                if not 1 >= bounds["high"] > bounds["medium"] > bounds["low"] > 0:  # type: ignore[operator]
                    problems.append("churn.segments: need 1 >= high > medium > low > 0")
                values["segments"] = tuple((k, bounds[k]) for k in RISK_SEGMENTS)
    return replace(ChurnConfig(), **values)
