"""Integrations: Salesforce, Mixpanel, Stripe, webhook secrets and each metric connector:
configure (secrets write-only), test the connection, last sync and errors."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from redis.exceptions import RedisError
from sqlalchemy import select

from hub import settings as store
from hub.db import db, utcnow
from hub.models import Account, ConnectorConfig, IntegrationSetting, SyncState
from hub.ui import forms
from hub.ui.blueprint import bp
from hub.ui.common import audit
from hub.ui.security import current_user
from integrations.connectors import registry
from integrations.connectors.runner import build, stored_settings
from integrations.errors import IntegrationError
from jobs.connectors import enqueue_run


def _rows() -> dict[str, IntegrationSetting]:
    return {r.name: r for r in db.session.scalars(select(IntegrationSetting))}


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
        types=registry.discover(),
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


def _connector_or_404(connector_id: int) -> ConnectorConfig:
    row = db.session.get(ConnectorConfig, connector_id)
    if row is None:
        abort(404, f"Connector {connector_id} does not exist.")
    return row


def _connector_page(
    row: ConnectorConfig | None, info, status=200, errors=None, check=None, meta=None
):
    stored = stored_settings(row) if row else {}
    fields = forms.describe(info.cls.spec, info.cls.secret_keys(), stored) if info.cls else []
    return (
        render_template(
            "connector.html",
            c=row,
            info=info,
            meta=meta
            or (
                {
                    "name": row.name,
                    "account_id": row.account_id or "",
                    "schedule_minutes": row.schedule_minutes,
                }
                if row
                else {"name": "", "account_id": "", "schedule_minutes": 15}
            ),
            account=db.session.get(Account, row.account_id) if row and row.account_id else None,
            fields=fields,
            errors=errors or {},
            check=check,
        ),
        status,
    )


def _validated(info, form, stored: dict) -> tuple[dict, dict, dict[str, str]]:
    """(settings, secrets, errors) from the submitted form, validated by the type's spec."""
    fields = forms.describe(info.cls.spec, info.cls.secret_keys(), stored)
    data, errors = forms.payload(fields, form, stored)
    if errors:
        return {}, {}, errors
    try:
        loaded = info.cls.spec().load(data)
    except ValidationError as exc:
        return (
            {},
            {},
            {
                k: "; ".join(map(str, v)) if isinstance(v, list) else str(v)
                for k, v in exc.messages.items()
            },
        )  # type: ignore[union-attr]
    secret_keys = info.cls.secret_keys()
    settings = {k: v for k, v in loaded.items() if k not in secret_keys}
    secrets = {k: v for k, v in loaded.items() if k in secret_keys and v not in (None, "")}
    return settings, secrets, {}


def _meta(form) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    name = (form.get("name") or "").strip()
    if not name:
        errors["name"] = "is required"
    account_raw = (form.get("account_id") or "").strip()
    account_id = int(account_raw) if account_raw.isdigit() else None
    if account_raw and (account_id is None or db.session.get(Account, account_id) is None):
        errors["account_id"] = "no such account"
    minutes_raw = (form.get("schedule_minutes") or "15").strip()
    minutes = int(minutes_raw) if minutes_raw.isdigit() else 0
    if not 1 <= minutes <= 1440:
        errors["schedule_minutes"] = "between 1 and 1440"
    return {"name": name, "account_id": account_id, "schedule_minutes": minutes}, errors


@bp.get("/integrations/connectors/new")
def connector_new():
    info = registry.get(request.args.get("type", ""))
    if info is None or not info.enabled:
        abort(404, "Choose a connector type that is available.")
    return _connector_page(None, info)


@bp.post("/integrations/connectors/new")
def connector_create():
    info = registry.get(request.form.get("type", ""))
    if info is None or not info.enabled:
        abort(422, "Choose a connector type that is available.")
    meta, errors = _meta(request.form)
    settings, secrets, field_errors = _validated(info, request.form, {})
    if errors or field_errors:
        return _connector_page(None, info, 422, {**errors, **field_errors}, meta=request.form)
    row = ConnectorConfig(type=info.type, settings=settings, secrets=secrets, status="new", **meta)
    db.session.add(row)
    db.session.flush()
    audit(
        "connector.create",
        f"connector:{row.id}",
        type=row.type,
        fields=sorted(settings) + sorted(secrets),
    )
    db.session.commit()
    flash(f"Connector {row.name} created; secrets are stored encrypted and never shown again.")
    return redirect(url_for("ui.connector", connector_id=row.id))


@bp.get("/integrations/connectors/<int:connector_id>")
def connector(connector_id: int):
    row = _connector_or_404(connector_id)
    return _connector_page(
        row, registry.get(row.type) or registry.TypeInfo(row.type, None, False, "unknown")
    )


@bp.post("/integrations/connectors/<int:connector_id>")
def connector_save(connector_id: int):
    row = _connector_or_404(connector_id)
    info = registry.get(row.type)
    if info is None or not info.enabled:
        abort(422, f"Connector type {row.type} is not available.")
    meta, errors = _meta(request.form)
    settings, secrets, field_errors = _validated(info, request.form, stored_settings(row))
    if errors or field_errors:
        return _connector_page(row, info, 422, {**errors, **field_errors}, meta=request.form)
    row.settings, row.secrets = settings, secrets
    for key, value in meta.items():
        setattr(row, key, value)
    audit("connector.update", f"connector:{row.id}", fields=sorted(settings) + sorted(secrets))
    db.session.commit()
    flash(f"Connector {row.name} saved.")
    return redirect(url_for("ui.connector", connector_id=row.id))


@bp.post("/integrations/connectors/<int:connector_id>/check")
def connector_check(connector_id: int):
    """Test the connection with the stored settings."""
    row = _connector_or_404(connector_id)
    info = registry.get(row.type) or registry.TypeInfo(row.type, None, False, "unknown")
    config = current_app.config["CSHUB"]
    try:
        facts = build(row, now=utcnow(), ca_bundle=config.requests_ca_bundle).check()
    except IntegrationError as exc:
        audit("connector.check", f"connector:{row.id}", ok=False)
        db.session.commit()
        return _connector_page(row, info, 502, check={"ok": False, "error": str(exc)})
    audit("connector.check", f"connector:{row.id}", ok=True)
    db.session.commit()
    return _connector_page(row, info, check={"ok": True, "facts": facts})


@bp.post("/integrations/connectors/<int:connector_id>/enabled")
def connector_toggle(connector_id: int):
    row = _connector_or_404(connector_id)
    row.enabled = request.form.get("enabled") == "1"
    audit("connector.enable" if row.enabled else "connector.disable", f"connector:{row.id}")
    db.session.commit()
    flash(f"Connector {row.name} {'enabled' if row.enabled else 'disabled'}.")
    return redirect(url_for("ui.connector", connector_id=row.id))


@bp.post("/integrations/connectors/<int:connector_id>/run")
def connector_run(connector_id: int):
    row = _connector_or_404(connector_id)
    try:
        job_id, new = enqueue_run(row.id)
    except RedisError:
        flash("The queue is unreachable; try again shortly.", "error")
        return redirect(url_for("ui.connector", connector_id=row.id))
    if new:
        audit("connector.run", f"connector:{row.id}", job_id=job_id)
        db.session.commit()
    flash(f"Connector {row.name} {'queued to run' if new else 'already queued'} (job {job_id}).")
    return redirect(url_for("ui.connector", connector_id=row.id))
