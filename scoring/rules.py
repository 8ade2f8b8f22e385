"""Indicator rules: turn a feature value into 0-100 points (NaN stays NaN = missing).

- ``linear``: 0 points at ``low`` and 100 at ``high`` (reversed when lower is better),
  clipped outside.
- ``threshold``: ``steps`` are ascending ``[bound, points]`` pairs. Higher is better: the
  points of the highest bound the value reaches (``otherwise`` below the first bound). Lower
  is better: the points of the lowest bound the value stays at or under (``otherwise`` above
  the last bound).
- ``percentile``: the value's mid-rank percentile among the accounts of the same segment in
  a reference sample (reversed when lower is better).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from scoring.config import Indicator


def linear(x: np.ndarray, low: float, high: float, higher_is_better: bool = True) -> np.ndarray:
    points = np.clip((x - low) / (high - low), 0.0, 1.0) * 100.0
    return points if higher_is_better else 100.0 - points


def threshold(
    x: np.ndarray,
    steps: Sequence[tuple[float, float]],
    otherwise: float = 0.0,
    higher_is_better: bool = True,
) -> np.ndarray:
    bounds = np.array([b for b, _ in steps], dtype="float64")
    points = np.array([p for _, p in steps], dtype="float64")
    if higher_is_better:
        idx = np.searchsorted(bounds, x, side="right") - 1  # highest bound <= x
        out = np.where(idx >= 0, points[np.clip(idx, 0, None)], otherwise)
    else:
        idx = np.searchsorted(bounds, x, side="left")  # lowest bound >= x
        out = np.where(idx < len(bounds), points[np.clip(idx, None, len(bounds) - 1)], otherwise)
    return np.where(np.isnan(x), np.nan, out)


def percentile(
    x: np.ndarray,
    segments: np.ndarray,
    reference: Mapping[str, Sequence[float]],
    higher_is_better: bool = True,
) -> np.ndarray:
    """Mid-rank percentile (0-100) of each value within its segment's reference values."""
    out = np.full(len(x), np.nan)
    for segment in np.unique(segments):
        ref = np.asarray(reference.get(str(segment), ()), dtype="float64")
        rows = segments == segment
        if len(ref) == 0:
            continue
        values = x[rows]
        below = np.searchsorted(ref, values, side="left")
        at_or_below = np.searchsorted(ref, values, side="right")
        out[rows] = (below + at_or_below) / (2.0 * len(ref)) * 100.0
    out = np.where(np.isnan(x), np.nan, out)
    return out if higher_is_better else 100.0 - out


def points(
    indicator: Indicator,
    x: np.ndarray,
    segments: np.ndarray,
    reference: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
) -> np.ndarray:
    """The indicator's points (0-100, NaN where the value is missing)."""
    x = np.asarray(x, dtype="float64")
    up = indicator.higher_is_better
    if indicator.rule == "linear":
        assert indicator.low is not None and indicator.high is not None
        out = linear(x, indicator.low, indicator.high, up)
    elif indicator.rule == "threshold":
        out = threshold(x, indicator.steps, indicator.otherwise, up)
    elif indicator.rule == "percentile":
        out = percentile(x, segments, (reference or {}).get(indicator.name, {}), up)
    else:  # parse_config only lets the three rules through
        raise ValueError(f"unknown rule {indicator.rule!r}")
    return np.where(np.isnan(x), np.nan, out)


def percentile_reference(
    values: np.ndarray, segments: np.ndarray, max_points: int = 1001
) -> dict[str, list[float]]:
    """Sorted reference values per segment (quantiles once there are more than
    ``max_points``), small enough to hand to every chunk of a scoring run."""
    ref: dict[str, list[float]] = {}
    for segment in np.unique(segments):
        v = values[(segments == segment) & ~np.isnan(values)]
        if len(v) == 0:
            continue
        v = np.sort(v)
        if len(v) > max_points:
            v = np.quantile(v, np.linspace(0.0, 1.0, max_points))
        ref[str(segment)] = [float(a) for a in v]
    return ref
