"""The churn model: calibrated on held-out data, deterministic for a seed, saved with skops,
explained in words; training on snapshots keeps validation out of training."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from scoring import registry, synthetic, training
from scoring.churn import ChurnModel, risk_segments, typical_values
from scoring.estimators import Columns, fit_calibrated
from scoring.evaluate import probability_report
from tests.scoring.helpers import D, defaults

COLUMNS = Columns(("x0", "x1", "x2", "x3"), ("kind",))


def _table(n: int, seed: int, base: float = -2.6) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows whose true churn probability is known: logistic in x0, x1 and the kind."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=list(COLUMNS.numeric))
    X["kind"] = rng.choice(np.array(["a", "b", "c"], dtype=object), n)
    X.loc[rng.random(n) < 0.1, "x2"] = np.nan
    logit = base + 1.4 * X["x0"] - 0.8 * X["x1"] + 0.7 * (X["kind"] == "c")
    p = 1 / (1 + np.exp(-logit.to_numpy()))
    y = (rng.random(n) < p).astype(int)
    return X, y, p


def _model(X, y, seed=0) -> ChurnModel:
    fit = fit_calibrated(X, y, COLUMNS, seed=seed)
    return ChurnModel(
        fit.estimator,
        list(fit.columns.numeric),
        list(fit.columns.categorical),
        typical_values(X, list(fit.columns.numeric), list(fit.columns.categorical)),
        {"chosen": fit.chosen, "class_weight": fit.class_weight},
    )


@pytest.fixture(scope="module")
def trained():
    X, y, _ = _table(4000, seed=1)
    return _model(X, y), X, y


def test_imbalanced_classes_are_weighted_then_calibrated_on_held_out_data(trained):
    """About 10% churn: classes are weighted in training, yet on fresh data the predicted
    probabilities match observed rates bin by bin and on average."""
    model, _, y = trained
    assert y.mean() < 0.25 and model.info["class_weight"] == "balanced"  # linear learner
    Xt, yt, p_true = _table(20000, seed=2)
    p = model.predict_proba(Xt)
    report = probability_report(yt, p)
    assert abs(report["mean_predicted"] - yt.mean()) < 0.015
    assert report["calibration_error"] < 0.02
    for row in report["calibration"]:
        assert abs(row["mean_predicted"] - row["observed"]) < 0.05, row
    oracle = probability_report(yt, p_true)["roc_auc"]
    assert report["roc_auc"] > oracle - 0.02


def test_same_seed_same_model():
    """Training twice with one seed gives identical probabilities."""
    X, y, _ = _table(800, seed=4, base=-1.0)
    a = _model(X, y, seed=11).predict_proba(X)
    b = _model(X, y, seed=11).predict_proba(X)
    assert np.array_equal(a, b)


def test_skops_round_trip_gives_identical_predictions(trained):
    model, X, _ = trained
    data = registry.dumps(model)
    assert data[:2] == b"PK"  # a skops zip document, not a pickle
    again = registry.loads(data)
    assert np.array_equal(again.predict_proba(X), model.predict_proba(X))
    assert again.features == model.features and again.reference == model.reference


class Gadget:
    """Anything outside scikit-learn, NumPy and SciPy."""


def test_loading_refuses_foreign_types_and_pickles():
    doc = {"format": 1, "estimator": Gadget(), "numeric": [], "categorical": []}
    with pytest.raises(registry.UntrustedModel, match="Gadget"):
        registry.loads(sio.dumps(doc | {"reference": {}, "info": {}}))
    with pytest.raises(Exception):  # noqa: B017 - a pickle is not a skops file at all
        registry.loads(pickle.dumps({"format": 1}))


def test_reasons_name_what_pushes_this_account_up(trained):
    """For a risky account with an extreme x0, the top reason is x0, in words, with the
    typical value; calm accounts below the threshold get none."""
    model, X, _ = trained
    risky = X.iloc[[0]].copy()
    risky["x0"], risky["x1"] = 3.0, 0.0
    calm = X.iloc[[1]].copy()
    calm["x0"] = -3.0
    both = pd.concat([risky, calm])
    p = model.predict_proba(both)
    reasons = model.reasons(both, p, min_probability=0.2)
    assert p[0] > 0.5 and reasons[0][0].startswith("X0 is 3 (typical: ")
    assert reasons[1] == []


def test_risk_segments_from_the_seed_thresholds():
    cfg = defaults().churn
    p = np.array([0.95, 0.7, 0.69, 0.4, 0.39, 0.2, 0.19, 0.0])
    assert risk_segments(p, cfg.segments, cfg.below_segments).tolist() == [
        "high",
        "high",
        "medium",
        "medium",
        "low",
        "low",
        "minimal",
        "minimal",
    ]


def test_promotion_needs_a_better_auc_without_a_worse_brier():
    assert registry.beats({"roc_auc": 0.8, "brier": 0.1}, {"roc_auc": 0.79, "brier": 0.1})
    assert not registry.beats({"roc_auc": 0.8, "brier": 0.2}, {"roc_auc": 0.79, "brier": 0.1})
    assert not registry.beats({"roc_auc": 0.8}, {"roc_auc": 0.8})
    assert not registry.beats({"roc_auc": 0.81}, {"roc_auc": 0.8}, min_gain=0.02)
    assert registry.beats({"roc_auc": 0.6}, {"roc_auc": None})


def test_training_on_snapshots_keeps_validation_apart():
    """Snapshots of a synthetic tenant: training labels close before validation starts;
    the report has the model, the baseline and the health score side by side."""
    tenant = synthetic.generate(400, D, days=130, seed=9)
    outcome = training.train(tenant.inputs, defaults(), D)
    ds = outcome.dataset
    train_days = ds.frame.loc[ds.train, "as_of"]
    assert train_days.max() + defaults().churn.horizon_days <= min(ds.validation_days)
    assert not (ds.train & ds.valid).any()
    report = outcome.report
    for key in ("roc_auc", "pr_auc", "brier", "log_loss", "lift_top_decile", "calibration"):
        assert key in report and (key in report["baseline"] or key == "calibration")
    assert report["roc_auc"] > 0.75 and report["health_score"]["roc_auc"] > 0.6
    assert outcome.window["validation"]["rows"] == int(ds.valid.sum())
    again = training.build_dataset(tenant.inputs, defaults(), D)
    assert registry.fingerprint(again.frame) == registry.fingerprint(ds.frame)
