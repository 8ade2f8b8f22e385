"""The scoring configuration document: parsed into frozen dataclasses and validated.

The document has three sections: ``features`` (which events and metrics feed which feature),
``health`` (components, indicators, rules, tiers, profiles) and ``churn`` (horizon, risk
segments, training schedule). Defaults ship as YAML in the hub; an admin edits them through
the API. ``parse_config`` returns a ``ScoringConfig`` or raises ``ConfigError`` listing every
problem it found, each with the path of the offending field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RULES = ("linear", "threshold", "percentile")
DIRECTIONS = ("higher_is_better", "lower_is_better")
RISK_SEGMENTS = ("high", "medium", "low")


class ConfigError(ValueError):
    """The configuration document is invalid; ``problems`` lists each reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


SUMMED_ROLES = ("hashrate", "portfolio_value")
"""Metric roles whose samples are parts of the account's total (rigs of a farm, exchange
accounts of a trader), not repeated readings of one value."""


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

    @property
    def summed_metrics(self) -> tuple[str, ...]:
        """Metrics that are an account total reported in parts (one sample per rig, per
        exchange account): the account's value is the sum over its parts."""
        return tuple(sorted({self.metrics[r] for r in SUMMED_ROLES if r in self.metrics}))


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
    from scoring.config_parse import parse

    return parse(doc)
