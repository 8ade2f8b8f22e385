"""The audit log: who changed what, from the API, the UI or the CLI."""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select

from hub.models import AuditLog
from hub.ui.blueprint import bp
from hub.ui.common import paginate


@bp.get("/audit")
def audit_log():
    args = request.args
    stmt = select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc())
    if actor := (args.get("actor") or "").strip():
        stmt = stmt.where(AuditLog.actor.ilike(f"%{actor}%"))
    if action := (args.get("action") or "").strip():
        stmt = stmt.where(AuditLog.action.ilike(f"{action}%"))
    if target := (args.get("target") or "").strip():
        stmt = stmt.where(AuditLog.target.ilike(f"{target}%"))
    return render_template("audit.html", page=paginate(stmt), args=args)
