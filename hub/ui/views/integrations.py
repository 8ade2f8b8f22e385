"""Integrations: Salesforce, Mixpanel, Stripe, webhook secrets and each metric connector:
configure (secrets write-only), test the connection, last sync and errors."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select

from hub import settings as store
from hub.db import db, utcnow
from hub.models import Account, ConnectorConfig, IntegrationSetting, SyncState
from hub.ui import forms, services
from hub.ui.blueprint import bp
from hub.ui.common import audit
from hub.ui.security import current_user


def _rows() -> dict[str, IntegrationSetting]:
    return {r.name: r for r in db.session.scalars(select(IntegrationSetting))}


def connector_types() -> dict[str, object]:
    """Registered connector types (name -> type), when the connectors package provides them."""
    registry = services.lookup("integrations.connectors", "connector_types")
    try:
        return dict(registry()) if registry else {}
    except Exception:  # a broken optional plugin must not take the page down
        current_app.logger.exception("listing connector types failed")
        return {}


@bp.get("/integrations")
def integrations():
    config = current_app.config["CSHUB"]
    rows = _rows()
    items = []
    for name, spec in sorted(store.specs().items()):
        row = rows.get(name)
        items.append(
            {
                "name": name,
                "description": spec.description,
                "configured": bool(store.effective(db.session, spec, config)),
                "source": "saved" if row else "environment",
                "row": row,
                "checkable": spec.check is not None,
            }
        )
    connectors = db.session.execute(
        select(ConnectorConfig, Account.name)
        .outerjoin(Account, Account.id == ConnectorConfig.account_id)
        .order_by(ConnectorConfig.type, ConnectorConfig.name)
    ).all()
    cursors = list(db.session.scalars(select(SyncState).order_by(SyncState.stream)))
    return render_template(
        "integrations.html",
        items=items,
        connectors=connectors,
        cursors=cursors,
        types=connector_types(),
    )


def _spec(name: str) -> store.IntegrationSpec:
    spec = store.get_spec(name)
    if spec is None:
        abort(404, f"No integration named {name!r}.")
    return spec


def _form(name: str, errors: dict | None = None, status: int = 200, check: dict | None = None):
    spec = _spec(name)
    config = current_app.config["CSHUB"]
    values = store.effective(db.session, spec, config)
    return (
        render_template(
            "integration.html",
            name=name,
            spec=spec,
            fields=forms.describe(spec.schema, spec.secret_keys, values),
            row=_rows().get(name),
            errors=errors or {},
            check=check,
        ),
        status,
    )


@bp.get("/integrations/<name>")
def integration(name: str):
    return _form(name)


@bp.post("/integrations/<name>")
def integration_save(name: str):
    spec = _spec(name)
    config = current_app.config["CSHUB"]
    stored = store.effective(db.session, spec, config)
    form_fields = forms.describe(spec.schema, spec.secret_keys, stored)
    data, errors = forms.payload(form_fields, request.form, stored)
    if not errors:
        try:
            values = spec.schema().load(data)
        except ValidationError as exc:
            errors = {
                k: "; ".join(map(str, v)) if isinstance(v, list) else str(v)
                for k, v in exc.messages.items()
            }  # type: ignore[union-attr]
    if errors:
        return _form(name, errors, 422)
    store.save(db.session, spec, values, config, current_user().actor)
    db.session.commit()
    flash(f"{name} settings saved. Secrets are stored encrypted and never shown again.")
    return redirect(url_for("ui.integration", name=name))


@bp.post("/integrations/<name>/check")
def integration_check(name: str):
    """Test the connection with the settings in force and record the outcome."""
    spec = _spec(name)
    if spec.check is None:
        abort(400, f"{name} has no connection test.")
    config = current_app.config["CSHUB"]
    values = store.effective(db.session, spec, config)
    row = _rows().get(name)
    try:
        facts = spec.check(values)
    except Exception as exc:  # any failure is reported to the admin, not raised
        if row:
            row.status, row.last_error = "error", str(exc)[:2000]
        audit("integration.check", f"integration:{name}", ok=False)
        db.session.commit()
        return _form(name, None, 502, {"ok": False, "error": str(exc)})
    if row:
        row.status, row.last_error, row.last_sync_at = "ok", None, utcnow()
    audit("integration.check", f"integration:{name}", ok=True)
    db.session.commit()
    return _form(name, None, 200, {"ok": True, "facts": facts})


@bp.get("/integrations/connectors/<int:connector_id>")
def connector(connector_id: int):
    row = db.session.get(ConnectorConfig, connector_id)
    if row is None:
        abort(404, f"Connector {connector_id} does not exist.")
    kind = connector_types().get(row.type)
    secret_keys = frozenset(getattr(kind, "secret_keys", ()) or ())
    return render_template(
        "connector.html",
        c=row,
        account=db.session.get(Account, row.account_id) if row.account_id else None,
        secret_keys=sorted(set(secret_keys) | set((row.secrets or {}).keys())),
        kind=kind,
    )


@bp.post("/integrations/connectors/<int:connector_id>/enabled")
def connector_toggle(connector_id: int):
    row = db.session.get(ConnectorConfig, connector_id)
    if row is None:
        abort(404, f"Connector {connector_id} does not exist.")
    row.enabled = request.form.get("enabled") == "1"
    audit("connector.enable" if row.enabled else "connector.disable", f"connector:{row.id}")
    db.session.commit()
    flash(f"Connector {row.name} {'enabled' if row.enabled else 'disabled'}.")
    return redirect(url_for("ui.connector", connector_id=row.id))


@bp.post("/integrations/connectors/<int:connector_id>/run")
def connector_run(connector_id: int):
    row = db.session.get(ConnectorConfig, connector_id)
    if row is None:
        abort(404, f"Connector {connector_id} does not exist.")
    try:
        run_one = services.need("jobs.connectors", "run_one", "Running a connector")
    except services.Unavailable as exc:
        flash(str(exc), "error")
        return redirect(url_for("ui.connector", connector_id=row.id))
    from jobs.base import enqueue

    job = enqueue(run_one, row.id)
    audit("connector.run", f"connector:{row.id}", job_id=job.id)
    db.session.commit()
    flash(f"Connector {row.name} queued to run (job {job.id}).")
    return redirect(url_for("ui.connector", connector_id=row.id))
