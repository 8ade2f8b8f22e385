"""Health configuration: component weights, tier bounds and indicator weights, with a preview
of how the tier distribution would change before saving a new version."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from hub.db import db
from hub.models import HealthConfigVersion
from hub.ui import charts, services
from hub.ui.blueprint import bp
from hub.ui.common import audit
from hub.ui.security import current_user

DEFAULTS = Path(__file__).resolve().parents[2] / "scoring_defaults.yaml"
SCORING_STORE = "hub.scoring.store"  # active_document(session), save_document(session, doc, actor)
SCORING_PREVIEW = "hub.scoring.preview"  # preview(session, doc) -> {"current", "proposed", ...}
TUNABLE = ("weight", "low", "high")


def active_document() -> tuple[dict[str, Any], int | None]:
    """The configuration in force and its version (None: the shipped defaults)."""
    active = services.lookup(SCORING_STORE, "active_document")
    if active is not None:
        doc, version = active(db.session)
        return copy.deepcopy(doc), version
    row = db.session.scalar(
        select(HealthConfigVersion)
        .where(HealthConfigVersion.active.is_(True))
        .order_by(HealthConfigVersion.version.desc())
        .limit(1)
    )
    if row is not None:
        return copy.deepcopy(row.document), row.version
    return (yaml.safe_load(DEFAULTS.read_text()) if DEFAULTS.exists() else {}), None


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
    parse = services.lookup("scoring.config", "parse_config")
    if parse is None:
        return []
    error_type = services.lookup("scoring.config", "ConfigError") or ValueError
    try:
        parse(doc)
    except error_type as exc:  # type: ignore[misc]
        return list(getattr(exc, "problems", [str(exc)]))
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
            preview_available=services.lookup(SCORING_PREVIEW, "preview") is not None,
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
    try:
        preview = services.need(SCORING_PREVIEW, "preview", "The tier preview")
        result = preview(db.session, doc)
    except services.Unavailable as exc:
        return _page(doc, version, 501, issues=[str(exc)])
    return _page(doc, version, 200, preview=result)


@bp.post("/health-config")
def health_save():
    current, version = active_document()
    doc, errors = apply_form(current, request.form)
    issues = problems(doc)
    if errors or issues:
        return _page(doc, version, 422, errors, issues=issues)
    actor = current_user().actor
    save = services.lookup(SCORING_STORE, "save_document")
    if save is not None:
        new_version = save(db.session, doc, actor)
    else:
        newest = (
            db.session.scalar(
                select(HealthConfigVersion.version)
                .order_by(HealthConfigVersion.version.desc())
                .limit(1)
            )
            or 0
        )
        for row in db.session.scalars(
            select(HealthConfigVersion).where(HealthConfigVersion.active.is_(True))
        ):
            row.active = False
        new_version = newest + 1
        db.session.add(
            HealthConfigVersion(version=new_version, document=doc, active=True, created_by=actor)
        )
        audit("health_config.save", f"health_config:{new_version}")
    db.session.commit()
    flash(f"Saved health configuration version {new_version}; the next scoring run uses it.")
    return redirect(url_for("ui.health_config"))
