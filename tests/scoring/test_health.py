"""The health score: arithmetic, missing data, tier bands, drivers, profiles, trends."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scoring import synthetic
from scoring.config import parse_config
from scoring.features import FeatureBuilder
from scoring.health import score_health, trends
from tests.scoring.helpers import D, defaults

IDENTITY = {"rule": "linear", "low": 0, "high": 100}


def _config(profiles=None):
    doc = {
        "features": defaults().document["features"],
        "churn": defaults().document["churn"],
        "health": {
            "tiers": {"champion": 90, "healthy": 70, "at_risk": 50, "critical": 0},
            "components": {"a": {"weight": 60}, "b": {"weight": 40}},
            "indicators": {
                "x1": {"component": "a", "weight": 3, **IDENTITY, "says": "x1 is {value:.0f}"},
                "x2": {"component": "a", "weight": 1, **IDENTITY, "says": "x2 is {value:.0f}"},
                "y1": {
                    "component": "b",
                    "weight": 1,
                    **IDENTITY,
                    "segments": ["s1"],
                    "says": "y1 is {value:.0f}",
                },
            },
            "profiles": profiles or [],
        },
    }
    return parse_config(doc).health


def _frame(rows):
    frame = pd.DataFrame(rows, columns=["account_id", "segment", "lifecycle", "x1", "x2", "y1"])
    return frame.astype({"x1": float, "x2": float, "y1": float})


def test_weighted_components_and_contributions_add_up():
    """a = (3*80 + 1*40)/4 = 70, b = 100, score = 0.6*70 + 0.4*100 = 82; each indicator's
    points are its share of the score."""
    result = score_health(_frame([(1, "s1", "established", 80, 40, 100)]), _config())
    assert result.score[0] == 82.0 and result.tier[0] == "healthy"
    assert result.components.iloc[0].to_dict() == {"a": 70.0, "b": 100.0}
    contrib = result.contributions.iloc[0]
    assert contrib["x1"] == pytest.approx(36.0)
    assert contrib["x2"] == pytest.approx(6.0)
    assert contrib["y1"] == pytest.approx(40.0)
    assert contrib.sum() == pytest.approx(82.0)
    assert result.missing[0] == []


def test_missing_indicator_weight_goes_to_the_rest_of_its_component():
    """Without x2, x1 carries component a alone: 0.6*80 + 0.4*100 = 88; x2 is recorded."""
    result = score_health(_frame([(1, "s1", "established", 80, np.nan, 100)]), _config())
    assert result.score[0] == 88.0
    assert result.missing[0] == ["x2"]
    assert np.isnan(result.contributions.iloc[0]["x2"])


def test_missing_component_weight_goes_to_the_other_components():
    """y1 does not apply to segment s2, so b is absent and a carries the whole score;
    an indicator that does not apply is not 'missing'."""
    result = score_health(_frame([(1, "s2", "established", 80, 40, np.nan)]), _config())
    assert result.score[0] == 70.0
    assert result.missing[0] == []
    assert np.isnan(result.components.iloc[0]["b"])
    nothing = score_health(_frame([(2, "s1", "established", np.nan, np.nan, np.nan)]), _config())
    assert np.isnan(nothing.score[0]) and nothing.tier[0] is None
    assert nothing.missing[0] == ["x1", "x2", "y1"] and nothing.records() == []


@pytest.mark.parametrize(
    "value,tier",
    [
        (100, "champion"),
        (90, "champion"),
        (89.96, "champion"),  # shown as 90.0, so champion
        (89.94, "healthy"),
        (70, "healthy"),
        (69.9, "at_risk"),
        (50, "at_risk"),
        (49.9, "critical"),
        (0, "critical"),
    ],
)
def test_tier_bands(value, tier):
    """champion 90-100, healthy 70-89, at_risk 50-69, critical 0-49 (on the shown score)."""
    result = score_health(_frame([(1, "s2", "established", value, value, np.nan)]), _config())
    assert result.tier[0] == tier


def test_drivers_in_words_strongest_first():
    """Drivers down are the indicators losing most points; up, those giving most."""
    result = score_health(_frame([(1, "s1", "established", 20, 10, 100)]), _config())
    assert result.drivers_down[0] == ["X1 is 20 (-36.0 pts)", "X2 is 10 (-13.5 pts)"]
    assert result.drivers_up[0] == ["Y1 is 100 (+40.0 pts)"]


def test_profiles_by_lifecycle_and_segment():
    """The first matching profile scores the account; others use the default."""
    profiles = [
        {
            "name": "young",
            "when": {"lifecycle": ["onboarding"]},
            "components": {"a": 100, "b": 0},
            "indicators": {"x2": {"weight": 0}},
        },
        {"name": "s3", "when": {"segment": ["s3"]}, "components": {"a": 20, "b": 80}},
    ]
    frame = _frame(
        [
            (1, "s1", "onboarding", 80, 0, 0),
            (2, "s1", "established", 80, 0, 0),
            (3, "s3", "established", 100, 100, np.nan),
        ]
    )
    result = score_health(frame, _config(profiles))
    assert result.profile.tolist() == ["young", "default", "s3"]
    assert result.score[0] == 80.0  # x1 only
    assert result.score[1] == 0.6 * 60
    assert result.score[2] == 100.0  # y1 n/a for s3: all weight on a


def test_trend_against_7_and_30_days_ago():
    """The change against the latest stored score 7 (30) days old or a little older."""
    history = pd.DataFrame(
        {
            "account_id": [1, 1, 1, 1, 2],
            "day": [D - 8, D - 7, D - 2, D - 31, D - 20],
            "score": [50.0, 60.0, 75.0, 40.0, 10.0],
        }
    )
    out = trends(np.array([1, 2]), np.array([70.0, 55.0]), history, D)
    assert out[7][0] == 10.0 and out[30][0] == 30.0
    assert np.isnan(out[7][1]) and np.isnan(out[30][1])


def test_default_configuration_ranks_healthier_tenants_higher():
    """On a synthetic tenant, the default score follows the latent health it was drawn
    from, onboarding accounts get the onboarding profile, and explanations are JSON."""
    tenant = synthetic.generate(600, D, days=40, seed=5)
    cfg = defaults()
    features = FeatureBuilder(tenant.inputs, cfg.features).at(D)
    alive = tenant.inputs.accounts["churn_day"].isna().to_numpy()
    result = score_health(features[alive].reset_index(drop=True), cfg.health)
    rho = pd.Series(result.score).corr(pd.Series(tenant.health[alive]), method="spearman")
    assert rho > 0.5
    young = features[alive]["lifecycle"].to_numpy() == "onboarding"
    assert young.any() and set(result.profile[young]) == {"onboarding"}
    records = result.records()
    assert len(records) == alive.sum()
    json.dumps(records)
    for rec in records[:50]:
        assert sum(rec["contributions"].values()) == pytest.approx(rec["score"], abs=0.2)
        assert len(rec["drivers"]["down"]) <= 3 and len(rec["drivers"]["up"]) <= 3
