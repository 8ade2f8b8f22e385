"""Churn labels from history: at snapshot day d, an account that is a customer at d is
positive when it churns within the horizon after d (day d included, d + horizon excluded).

Churn and reactivation come from the subscription history (kinds ``churn`` and
``reactivation``/``new``), plus an account's ``churn_day`` when no subscription row records it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

CHURN_KINDS = {"churn", "cancellation", "canceled", "cancelled"}
REVIVE_KINDS = {"new", "reactivation"}


def status_events(accounts: pd.DataFrame, subscriptions: pd.DataFrame) -> pd.DataFrame:
    """account_id, day, churn (True: left; False: became or again became a customer)."""
    kind = subscriptions["kind"].astype(str).str.lower()
    subs = subscriptions.loc[kind.isin(CHURN_KINDS | REVIVE_KINDS), ["account_id", "day"]].copy()
    subs["churn"] = kind[kind.isin(CHURN_KINDS | REVIVE_KINDS)].isin(CHURN_KINDS).to_numpy()
    recorded = set(
        zip(subs.loc[subs["churn"], "account_id"], subs.loc[subs["churn"], "day"], strict=False)
    )
    acc = accounts.loc[accounts["churn_day"].notna(), ["account_id", "churn_day"]]
    extra = [
        (a, d)
        for a, d in zip(acc["account_id"], acc["churn_day"], strict=False)
        if (a, d) not in recorded and not any((a, d + k) in recorded for k in (-1, 1))
    ]
    if extra:
        more = pd.DataFrame(extra, columns=["account_id", "day"]).assign(churn=True)
        subs = pd.concat([subs, more], ignore_index=True)
    subs["account_id"] = subs["account_id"].astype("int64")
    subs["day"] = subs["day"].astype("float64")
    return subs.sort_values(["day", "account_id"], kind="stable").reset_index(drop=True)


def snapshot_labels(
    accounts: pd.DataFrame,
    subscriptions: pd.DataFrame,
    days: Sequence[int],
    horizon: int,
) -> pd.DataFrame:
    """account_id, as_of, label for every account that is a customer at each snapshot day."""
    events = status_events(accounts, subscriptions)
    signup = accounts["signup_day"].to_numpy(dtype="float64")
    ids = accounts["account_id"].to_numpy(dtype="int64")
    frames = []
    for d in days:
        exists = ~(signup >= d)  # signed up before d (unknown signup counts as existing)
        left = pd.DataFrame({"account_id": ids[exists], "as_of": float(d)})
        frames.append(left)
    if not frames:
        return pd.DataFrame({"account_id": [], "as_of": [], "label": []})
    left = pd.concat(frames, ignore_index=True).sort_values("as_of", kind="stable")
    last = pd.merge_asof(
        left,
        events.rename(columns={"day": "event_day"}),
        left_on="as_of",
        right_on="event_day",
        by="account_id",
        direction="backward",
        allow_exact_matches=False,
    )
    alive = ~(last["churn"].fillna(False).astype(bool)).to_numpy()
    churns = events.loc[events["churn"], ["account_id", "day"]].rename(columns={"day": "churn_day"})
    nxt = pd.merge_asof(
        left,
        churns,
        left_on="as_of",
        right_on="churn_day",
        by="account_id",
        direction="forward",
        allow_exact_matches=True,
    )
    label = (nxt["churn_day"] < nxt["as_of"] + horizon).to_numpy()
    out = left.assign(label=label.astype("int64"))[alive]
    out["as_of"] = out["as_of"].astype("int64")
    return out.sort_values(["as_of", "account_id"], kind="stable").reset_index(drop=True)


def alive_at(accounts: pd.DataFrame, subscriptions: pd.DataFrame, day: int) -> np.ndarray:
    """Which accounts are customers at the start of ``day`` (a boolean per account row)."""
    labels = snapshot_labels(accounts, subscriptions, [day], horizon=1)
    return accounts["account_id"].isin(labels["account_id"]).to_numpy()
