"""The webhook inbox: deliveries as received, their processing status, and replay."""

from __future__ import annotations

import json

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from redis.exceptions import RedisError
from sqlalchemy import select

from hub.db import db
from hub.ingest.inbox import ReplayConflict, replay
from hub.models import InboxEvent
from hub.models.inbox import INBOX_STATUSES
from hub.ui.blueprint import bp
from hub.ui.common import audit, paginate

BODY_PREVIEW = 20_000
SECRET_HEADERS = ("authorization", "signature", "secret", "token", "cookie")


@bp.get("/inbox")
def inbox():
    args = request.args
    stmt = select(InboxEvent).order_by(InboxEvent.received_at.desc(), InboxEvent.id.desc())
    if (status := args.get("status")) in INBOX_STATUSES:
        stmt = stmt.where(InboxEvent.status == status)
    if source := args.get("source"):
        stmt = stmt.where(InboxEvent.source == source)
    if event_type := (args.get("type") or "").strip():
        stmt = stmt.where(InboxEvent.event_type == event_type)
    sources = db.session.scalars(select(InboxEvent.source).distinct()).all()
    return render_template(
        "inbox.html",
        page=paginate(stmt),
        args=args,
        statuses=INBOX_STATUSES,
        sources=sorted(sources),
    )


def _masked_headers(headers: dict | None) -> dict[str, str]:
    return {
        k: ("•••" if any(s in k.lower() for s in SECRET_HEADERS) else str(v))
        for k, v in (headers or {}).items()
    }


def _body(raw: bytes | None) -> str:
    text = (raw or b"")[:BODY_PREVIEW].decode("utf-8", errors="replace")
    try:
        return json.dumps(json.loads(text), indent=2, sort_keys=True)
    except ValueError:
        return text


@bp.get("/inbox/<int:inbox_id>")
def inbox_item(inbox_id: int):
    row = db.session.get(InboxEvent, inbox_id)
    if row is None:
        abort(404, f"Inbox delivery {inbox_id} does not exist.")
    return render_template(
        "inbox_item.html",
        row=row,
        headers=_masked_headers(row.headers),
        body=_body(row.body),
        truncated=len(row.body or b"") > BODY_PREVIEW,
    )


@bp.post("/inbox/<int:inbox_id>/replay")
def inbox_replay(inbox_id: int):
    """Process a delivery again (processing is idempotent); refused while it is in flight."""
    row = db.session.get(InboxEvent, inbox_id)
    if row is None:
        abort(404, f"Inbox delivery {inbox_id} does not exist.")
    back = redirect(url_for("ui.inbox_item", inbox_id=inbox_id))
    audit("inbox.replay", f"inbox:{row.id}", status=row.status)
    try:
        job_id = replay(db.session, row, current_app.config["CSHUB"].inbox_lease_s)
    except ReplayConflict as exc:
        db.session.rollback()
        flash(f"Not replayed: {exc}", "error")
        return back
    except RedisError:  # the row is pending again: the inbox sweeper will enqueue it
        flash(
            f"Delivery {inbox_id} is pending again; the queue is unreachable, so the "
            "sweeper will pick it up.",
            "error",
        )
        return back
    flash(f"Delivery {inbox_id} queued for processing again (job {job_id}).")
    return back
