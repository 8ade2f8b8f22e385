"""``cshub connectors run ID [--json]``: run one configured connector now, in this process."""

from __future__ import annotations

import click

from hub.cli.common import cli, emit, json_option, make_app


@cli.group()
def connectors() -> None:
    """Metric connectors (rigs, pools, exchanges, HTTP feeds)."""


@connectors.command("run")
@click.argument("connector_id", type=int)
@json_option
def run(connector_id: int, as_json: bool) -> None:
    """Run connector ID once and record its status, last run and last error."""
    from hub.db import db
    from integrations.connectors.runner import ConnectorNotFound, run_connector

    app = make_app()
    with app.app_context():
        try:
            outcome = run_connector(db.engine, connector_id)
        except ConnectorNotFound as exc:
            emit({"error": {"code": "not_found", "message": str(exc)}}, as_json, str(exc))
            raise SystemExit(2) from exc
    doc = outcome.as_dict()
    human = (
        f"connector {connector_id}: {doc['status']}, {doc['stored']} samples stored, "
        f"{doc['rejected']} rejected {doc['rejected_reasons'] or ''}"
        + (f"\nerror: {doc['error']}" if doc.get("error") else "")
    )
    emit(doc, as_json, human)
    if doc["status"] != "healthy":
        raise SystemExit(1)
