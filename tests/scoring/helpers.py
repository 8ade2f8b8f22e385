"""Small hand-made scoring inputs whose features can be worked out by hand."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from hub.scoring_config import default_config
from scoring import frames
from scoring.config import ScoringConfig
from scoring.frames import ScoringInputs

D = 20_000  # the as-of epoch day used by hand-made cases


@lru_cache(maxsize=1)
def defaults() -> ScoringConfig:
    return default_config()


def account(account_id: int, segment: str = "individual_miner", **values) -> dict:
    row = {
        "account_id": account_id,
        "segment": segment,
        "plan": "pro",
        "mrr": 100.0,
        "signup_day": D - 400,
        "renewal_day": np.nan,
        "churn_day": np.nan,
        "nominal_hashrate_ths": 110.0 if segment in ("individual_miner", "mining_farm") else np.nan,
        "target_yield_pct": np.nan if segment in ("individual_miner", "mining_farm") else 8.0,
    }
    row.update(values)
    return row


def make_inputs(
    accounts: list[dict],
    events: list[tuple] = (),
    metrics: list[tuple] = (),
    surveys: list[tuple] = (),
    subscriptions: list[tuple] = (),
    config: ScoringConfig | None = None,
    edges_for: int | None = None,
) -> ScoringInputs:
    """Inputs from raw rows: events (account_id, day, name[, feature]), metrics
    (account_id, day, metric, value), surveys (account_id, day, kind, score[, comment]),
    subscriptions (account_id, day, kind, plan, mrr_before, mrr_after)."""
    cfg = (config or defaults()).features
    ev = pd.DataFrame(
        [(*e, None)[:4] if len(e) == 3 else e for e in events],
        columns=["account_id", "day", "name", "feature"],
    )
    edges = frames.bucket_edges(edges_for) if edges_for is not None else None
    if len(ev):
        activity = frames.activity_from_events(ev, cfg.active_events, cfg.feature_event, edges)
        milestones = frames.milestones_from_events(ev, cfg.milestone_events)
    else:
        activity = frames.empty_activity()
        milestones = frames.typed(
            pd.DataFrame({c: [] for c in frames.MILESTONE_COLUMNS}), "milestones"
        )
    ms = pd.DataFrame(list(metrics), columns=["account_id", "day", "metric", "value"])
    metric_frame = (
        frames.metrics_from_samples(ms, edges)
        if len(ms)
        else frames.typed(pd.DataFrame({c: [] for c in frames.METRIC_COLUMNS}), "metrics")
    )
    sv = pd.DataFrame(
        [(*s, None)[:5] if len(s) == 4 else s for s in surveys],
        columns=["account_id", "day", "kind", "score", "comment"],
    )
    sv["sentiment"] = np.nan
    subs = pd.DataFrame(
        list(subscriptions),
        columns=["account_id", "day", "kind", "plan", "mrr_before", "mrr_after"],
    )
    return ScoringInputs(
        accounts=frames.normalise_accounts(pd.DataFrame(accounts)),
        activity=activity,
        metrics=metric_frame,
        milestones=milestones,
        surveys=frames.typed(sv[list(frames.SURVEY_COLUMNS)], "surveys"),
        subscriptions=frames.typed(subs, "subscriptions"),
        bucketed_as_of=edges_for,
    )


def one(frame: pd.DataFrame, account_id: int) -> pd.Series:
    return frame.set_index("account_id").loc[account_id]
