"""Compute every KPI for a period, per segment and for all segments, from the store."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from hub.metrics import engagement, health, lifecycle, onboarding, programs, revenue, voice
from hub.metrics.base import Figure, Period, Scope, load_accounts
from hub.metrics.settings import load as load_settings


def compute(
    session: Session,
    period: Period,
    segment: str | None = None,
    settings: dict[str, Any] | None = None,
    as_of: datetime | None = None,
) -> dict[str, dict[str, Any]]:
    """Figures per key (``all`` and each segment, or only ``segment``) for ``period``.

    Each figures document holds raw measurements only (``values``: None means no data), so
    targets and ROI inputs can change without recomputing.
    """
    started = time.perf_counter()
    settings = settings or load_settings(session)
    as_of = as_of or min(datetime.now(UTC), period.end_at)
    scope = Scope(session, period, segment, settings.get("definitions") or {}, as_of)
    accounts = load_accounts(scope)

    measured: dict[str, dict[str, Figure]] = {}
    for days in lifecycle.RETENTION_MARKS:
        measured[f"retention_{days}d"] = lifecycle.retention(scope, accounts, days)
    churn, lifespan = lifecycle.churn_and_lifespan(scope, accounts)
    measured["logo_churn_rate"], measured["customer_lifespan_months"] = churn, lifespan
    measured["dau"], measured["mau"], measured["dau_mau"] = engagement.dau_mau(scope)
    measured["feature_adoption"] = engagement.feature_adoption(scope)
    measured["nps"] = voice.nps(scope)
    csat, ces, support = voice.csat_ces_support(scope)
    measured["csat"], measured["ces"], measured["support_satisfaction"] = csat, ces, support
    grr, nrr, revenue_detail = revenue.revenue_retention(scope)
    measured["gross_revenue_retention"], measured["net_revenue_retention"] = grr, nrr
    measured["upsell_rate"], measured["cross_sell_rate"] = revenue.offer_rates(scope)
    measured["referral_rate"] = revenue.referral_rate(scope, accounts)
    measured["time_to_first_value_days"] = onboarding.time_to_first_value(scope, accounts)
    measured["onboarding_completion"] = onboarding.onboarding_completion(scope, accounts)
    rates = programs.success_rates(scope)
    measured["playbook_success"] = rates["playbook_success"]
    measured["intervention_success"] = rates["intervention_success"]
    auc, model_history = programs.model_quality(scope)
    cohorts = lifecycle.cohort_table(scope, accounts)
    standing = health.distributions(scope, as_of)

    elapsed_ms = round((time.perf_counter() - started) * 1000)
    out: dict[str, dict[str, Any]] = {}
    for key in scope.keys:
        values: dict[str, float | None] = {}
        samples: dict[str, int] = {}
        notes: dict[str, str] = {}
        for kpi, per_key in measured.items():
            fig = per_key.get(key, Figure(None))
            values[kpi] = None if fig.value is None else round(float(fig.value), 6)
            samples[kpi] = fig.n
            if fig.note:
                notes[kpi] = fig.note
        values["churn_model_auc"] = None if auc.value is None else round(auc.value, 6)
        samples["churn_model_auc"] = auc.n
        out[key] = {
            "period": period.as_dict(),
            "segment": key,
            "as_of": as_of.isoformat(),
            "values": values,
            "samples": samples,
            "notes": notes,
            "revenue": revenue_detail.get(key, {}),
            "roi_basis": rates["roi_basis"].get(key, {"saves": 0, "saved_mrr": 0.0}),
            "per_playbook": rates["per_playbook"] if key in ("all", segment) else [],
            "model_quality": model_history,
            "cohorts": cohorts.get(key, {"months": [], "rows": []}),
            "standing": standing.get(key, {}),
            "computed_ms": elapsed_ms,
        }
    return out
