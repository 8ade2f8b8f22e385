"""Every flow of the design is on the cron schedule and points at a real job."""

import importlib

from rq.cron import CronScheduler

from jobs.schedule import SCHEDULE, build_scheduler


def test_one_entry_per_flow_with_unique_names():
    names = [e.name for e in SCHEDULE]
    assert len(names) == len(set(names))
    for flow in (
        "inbox-sweeper",
        "salesforce-pull",
        "salesforce-push",
        "mixpanel-pull",
        "connectors-due",
        "score-daily",
        "churn-train-weekly",
        "playbooks",
        "dispatch",
        "kpi-rollup-daily",
    ):
        assert flow in names


def test_entries_resolve_to_importable_jobs():
    """RQ imports a job by dotted path; each must resolve to the same declared job."""
    for entry in SCHEDULE:
        module = importlib.import_module(entry.func.__module__)
        assert getattr(module, entry.func.__name__) is entry.func
        assert hasattr(entry.func, "job_options")
        assert (entry.cron is None) != (entry.interval is None)


def test_scheduler_registers_and_enqueues_due_jobs(app):
    """The cron scheduler registers every entry; interval jobs are enqueued at once."""
    from hub.queue import queues

    scheduler: CronScheduler = build_scheduler(queues.redis)
    assert sorted(j.name for j in scheduler.get_jobs()) == sorted(e.name for e in SCHEDULE)
    enqueued = scheduler.enqueue_jobs()
    interval_names = {e.name for e in SCHEDULE if e.interval}
    assert {j.name for j in enqueued} == interval_names
    assert queues["high"].count >= 1
