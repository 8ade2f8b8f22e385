"""Training and evaluating the churn model on snapshots of the store's history.

Snapshots are taken every ``snapshot_every_days`` back from the last day whose labels are
complete (``end - horizon``). The latest ``validation_snapshots`` snapshots are held out;
training uses only snapshots whose label window closes before the first validation snapshot,
so nothing the model learns from overlaps the period it is judged on. Each snapshot's
features see only data before its day (``FeatureBuilder``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scoring.churn import ChurnModel, typical_values
from scoring.config import ScoringConfig
from scoring.estimators import Columns, baseline_model, fit_calibrated, usable_columns
from scoring.evaluate import probability_report, ranking_report
from scoring.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, FeatureBuilder
from scoring.frames import LOOKBACK_DAYS, ScoringInputs, day_to_date
from scoring.health import percentile_reference, score_health
from scoring.labels import snapshot_labels
from scoring.registry import fingerprint

COLUMNS = Columns(NUMERIC_FEATURES, CATEGORICAL_FEATURES)


class NotEnoughData(ValueError):
    """Too little history (or no churn in it) to train or evaluate a model."""


@dataclass
class Dataset:
    frame: pd.DataFrame  # account_id, as_of, label, segment, lifecycle and the features
    train: np.ndarray
    valid: np.ndarray
    days: list[int]

    @property
    def validation_days(self) -> list[int]:
        return sorted(set(self.frame.loc[self.valid, "as_of"].tolist()))


@dataclass
class TrainOutcome:
    model: ChurnModel
    report: dict[str, Any]
    dataset: Dataset
    fingerprint: str
    window: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)


def first_data_day(inputs: ScoringInputs) -> int | None:
    days = [f["day"].min() for f in (inputs.activity, inputs.metrics) if len(f)]
    return int(min(days)) if days else None


def snapshot_days(end_day: int, first_day: int | None, config: ScoringConfig) -> list[int]:
    """Snapshot days, oldest first: every ``snapshot_every_days`` back from end - horizon."""
    churn = config.churn
    last = end_day - churn.horizon_days
    start = end_day - churn.history_days
    if first_day is not None:
        start = max(start, first_day + LOOKBACK_DAYS)
    return list(range(last, start - 1, -churn.snapshot_every_days))[::-1]


def sample_ids(ids: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """At most ``limit`` of ``ids`` (a seeded, sorted sample)."""
    ids = np.asarray(ids, dtype="int64")
    if len(ids) <= limit:
        return ids
    return np.sort(np.random.default_rng(seed).choice(ids, size=limit, replace=False))


def check_days(days: list[int], config: ScoringConfig) -> None:
    churn = config.churn
    needed = churn.validation_snapshots + 1 + -(-churn.horizon_days // churn.snapshot_every_days)
    if len(days) < needed:
        raise NotEnoughData(
            f"{len(days)} snapshots fit in the history; training needs at least {needed} "
            f"(more history, or fewer validation snapshots)"
        )


def dataset_rows(inputs: ScoringInputs, config: ScoringConfig, days: list[int]) -> pd.DataFrame:
    """Features and labels of every account of ``inputs`` that is a customer at each
    snapshot day. Accounts are independent, so a large tenant is done in chunks of
    accounts and the rows concatenated."""
    labels = snapshot_labels(inputs.accounts, inputs.subscriptions, days, config.churn.horizon_days)
    builder = FeatureBuilder(inputs, config.features)
    parts = []
    for day in days:
        at = labels[labels["as_of"] == day]
        features = builder.at(day)
        parts.append(features.merge(at[["account_id", "label"]], on="account_id", how="inner"))
    return pd.concat(parts, ignore_index=True)


def split(frame: pd.DataFrame, days: list[int], config: ScoringConfig) -> Dataset:
    """Hold out the latest snapshots; train only on snapshots whose labels close before."""
    churn = config.churn
    valid_days = days[-churn.validation_snapshots :]
    as_of = frame["as_of"].to_numpy()
    valid = np.isin(as_of, valid_days)
    train = as_of + churn.horizon_days <= min(valid_days)
    return Dataset(frame=frame, train=train, valid=valid, days=days)


def build_dataset(inputs: ScoringInputs, config: ScoringConfig, end_day: int) -> Dataset:
    """The labelled snapshots with their features, split by time into train and validation."""
    churn = config.churn
    ids = sample_ids(
        inputs.accounts["account_id"].to_numpy(), churn.max_training_accounts, churn.seed
    )
    if len(ids) < len(inputs.accounts):
        inputs = inputs.restricted_to(ids)
    days = snapshot_days(end_day, first_data_day(inputs), config)
    check_days(days, config)
    return split(dataset_rows(inputs, config, days), days, config)


def _window(dataset: Dataset, horizon: int) -> dict[str, Any]:
    frame = dataset.frame
    train = frame[dataset.train]
    valid = frame[dataset.valid]

    def iso(day: float) -> str:
        return day_to_date(int(day)).isoformat()

    return {
        "from": iso(train["as_of"].min()),
        "to": iso(train["as_of"].max()),
        "labels_until": iso(train["as_of"].max() + horizon),
        "horizon_days": horizon,
        "snapshots": int(train["as_of"].nunique()),
        "rows": len(train),
        "positives": int(train["label"].sum()),
        "accounts": int(train["account_id"].nunique()),
        "validation": {
            "days": [iso(d) for d in dataset.validation_days],
            "rows": len(valid),
            "positives": int(valid["label"].sum()),
        },
    }


def train(inputs: ScoringInputs, config: ScoringConfig, end_day: int) -> TrainOutcome:
    """Build the snapshots, fit the calibrated model on the training part, and evaluate it
    beside the logistic-regression baseline and the health score on the validation part."""
    started = time.perf_counter()
    dataset = build_dataset(inputs, config, end_day)
    built = time.perf_counter()
    outcome = train_on(dataset, config)
    outcome.seconds = {"features": round(built - started, 2), **outcome.seconds}
    return outcome


def train_on(dataset: Dataset, config: ScoringConfig) -> TrainOutcome:
    """Fit the calibrated model on the dataset's training rows and evaluate it."""
    started = time.perf_counter()
    frame = dataset.frame
    tr = frame[dataset.train]
    y = tr["label"].to_numpy(dtype="int64")
    if y.sum() < 5 or y.sum() == len(y):
        raise NotEnoughData(f"the training snapshots hold {int(y.sum())} churn cases; need 5+")
    fit = fit_calibrated(
        tr[COLUMNS.all],
        y,
        COLUMNS,
        seed=config.churn.seed,
        groups=tr["account_id"].to_numpy(),
    )
    assert fit.columns is not None
    numeric, categorical = list(fit.columns.numeric), list(fit.columns.categorical)
    window = _window(dataset, config.churn.horizon_days)
    model = ChurnModel(
        estimator=fit.estimator,
        numeric=numeric,
        categorical=categorical,
        reference=typical_values(tr, numeric, categorical),
        info={
            "algorithm": f"calibrated {fit.chosen} ({fit.calibration})",
            "chosen": fit.chosen,
            "calibration": fit.calibration,
            "class_weight": fit.class_weight,
            "selection_roc_auc": fit.selection,
            "dropped": fit.dropped,
            "horizon_days": config.churn.horizon_days,
            "training_window": window,
        },
    )
    fitted = time.perf_counter()
    report = evaluate(model, dataset, config)
    done = time.perf_counter()
    return TrainOutcome(
        model=model,
        report=report,
        dataset=dataset,
        fingerprint=fingerprint(tr[["account_id", "as_of", "label", *COLUMNS.all]]),
        window=window,
        seconds={"fit": round(fitted - started, 2), "evaluate": round(done - fitted, 2)},
    )


def evaluate(
    model: ChurnModel, dataset: Dataset, config: ScoringConfig, with_baseline: bool = True
) -> dict[str, Any]:
    """The model on the validation snapshots, beside the baseline (fitted on the training
    snapshots) and the rule-based health score used as a risk ranking."""
    frame = dataset.frame
    valid = frame[dataset.valid]
    y = valid["label"].to_numpy(dtype="int64")
    if len(y) == 0:
        raise NotEnoughData("no validation snapshots")
    report = probability_report(y, model.predict_proba(valid))
    if with_baseline:
        tr = frame[dataset.train]
        X = model.frame(tr)
        cols = usable_columns(X, Columns(tuple(model.numeric), tuple(model.categorical)))[0]
        base = baseline_model(cols).fit(X[cols.all], tr["label"].to_numpy(dtype="int64"))
        pb = base.predict_proba(model.frame(valid)[cols.all])[:, 1]
        report["baseline"] = probability_report(y, pb) | {"model": "logistic regression"}
    report["health_score"] = health_ranking(valid, config) | {
        "model": "rule-based health score (risk = 100 - score)"
    }
    report["validation_days"] = [day_to_date(d).isoformat() for d in dataset.validation_days]
    return report


def health_ranking(frame: pd.DataFrame, config: ScoringConfig) -> dict[str, Any]:
    """How well 100 minus the health score ranks churners (scored per snapshot day)."""
    risk = np.full(len(frame), np.nan)
    as_of = frame["as_of"].to_numpy()
    for day in np.unique(as_of):
        rows = np.flatnonzero(as_of == day)
        part = frame.iloc[rows]
        result = score_health(part, config.health, percentile_reference(part, config.health))
        risk[rows] = 100.0 - result.score
    known = ~np.isnan(risk)
    return ranking_report(frame["label"].to_numpy(dtype="int64")[known], risk[known])
