"""The classifiers: a regularised logistic regression, gradient boosting, their blend, and the
choice between them by inner cross-validation, calibrated on held-out folds.

Nothing here knows a particular table. ``fit_calibrated`` takes any frame of numeric and
categorical columns and:
1. gets out-of-fold probabilities of the linear model and of gradient boosting (stratified
   folds, or folds of whole groups, e.g. accounts, when ``groups`` is given), on at most
   ``selection_rows`` rows;
2. picks the linear model, boosting or a weighted blend by out-of-fold ROC AUC (the simpler
   one when within ``TIE``);
3. fits the pick wrapped in ``CalibratedClassifierCV`` (isotonic with plenty of positives,
   else sigmoid), which calibrates on held-out-fold predictions and refits on all rows.

Imbalance: with a minority share under ``IMBALANCED`` the linear learner weights classes
"balanced" (boosting stays unweighted, see ``boosting_model``); folds are stratified (or
grouped), the choice is made on ROC AUC, and calibration restores honest probabilities.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, QuantileTransformer, StandardScaler
from threadpoolctl import threadpool_limits

IMBALANCED = 0.25
TIE = 0.0005
ISOTONIC_MIN_POSITIVES = 5000
LINEAR_C = (0.1, 1.0)
BLEND_WEIGHTS = (0.25, 0.5, 0.75)  # weight of the linear model in a blend
MIN_NUMERIC_VALUES = 20
WIDE_LEVELS = 30
PARALLEL_FROM_ROWS = 100_000  # below this, OpenMP threads cost more than they save


def threads_for(n_rows: int):
    """A context limiting OpenMP and BLAS to one thread for small data: on a
    busy machine its threads spin-wait and make a small fit or predict many times slower."""
    if n_rows >= PARALLEL_FROM_ROWS:
        return nullcontext()
    return threadpool_limits(limits=1)


@dataclass(frozen=True)
class Columns:
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    wide: tuple[str, ...] = ()  # categorical columns with many levels (rare ones are pooled)

    @property
    def all(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def narrow(self) -> list[str]:
        return [c for c in self.categorical if c not in self.wide]


@dataclass
class FitResult:
    estimator: CalibratedClassifierCV
    chosen: str
    calibration: str
    class_weight: str | None
    selection: dict[str, float] = field(default_factory=dict)
    columns: Columns | None = None
    dropped: dict[str, str] = field(default_factory=dict)


def usable_columns(X: pd.DataFrame, columns: Columns) -> tuple[Columns, dict[str, str]]:
    """Drop numeric columns with too few values to learn from, and constant columns."""
    dropped: dict[str, str] = {}
    numeric = []
    for c in columns.numeric:
        values = X[c].to_numpy(dtype="float64")
        present = values[~np.isnan(values)]
        if len(present) < MIN_NUMERIC_VALUES:
            dropped[c] = "too few values"
        elif np.all(present == present[0]) and len(present) == len(values):
            dropped[c] = "constant"
        else:
            numeric.append(c)
    categorical, wide = [], []
    for c in columns.categorical:
        levels = X[c].nunique(dropna=False)
        if levels < 2:
            dropped[c] = "constant"
            continue
        categorical.append(c)
        if levels > WIDE_LEVELS:
            wide.append(c)
    return Columns(tuple(numeric), tuple(categorical), tuple(wide)), dropped


def _categories(columns: Columns, n_rows: int, one_hot: bool) -> list[tuple]:
    """Encoders for the categorical columns: plain (fast) for few levels; for many levels,
    rare ones pooled (frequency counting is slow on text, so only where needed).
    Unknown levels encode as none of the known ones."""
    if one_hot:
        plain: Any = OneHotEncoder(handle_unknown="infrequent_if_exist", sparse_output=False)
        pooled: Any = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            min_frequency=max(5, n_rows // 1000),
            max_categories=WIDE_LEVELS,
            sparse_output=False,
        )
    else:
        options = {
            "handle_unknown": "use_encoded_value",
            "unknown_value": np.nan,
            "encoded_missing_value": np.nan,
        }
        plain = OrdinalEncoder(**options)
        pooled = OrdinalEncoder(**options, max_categories=WIDE_LEVELS)
    out = []
    if columns.narrow:
        out.append(("cat", plain, columns.narrow))
    if columns.wide:
        out.append(("wide", pooled, list(columns.wide)))
    return out


def linear_model(
    columns: Columns, n_rows: int, C: float = 1.0, class_weight: str | None = None, seed: int = 0
) -> Pipeline:
    """Logistic regression on quantile-normalised numbers (+ missing flags) and one-hot
    categories: robust to skewed counts and money amounts."""
    numeric = Pipeline(
        [
            (
                "quantile",
                QuantileTransformer(
                    output_distribution="normal",
                    n_quantiles=max(10, min(1000, n_rows // 2)),
                    subsample=100_000,
                    random_state=seed,
                ),
            ),
            ("impute", SimpleImputer(strategy="constant", fill_value=0.0, add_indicator=True)),
        ]
    )
    prep = ColumnTransformer(
        [("num", numeric, list(columns.numeric)), *_categories(columns, n_rows, one_hot=True)]
    )
    return Pipeline(
        [
            ("prep", prep),
            ("model", LogisticRegression(C=C, max_iter=5000, class_weight=class_weight)),
        ]
    )


def boosting_model(columns: Columns, seed: int = 0) -> Pipeline:
    """Regularised histogram gradient boosting with native missing values and categories.

    Unweighted: with sample weights scikit-learn bins every feature by weighted percentiles,
    hundreds of times slower; boosting's log-loss copes with a few percent of positives, and
    the calibration step sets the probability scale either way."""
    prep = ColumnTransformer(
        [("num", "passthrough", list(columns.numeric)), *_categories(columns, 0, one_hot=False)]
    )
    mask = [False] * len(columns.numeric) + [True] * len(columns.categorical)
    model = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=400,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=30,
        categorical_features=mask if any(mask) else None,
        random_state=seed,
    )
    return Pipeline([("prep", prep), ("model", model)])


def baseline_model(columns: Columns) -> Pipeline:
    """The textbook baseline: logistic regression on standardised, median-imputed numbers
    and one-hot categories, default regularisation, no class weights."""
    numeric = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True)),
            ("scale", StandardScaler()),
        ]
    )
    prep = ColumnTransformer(
        [("num", numeric, list(columns.numeric)), *_categories(columns, 0, one_hot=True)]
    )
    return Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=5000))])


def splitter(folds: int, seed: int, groups: np.ndarray | None):
    if groups is not None:
        return GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)


def _oof(estimator, X, y, splits) -> np.ndarray:
    from sklearn.base import clone

    out = np.zeros(len(y))
    for train, test in splits:
        model = clone(estimator).fit(X.iloc[train], y[train])
        out[test] = model.predict_proba(X.iloc[test])[:, 1]
    return out


def _sample(y: np.ndarray, groups: np.ndarray | None, rows: int, seed: int) -> np.ndarray:
    """At most ``rows`` row indices, whole groups at a time when groups are given."""
    n = len(y)
    if n <= rows:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    if groups is None:
        return np.sort(rng.choice(n, size=rows, replace=False))
    unique = np.unique(groups)
    keep = rng.choice(unique, size=max(2, int(len(unique) * rows / n)), replace=False)
    return np.flatnonzero(np.isin(groups, keep))


def candidates(
    columns: Columns, n_rows: int, class_weight: str | None, seed: int
) -> dict[str, Any]:
    """The learners compared by inner cross-validation (blends are formed from these)."""
    out: dict[str, Any] = {
        f"linear_C{C:g}": linear_model(columns, n_rows, C, class_weight, seed) for C in LINEAR_C
    }
    out["boosting"] = boosting_model(columns, seed)
    return out


def select(
    X: pd.DataFrame,
    y: np.ndarray,
    columns: Columns,
    seed: int = 0,
    groups: np.ndarray | None = None,
    folds: int = 3,
    selection_rows: int = 100_000,
) -> tuple[str, Any, dict[str, float], str | None]:
    """Choose the learner by out-of-fold ROC AUC; return (name, unfitted estimator,
    scores, class weight)."""
    minority = min(y.mean(), 1 - y.mean()) if len(y) else 0.5
    class_weight = "balanced" if minority < IMBALANCED else None
    rows = _sample(y, groups, selection_rows, seed)
    Xs, ys = X.iloc[rows], y[rows]
    gs = groups[rows] if groups is not None else None
    splits = list(splitter(folds, seed, gs).split(Xs, ys, gs))
    learners = candidates(columns, len(rows), class_weight, seed)
    oof = {name: _oof(est, Xs, ys, splits) for name, est in learners.items()}
    scores = {name: float(roc_auc_score(ys, p)) for name, p in oof.items()}
    best_linear = max((n for n in scores if n.startswith("linear")), key=lambda n: scores[n])
    for w in BLEND_WEIGHTS:
        p = w * oof[best_linear] + (1 - w) * oof["boosting"]
        scores[f"blend_{w:g}"] = float(roc_auc_score(ys, p))
    order = [*[n for n in scores if n.startswith("linear")], "boosting"]
    order += [n for n in scores if n.startswith("blend")]
    best = max(scores.values())
    chosen = next(n for n in order if scores[n] >= best - TIE)
    if chosen.startswith("blend"):
        w = float(chosen.split("_")[1])
        estimator: Any = VotingClassifier(
            [
                (
                    "linear",
                    linear_model(columns, len(X), float(best_linear[8:]), class_weight, seed),
                ),
                ("boosting", boosting_model(columns, seed)),
            ],
            voting="soft",
            weights=[w, 1 - w],
        )
    elif chosen == "boosting":
        estimator = boosting_model(columns, seed)
    else:
        estimator = linear_model(columns, len(X), float(chosen[8:]), class_weight, seed)
    return chosen, estimator, {k: round(v, 4) for k, v in scores.items()}, class_weight


def fit_calibrated(
    X: pd.DataFrame,
    y: np.ndarray,
    columns: Columns,
    seed: int = 0,
    groups: np.ndarray | None = None,
    folds: int = 3,
    selection_rows: int = 100_000,
) -> FitResult:
    """Select, then fit the chosen learner with calibration on held-out folds."""
    y = np.asarray(y, dtype="int64")
    columns, dropped = usable_columns(X, columns)
    X = X[columns.all]
    with threads_for(min(len(X), selection_rows)):
        chosen, estimator, scores, class_weight = select(
            X, y, columns, seed, groups, folds, selection_rows
        )
    positives = int(min(y.sum(), len(y) - y.sum()))
    method = "isotonic" if positives >= ISOTONIC_MIN_POSITIVES else "sigmoid"
    splits = list(splitter(folds, seed, groups).split(X, y, groups))
    calibrated = CalibratedClassifierCV(estimator, method=method, cv=splits, ensemble=False)
    with threads_for(len(X)):
        calibrated.fit(X, y)
    # the fold indices were only needed for fitting; keep the stored model small
    calibrated.set_params(cv=folds)
    return FitResult(
        estimator=calibrated,
        chosen=chosen,
        calibration=method,
        class_weight=class_weight,
        selection=scores,
        columns=columns,
        dropped=dropped,
    )
