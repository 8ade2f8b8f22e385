"""``cshub sync salesforce [--pull] [--push]`` and ``cshub salesforce setup``."""

from __future__ import annotations

import sys
from typing import Any

import click

from hub.cli.common import cli, emit, json_option, make_app, sync


def _fail(doc: dict[str, Any], as_json: bool, code: int = 1) -> None:
    emit(doc, as_json, f"salesforce: {doc['error']['message']}")
    sys.exit(code)


def _error_doc(exc: Exception) -> dict[str, Any]:
    return {
        "ok": False,
        "error": {
            "code": getattr(exc, "code", None) or type(exc).__name__,
            "message": str(exc),
            "retry_after": getattr(exc, "retry_after", None),
        },
    }


@sync.command("salesforce")
@click.option("--pull", "do_pull", is_flag=True, help="pull Account, Contact, Opportunity, Case")
@click.option("--push", "do_push", is_flag=True, help="write changed scores back")
@json_option
def sync_salesforce(do_pull: bool, do_push: bool, as_json: bool) -> None:
    """Sync with Salesforce now (both directions unless --pull or --push is given)."""
    from hub.db import db
    from integrations.errors import IntegrationError
    from integrations.salesforce.pull import pull
    from integrations.salesforce.push import push
    from integrations.salesforce.runner import open_client

    if not do_pull and not do_push:
        do_pull = do_push = True
    app = make_app()
    doc: dict[str, Any] = {"ok": True}
    with app.app_context():
        try:
            with open_client(db.begin, app.config["CSHUB"]) as client:
                if do_pull:
                    doc["pull"] = pull(client, db.begin, client.settings)
                if do_push:
                    doc["push"] = push(client, db.begin, client.settings)
                doc["client"] = client.stats.as_dict()
                doc["api_usage"] = {"used": client.usage.used, "total": client.usage.total}
        except IntegrationError as exc:
            _fail(_error_doc(exc), as_json, 75 if getattr(exc, "retry_after", None) else 1)
    human = []
    if "pull" in doc:
        streams = doc["pull"]["streams"]
        human.append(
            "pulled "
            + ", ".join(f"{name} {s['records']}" for name, s in streams.items())
            + f" ({doc['pull']['api_calls']} API calls)"
        )
    if "push" in doc:
        p = doc["push"]
        human.append(
            f"pushed {p['changed_accounts']} changed accounts via {p['method']}"
            f" ({p.get('accepted', 0)} accepted, {p.get('rejected', 0)} rejected,"
            f" {p['api_calls']} API calls)"
        )
    emit(doc, as_json, "\n".join(human))


@cli.group()
def salesforce() -> None:
    """Salesforce set-up."""


@salesforce.command("setup")
@json_option
def setup_command(as_json: bool) -> None:
    """Create the score fields on Account (if missing) and grant cshub access to them."""
    from hub.db import db
    from integrations.errors import IntegrationError
    from integrations.salesforce.metadata import setup
    from integrations.salesforce.runner import open_client

    app = make_app()
    with app.app_context():
        try:
            with open_client(db.begin, app.config["CSHUB"]) as client:
                doc = {"ok": True, **setup(client)}
        except IntegrationError as exc:
            _fail(_error_doc(exc), as_json, 75 if getattr(exc, "retry_after", None) else 1)
    created = doc["created"]
    human = (
        f"created {len(created)} field(s): {', '.join(created)}"
        if created
        else "all score fields already exist"
    )
    access = doc["access"]
    if access.get("fields_granted"):
        human += f"; granted access to {len(access['fields_granted'])} field(s)"
    if access.get("permission_set_created"):
        human += f"; created permission set {access['permission_set']}"
    if access.get("assigned_to"):
        human += f"; assigned it to {access['assigned_to']}"
    emit(doc, as_json, human)
