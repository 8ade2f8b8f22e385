"""Chart specifications built on the server; ``static/app.js`` hands them to Chart.js."""

from __future__ import annotations

from typing import Any

TIER_COLOURS = {
    "champion": "#1b7f3b",
    "healthy": "#5aa469",
    "at_risk": "#e0a800",
    "critical": "#c0392b",
}
RISK_COLOURS = {"high": "#c0392b", "medium": "#e67e22", "low": "#e0a800", "minimal": "#5aa469"}


def bars(labels: list[str], values: list[float], colours: list[str], label: str) -> dict:
    return {
        "type": "bar",
        "labels": labels,
        "datasets": [{"label": label, "data": values, "backgroundColor": colours}],
        "legend": False,
    }


def distribution(counts: dict[str, int], colours: dict[str, str], label: str) -> dict:
    names = list(counts)
    return bars(
        [n.replace("_", " ") for n in names],
        [counts[n] for n in names],
        [colours.get(n, "#888") for n in names],
        label,
    )


def sparkline(points: list[dict[str, Any]], scale: float = 1.0) -> dict:
    return {
        "type": "spark",
        "labels": [p["day"] for p in points],
        "datasets": [
            {"data": [None if p["value"] is None else p["value"] * scale for p in points]}
        ],
    }


def cohort_curves(cohorts: dict[str, Any], limit: int = 8) -> dict:
    """One line per signup cohort: the share retained by months since signup."""
    rows = [r for r in cohorts.get("rows", []) if r["size"]][-limit:]
    return {
        "type": "line",
        "labels": [f"M{m}" for m in cohorts.get("months", [])],
        "datasets": [
            {
                "label": f"{r['cohort']} (n={r['size']})",
                "data": [None if v is None else round(v * 100, 1) for v in r["retention"]],
            }
            for r in rows
        ],
        "y": {"min": 0, "max": 100, "suffix": "%"},
    }


def score_history(points: list[tuple[str, float]]) -> dict:
    return {
        "type": "line",
        "labels": [p[0] for p in points],
        "datasets": [{"label": "health score", "data": [round(p[1], 1) for p in points]}],
        "y": {"min": 0, "max": 100},
        "legend": False,
    }


def series(labels: list[str], named: dict[str, list[float | None]], y: dict | None = None) -> dict:
    return {
        "type": "line",
        "labels": labels,
        "datasets": [{"label": name, "data": data} for name, data in named.items()],
        "y": y or {},
    }
