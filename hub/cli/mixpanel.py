"""``cshub sync mixpanel [--pull] [--push] [--since DAY] [--json]``."""

from __future__ import annotations

from datetime import datetime

import click

from hub.cli.common import emit, json_option, make_app, sync


@sync.command("mixpanel")
@click.option("--pull", "do_pull", is_flag=True, help="pull events (Raw Event Export)")
@click.option("--push", "do_push", is_flag=True, help="push scores and hub actions")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="backfill the pull from this UTC day (re-reading is deduplicated)",
)
@json_option
def sync_mixpanel(do_pull: bool, do_push: bool, since: datetime | None, as_json: bool) -> None:
    """Pull from and/or push to Mixpanel now (both when neither flag is given)."""
    from hub.db import db
    from hub.queue import queues
    from integrations.errors import IntegrationError
    from integrations.mixpanel.runner import pull_now, push_now

    if not do_pull and not do_push:
        do_pull = do_push = True
    app = make_app()
    config = app.config["CSHUB"]
    doc: dict = {}
    with app.app_context():
        try:
            if do_pull:
                doc["pull"] = pull_now(
                    db.engine, config, queues.redis, since=since.date() if since else None
                )
            if do_push:
                doc["push"] = push_now(db.engine, config, queues.redis)
        except IntegrationError as exc:
            doc["error"] = {"kind": type(exc).__name__, "message": str(exc)}
            emit(doc, as_json, f"mixpanel sync failed: {exc}")
            raise SystemExit(1) from exc
    lines = []
    if "pull" in doc:
        p = doc["pull"]
        lines.append(
            p.get("skipped")
            or f"pull {p['from_date']}..{p['to_date']}: {p['lines']} lines, {p['inserted']} new, "
            f"{p['duplicates']} duplicate, {p['unmapped']} unmapped, {p['invalid']} invalid"
        )
    if "push" in doc:
        p = doc["push"]
        lines.append(p.get("skipped") or f"push: {p}")
    emit(doc, as_json, "\n".join(lines))
