"""Put measured figures beside their targets: what the API and the dashboard show."""

from __future__ import annotations

from typing import Any

from hub.metrics.catalogue import BY_KEY, CATALOGUE, Kpi


def roi(basis: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """The ROI estimate from the measured saves and the stated inputs."""
    saves = int(basis.get("saves") or 0)
    saved_mrr = float(basis.get("saved_mrr") or 0)
    months = float(inputs.get("months_of_revenue_per_save") or 0)
    entered = inputs.get("revenue_saved")
    revenue_saved = float(entered) if entered is not None else saved_mrr * months
    cost = saves * float(inputs.get("cost_per_save") or 0) + float(
        inputs.get("campaign_costs") or 0
    )
    value = None
    note = None
    if saves == 0 and entered is None:
        note = "no intervention saved an account in the period"
    elif cost <= 0:
        note = "the stated costs are zero"
    else:
        value = (revenue_saved - cost) / cost
    return {
        "value": value,
        "saves": saves,
        "saved_mrr": saved_mrr,
        "revenue_saved": revenue_saved,
        "revenue_saved_source": "input" if entered is not None else "computed",
        "cost": cost,
        "inputs": {k: inputs.get(k) for k in sorted(inputs)},
        "note": note,
    }


def status(kpi: Kpi, value: float | None, target: float | None) -> str:
    """no_data, no_target, on_target or off_target."""
    if value is None:
        return "no_data"
    if target is None:
        return "no_target"
    met = value >= target if kpi.higher_is_better else value <= target
    return "on_target" if met else "off_target"


def present(
    figures: dict[str, Any], settings: dict[str, Any], history: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Every KPI with its value (None = no data), target, status, definition and trend."""
    targets = settings.get("targets") or {}
    values = dict(figures.get("values") or {})
    roi_doc = roi(figures.get("roi_basis") or {}, settings.get("roi") or {})
    values["roi"] = roi_doc["value"]
    notes = dict(figures.get("notes") or {})
    if roi_doc["note"]:
        notes["roi"] = roi_doc["note"]
    samples = figures.get("samples") or {}
    kpis = {}
    for kpi in CATALOGUE:
        value = values.get(kpi.key)
        target = targets.get(kpi.key)
        trend = [
            {"day": h["day"], "value": (h.get("values") or {}).get(kpi.key)}
            for h in (history or [])
            if kpi.key != "roi"
        ]
        kpis[kpi.key] = {
            "label": kpi.label,
            "group": kpi.group,
            "unit": kpi.unit,
            "value": value,
            "target": target,
            "status": status(kpi, value, target),
            "higher_is_better": kpi.higher_is_better,
            "n": samples.get(kpi.key, 0),
            "note": notes.get(kpi.key),
            "definition": kpi.definition,
            "trend": trend,
        }
    return {
        "period": figures.get("period"),
        "segment": figures.get("segment"),
        "as_of": figures.get("as_of"),
        "kpis": kpis,
        "roi": roi_doc,
        "revenue": figures.get("revenue") or {},
        "cohorts": figures.get("cohorts") or {"months": [], "rows": []},
        "per_playbook": figures.get("per_playbook") or [],
        "model_quality": figures.get("model_quality") or [],
        "standing": figures.get("standing") or {},
    }


def format_value(key: str, value: float | None) -> str:
    """A KPI value for display; ``no data`` when nothing was measured."""
    if value is None:
        return "no data"
    unit = BY_KEY[key].unit if key in BY_KEY else "ratio"
    if unit == "rate":
        return f"{value * 100:.1f} %"
    if unit == "days":
        return f"{value:.1f} d"
    if unit == "months":
        return f"{value:.1f} mo"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "multiple":
        return f"{value:.2f}x"
    if unit == "score":
        return f"{value:.1f}"
    return f"{value:.3f}"
