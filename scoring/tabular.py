"""Churn models for any labelled table a company exports (``cshub churn train --csv``).

Types are inferred, never configured per file: a column is numeric when nearly all its
non-blank values parse as numbers (blanks become missing); dates become an age in days;
identifier-like columns (unique per row) and free text are dropped; the rest are categories.
With no time column, evaluation is stratified k-fold cross-validation of the whole procedure
(model choice included, inside each fold); with one, the latest fifth is held out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from scoring.churn import ChurnModel, as_categories, typical_values
from scoring.estimators import Columns, baseline_model, fit_calibrated, usable_columns
from scoring.evaluate import probability_report

NUMERIC_SHARE = 0.95
POSITIVE_WORDS = {
    "1", "yes", "y", "true", "t", "churn", "churned", "left", "lost", "cancelled", "canceled",
    "positive", "exited", "attrited",
}  # fmt: skip
ID_NAME = re.compile(r"(^|[_\s-])(id|uuid|guid|key|number|no)$|id$", re.IGNORECASE)


@dataclass
class Table:
    X: pd.DataFrame
    y: np.ndarray
    columns: Columns
    label: str
    positive: str
    dropped: dict[str, str] = field(default_factory=dict)
    time: pd.Series | None = None
    rows_without_label: int = 0


def read_csv(path: str | Path) -> pd.DataFrame:
    """Every column as text (types are inferred afterwards); blanks and NA words missing."""
    return pd.read_csv(path, dtype=str, keep_default_na=True, skipinitialspace=True)


def _text(series: pd.Series) -> pd.Series:
    s = series.astype(object).where(series.notna(), None)
    s = s.map(lambda v: v.strip() if isinstance(v, str) else v)
    return s.where(s.map(lambda v: v is not None and v != ""), None)


def _label(series: pd.Series, positive: str | None) -> tuple[np.ndarray, str, np.ndarray]:
    text = _text(series)
    known = text.notna().to_numpy()
    values = text[known].astype(str)
    classes = sorted(values.unique())
    if len(classes) != 2:
        raise ValueError(f"the label must have exactly two values, found {len(classes)}")
    if positive is None:
        words = [c for c in classes if c.strip().lower() in POSITIVE_WORDS]
        if len(words) == 1:
            positive = words[0]
        else:  # no recognisable word: the rarer value is the event to predict
            counts = values.value_counts()
            positive = str(counts.index[-1])
    if positive not in classes:
        raise ValueError(f"{positive!r} is not a value of the label")
    return (values == positive).to_numpy(dtype="int64"), positive, known


def prepare(
    frame: pd.DataFrame,
    label: str,
    id_column: str | None = None,
    time_column: str | None = None,
    positive: str | None = None,
) -> Table:
    """Infer the table's types and split off the label (rows without one are dropped)."""
    for name, what in ((label, "label"), (id_column, "id"), (time_column, "time")):
        if name is not None and name not in frame.columns:
            raise ValueError(f"the {what} column {name!r} is not in the table")
    y, positive, known = _label(frame[label], positive)
    data = frame.loc[known].reset_index(drop=True)
    dropped: dict[str, str] = {}
    numeric: dict[str, np.ndarray] = {}
    categorical: dict[str, np.ndarray] = {}
    time = None
    if time_column is not None:
        time = pd.to_datetime(_text(data[time_column]), errors="coerce", utc=True, format="mixed")
        if time.isna().mean() > 0.05:
            raise ValueError(f"the time column {time_column!r} is not mostly dates")
    for column in data.columns:
        if column in (label, time_column):
            continue
        if column == id_column:
            dropped[column] = "id column"
            continue
        text = _text(data[column])
        present = int(text.notna().sum())
        if present == 0:
            dropped[column] = "empty"
            continue
        number = pd.to_numeric(text, errors="coerce")
        unique = text.nunique()
        if number.notna().sum() >= NUMERIC_SHARE * present:
            if unique == present == len(data) and ID_NAME.search(column) and len(data) > 20:
                dropped[column] = "identifier (unique per row)"
                continue
            numeric[column] = number.to_numpy(dtype="float64")
            continue
        dates = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
        if dates.notna().sum() >= NUMERIC_SHARE * present:
            age = (dates.max() - dates).dt.total_seconds() / 86400.0
            numeric[f"{column}_age_days"] = age.to_numpy(dtype="float64")
            continue
        if unique >= 0.95 * present and len(data) > 20:
            dropped[column] = "identifier (unique per row)"
        elif unique > max(100, 0.5 * present):
            dropped[column] = "free text (too many distinct values)"
        else:
            categorical[column] = as_categories(text)
    X = pd.DataFrame({**numeric, **categorical})
    return Table(
        X=X,
        y=y,
        columns=Columns(tuple(numeric), tuple(categorical)),
        label=label,
        positive=positive,
        dropped=dropped,
        time=time,
        rows_without_label=int((~known).sum()),
    )


def fit(table: Table, seed: int = 0, X: pd.DataFrame | None = None, y=None) -> ChurnModel:
    """Fit the calibrated, inner-CV-chosen model on ``table`` (or on the rows given)."""
    X = table.X if X is None else X
    y = table.y if y is None else y
    result = fit_calibrated(X, y, table.columns, seed=seed)
    assert result.columns is not None
    numeric, categorical = list(result.columns.numeric), list(result.columns.categorical)
    return ChurnModel(
        estimator=result.estimator,
        numeric=numeric,
        categorical=categorical,
        reference=typical_values(X, numeric, categorical),
        info={
            "algorithm": f"calibrated {result.chosen} ({result.calibration})",
            "chosen": result.chosen,
            "calibration": result.calibration,
            "class_weight": result.class_weight,
            "selection_roc_auc": result.selection,
            "dropped": {**table.dropped, **result.dropped},
            "label": table.label,
            "positive": table.positive,
            "rows": len(y),
        },
    )


def _splits(table: Table, folds: int, seed: int):
    if table.time is not None:
        order = np.argsort(table.time.to_numpy(), kind="stable")
        cut = int(len(order) * 0.8)
        return [(order[:cut], order[cut:])], f"time split on {table.time.name}: latest 20% held out"
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(cv.split(table.X, table.y)), f"stratified {folds}-fold cross-validation"


def evaluate(table: Table, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """The report: the model's metrics (fold means) at the top level, the logistic-regression
    baseline's under ``baseline``, per-fold figures and a pooled calibration table."""
    splits, how = _splits(table, folds, seed)
    model_oof = np.full(len(table.y), np.nan)
    base_oof = np.full(len(table.y), np.nan)
    per_fold, base_fold, chosen = [], [], []
    for train, test in splits:
        Xtr, ytr = table.X.iloc[train], table.y[train]
        model = fit(table, seed, Xtr, ytr)
        p = model.predict_proba(table.X.iloc[test])
        base = baseline_model(usable_columns(Xtr, table.columns)[0]).fit(Xtr, ytr)
        pb = base.predict_proba(table.X.iloc[test])[:, 1]
        model_oof[test], base_oof[test] = p, pb
        per_fold.append(probability_report(table.y[test], p))
        base_fold.append(probability_report(table.y[test], pb))
        chosen.append(model.info["chosen"])
    held = ~np.isnan(model_oof)
    report = _mean(per_fold)
    report.update(
        evaluation=how,
        rows=len(table.y),
        positives=int(table.y.sum()),
        positive_label=table.positive,
        chosen_per_fold=chosen,
        folds=[_brief(r) for r in per_fold],
        calibration=probability_report(table.y[held], model_oof[held])["calibration"],
        features={
            "numeric": list(table.columns.numeric),
            "categorical": list(table.columns.categorical),
        },
        dropped=table.dropped,
        rows_without_label=table.rows_without_label,
    )
    report["baseline"] = _mean(base_fold) | {
        "model": "logistic regression (standardised, one-hot, default C)",
        "folds": [_brief(r) for r in base_fold],
    }
    return report


METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "lift_top_decile", "recall_top_decile")


def _brief(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report.get(k) for k in ("n", "positives", *METRICS)}


def _mean(reports: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in (*METRICS, "calibration_error"):
        values = [r[key] for r in reports if r.get(key) is not None]
        out[key] = round(float(np.mean(values)), 4) if values else None
        if key == "roc_auc" and len(values) > 1:
            out["roc_auc_std"] = round(float(np.std(values)), 4)
    return out
