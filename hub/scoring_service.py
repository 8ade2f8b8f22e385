"""The scoring flows over the store: plan a run, score a chunk of accounts, finish.

A run is planned once (as-of day, configuration version, active model, chunks of account
ids, and, when there is more than one chunk, percentile reference values from a sample of
all accounts so every chunk scores percentiles against the same population). Each chunk
loads its accounts' inputs (aggregated in SQL), builds features, scores health, predicts
churn with reasons, and replaces its rows for the run's timestamp in one transaction, so a
retried chunk writes the same rows again instead of duplicating them.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from hub import churn_registry, scoring_config, scoring_rollup
from hub.models import ChurnPrediction, HealthConfigVersion, HealthScore
from hub.scoring_history import load_score_history
from hub.scoring_results import health_rows, insert_rows, prediction_rows
from hub.scoring_store import Scope, account_ids, load_for_scoring, load_milestones_in
from scoring.churn import ChurnModel, risk_segments
from scoring.config import ScoringConfig, parse_config
from scoring.features import FeatureBuilder
from scoring.frames import LOOKBACK_DAYS, epoch_day
from scoring.health import percentile_reference, score_health, trends

CHUNK_SIZE = 20_000
REFERENCE_SAMPLE = 5_000
REFERENCE_RANGES = 5


@dataclass
class RunPlan:
    as_of_day: int
    computed_at: str  # ISO timestamp shared by every row of the run
    config_version: int
    model_version: str | None
    chunks: list[tuple[int, int]]
    accounts: int
    reference: dict[str, Any] | None = None
    rollup: dict[str, float] | None = None  # days (re)rolled up per kind, and seconds
    started: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> RunPlan:
        doc = dict(doc)
        doc["chunks"] = [tuple(c) for c in doc["chunks"]]
        return cls(**doc)

    @property
    def timestamp(self) -> datetime:
        return datetime.fromisoformat(self.computed_at)


def config_of(session: Session, version: int) -> ScoringConfig:
    row = session.scalar(select(HealthConfigVersion).where(HealthConfigVersion.version == version))
    if row is None:
        raise LookupError(f"configuration version {version} does not exist")
    return parse_config(row.document)


def plan_run(
    engine: Engine,
    as_of: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
    reference_sample: int = REFERENCE_SAMPLE,
    workers: int = 1,
) -> RunPlan:
    """Decide what a scoring run covers; compute shared percentile references if chunked.

    Chunks hold at most ``chunk_size`` accounts and are all the same size, and a run of
    more than one chunk has a multiple of ``workers`` chunks, so no worker is left with
    a larger share than the others."""
    now = (as_of or datetime.now(UTC)).astimezone(UTC)
    day = epoch_day(now)
    with Session(engine) as session, session.begin():
        config, version = scoring_config.load(session)
        model = churn_registry.active_row(session)
        model_version = model.version if model else None
    started = time.perf_counter()
    rolled = scoring_rollup.ensure(engine, config.features, day - LOOKBACK_DAYS, day)
    rollup_seconds = round(time.perf_counter() - started, 2)
    with engine.connect() as conn:
        ids = account_ids(conn, Scope())
    chunks = _chunks(ids, chunk_size, workers)
    plan = RunPlan(
        as_of_day=day,
        computed_at=now.isoformat(),
        config_version=version,
        model_version=model_version,
        chunks=chunks,
        accounts=len(ids),
        rollup={kind: r["days_rolled"] for kind, r in rolled.items()} | {"seconds": rollup_seconds},
    )
    if len(chunks) > 1:
        plan.reference = _reference(engine, config, day, ids, reference_sample)
    return plan


def _chunks(ids: np.ndarray, chunk_size: int, workers: int) -> list[tuple[int, int]]:
    """Inclusive id ranges of equal numbers of ``ids``: as few as ``chunk_size`` allows,
    rounded up to a multiple of ``workers`` when there is more than one."""
    count = -(-len(ids) // max(1, chunk_size))
    if count > 1:
        count = -(-count // max(1, workers)) * max(1, workers)
    bounds = np.linspace(0, len(ids), count + 1).round().astype(int)
    return [(int(ids[lo]), int(ids[hi - 1])) for lo, hi in pairwise(bounds) if hi > lo]


def _reference(
    engine: Engine, config: ScoringConfig, day: int, ids: np.ndarray, sample: int
) -> dict[str, Any]:
    """Percentile reference values from a sample of the tenant: ``REFERENCE_RANGES`` runs
    of consecutive ids spread over all ids (ranges read through the account index; ids
    follow signup order, so spreading them covers old and new accounts alike). Their
    milestones are read in one query."""
    per_range = max(1, sample // REFERENCE_RANGES)
    starts = np.linspace(0, max(len(ids) - per_range, 0), REFERENCE_RANGES).astype(int)
    ranges = [
        (int(ids[start]), int(ids[min(start + per_range, len(ids)) - 1]))
        for start in sorted(set(starts.tolist()))
    ]
    features = []
    with engine.connect() as conn:
        milestones = load_milestones_in(conn, config.features, day, ranges)
        for lo, hi in ranges:
            scope = Scope(lo=lo, hi=hi)
            inputs = load_for_scoring(conn, config.features, day, scope, milestones)
            features.append(FeatureBuilder(inputs, config.features).at(day))
    return percentile_reference(pd.concat(features, ignore_index=True), config.health)


def score_chunk(engine: Engine, plan: RunPlan, lo: int, hi: int) -> dict[str, Any]:
    """Score the accounts with ids in ``[lo, hi]`` and store their rows for this run."""
    started = time.perf_counter()
    scope = Scope(lo=lo, hi=hi)
    with Session(engine) as session:
        config = config_of(session, plan.config_version)
        model_row = churn_registry.get(session, plan.model_version) if plan.model_version else None
        model = churn_registry.load(model_row) if model_row is not None else None
    at = plan.timestamp
    with engine.connect() as conn:
        inputs = load_for_scoring(conn, config.features, plan.as_of_day, scope)
        history = load_score_history(conn, scope, at - timedelta(days=40), at)
    loaded = time.perf_counter()
    features = FeatureBuilder(inputs, config.features).at(plan.as_of_day)
    health = score_health(features, config.health, plan.reference)
    change = trends(health.account_id, health.score, history, plan.as_of_day)
    churn = predict(model, features, config) if model is not None else None
    # rows are made before the write transaction: on SQLite it holds the one write lock,
    # which the other chunks' workers wait for
    health_out = health_rows(health, change, plan.config_version, at)
    predictions = []
    if churn is not None and model_row is not None:
        predictions = prediction_rows(
            features["account_id"].to_numpy(),
            churn["probability"],
            churn["segment"],
            churn["reasons"],
            model_row.version,
            at,
        )
    scored = time.perf_counter()
    with engine.begin() as conn:
        for table, column in (
            (HealthScore, HealthScore.computed_at),
            (ChurnPrediction, ChurnPrediction.predicted_at),
        ):
            conn.execute(delete(table).where(column == at, table.account_id.between(lo, hi)))
        insert_rows(conn, health_out, predictions)
    return {
        "accounts": len(features),
        "scored": len(health_out),
        "predicted": len(predictions),
        "tiers": dict(Counter(t for t in health.tier if t is not None)),
        "risk_segments": dict(Counter(churn["segment"])) if churn is not None else {},
        "seconds": {
            "load": round(loaded - started, 3),
            "score": round(scored - loaded, 3),
            "write": round(time.perf_counter() - scored, 3),
        },
    }


def predict(model: ChurnModel, features, config: ScoringConfig) -> dict[str, Any]:
    """Probabilities, risk segments and (for risky enough accounts) reasons."""
    X = model.frame(features)
    p = model.predict_proba(X, prepared=True)
    reasons = model.reasons(X, p, min_probability=config.churn.reasons_min_probability)
    return {
        "probability": p,
        "segment": risk_segments(p, config.churn.segments, config.churn.below_segments),
        "reasons": reasons,
    }


def merge_summaries(plan: RunPlan, parts: list[dict[str, Any]]) -> dict[str, Any]:
    tiers: Counter = Counter()
    segments: Counter = Counter()
    for part in parts:
        tiers.update(part["tiers"])
        segments.update(part["risk_segments"])
    return {
        "as_of": plan.computed_at,
        "config_version": plan.config_version,
        "model_version": plan.model_version,
        "accounts": plan.accounts,
        "chunks": len(plan.chunks),
        "rollup_days": plan.rollup,
        "scored": sum(p["scored"] for p in parts),
        "predicted": sum(p["predicted"] for p in parts),
        "tiers": dict(tiers),
        "risk_segments": dict(segments),
        "stage_seconds": {
            stage: round(sum(p["seconds"][stage] for p in parts), 2)
            for stage in ("load", "score", "write")
        },
    }


def run_inline(engine: Engine, plan: RunPlan) -> dict[str, Any]:
    """Score every chunk of ``plan`` in this process, one after the other."""
    started = time.perf_counter()
    parts = [score_chunk(engine, plan, lo, hi) for lo, hi in plan.chunks]
    summary = merge_summaries(plan, parts)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    summary["accounts_per_second"] = (
        round(summary["scored"] / summary["seconds"], 1) if summary["seconds"] else None
    )
    return summary
