"""The KPIs page: every KPI for a chosen period and segment beside its target, with its
definition; the cohort retention table; per-segment comparison; playbook success; churn-model
quality over time; the ROI estimate with its stated inputs; targets an admin can change."""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for

from hub import metrics
from hub.db import db
from hub.models.account import SEGMENTS
from hub.ui import charts
from hub.ui.blueprint import bp
from hub.ui.views.dashboard import pending_page, segment_arg

COMPARE = (
    "retention_90d",
    "net_revenue_retention",
    "dau_mau",
    "feature_adoption",
    "nps",
    "time_to_first_value_days",
    "onboarding_completion",
    "intervention_success",
)


def period_args() -> tuple[metrics.Period | None, str | None]:
    start, end = request.args.get("from"), request.args.get("to")
    if not start and not end:
        return None, None
    try:
        return metrics.Period(date.fromisoformat(start or ""), date.fromisoformat(end or "")), None
    except ValueError:
        return None, "Give a valid from and to date (YYYY-MM-DD), from not after to."


def cohort_class(value: float | None) -> str:
    if value is None:
        return "c0"
    return "c4" if value >= 0.9 else "c3" if value >= 0.75 else "c2" if value >= 0.5 else "c1"


@bp.get("/kpis")
def kpis():
    segment = segment_arg()
    period, error = period_args()
    settings = metrics.load_settings(db.session)
    try:
        loaded = metrics.load(db.session, period, segment, settings)
        by_segment = metrics.load_segments(db.session, period, settings)
    except metrics.RollupPending:
        return pending_page()
    shown = metrics.present(loaded.figures, settings, loaded.history)
    compare = {key: metrics.present(doc, settings)["kpis"] for key, doc in by_segment.items()}
    models = shown["model_quality"]
    model_chart = charts.series(
        [m["created_at"][:10] if m["created_at"] else m["version"] for m in models],
        {
            "ROC AUC": [m["roc_auc"] for m in models],
            "PR AUC": [m["pr_auc"] for m in models],
            "Brier": [m["brier"] for m in models],
        },
        {"min": 0, "max": 1},
    )
    groups = {g: [] for g in metrics.GROUPS}
    for key, kpi in shown["kpis"].items():
        groups[kpi["group"]].append((key, kpi))
    return render_template(
        "kpis.html",
        segment=segment,
        segments=SEGMENTS,
        period_error=error,
        loaded=loaded,
        shown=shown,
        groups=groups,
        compare=compare,
        compare_keys=COMPARE,
        compare_columns=[k for k in (metrics.ALL, *SEGMENTS) if k in compare],
        cohort_class=cohort_class,
        model_chart=model_chart,
        settings=settings,
        catalogue=metrics.CATALOGUE,
        roi_inputs=(
            "cost_per_save",
            "campaign_costs",
            "months_of_revenue_per_save",
            "revenue_saved",
        ),
    )


@bp.post("/kpis/settings")
def kpi_settings():
    """Save targets and ROI inputs from the form (blank target = no target)."""
    form = request.form
    changes: dict[str, dict[str, str | None]] = {"targets": {}, "roi": {}}
    for kpi in metrics.CATALOGUE:
        name = f"target__{kpi.key}"
        if name in form:
            changes["targets"][kpi.key] = form[name].strip() or None
    for key in ("cost_per_save", "campaign_costs", "months_of_revenue_per_save", "revenue_saved"):
        name = f"roi__{key}"
        if name in form:
            changes["roi"][key] = form[name].strip() or None
    from hub.ui.security import current_user

    try:
        metrics.save_settings(db.session, changes, current_user().actor)
    except metrics.SettingsError as exc:
        db.session.rollback()
        problems = "; ".join(f"{k}: {v}" for k, v in sorted(exc.fields.items()))
        flash(f"Nothing saved. {problems}", "error")
        return redirect(url_for("ui.kpis", **request.args.to_dict()))
    db.session.commit()
    flash("Targets and ROI inputs saved.")
    return redirect(url_for("ui.kpis", **request.args.to_dict()))
