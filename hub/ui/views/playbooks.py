"""Playbooks: the list with enabled/disabled and measured success against target; the YAML
editor with validation messages (line by line); enable/disable; a dry run against one
account."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import case, func, select

from hub.db import db, utcnow
from hub.models import Account, JourneyEnrolment, PlaybookVersion
from hub.ui import services
from hub.ui.blueprint import bp
from hub.ui.common import audit
from hub.ui.security import current_user

DEFAULTS_DIR = Path(__file__).resolve().parents[2] / "playbooks" / "defaults"
SUCCESS_WINDOW_DAYS = 90
KEY_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")
STARTER = """key: {key}
name: {name}
kind: custom
description: ""
trigger:
  event: session_start
steps:
  - key: first_step
    send:
      channel: email
      template: {key}_email
"""


def default_texts() -> dict[str, str]:
    """The shipped default playbooks (``hub/playbooks/defaults/*.yaml``), by key."""
    out: dict[str, str] = {}
    if DEFAULTS_DIR.is_dir():
        for path in sorted(DEFAULTS_DIR.glob("*.y*ml")):
            text = path.read_text()
            try:
                doc = yaml.safe_load(text)
            except yaml.YAMLError:
                continue
            if isinstance(doc, dict) and doc.get("key"):
                out[str(doc["key"])] = text
    return out


def newest_versions() -> dict[str, PlaybookVersion]:
    newest = (
        select(PlaybookVersion.key, func.max(PlaybookVersion.version).label("v"))
        .group_by(PlaybookVersion.key)
        .subquery()
    )
    rows = db.session.scalars(
        select(PlaybookVersion).join(
            newest,
            (PlaybookVersion.key == newest.c.key) & (PlaybookVersion.version == newest.c.v),
        )
    )
    return {row.key: row for row in rows}


def journey_stats() -> dict[str, dict[str, int]]:
    since = utcnow() - timedelta(days=SUCCESS_WINDOW_DAYS)
    ended = JourneyEnrolment.completed_at >= since
    rows = db.session.execute(
        select(
            JourneyEnrolment.playbook_key,
            func.sum(case((JourneyEnrolment.status == "active", 1), else_=0)),
            func.sum(case((ended, 1), else_=0)),
            func.sum(case((ended & (JourneyEnrolment.outcome == "goal_met"), 1), else_=0)),
        )
        .where(JourneyEnrolment.dry_run.is_(False))
        .group_by(JourneyEnrolment.playbook_key)
    )
    return {
        key: {"active": int(a or 0), "ended": int(e or 0), "met": int(m or 0)}
        for key, a, e, m in rows
    }


def describe(text: str) -> dict[str, Any]:
    """Name, kind and target success rate declared in a playbook's YAML (best effort)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None
    doc = doc if isinstance(doc, dict) else {}
    targets = doc.get("targets") if isinstance(doc.get("targets"), dict) else {}
    return {
        "name": doc.get("name"),
        "kind": doc.get("kind"),
        "description": doc.get("description"),
        "target": targets.get("success_rate"),
        "mode": doc.get("mode", "live"),
        "enabled": bool(doc.get("enabled", True)),
    }


@bp.get("/playbooks")
def playbooks():
    stored = newest_versions()
    defaults = default_texts()
    stats = journey_stats()
    items = []
    for key in sorted(set(stored) | set(defaults)):
        row = stored.get(key)
        text = row.yaml if row else defaults[key]
        s = stats.get(key, {"active": 0, "ended": 0, "met": 0})
        items.append(
            {
                "key": key,
                "row": row,
                "info": describe(text),
                "enabled": row.enabled if row else None,
                "stats": s,
                "rate": s["met"] / s["ended"] if s["ended"] else None,
            }
        )
    return render_template("playbooks.html", items=items, window=SUCCESS_WINDOW_DAYS)


def validate(text: str, key: str, version: int) -> list[dict[str, Any]]:
    """Problems with a playbook document, each ``{path, line, column, message}``."""
    parse = services.lookup("hub.playbooks.schema", "parse_playbook")
    if parse is not None:
        invalid = services.lookup("hub.playbooks.schema", "PlaybookInvalid")
        try:
            parse(text, version=version, expected_key=key)
        except invalid as exc:  # type: ignore[misc]
            return list(exc.errors)
        return []
    try:  # without the playbook engine, at least the YAML and the key are checked
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [
            {
                "path": "(document)",
                "line": mark.line + 1 if mark else None,
                "column": mark.column + 1 if mark else None,
                "message": str(getattr(exc, "problem", exc)),
            }
        ]
    if not isinstance(doc, dict) or doc.get("key") != key:
        return [{"path": "key", "line": 1, "column": 1, "message": f"the key must be {key!r}"}]
    return []


def _check_key(key: str) -> None:
    if not key or len(key) > 64 or not set(key) <= KEY_CHARS or not key[0].isalpha():
        abort(404, "A playbook key is lower_snake_case.")


def _editor(key: str, text: str, errors: list, status: int = 200, dry_run: dict | None = None):
    stored = newest_versions().get(key)
    versions = list(
        db.session.scalars(
            select(PlaybookVersion)
            .where(PlaybookVersion.key == key)
            .order_by(PlaybookVersion.version.desc())
            .limit(15)
        )
    )
    return (
        render_template(
            "playbook_edit.html",
            key=key,
            text=text,
            errors=errors,
            row=stored,
            versions=versions,
            is_default=key in default_texts(),
            dry_run=dry_run,
            dry_run_available=services.lookup("hub.playbooks.dryrun", "dry_run") is not None,
        ),
        status,
    )


@bp.get("/playbooks/new")
def playbook_new():
    key = (request.args.get("key") or "").strip()
    _check_key(key)
    return redirect(url_for("ui.playbook_edit", key=key))


@bp.get("/playbooks/<key>")
def playbook_edit(key: str):
    _check_key(key)
    stored = newest_versions().get(key)
    text = (
        stored.yaml
        if stored
        else default_texts().get(key) or STARTER.format(key=key, name=key.replace("_", " ").title())
    )
    return _editor(key, text, [])


@bp.post("/playbooks/<key>")
def playbook_save(key: str):
    _check_key(key)
    text = (request.form.get("yaml") or "").replace("\r\n", "\n")
    stored = newest_versions().get(key)
    version = (stored.version if stored else 0) + 1
    errors = validate(text, key, version)
    if errors:
        return _editor(key, text, errors, 422)
    save = services.lookup("hub.playbooks.store", "save_version")
    if save is not None:
        save(db.session, key, text, current_user().actor)
    else:
        db.session.add(
            PlaybookVersion(
                key=key,
                version=version,
                yaml=text,
                enabled=stored.enabled if stored else describe(text)["enabled"],
                created_by=current_user().actor,
            )
        )
        audit("playbook.save", f"playbook:{key}", version=version)
    db.session.commit()
    flash(f"Saved {key} as version {version}.")
    return redirect(url_for("ui.playbook_edit", key=key))


@bp.post("/playbooks/<key>/enabled")
def playbook_toggle(key: str):
    _check_key(key)
    stored = newest_versions().get(key)
    if stored is None:
        abort(404, "Save the playbook before enabling or disabling it.")
    stored.enabled = request.form.get("enabled") == "1"
    audit("playbook.enable" if stored.enabled else "playbook.disable", f"playbook:{key}")
    db.session.commit()
    flash(f"{key} is now {'enabled' if stored.enabled else 'disabled'}.")
    back = "ui.playbooks" if request.form.get("back") == "list" else "ui.playbook_edit"
    return redirect(url_for(back, key=key) if back == "ui.playbook_edit" else url_for(back))


@bp.post("/playbooks/<key>/dry-run")
def playbook_dry_run(key: str):
    """What the playbook would do for one account now, without sending anything."""
    _check_key(key)
    stored = newest_versions().get(key)
    text = stored.yaml if stored else default_texts().get(key, "")
    raw = (request.form.get("account_id") or "").strip()
    account = db.session.get(Account, int(raw)) if raw.isdigit() else None
    if account is None:
        return _editor(key, text, [], 422, {"error": f"No account with id {raw!r}."})
    try:
        run = services.need("hub.playbooks.dryrun", "dry_run", "The playbook dry run")
        result = run(db.session, key, account.id)
    except services.Unavailable as exc:
        return _editor(key, text, [], 501, {"error": str(exc)})
    except ValueError as exc:
        return _editor(key, text, [], 422, {"error": str(exc)})
    audit("playbook.dry_run", f"playbook:{key}", account_id=account.id)
    db.session.commit()
    return _editor(key, text, [], 200, {"account": account, "result": result})
