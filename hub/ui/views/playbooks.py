"""Playbooks: the list with enabled/disabled and measured success against target; the YAML
editor with validation messages (line by line); enable/disable; a dry run against one
account. Storage, validation and evaluation are the playbook engine's (``hub.playbooks``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import case, func, select

from hub.db import db, utcnow
from hub.models import Account, JourneyEnrolment
from hub.playbooks import loader
from hub.playbooks.engine import evaluate
from hub.playbooks.schema import PlaybookInvalid
from hub.ui.blueprint import bp
from hub.ui.security import current_user

SUCCESS_WINDOW_DAYS = 90
KEY_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")
STARTER = """key: {key}
name: {name}
kind: custom
description: ""
trigger:
  score: {{below: 50}}
steps:
  - key: first_step
    task: {{subject: "Look at {{{{ account.name }}}}", due_in: 2d}}
"""


def journey_stats() -> dict[str, dict[str, int]]:
    """Per playbook: active journeys, and journeys (not dry runs) ended in the window and
    how many met their goal."""
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


@bp.get("/playbooks")
def playbooks():
    stats = journey_stats()
    items = []
    for key, lp in loader.live(db.session).items():
        s = stats.get(key, {"active": 0, "ended": 0, "met": 0})
        items.append(
            {
                "key": key,
                "pb": lp.playbook,
                "live": lp,
                "target": (lp.playbook.targets or {}).get("success_rate"),
                "stats": s,
                "rate": s["met"] / s["ended"] if s["ended"] else None,
            }
        )
    return render_template("playbooks.html", items=items, window=SUCCESS_WINDOW_DAYS)


def _check_key(key: str) -> None:
    if not key or len(key) > 64 or not set(key) <= KEY_CHARS or not key[0].isalpha():
        abort(404, "A playbook key is lower_snake_case.")


def _editor(key: str, text: str, errors: list, status: int = 200, dry_run: dict | None = None):
    source = loader.source_of(db.session, key)
    return (
        render_template(
            "playbook_edit.html",
            key=key,
            text=text,
            errors=errors,
            version=source[1] if source else None,
            state=loader.live(db.session).get(key) if source else None,
            versions=loader.versions(db.session, key)[:15],
            is_default=key in loader.default_sources(),
            dry_run=dry_run,
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
    source = loader.source_of(db.session, key)
    text = source[0] if source else STARTER.format(key=key, name=key.replace("_", " ").title())
    return _editor(key, text, [])


@bp.post("/playbooks/<key>")
def playbook_save(key: str):
    """Validate the YAML and store it as the next version; show every problem if invalid."""
    _check_key(key)
    text = (request.form.get("yaml") or "").replace("\r\n", "\n")
    try:
        row = loader.save(db.session, key, text, current_user().actor)
    except PlaybookInvalid as exc:
        db.session.rollback()
        return _editor(key, text, list(exc.errors), 422)
    db.session.commit()
    flash(f"Saved {key} as version {row.version}.")
    return redirect(url_for("ui.playbook_edit", key=key))


@bp.post("/playbooks/<key>/enabled")
def playbook_toggle(key: str):
    _check_key(key)
    enabled = request.form.get("enabled") == "1"
    try:
        loader.set_state(db.session, key, current_user().actor, enabled=enabled)
    except KeyError:
        abort(404, f"No playbook {key!r}.")
    db.session.commit()
    flash(f"{key} is now {'enabled' if enabled else 'disabled'}.")
    if request.form.get("back") == "list":
        return redirect(url_for("ui.playbooks"))
    return redirect(url_for("ui.playbook_edit", key=key))


def dry_run_for(key: str, account: Account) -> dict[str, Any]:
    """What ``key`` would do for ``account`` now; evaluated and rolled back, nothing sent."""
    live = loader.live(db.session).get(key)
    if live is None:
        raise KeyError(key)
    now = utcnow()
    try:
        report = evaluate(
            db.session,
            now=now,
            account_ids=[account.id],
            dry_run=True,
            record_actions=True,
            playbooks={key: live},
        )
    finally:
        db.session.rollback()
    return {
        "as_of": now.isoformat(),
        "actions": [a for a in report.actions if a.get("playbook") == key],
        "skipped": dict(report.skipped),
    }


@bp.post("/playbooks/<key>/dry-run")
def playbook_dry_run(key: str):
    """What the playbook in force would do for one account now, without sending anything."""
    _check_key(key)
    source = loader.source_of(db.session, key)
    if source is None:
        abort(404, f"No playbook {key!r}: save it first.")
    raw = (request.form.get("account_id") or "").strip()
    account = db.session.get(Account, int(raw)) if raw.isdigit() else None
    if account is None:
        return _editor(key, source[0], [], 422, {"error": f"No account with id {raw!r}."})
    result = dry_run_for(key, account)
    account = db.session.get(Account, account.id)
    return _editor(key, source[0], [], 200, {"account": account, **result})
