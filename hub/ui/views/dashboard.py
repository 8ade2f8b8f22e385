"""The dashboard: KPI tiles against target with their trend, tier and churn-risk
distributions, retention curves by cohort, and the accounts that moved tier this week."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from redis.exceptions import RedisError

from hub import metrics
from hub.db import db
from hub.models.account import SEGMENTS
from hub.ui import charts
from hub.ui.blueprint import bp
from hub.ui.common import audit

TREND_COMPARE_DAYS = 7


def segment_arg() -> str | None:
    value = request.args.get("segment") or None
    return value if value in SEGMENTS else None


def tile(key: str, kpi: dict[str, Any]) -> dict[str, Any]:
    """A dashboard tile: the KPI and its change over the last week of roll-ups."""
    points = [p for p in kpi["trend"] if p["value"] is not None]
    delta = None
    if kpi["value"] is not None and len(points) > 1:
        earlier = points[max(0, len(points) - 1 - TREND_COMPARE_DAYS)]
        delta = kpi["value"] - earlier["value"]
    scale = 100.0 if kpi["unit"] == "rate" else 1.0
    return {
        "key": key,
        **kpi,
        "delta": delta,
        "delta_good": None if not delta else (delta > 0) == kpi["higher_is_better"],
        "spark": charts.sparkline(kpi["trend"], scale) if len(points) > 1 else None,
    }


@bp.get("/")
def dashboard():
    segment = segment_arg()
    settings = metrics.load_settings(db.session)
    try:
        loaded = metrics.load(db.session, None, segment, settings)
    except metrics.RollupPending:
        return pending_page()
    shown = metrics.present(loaded.figures, settings, loaded.history)
    standing = shown["standing"]
    return render_template(
        "dashboard.html",
        segment=segment,
        segments=SEGMENTS,
        loaded=loaded,
        shown=shown,
        tiles=[tile(k, shown["kpis"][k]) for k in metrics.DASHBOARD_TILES],
        tier_chart=charts.distribution(standing.get("tiers", {}), charts.TIER_COLOURS, "accounts"),
        risk_chart=charts.distribution(
            standing.get("churn_risk", {}), charts.RISK_COLOURS, "accounts"
        ),
        has_tiers=any(standing.get("tiers", {}).values()),
        has_risk=any(standing.get("churn_risk", {}).values()),
        cohort_chart=charts.cohort_curves(shown["cohorts"]),
        moves=standing.get("tier_moves", {"count": 0, "up": 0, "down": 0, "accounts": []}),
    )


def queue_rollup():
    """Queue the roll-up of the 30 days ending today (one job id per day)."""
    from jobs.base import enqueue
    from jobs.kpis import rollup_daily

    day = datetime.now(UTC).date().isoformat()
    return day, enqueue(rollup_daily, day, job_id=f"kpi-rollup-{day}")


def pending_page():
    """No roll-up yet on a tenant too large to compute one in a request: queue it, say so."""
    try:
        _day, job = queue_rollup()
        job_id = job.id
    except RedisError:
        job_id = None
    return render_template("pending.html", job_id=job_id), 202


@bp.post("/kpis/refresh")
def refresh_kpis():
    """Queue the KPI roll-up for today; the page shows it once the worker has run it."""
    day, job = queue_rollup()
    audit("kpi.refresh", f"kpi:{day}", job_id=job.id)
    db.session.commit()
    flash(f"KPI roll-up for {day} queued (job {job.id}). Reload in a minute.")
    return redirect(request.referrer if _same_site(request.referrer) else url_for("ui.dashboard"))


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)
