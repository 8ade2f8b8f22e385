"""The cron schedule, as data: one entry per flow of the design, deterministic names.

``cshub scheduler`` (exactly one process) registers these with RQ's built-in CronScheduler.
Times are UTC.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import Redis
from rq.cron import CronScheduler

from jobs import connectors, growth, inbox, kpis, playbooks, scoring, sync


@dataclass(frozen=True)
class Entry:
    name: str
    func: Callable[..., Any]
    queue: str
    cron: str | None = None
    interval: int | None = None
    timeout: int = 3600
    kwargs: dict[str, Any] | None = None


SCHEDULE: tuple[Entry, ...] = (
    Entry("inbox-sweeper", inbox.sweep, "high", interval=60, timeout=300),
    Entry("salesforce-pull", sync.salesforce_pull, "default", cron="*/15 * * * *"),
    Entry("salesforce-push", sync.salesforce_push, "default", cron="30 * * * *"),
    Entry("mixpanel-pull", sync.mixpanel_pull, "low", cron="10 * * * *"),
    Entry("mixpanel-push", sync.mixpanel_push, "low", cron="40 * * * *"),
    Entry("connectors-due", connectors.run_due, "default", interval=300, timeout=300),
    Entry("score-daily", scoring.score_all, "default", cron="0 2 * * *"),
    Entry("churn-train-weekly", scoring.train_weekly, "low", cron="0 3 * * 0", timeout=7200),
    Entry("playbooks", playbooks.evaluate_all, "default", cron="*/10 * * * *"),
    Entry("dispatch", playbooks.dispatch_due, "high", interval=60, timeout=600),
    Entry("kpi-rollup-daily", kpis.rollup_daily, "low", cron="0 4 * * *"),
    Entry("offers-evaluate", growth.evaluate_offers, "default", cron="20 */6 * * *"),
    Entry("surveys-send", growth.send_surveys, "default", cron="15 * * * *", timeout=1800),
    Entry("referral-invites", growth.invite_referrers, "low", cron="45 9 * * *", timeout=1800),
    Entry("rewards-grant", growth.grant_rewards, "high", cron="*/15 * * * *", timeout=900),
)


def build_scheduler(connection: Redis, level: int | str = logging.INFO) -> CronScheduler:
    """A CronScheduler with every entry registered."""
    scheduler = CronScheduler(connection=connection, logging_level=level, name="cshub-cron")
    for entry in SCHEDULE:
        scheduler.register(
            entry.func,
            entry.queue,
            kwargs=entry.kwargs,
            cron=entry.cron,
            interval=entry.interval,
            job_timeout=entry.timeout,
            name=entry.name,
        )
    return scheduler
