"""Scoring jobs: daily health and churn scoring, weekly churn retraining.

``score_all`` plans a run; a tenant that fits in one chunk is scored in the job itself,
a larger one fans out one ``score_chunk`` job per chunk of account ids and a
``finish_scoring`` job that waits for all of them. Either way the CRM write-back jobs are
enqueued once the scores are stored (they push only values that changed).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from jobs.base import enqueue, job

log = logging.getLogger(__name__)


def _write_back() -> list[str]:
    from jobs import sync

    return [enqueue(sync.salesforce_push).id, enqueue(sync.mixpanel_push).id]


def _chunk_workers() -> int:
    """How many RQ workers listen on the queue the chunk jobs go to (at least one)."""
    from rq import Worker

    from hub.queue import queues

    queue = queues[score_chunk.job_options["queue"]]
    return max(1, Worker.count(queue=queue))


@job(timeout=3600)
def score_all(
    as_of: str | None = None, chunk_size: int | None = None, fan_out: bool = True
) -> dict[str, Any]:
    """Build features, score every account, predict churn, store history, then enqueue the
    CRM write-back. ``as_of`` is an ISO timestamp (default now)."""
    from hub.db import db
    from hub.scoring_service import CHUNK_SIZE, plan_run, run_inline

    when = datetime.fromisoformat(as_of) if as_of else None
    workers = _chunk_workers() if fan_out else 1
    plan = plan_run(db.engine, when, chunk_size or CHUNK_SIZE, workers=workers)
    if len(plan.chunks) <= 1 or not fan_out:
        summary = run_inline(db.engine, plan)
        summary["write_back_jobs"] = _write_back()
        log.info("scored %d accounts in %d chunk(s)", summary["scored"], len(plan.chunks))
        return summary
    doc = plan.to_dict()
    chunk_jobs = [
        enqueue(
            score_chunk, doc, lo, hi, job_id=f"score-{plan.as_of_day}-{plan.timestamp:%H%M%S}-{i}"
        )
        for i, (lo, hi) in enumerate(plan.chunks)
    ]
    finish = enqueue(finish_scoring, doc, [j.id for j in chunk_jobs], depends_on=chunk_jobs)
    log.info("scoring fanned out over %d chunk jobs", len(chunk_jobs))
    return {
        "as_of": plan.computed_at,
        "accounts": plan.accounts,
        "chunks": len(plan.chunks),
        "fanned_out": True,
        "chunk_jobs": [j.id for j in chunk_jobs],
        "finish_job": finish.id,
    }


@job(timeout=1800)
def score_chunk(plan: dict[str, Any], lo: int, hi: int) -> dict[str, Any]:
    """Score the accounts with ids in ``[lo, hi]`` for the planned run (idempotent)."""
    from hub.db import db
    from hub.scoring_service import RunPlan
    from hub.scoring_service import score_chunk as run_chunk

    return run_chunk(db.engine, RunPlan.from_dict(plan), lo, hi)


@job(timeout=600)
def finish_scoring(plan: dict[str, Any], chunk_job_ids: list[str]) -> dict[str, Any]:
    """After every chunk of a run: sum up what was scored and enqueue the write-back."""
    from rq.job import Job

    from hub.queue import queues
    from hub.scoring_service import RunPlan, merge_summaries

    parts = [Job.fetch(job_id, connection=queues.redis).return_value() for job_id in chunk_job_ids]
    summary = merge_summaries(RunPlan.from_dict(plan), [p for p in parts if p])
    summary["write_back_jobs"] = _write_back()
    return summary


@job(queue="low", timeout=7200, retries=1)
def train_weekly(as_of: str | None = None) -> dict[str, Any]:
    """Retrain and evaluate the churn model; promote only if it beats the active one."""
    from hub.churn_service import train_from_store
    from hub.db import db
    from scoring.training import NotEnoughData

    when = datetime.fromisoformat(as_of) if as_of else None
    try:
        result = train_from_store(db.engine, when, actor="schedule")
    except NotEnoughData as exc:  # nothing to learn from yet: not a failure to retry
        log.warning("churn training skipped: %s", exc)
        return {"skipped": True, "reason": str(exc)}
    log.info("churn model %s trained (promoted: %s)", result["version"], result["promoted"])
    return {
        k: result[k] for k in ("version", "promoted", "promotion", "training_window", "algorithm")
    } | {"roc_auc": result["report"].get("roc_auc")}
