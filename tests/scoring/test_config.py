"""The scoring configuration: the seed's defaults parse; every kind of mistake is reported."""

from __future__ import annotations

import copy

import pytest

from hub.scoring_config import default_document
from scoring.config import ConfigError, parse_config


def _problems(doc) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    return info.value.problems


def test_defaults_are_the_seed_numbers():
    """Weights 30/25/25/20, tiers 90/70/50/0, churn segments 0.7/0.4/0.2, profiles in order."""
    cfg = parse_config(default_document())
    assert dict(cfg.health.default.components) == {
        "usage": 30,
        "engagement": 25,
        "value": 25,
        "relationship": 20,
    }
    assert cfg.health.tiers == (
        ("champion", 90),
        ("healthy", 70),
        ("at_risk", 50),
        ("critical", 0),
    )
    assert cfg.churn.segments == (("high", 0.7), ("medium", 0.4), ("low", 0.2))
    assert [p.name for p in cfg.health.profiles] == ["onboarding", "institution", "default"]
    assert cfg.churn.horizon_days == 30


def test_component_weights_must_sum_to_100():
    """Weights summing to 105 are refused with the path and the sum."""
    doc = default_document()
    doc["health"]["components"]["relationship"]["weight"] = 25
    problems = _problems(doc)
    assert any("health.components" in p and "105" in p for p in problems)


def test_profile_weights_must_sum_to_100_and_name_known_components():
    doc = default_document()
    doc["health"]["profiles"][0]["components"] = {"usage": 50, "engagement": 40, "vibes": 10}
    problems = _problems(doc)
    assert any("vibes: unknown component" in p for p in problems)
    assert any("profiles[0].components" in p and "sum" in p for p in problems)


def test_rule_parameters_are_checked():
    """Linear needs low < high; threshold bounds must increase; rule and direction known."""
    doc = default_document()
    ind = doc["health"]["indicators"]
    ind["active_days_30"]["low"] = 30
    ind["tickets_30"]["steps"] = [[0, 100], [0, 50]]
    ind["sessions_30"]["rule"] = "vibes"
    ind["uptime_pct"]["direction"] = "sideways"
    problems = _problems(doc)
    assert any("active_days_30: low must be below high" in p for p in problems)
    assert any("tickets_30.steps: bounds must increase" in p for p in problems)
    assert any("sessions_30.rule" in p for p in problems)
    assert any("uptime_pct.direction" in p for p in problems)


@pytest.mark.parametrize("says", ["{value.__class__}", "{other}", "{value!r}", "{0}", "{value:"])
def test_driver_sentences_only_take_the_value(says):
    """A sentence may only format the value: no attribute access or other fields."""
    doc = default_document()
    doc["health"]["indicators"]["nps_latest"]["says"] = says
    assert any("nps_latest.says" in p for p in _problems(doc))


def test_tiers_need_a_zero_floor_and_distinct_bounds():
    doc = default_document()
    doc["health"]["tiers"] = {"champion": 90, "healthy": 70, "at_risk": 70}
    problems = _problems(doc)
    assert any("lowest tier must start at 0" in p for p in problems)
    assert any("same score" in p for p in problems)


def test_unknown_fields_and_sections_are_errors():
    doc = default_document()
    doc["health"]["indicators"]["nps_latest"]["colour"] = "blue"
    doc["extras"] = {}
    problems = _problems(doc)
    assert any("nps_latest.colour: unknown field" in p for p in problems)
    assert any("extras: unknown section" in p for p in problems)


def test_a_weighted_component_needs_an_indicator():
    doc = default_document()
    for ind in doc["health"]["indicators"].values():
        if ind["component"] == "relationship":
            ind["weight"] = 0
    assert any("component relationship has no indicator" in p for p in _problems(doc))


def test_churn_segments_must_be_ordered():
    doc = default_document()
    doc["churn"]["segments"] = {"high": 0.3, "medium": 0.4, "low": 0.2}
    assert any("churn.segments" in p for p in _problems(doc))
    doc = copy.deepcopy(default_document())
    doc["churn"]["horizon_days"] = 0
    assert any("churn.horizon_days" in p for p in _problems(doc))
