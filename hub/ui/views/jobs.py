"""Job monitoring from RQ's own registries: queue depths, running, scheduled and failed jobs,
with retry for failed ones; the cron schedule."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from hub.db import db
from hub.queue import QUEUE_NAMES, queues
from hub.ui.blueprint import bp
from hub.ui.common import audit

FAILED_SHOWN = 50


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _error_of(job: Job) -> str | None:
    result = job.latest_result()
    return result.exc_string if result is not None else None


def queue_stats() -> list[dict[str, Any]]:
    out = []
    for queue in queues.all():
        out.append(
            {
                "name": queue.name,
                "queued": queue.count,
                "started": queue.started_job_registry.count,
                "scheduled": queue.scheduled_job_registry.count,
                "deferred": queue.deferred_job_registry.count,
                "finished": queue.finished_job_registry.count,
                "failed": queue.failed_job_registry.count,
            }
        )
    return out


def failed_jobs(queue_name: str | None) -> list[dict[str, Any]]:
    out = []
    for queue in queues.all():
        if queue_name and queue.name != queue_name:
            continue
        ids = queue.failed_job_registry.get_job_ids(0, FAILED_SHOWN - 1, desc=True)
        for job in Job.fetch_many(ids, connection=queues.redis):
            if job is None:
                continue
            out.append(
                {
                    "id": job.id,
                    "queue": queue.name,
                    "func": job.func_name,
                    "args": repr(job.args)[:120],
                    "ended_at": job.ended_at,
                    "error": _last_line(_error_of(job)),
                    "retries_left": job.retries_left,
                }
            )
    out.sort(key=lambda j: j["ended_at"] or 0, reverse=True)
    return out[:FAILED_SHOWN]


def schedule() -> list[Any]:
    try:
        from jobs.schedule import SCHEDULE
    except ImportError:
        return []
    return list(SCHEDULE)


@bp.get("/jobs")
def jobs():
    queue_name = request.args.get("queue")
    queue_name = queue_name if queue_name in QUEUE_NAMES else None
    workers = []
    try:
        from rq import Worker

        workers = [
            {"name": w.name, "state": w.get_state(), "queues": ",".join(w.queue_names())}
            for w in Worker.all(connection=queues.redis)
        ]
    except Exception:  # worker listing is informative only
        workers = []
    return render_template(
        "jobs.html",
        stats=queue_stats(),
        failed=failed_jobs(queue_name),
        queue_name=queue_name,
        schedule=schedule(),
        workers=workers,
    )


@bp.post("/jobs/failed/<queue_name>/<job_id>/retry")
def job_retry(queue_name: str, job_id: str):
    if queue_name not in QUEUE_NAMES:
        abort(404, f"No queue named {queue_name!r}.")
    registry = queues[queue_name].failed_job_registry
    try:
        registry.requeue(job_id)
    except (NoSuchJobError, InvalidJobOperation) as exc:
        flash(f"Not retried: {exc}", "error")
        return redirect(url_for("ui.jobs"))
    audit("job.retry", f"job:{job_id}", queue=queue_name)
    db.session.commit()
    flash(f"Job {job_id} is queued again on {queue_name}.")
    return redirect(url_for("ui.jobs"))


@bp.post("/jobs/failed/<queue_name>/retry-all")
def job_retry_all(queue_name: str):
    if queue_name not in QUEUE_NAMES:
        abort(404, f"No queue named {queue_name!r}.")
    registry = queues[queue_name].failed_job_registry
    done = 0
    for job_id in registry.get_job_ids():
        try:
            registry.requeue(job_id)
            done += 1
        except (NoSuchJobError, InvalidJobOperation):  # vanished meanwhile: skipped
            continue
    audit("job.retry_all", f"queue:{queue_name}", count=done)
    db.session.commit()
    flash(f"{done} failed jobs queued again on {queue_name}.")
    return redirect(url_for("ui.jobs"))
