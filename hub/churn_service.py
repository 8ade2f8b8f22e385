"""Churn model flows over the store: train and register, promote, evaluate, predict."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from hub import churn_registry, scoring_config, scoring_rollup
from hub.audit import record
from hub.models import Event
from hub.scoring_history import history_start, load_history
from hub.scoring_service import predict
from hub.scoring_sql import Scope, at_midnight, epoch_day_of
from hub.scoring_store import account_ids, load_for_scoring
from scoring import training
from scoring.config import ScoringConfig
from scoring.features import FeatureBuilder
from scoring.frames import epoch_day
from scoring.registry import beats

LOAD_CHUNK = 20_000


class NoActiveModel(LookupError):
    """There is no active churn model yet (train one first)."""


def training_dataset(engine: Engine, config: ScoringConfig, end_day: int) -> training.Dataset:
    """Labelled snapshots of a sample of at most ``max_training_accounts`` accounts, built
    chunk by chunk of account ids so only one chunk's daily history is in memory at once."""
    churn = config.churn
    start = history_start(end_day, churn.history_days)
    scoring_rollup.ensure(engine, config.features, start, end_day)
    with engine.connect() as conn:
        ids = account_ids(conn, Scope(alive_only=False))
        first = conn.scalar(
            select(func.min(epoch_day_of(Event.occurred_at, conn.dialect.name))).where(
                Event.occurred_at >= at_midnight(start), Event.occurred_at < at_midnight(end_day)
            )
        )
    if len(ids) == 0:
        raise training.NotEnoughData("the store holds no accounts")
    ids = training.sample_ids(ids, churn.max_training_accounts, churn.seed)
    days = training.snapshot_days(end_day, int(first) if first is not None else None, config)
    training.check_days(days, config)
    parts = []
    with engine.connect() as conn:
        for i in range(0, len(ids), LOAD_CHUNK):
            chunk = ids[i : i + LOAD_CHUNK]
            scope = Scope(lo=int(chunk[0]), hi=int(chunk[-1]), alive_only=False)
            inputs = load_history(conn, config.features, end_day, start, scope)
            if len(chunk) < len(inputs.accounts):
                inputs = inputs.restricted_to(chunk)
            parts.append(training.dataset_rows(inputs, config, days))
    return training.split(pd.concat(parts, ignore_index=True), days, config)


def _today(as_of: datetime | None) -> tuple[datetime, int]:
    now = (as_of or datetime.now(UTC)).astimezone(UTC)
    return now, epoch_day(now)


def train_from_store(
    engine: Engine, as_of: datetime | None = None, promote: bool = True, actor: str = "system"
) -> dict[str, Any]:
    """Train on the store's history, register the model, and promote it when it beats the
    active model on the same validation snapshots (or when there is none yet)."""
    now, end_day = _today(as_of)
    with Session(engine) as session, session.begin():
        config, config_version = scoring_config.load(session)
    started = time.perf_counter()
    dataset = training_dataset(engine, config, end_day)
    built = time.perf_counter()
    outcome = training.train_on(dataset, config)
    outcome.seconds = {"load_and_features": round(built - started, 2), **outcome.seconds}
    decision: dict[str, Any] = {"promoted": False}
    with Session(engine) as session, session.begin():
        active = churn_registry.active_row(session)
        if active is not None:
            active_report = training.evaluate(
                churn_registry.load(active), outcome.dataset, config, with_baseline=False
            )
            better = beats(outcome.report, active_report, config.churn.promote_min_gain)
            decision = {
                "promoted": bool(promote and better),
                "compared_with": active.version,
                "candidate_roc_auc": outcome.report.get("roc_auc"),
                "active_roc_auc": active_report.get("roc_auc"),
                "candidate_brier": outcome.report.get("brier"),
                "active_brier": active_report.get("brier"),
            }
        else:
            auc = outcome.report.get("roc_auc")
            decision = {
                "promoted": bool(promote and auc is not None and auc > 0.5),
                "compared_with": None,
                "reason": "no active model",
            }
        report = dict(outcome.report) | {
            "promotion": decision,
            "config_version": config_version,
            "seconds": outcome.seconds,
        }
        row = churn_registry.register(
            session, outcome.model, report, outcome.window, outcome.fingerprint, now
        )
        if decision["promoted"]:
            churn_registry.activate(session, row)
        record(session, actor, "churn_model.train", f"churn_model:{row.version}", **decision)
        version = row.version
    return {
        "version": version,
        "promoted": decision["promoted"],
        "promotion": decision,
        "training_window": outcome.window,
        "algorithm": outcome.model.info.get("algorithm"),
        "report": outcome.report,
        "seconds": outcome.seconds,
    }


def _active(session: Session):
    row = churn_registry.active_row(session)
    if row is None:
        raise NoActiveModel("no churn model is active yet: run `cshub churn train` first")
    return row, churn_registry.load(row)


def evaluate_active(engine: Engine, as_of: datetime | None = None) -> dict[str, Any]:
    """The active model on the latest labelled snapshots, beside the baseline and the
    health score."""
    _, end_day = _today(as_of)
    with Session(engine) as session:
        config, _ = scoring_config.load(session)
        session.commit()
        row, model = _active(session)
        version = row.version
    dataset = training_dataset(engine, config, end_day)
    report = training.evaluate(model, dataset, config)
    return {"version": version, **report}


def predict_accounts(
    engine: Engine,
    as_of: datetime | None = None,
    account_id: int | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Predictions of the active model for live accounts, riskiest first."""
    _, day = _today(as_of)
    with Session(engine) as session:
        config, _ = scoring_config.load(session)
        session.commit()
        row, model = _active(session)
        version = row.version
    scope = Scope(lo=account_id, hi=account_id) if account_id is not None else Scope()
    with engine.connect() as conn:
        inputs = load_for_scoring(conn, config.features, day, scope)
    features = FeatureBuilder(inputs, config.features).at(day)
    result = predict(model, features, config)
    order = np.argsort(-result["probability"], kind="stable")
    if limit is not None:
        order = order[:limit]
    ids = features["account_id"].to_numpy()
    rows = [
        {
            "account_id": int(ids[i]),
            "probability": round(float(result["probability"][i]), 4),
            "segment": str(result["segment"][i]),
            "reasons": result["reasons"][i],
        }
        for i in order
    ]
    counts: dict[str, int] = {}
    for s in result["segment"]:
        counts[str(s)] = counts.get(str(s), 0) + 1
    return {
        "model_version": version,
        "accounts": len(ids),
        "risk_segments": counts,
        "predictions": rows,
    }
