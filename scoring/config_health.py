"""The health section of the scoring configuration: components, indicators and their rules,
tiers and profiles, validated."""

from __future__ import annotations

import string
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from scoring.config import DIRECTIONS, RULES, HealthConfig, Indicator, Profile
from scoring.config_values import check_names, check_number


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
    weight = check_number(raw.get("weight"), f"{path}.weight", problems, lo=0)
    rule = raw.get("rule")
    if rule not in RULES:
        problems.append(f"{path}.rule: must be one of {', '.join(RULES)}")
    direction = raw.get("direction", "higher_is_better")
    if direction not in DIRECTIONS:
        problems.append(f"{path}.direction: must be one of {', '.join(DIRECTIONS)}")
    low = high = None
    steps: tuple[tuple[float, float], ...] = ()
    if rule == "linear":
        low = check_number(raw.get("low"), f"{path}.low", problems)
        high = check_number(raw.get("high"), f"{path}.high", problems)
        if low is not None and high is not None and not low < high:
            problems.append(f"{path}: low must be below high")
    elif rule == "threshold":
        steps = _steps(raw.get("steps"), f"{path}.steps", problems)
    otherwise = check_number(raw.get("otherwise", 0.0), f"{path}.otherwise", problems, lo=0)
    if otherwise is not None and otherwise > 100:
        problems.append(f"{path}.otherwise: must be at most 100")
    segments = None
    if raw.get("segments") is not None:
        segments = check_names(raw["segments"], f"{path}.segments", problems)
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
        bound = check_number(pair[0], f"{path}[{i}][0]", problems)
        points = check_number(pair[1], f"{path}[{i}][1]", problems, lo=0)
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
        w = check_number(value, f"{path}.{name}", problems, lo=0)
        if names and name not in names:
            problems.append(f"{path}.{name}: unknown component")
        elif w is not None:
            weights[str(name)] = w
    total = sum(weights.values())
    if weights and abs(total - 100.0) > 1e-6:
        problems.append(f"{path}: weights sum to {total:g}, they must sum to 100")
    return weights


def health_section(sec: Mapping[str, Any], problems: list[str]) -> HealthConfig | None:
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
        bound = check_number(value, f"health.tiers.{name}", problems, lo=0)
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
        check_names(when["segment"], f"{path}.when.segment", problems)
        if "segment" in when
        else None
    )
    lifecycles = (
        check_names(when["lifecycle"], f"{path}.when.lifecycle", problems)
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
