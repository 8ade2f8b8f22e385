"""Any labelled table: types inferred, ids and free text dropped, label understood."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring import tabular


def _table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    usage = rng.gamma(2, 10, n)
    churn = rng.random(n) < 1 / (1 + np.exp(0.15 * (usage - 15)))
    frame = pd.DataFrame(
        {
            "Customer ID": [f"C-{i:05d}" for i in range(n)],
            "usage": [f"{u:.1f}" if i % 17 else " " for i, u in enumerate(usage)],
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "notes": [f"free text number {i} about things" for i in range(n)],
            "seats": rng.integers(1, 50, n).astype(str),
            "signed_up": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
            "Churned": np.where(churn, "Yes", "No"),
        }
    )
    frame["signed_up"] = frame["signed_up"].dt.strftime("%Y-%m-%d")
    return frame


def test_types_are_inferred_and_ids_dropped():
    """Numbers with blanks are numeric (blank = missing); dates become an age; the id
    and free text are dropped; strings with few values are categories."""
    table = tabular.prepare(_table(), "Churned")
    assert table.columns.numeric == ("usage", "seats", "signed_up_age_days")
    assert table.columns.categorical == ("plan",)
    assert table.dropped == {
        "Customer ID": "identifier (unique per row)",
        "notes": "identifier (unique per row)",
    }
    assert np.isnan(table.X["usage"]).sum() == len(range(0, 300, 17))
    assert table.positive == "Yes" and table.y.mean() > 0


def test_label_values_are_understood():
    """Yes/No and 1/0 are read as churn; two unknown words: the rarer one is the event;
    a label with three values is refused."""
    frame = _table()
    frame["flag"] = np.where(frame["Churned"] == "Yes", "1", "0")
    assert tabular.prepare(frame, "flag").positive == "1"
    frame["state"] = np.where(frame["Churned"] == "Yes", "gone", "here")
    rarer = frame["state"].value_counts().index[-1]
    assert tabular.prepare(frame, "state").positive == rarer
    assert tabular.prepare(frame, "state", positive="here").y.sum() == (frame.state == "here").sum()
    frame.loc[0, "state"] = "maybe"
    with pytest.raises(ValueError, match="exactly two values"):
        tabular.prepare(frame, "state")
    with pytest.raises(ValueError, match="not in the table"):
        tabular.prepare(frame, "nope")


def test_rows_without_a_label_are_left_out():
    frame = _table()
    frame.loc[:9, "Churned"] = ""
    table = tabular.prepare(frame, "Churned", id_column="Customer ID")
    assert table.rows_without_label == 10 and len(table.y) == 290
    assert table.dropped["Customer ID"] == "id column"


def test_a_time_column_gives_an_out_of_time_split():
    """With a time column the latest fifth is held out instead of k-fold."""
    table = tabular.prepare(_table(400), "Churned", time_column="signed_up")
    report = tabular.evaluate(table, folds=5, seed=0)
    assert report["evaluation"].startswith("time split on signed_up")
    assert report["folds"][0]["n"] == 80
    assert "signed_up_age_days" not in table.X
    for key in ("roc_auc", "pr_auc", "brier", "log_loss"):
        assert report[key] is not None and report["baseline"][key] is not None
