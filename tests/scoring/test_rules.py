"""Every indicator rule, in both directions, at its edges and with missing values."""

from __future__ import annotations

import numpy as np
import pytest

from scoring import rules
from scoring.config import Indicator

nan = np.nan


def test_linear_rule_higher_and_lower_is_better():
    """0 points at low, 100 at high, proportional between, clipped outside; reversed when
    lower is better; missing stays missing."""
    x = np.array([0.0, 2.0, 11.0, 20.0, 30.0, nan])
    up = rules.linear(x, 2, 20, True)
    assert up[:5].tolist() == [0.0, 0.0, 50.0, 100.0, 100.0]
    down = rules.linear(x, 2, 20, False)
    assert down[:5].tolist() == [100.0, 100.0, 50.0, 0.0, 0.0]
    ind = Indicator("x", "usage", 1, "linear", low=2, high=20)
    assert np.isnan(rules.points(ind, x, np.array(["a"] * 6))[5])


def test_threshold_rule_higher_is_better():
    """The points of the highest bound reached; ``otherwise`` below the first bound."""
    steps = ((0, 0), (7, 60), (9, 100))
    x = np.array([-1, 0, 6.9, 7, 8.5, 9, 10, nan])
    out = rules.threshold(x, steps, otherwise=5, higher_is_better=True)
    assert out[:7].tolist() == [5, 0, 0, 60, 60, 100, 100]
    assert np.isnan(out[7])


def test_threshold_rule_lower_is_better():
    """The points of the lowest bound not exceeded; ``otherwise`` above the last bound."""
    steps = ((0, 100), (2, 70), (4, 30))
    x = np.array([0, 1, 2, 3, 4, 4.5, 9])
    out = rules.threshold(x, steps, otherwise=0, higher_is_better=False)
    assert out.tolist() == [100, 70, 70, 30, 30, 0, 0]


def test_percentile_rule_within_segment_with_ties():
    """Mid-rank percentile among the same segment's reference values only."""
    reference = {"a": [1.0, 2.0, 2.0, 3.0], "b": [100.0, 200.0]}
    x = np.array([2.0, 3.0, 0.0, 150.0, 2.0, nan])
    seg = np.array(["a", "a", "a", "b", "c", "a"])
    out = rules.percentile(x, seg, reference, True)
    assert out[0] == pytest.approx(50.0)  # (1 below + 3 at-or-below) / 2 / 4
    assert out[1] == pytest.approx(87.5)
    assert out[2] == pytest.approx(0.0)
    assert out[3] == pytest.approx(50.0)
    assert np.isnan(out[4])  # no reference for the segment
    assert np.isnan(out[5])
    lower = rules.percentile(x, seg, reference, False)
    assert lower[1] == pytest.approx(12.5)


def test_percentile_reference_is_sorted_and_compressed():
    """References are sorted per segment, NaN dropped, reduced to quantiles when large."""
    values = np.concatenate([np.arange(5000, dtype=float), [nan]])
    seg = np.array(["a"] * 5001)
    ref = rules.percentile_reference(values, seg, max_points=101)
    assert len(ref["a"]) == 101 and ref["a"][0] == 0 and ref["a"][-1] == 4999
    assert ref["a"] == sorted(ref["a"])
    pct = rules.percentile(np.array([2500.0]), np.array(["a"]), ref)
    assert pct[0] == pytest.approx(50.0, abs=1.0)


def test_points_dispatches_on_the_rule():
    """``points`` applies the indicator's own rule, direction and parameters."""
    seg = np.array(["s", "s"])
    x = np.array([1.0, 3.0])
    t = Indicator("t", "c", 1, "threshold", "lower_is_better", steps=((1, 100), (2, 50)))
    assert rules.points(t, x, seg).tolist() == [100, 0]
    p = Indicator("p", "c", 1, "percentile")
    assert rules.points(p, x, seg, {"p": {"s": [1.0, 3.0]}}).tolist() == [25.0, 75.0]
