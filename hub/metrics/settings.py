"""KPI settings: targets and ROI inputs from ``hub/kpi_defaults.yaml``, overridden by what an
admin saved (``kpi_settings`` rows), and the definitions the computations use."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import record
from hub.metrics.catalogue import BY_KEY
from hub.models import KpiSetting

DEFAULTS_PATH = Path(__file__).resolve().parents[1] / "kpi_defaults.yaml"
ROI_INPUTS = ("cost_per_save", "campaign_costs", "months_of_revenue_per_save", "revenue_saved")
EDITABLE = ("targets", "roi")


@lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    return yaml.safe_load(DEFAULTS_PATH.read_text())


def defaults() -> dict[str, Any]:
    """A fresh copy of the shipped defaults."""
    return copy.deepcopy(_defaults())


def load(session: Session) -> dict[str, Any]:
    """The settings in force: defaults with the admin's saved targets and ROI inputs on top."""
    doc = defaults()
    for row in session.scalars(select(KpiSetting).where(KpiSetting.key.in_(EDITABLE))):
        doc[row.key] = {**doc.get(row.key, {}), **(row.value or {})}
    return doc


class SettingsError(ValueError):
    """Invalid KPI settings; ``fields`` maps each bad field to its message."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("invalid KPI settings")
        self.fields = fields


def validate(changes: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Check a partial update ``{"targets": {...}, "roi": {...}}``; return it cleaned."""
    errors: dict[str, str] = {}
    clean: dict[str, dict[str, float | None]] = {}
    for section, values in changes.items():
        if section not in EDITABLE:
            errors[section] = "unknown section (targets or roi)"
            continue
        if not isinstance(values, dict):
            errors[section] = "must be an object"
            continue
        allowed = BY_KEY if section == "targets" else ROI_INPUTS
        out: dict[str, float | None] = {}
        for key, value in values.items():
            name = f"{section}.{key}"
            if key not in allowed:
                errors[name] = "unknown field"
                continue
            if value is None or value == "":
                if section == "roi" and key != "revenue_saved":
                    errors[name] = "is required"
                    continue
                out[key] = None
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                errors[name] = "must be a number"
                continue
            if number != number or number in (float("inf"), float("-inf")):
                errors[name] = "must be a finite number"
                continue
            if section == "roi" and number < 0:
                errors[name] = "must not be negative"
                continue
            out[key] = number
        clean[section] = out
    if errors:
        raise SettingsError(errors)
    return clean


def save(session: Session, changes: dict[str, Any], actor: str) -> dict[str, Any]:
    """Validate and store a partial update; audit it; return the settings in force."""
    clean = validate(changes)
    for section, values in clean.items():
        row = session.scalar(select(KpiSetting).where(KpiSetting.key == section))
        if row is None:
            row = KpiSetting(key=section, value={})
            session.add(row)
        row.value = {**(row.value or {}), **values}
        row.updated_by = actor
        record(session, actor, "kpi.settings.update", f"kpi:{section}", changes=values)
    session.flush()
    return load(session)
