"""Evaluation of churn predictions: discrimination, calibration and what a CS team can act on.

``probability_report`` is for calibrated probabilities (ROC AUC, PR AUC, Brier score,
log-loss, calibration table, lift and recall in the top decile); ``ranking_report`` is for a
score that only ranks accounts (e.g. 100 minus the health score), so it leaves out the
probability metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

EPS = 1e-6


def _r(value: float, digits: int = 4) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def ranking_report(y: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    """Metrics of a risk score that only has to rank accounts (higher = riskier)."""
    y = np.asarray(y, dtype="int64")
    score = np.asarray(score, dtype="float64")
    n, positives = len(y), int(y.sum())
    both = 0 < positives < n
    top = top_decile(y, score)
    return {
        "n": n,
        "positives": positives,
        "base_rate": _r(positives / n if n else np.nan),
        "roc_auc": _r(roc_auc_score(y, score)) if both else None,
        "pr_auc": _r(average_precision_score(y, score)) if both else None,
        "lift_top_decile": top["lift"],
        "recall_top_decile": top["recall"],
    }


def probability_report(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Metrics of predicted probabilities, with a calibration table of ``bins`` bins."""
    y = np.asarray(y, dtype="int64")
    p = np.clip(np.asarray(p, dtype="float64"), 0.0, 1.0)
    report = ranking_report(y, p)
    table = calibration_table(y, p, bins)
    report.update(
        brier=_r(brier_score_loss(y, p)) if len(y) else None,
        log_loss=_r(log_loss(y, np.clip(p, EPS, 1 - EPS), labels=[0, 1])) if len(y) else None,
        mean_predicted=_r(p.mean()) if len(p) else None,
        calibration_error=_r(
            sum(row["n"] * abs(row["mean_predicted"] - row["observed"]) for row in table)
            / max(len(y), 1)
        ),
        calibration=table,
    )
    return report


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Equal-count bins of predicted probability: mean prediction against the observed rate."""
    if len(y) == 0:
        return []
    order = np.argsort(p, kind="stable")
    rows = []
    for i, idx in enumerate(np.array_split(order, min(bins, len(y)))):
        if len(idx) == 0:
            continue
        rows.append(
            {
                "bin": i + 1,
                "n": len(idx),
                "low": _r(p[idx].min()),
                "high": _r(p[idx].max()),
                "mean_predicted": _r(p[idx].mean()),
                "observed": _r(y[idx].mean()),
            }
        )
    return rows


def top_decile(y: np.ndarray, score: np.ndarray) -> dict[str, float | None]:
    """Lift and recall among the 10% riskiest accounts (ties broken by position)."""
    n, positives = len(y), int(np.sum(y))
    if n == 0 or positives == 0:
        return {"lift": None, "recall": None}
    k = max(1, int(np.ceil(n * 0.1)))
    top = np.argsort(-score, kind="stable")[:k]
    caught = int(y[top].sum())
    return {"lift": _r((caught / k) / (positives / n)), "recall": _r(caught / positives)}


def side_by_side(
    model: dict[str, Any], baseline: dict[str, Any], health: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The model's metrics at the top level, the baseline (and health score) beside them."""
    doc = dict(model)
    doc["baseline"] = baseline
    if health is not None:
        doc["health_score"] = health
    return doc
