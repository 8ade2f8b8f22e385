"""Evaluation figures on small arrays whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.evaluate import calibration_table, probability_report, ranking_report, top_decile


def test_perfect_ranking_and_top_decile():
    """20 rows, 2 churners ranked first: AUC 1, the top 2 rows catch both (lift 10)."""
    y = np.array([1, 1] + [0] * 18)
    score = np.linspace(1, 0, 20)
    report = ranking_report(y, score)
    assert report["roc_auc"] == 1.0 and report["pr_auc"] == 1.0
    assert top_decile(y, score) == {"lift": 10.0, "recall": 1.0}
    assert "brier" not in report


def test_probability_metrics_and_calibration_table():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.0, 0.5, 0.5, 1.0])
    report = probability_report(y, p, bins=2)
    assert report["brier"] == pytest.approx((0 + 0.25 + 0.25 + 0) / 4)
    assert report["roc_auc"] == pytest.approx(0.875)
    assert [row["n"] for row in report["calibration"]] == [2, 2]
    assert report["calibration"][0]["mean_predicted"] == 0.25
    assert report["calibration"][0]["observed"] == 0.0
    assert report["calibration_error"] == pytest.approx(0.25)


def test_one_class_gives_no_auc_instead_of_failing():
    report = probability_report(np.zeros(5, dtype=int), np.full(5, 0.1))
    assert report["roc_auc"] is None and report["lift_top_decile"] is None
    assert calibration_table(np.array([]), np.array([])) == []
