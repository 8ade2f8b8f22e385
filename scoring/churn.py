"""A trained churn model: calibrated probabilities, risk segments and reasons in words.

``ChurnModel`` holds a fitted scikit-learn estimator and what is needed to use and explain
it: the feature columns, the typical value of each feature in the training population, and
facts about the training. Reasons for one account are the features whose value, put back to
the typical value, lowers that account's predicted risk the most (the model itself is asked,
so the reasons are faithful to it).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scoring.words import describe_reason

MIN_REASON_EFFECT = 0.01  # a feature must move the probability by at least one point
TOP_REASONS = 3
REASON_BATCH_ROWS = 200_000  # rows per prediction when working out reasons


@dataclass
class ChurnModel:
    estimator: Any
    numeric: list[str]
    categorical: list[str]
    reference: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def frame(self, data: pd.DataFrame) -> pd.DataFrame:
        """The model's columns of ``data`` in the types it was trained on (absent = missing)."""
        out = {}
        for c in self.numeric:
            out[c] = (
                pd.to_numeric(data[c], errors="coerce").to_numpy(dtype="float64")
                if c in data
                else np.full(len(data), np.nan)
            )
        for c in self.categorical:
            out[c] = as_categories(data[c] if c in data else pd.Series(None, index=data.index))
        return pd.DataFrame(out, index=data.index)

    def predict_proba(self, data: pd.DataFrame, prepared: bool = False) -> np.ndarray:
        """Calibrated probability of churn for each row."""
        X = data if prepared else self.frame(data)
        if len(X) == 0:
            return np.zeros(0)
        from scoring.estimators import threads_for  # scikit-learn, imported when first used

        with warnings.catch_warnings(), threads_for(len(X)):
            # an unseen category is encoded as "none of the known ones", as intended
            warnings.filterwarnings("ignore", message=".*unknown categor.*", category=UserWarning)
            return self.estimator.predict_proba(X)[:, 1]

    def reasons(
        self,
        data: pd.DataFrame,
        proba: np.ndarray | None = None,
        min_probability: float = 0.0,
        top: int = TOP_REASONS,
        describe: Callable[[str, Any, Any], str] = describe_reason,
    ) -> list[list[str]]:
        """Up to ``top`` reasons per row (empty below ``min_probability``)."""
        X = self.frame(data)
        p = self.predict_proba(X, prepared=True) if proba is None else np.asarray(proba)
        out: list[list[str]] = [[] for _ in range(len(X))]
        rows = np.flatnonzero(p >= min_probability)
        if len(rows) == 0:
            return out
        subset = X.iloc[rows].reset_index(drop=True)
        effects = np.zeros((len(rows), len(self.features)))
        # every (row, feature) variant in a few large predictions, not one per feature
        per_batch = max(1, REASON_BATCH_ROWS // len(rows))
        for first in range(0, len(self.features), per_batch):
            names = self.features[first : first + per_batch]
            changed = self._with_typical(subset, names)
            predicted = self.predict_proba(changed, prepared=True).reshape(len(names), -1)
            for k, feature in enumerate(names):
                same = _same(subset[feature].to_numpy(), self.reference.get(feature))
                effects[:, first + k] = np.where(same, 0.0, p[rows] - predicted[k])
        order = np.argsort(-effects, axis=1, kind="stable")[:, :top]
        columns = {f: subset[f].tolist() for f in self.features}
        for r, row in enumerate(rows):
            for j in order[r]:
                if effects[r, j] < MIN_REASON_EFFECT:
                    break
                feature = self.features[j]
                out[row].append(describe(feature, columns[feature][r], self.reference.get(feature)))
        return out

    def _with_typical(self, subset: pd.DataFrame, names: list[str]) -> pd.DataFrame:
        """``subset`` repeated once per name, with that name's column at its typical value."""
        m, k = len(subset), len(names)
        out = {}
        for column in self.features:
            values = np.tile(subset[column].to_numpy(), k)
            if column in names:
                typical = self.reference.get(column)
                block = names.index(column)
                values[block * m : (block + 1) * m] = np.nan if typical is None else typical
            out[column] = values
        return pd.DataFrame(out)


def as_categories(series: pd.Series) -> np.ndarray:
    """Category values as an object array of strings, NaN where missing."""
    values = series.astype(object)
    return (
        values.where(values.isna(), values.astype(str))
        .where(values.notna(), np.nan)
        .to_numpy(dtype=object)
    )


def _same(values: np.ndarray, typical: Any) -> np.ndarray:
    if typical is None:
        return pd.isna(values)
    if isinstance(typical, str):
        return values.astype(object) == typical
    return np.isclose(values.astype("float64"), float(typical), equal_nan=False)


def typical_values(X: pd.DataFrame, numeric: list[str], categorical: list[str]) -> dict[str, Any]:
    """The median of each numeric feature and the most common value of each category."""
    out: dict[str, Any] = {}
    for c in numeric:
        v = X[c].to_numpy(dtype="float64")
        v = v[~np.isnan(v)]
        out[c] = float(np.median(v)) if len(v) else None
    for c in categorical:
        counts = X[c].dropna().astype(str).value_counts()
        out[c] = str(counts.index[0]) if len(counts) else None
    return out


def risk_segments(p: np.ndarray, segments: Mapping[str, float] | tuple, below: str) -> np.ndarray:
    """The risk segment of each probability (thresholds are lower bounds, highest first)."""
    pairs = sorted(dict(segments).items(), key=lambda kv: -kv[1])
    p = np.asarray(p, dtype="float64")
    return np.select(
        [p >= lower for _, lower in pairs], [name for name, _ in pairs], default=below
    ).astype(object)
