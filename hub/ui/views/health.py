"""Health configuration: component weights, tier bounds and indicator weights, with a preview
of how the tier distribution would change before saving a new version."""

from __future__ import annotations

import copy
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from hub import scoring_config
from hub.db import db
from hub.models import HealthConfigVersion
from hub.ui import charts
from hub.ui.blueprint import bp
from hub.ui.common import audit
from hub.ui.health_preview import preview
from hub.ui.security import current_user
from scoring.config import ConfigError, parse_config

TUNABLE = ("weight", "low", "high")


def active_document() -> tuple[dict[str, Any], int]:
    """The configuration in force and its version (the defaults are saved as version 1 on
    first use, by the scoring capability)."""
    row = scoring_config.active_version(db.session)
    db.session.commit()
    return copy.deepcopy(row.document), row.version


def apply_form(doc: dict[str, Any], form) -> tuple[dict[str, Any], dict[str, str]]:
    """A copy of ``doc`` with the form's numbers in it; unparseable numbers are errors."""
    out = copy.deepcopy(doc)
    health = out.setdefault("health", {})
    errors: dict[str, str] = {}

    def number(name: str) -> float | None:
        raw = (form.get(name) or "").strip()
        if raw == "":
            return None
        try:
            value = float(raw)
        except ValueError:
            errors[name] = "must be a number"
            return None
        return int(value) if value.is_integer() else value

    for comp, spec in (health.get("components") or {}).items():
        value = number(f"comp__{comp}")
        if value is not None:
            spec["weight"] = value
    for tier in list((health.get("tiers") or {}).keys()):
        value = number(f"tier__{tier}")
        if value is not None:
            health["tiers"][tier] = value
    for name, spec in (health.get("indicators") or {}).items():
        for attr in TUNABLE:
            value = number(f"ind__{name}__{attr}")
            if value is not None and (attr == "weight" or attr in spec):
                spec[attr] = value
    return out, errors


def problems(doc: dict[str, Any]) -> list[str]:
    try:
        parse_config(doc)
    except ConfigError as exc:
        return list(exc.problems)
    return []


def _page(doc, version, status=200, errors=None, preview=None, issues=None):
    versions = list(
        db.session.scalars(
            select(HealthConfigVersion).order_by(HealthConfigVersion.version.desc()).limit(10)
        )
    )
    health = doc.get("health") or {}
    indicators: dict[str, list] = {}
    for name, spec in (health.get("indicators") or {}).items():
        indicators.setdefault(spec.get("component", "other"), []).append((name, spec))
    chart = None
    if preview:
        tiers = list(preview.get("current", {}) or preview.get("proposed", {}))
        chart = {
            "type": "bar",
            "labels": [t.replace("_", " ") for t in tiers],
            "datasets": [
                {
                    "label": "now",
                    "data": [preview["current"].get(t, 0) for t in tiers],
                    "backgroundColor": "#9db4cc",
                },
                {
                    "label": "with these settings",
                    "data": [preview["proposed"].get(t, 0) for t in tiers],
                    "backgroundColor": [charts.TIER_COLOURS.get(t, "#888") for t in tiers],
                },
            ],
        }
    return (
        render_template(
            "health.html",
            doc=doc,
            health=health,
            indicators=indicators,
            version=version,
            versions=versions,
            errors=errors or {},
            issues=issues or [],
            preview=preview,
            preview_chart=chart,
        ),
        status,
    )


@bp.get("/health-config")
def health_config():
    doc, version = active_document()
    return _page(doc, version)


@bp.post("/health-config/preview")
def health_preview():
    """Score the current accounts with the edited settings; change nothing."""
    current, version = active_document()
    doc, errors = apply_form(current, request.form)
    issues = problems(doc)
    if errors or issues:
        return _page(doc, version, 422, errors, issues=issues)
    return _page(doc, version, 200, preview=preview(db.session, doc))


@bp.post("/health-config")
def health_save():
    current, version = active_document()
    doc, errors = apply_form(current, request.form)
    issues = problems(doc)
    if errors or issues:
        return _page(doc, version, 422, errors, issues=issues)
    try:
        row = scoring_config.save(db.session, {"health": doc["health"]}, current_user().actor)
    except ConfigError as exc:
        db.session.rollback()
        return _page(doc, version, 422, issues=list(exc.problems))
    audit("scoring_config.update", f"scoring_config:{row.version}", sections=["health"])
    db.session.commit()
    flash(f"Saved health configuration version {row.version}; the next scoring run uses it.")
    return redirect(url_for("ui.health_config"))
