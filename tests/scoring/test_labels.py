"""Churn labels from history: who is a customer at d, who churns within the horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scoring import frames
from scoring.labels import alive_at, snapshot_labels
from tests.scoring.helpers import D, account


def _subs(rows):
    return frames.typed(
        pd.DataFrame(
            rows, columns=["account_id", "day", "kind", "plan", "mrr_before", "mrr_after"]
        ),
        "subscriptions",
    )


def _accounts(rows):
    return frames.normalise_accounts(pd.DataFrame(rows))


def test_positive_when_churning_within_the_horizon_after_d():
    """Churn on day d counts; on day d + horizon it does not; already gone is excluded."""
    accounts = _accounts(
        [
            account(1, churn_day=D),
            account(2, churn_day=D + 29),
            account(3, churn_day=D + 30),
            account(4, churn_day=D - 1),
            account(5),
            account(6, signup_day=D),  # not yet a customer at the start of d
        ]
    )
    subs = _subs([(i, D - 400, "new", "pro", 0, 100) for i in range(1, 7)])
    labels = snapshot_labels(accounts, subs, [D], horizon=30).set_index("account_id")["label"]
    assert labels.to_dict() == {1: 1, 2: 1, 3: 0, 5: 0}


def test_reactivated_accounts_are_customers_again():
    """A churn then a reactivation: excluded between the two, a customer after."""
    accounts = _accounts([account(1)])
    subs = _subs(
        [
            (1, D - 400, "new", "pro", 0, 100),
            (1, D - 100, "churn", "pro", 100, 0),
            (1, D - 50, "reactivation", "pro", 0, 100),
            (1, D + 10, "churn", "pro", 100, 0),
        ]
    )
    labels = snapshot_labels(accounts, subs, [D - 160, D - 120, D - 70, D], horizon=30)
    got = dict(zip(labels["as_of"], labels["label"], strict=True))
    assert got == {D - 160: 0, D - 120: 1, D: 1}


def test_account_churn_day_without_a_subscription_row_is_used():
    accounts = _accounts([account(1, churn_day=D + 5), account(2)])
    labels = snapshot_labels(accounts, _subs([]), [D, D + 6], horizon=30)
    got = {(a, d): y for a, d, y in labels[["account_id", "as_of", "label"]].to_numpy()}
    assert got == {(1, D): 1, (2, D): 0, (2, D + 6): 0}
    assert alive_at(accounts, _subs([]), D + 6).tolist() == [False, True]
    assert np.array_equal(alive_at(accounts, _subs([]), D), [True, True])
