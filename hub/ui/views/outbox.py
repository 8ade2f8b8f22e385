"""The outbox: every message with its delivery status, and re-send for an admin."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from hub.db import db
from hub.models import Account, OutboxMessage
from hub.models.outbox import OUTBOX_STATUSES
from hub.playbooks.outbox import RESENDABLE, resend
from hub.ui.blueprint import bp
from hub.ui.common import paginate
from hub.ui.security import current_user


@bp.get("/outbox")
def outbox():
    args = request.args
    stmt = (
        select(OutboxMessage, Account.name)
        .outerjoin(Account, Account.id == OutboxMessage.account_id)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    )
    if (status := args.get("status")) in OUTBOX_STATUSES:
        stmt = stmt.where(OutboxMessage.status == status)
    if channel := args.get("channel"):
        stmt = stmt.where(OutboxMessage.channel == channel)
    if (account := args.get("account", "")).isdigit():
        stmt = stmt.where(OutboxMessage.account_id == int(account))
    channels = db.session.scalars(select(OutboxMessage.channel).distinct()).all()
    return render_template(
        "outbox.html",
        page=paginate(stmt, scalars=False),
        args=args,
        statuses=OUTBOX_STATUSES,
        channels=sorted(channels),
        resendable=RESENDABLE,
    )


@bp.post("/outbox/<int:message_id>/resend")
def outbox_resend(message_id: int):
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        abort(404, f"Message {message_id} does not exist.")
    try:
        resend(db.session, message, current_user().actor)
    except ValueError as exc:
        db.session.rollback()
        flash(f"Not re-sent: {exc}", "error")
        return redirect(url_for("ui.outbox", **request.args.to_dict()))
    db.session.commit()
    flash(f"Message {message_id} is queued to be sent again.")
    return redirect(url_for("ui.outbox", **request.args.to_dict()))
