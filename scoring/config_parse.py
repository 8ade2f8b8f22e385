"""Parsing and validating the scoring configuration document (features and churn sections
here; the health section in ``scoring.config_health``). Every problem is collected with the
path of its field, so an admin sees all of them at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from scoring.config import RISK_SEGMENTS, ChurnConfig, ConfigError, FeatureConfig, ScoringConfig
from scoring.config_health import health_section
from scoring.config_values import check_names, check_number


def parse(doc: Mapping[str, Any]) -> ScoringConfig:
    """Validate ``doc`` and build the configuration; raise ``ConfigError`` on any problem."""
    problems: list[str] = []
    if not isinstance(doc, Mapping):
        raise ConfigError(["the configuration must be an object"])
    unknown = set(doc) - {"features", "health", "churn"}
    problems += [f"{k}: unknown section" for k in sorted(unknown)]
    features = _features(_section(doc, "features", problems), problems)
    health = health_section(_section(doc, "health", problems), problems)
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
            values[name] = check_names(sec[name], f"features.{name}", problems)
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
            n = check_number(sec[name], f"features.{name}", problems, lo=1)
            if n is not None:
                values[name] = int(n)
    if "default_target_yield_pct" in sec:
        n = check_number(
            sec["default_target_yield_pct"], "features.default_target_yield_pct", problems
        )
        if n is not None:
            values["default_target_yield_pct"] = n
    for name in ("key_features", "milestones"):
        mapping = sec.get(name, {})
        if not isinstance(mapping, Mapping):
            problems.append(f"features.{name}: must map segment to a list of names")
            continue
        values[name] = {
            str(seg): check_names(v, f"features.{name}.{seg}", problems)
            for seg, v in mapping.items()
        }
    metrics = sec.get("metrics", {})
    if not isinstance(metrics, Mapping) or not all(
        isinstance(v, str) and v for v in metrics.values()
    ):
        problems.append("features.metrics: must map a role to a metric name")
    else:
        values["metrics"] = dict(metrics)
    return replace(base, **values)


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
            n = check_number(sec[name], f"churn.{name}", problems, lo=1)
            if n is not None:
                values[name] = int(n)
    for name in ("promote_min_gain", "reasons_min_probability"):
        if name in sec:
            n = check_number(sec[name], f"churn.{name}", problems, lo=0)
            if n is not None:
                values[name] = n
    if "seed" in sec:
        n = check_number(sec["seed"], "churn.seed", problems, lo=0)
        if n is not None:
            values["seed"] = int(n)
    if "below_segments" in sec:
        values["below_segments"] = str(sec["below_segments"])
    if "segments" in sec:
        raw = sec["segments"]
        if not isinstance(raw, Mapping) or set(raw) != set(RISK_SEGMENTS):
            problems.append("churn.segments: must give high, medium and low thresholds")
        else:
            bounds = {k: check_number(raw[k], f"churn.segments.{k}", problems, lo=0) for k in raw}
            if all(b is not None for b in bounds.values()):
                if not 1 >= bounds["high"] > bounds["medium"] > bounds["low"] > 0:  # type: ignore[operator]
                    problems.append("churn.segments: need 1 >= high > medium > low > 0")
                values["segments"] = tuple((k, bounds[k]) for k in RISK_SEGMENTS)
    return replace(ChurnConfig(), **values)
