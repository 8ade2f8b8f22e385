"""Playbooks: list with state and measured success beside targets, YAML get/put with
validation messages that point to lines, versions, dry run against one account, snooze
(playbooks and accounts), enable/disable, guard settings.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask.views import MethodView
from marshmallow import fields, validate

from hub.api.common import StrictSchema, api_blueprint, get_or_404
from hub.audit import record
from hub.auth import current_actor
from hub.db import db
from hub.errors import ApiError
from hub.models import Account
from hub.playbooks import loader, outcomes
from hub.playbooks.engine import evaluate
from hub.playbooks.guards import GuardSettings
from hub.playbooks.schema import PlaybookInvalid, parse_document

blp = api_blueprint("playbooks", __name__, "/api/playbooks", "Playbooks and their outcomes")

MAX_YAML = 200_000


class PlaybookPutSchema(StrictSchema):
    yaml = fields.Str(required=True, validate=validate.Length(min=1, max=MAX_YAML))
    enabled = fields.Bool()


class StateSchema(StrictSchema):
    enabled = fields.Bool()
    snoozed_until = fields.AwareDateTime(allow_none=True, default_timezone=UTC)


class SnoozeSchema(StrictSchema):
    until = fields.AwareDateTime(required=True, allow_none=True, default_timezone=UTC)


class DryRunSchema(StrictSchema):
    account_id = fields.Int(required=True)
    as_of = fields.AwareDateTime(default_timezone=UTC)


class OutcomeQuerySchema(StrictSchema):
    since = fields.AwareDateTime(default_timezone=UTC)
    until = fields.AwareDateTime(default_timezone=UTC)


def _summary(live: loader.LivePlaybook, measured: dict | None) -> dict:
    pb = live.playbook
    return {
        "key": pb.key,
        "name": pb.name,
        "kind": pb.kind,
        "description": pb.description,
        "enabled": live.enabled,
        "snoozed_until": live.snoozed_until.isoformat() if live.snoozed_until else None,
        "active_now": live.active(datetime.now(UTC)),
        "mode": pb.mode,
        "version": live.version,
        "origin": live.origin,
        "updated_by": live.updated_by,
        "trigger": pb.trigger_name,
        "steps": len(pb.nodes),
        "success_metrics": pb.success_metrics,
        **(measured or {}),
    }


def _live_or_404(key: str) -> loader.LivePlaybook:
    live = loader.live(db.session).get(key)
    if live is None:
        raise ApiError(404, "not_found", f"playbook {key} does not exist")
    return live


def _invalid(exc: PlaybookInvalid) -> ApiError:
    first = exc.errors[0] if exc.errors else {}
    where = f" at line {first['line']}" if first.get("line") else ""
    return ApiError(
        422,
        "invalid_playbook",
        f"the playbook is not valid{where}: {first.get('message', '')}",
        errors=exc.errors,
    )


@blp.route("")
class Playbooks(MethodView):
    @blp.arguments(OutcomeQuerySchema, location="query")
    def get(self, query):
        """Every playbook: enabled, snoozed, version, and measured success beside its target."""
        playbooks = loader.live(db.session)
        rates = outcomes.report(
            db.session, playbooks, query.get("since"), query.get("until"), with_steps=False
        )
        return {"items": [_summary(live, rates.get(key)) for key, live in playbooks.items()]}


@blp.route("/outcomes")
class Outcomes(MethodView):
    @blp.arguments(OutcomeQuerySchema, location="query")
    def get(self, query):
        """Success rates per playbook, segment and step (measured), beside the targets."""
        playbooks = loader.live(db.session)
        return {
            "items": outcomes.report(db.session, playbooks, query.get("since"), query.get("until"))
        }


@blp.route("/settings/guards")
class Guards(MethodView):
    def get(self):
        """Quiet hours and frequency caps in force (YAML)."""
        row = loader.source_of(db.session, loader.GUARDS_KEY)
        text = row[0] if row else (loader.DEFAULTS_DIR / "_guards.yaml").read_text()
        return {"yaml": text, "version": row[1] if row else 0}

    @blp.arguments(PlaybookPutSchema)
    def put(self, data):
        """Save new guard settings (validated; versioned)."""
        document, _marks, dupes = _parse_or_422(data["yaml"])
        if dupes:
            raise _invalid(PlaybookInvalid(dupes))
        try:
            GuardSettings.from_document(document or {})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ApiError(422, "invalid_settings", f"guard settings are not valid: {exc}") from exc
        from hub.models import PlaybookVersion

        version = loader._next_version(db.session, loader.GUARDS_KEY)
        db.session.add(
            PlaybookVersion(
                key=loader.GUARDS_KEY,
                version=version,
                yaml=data["yaml"],
                created_by=current_actor(),
            )
        )
        record(db.session, current_actor(), "playbook.guards", "guards", version=version)
        db.session.commit()
        return {"yaml": data["yaml"], "version": version}


def _parse_or_422(text: str):
    try:
        return parse_document(text)
    except PlaybookInvalid as exc:
        raise _invalid(exc) from exc


@blp.route("/<key>")
class PlaybookByKey(MethodView):
    def get(self, key: str):
        """One playbook: state, YAML, measured outcomes per segment and step, targets."""
        live = _live_or_404(key)
        rates = outcomes.report(db.session, {key: live})[key]
        return {**_summary(live, rates), "yaml": live.playbook.source}

    @blp.arguments(PlaybookPutSchema)
    def put(self, data, key: str):
        """Save a new version of the YAML (422 with line numbers when it is not valid)."""
        try:
            row = loader.save(
                db.session, key, data["yaml"], current_actor(), enabled=data.get("enabled")
            )
        except PlaybookInvalid as exc:
            db.session.rollback()
            raise _invalid(exc) from exc
        db.session.commit()
        live = loader.live(db.session)[key]
        return {**_summary(live, None), "yaml": row.yaml}

    @blp.arguments(StateSchema)
    def patch(self, data, key: str):
        """Enable, disable, snooze or wake the playbook (a new version with the same YAML)."""
        _live_or_404(key)
        loader.set_state(
            db.session,
            key,
            current_actor(),
            enabled=data.get("enabled"),
            snoozed_until=data.get("snoozed_until", "keep"),
        )
        db.session.commit()
        return _summary(loader.live(db.session)[key], None)


@blp.route("/<key>/snooze")
class Snooze(MethodView):
    @blp.arguments(SnoozeSchema)
    def post(self, data, key: str):
        """Snooze the playbook until a time (null wakes it): no enrolments, journeys pause."""
        _live_or_404(key)
        loader.set_state(db.session, key, current_actor(), snoozed_until=data["until"])
        db.session.commit()
        return _summary(loader.live(db.session)[key], None)


@blp.route("/<key>/versions")
class Versions(MethodView):
    def get(self, key: str):
        """Every saved version, newest first (version 0 is the shipped default)."""
        _live_or_404(key)
        rows = loader.versions(db.session, key)
        items = [
            {
                "version": r.version,
                "enabled": r.enabled,
                "snoozed_until": r.snoozed_until.isoformat() if r.snoozed_until else None,
                "created_by": r.created_by,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ]
        if key in loader.default_sources():
            items.append({"version": 0, "created_by": "shipped default", "enabled": True})
        return {"items": items}


@blp.route("/<key>/versions/<int:version>")
class VersionByNumber(MethodView):
    def get(self, key: str, version: int):
        """The YAML of one version."""
        if version == 0 and key in loader.default_sources():
            return {"version": 0, "yaml": loader.default_sources()[key]}
        for row in loader.versions(db.session, key):
            if row.version == version:
                return {"version": row.version, "yaml": row.yaml}
        raise ApiError(404, "not_found", f"playbook {key} has no version {version}")


@blp.route("/<key>/dry-run")
class DryRun(MethodView):
    @blp.arguments(DryRunSchema)
    def post(self, data, key: str):
        """What this playbook would do for one account now (or at as_of): nothing is saved."""
        live = _live_or_404(key)
        get_or_404(Account, data["account_id"])
        now = data.get("as_of") or datetime.now(UTC)
        try:
            report = evaluate(
                db.session,
                now=now,
                account_ids=[data["account_id"]],
                dry_run=True,
                record_actions=True,
                playbooks={key: live},
            )
        finally:
            db.session.rollback()
        return {
            "playbook": key,
            "account_id": data["account_id"],
            "as_of": now.isoformat(),
            "actions": [a for a in report.actions if a["playbook"] == key],
            "skipped": dict(report.skipped),
        }


@blp.route("/accounts/<int:account_id>/snooze")
class AccountSnooze(MethodView):
    @blp.arguments(SnoozeSchema)
    def post(self, data, account_id: int):
        """Snooze every playbook for one account until a time (null wakes it)."""
        account = get_or_404(Account, account_id)
        account.snoozed_until = data["until"]
        record(
            db.session,
            current_actor(),
            "account.snooze",
            f"account:{account_id}",
            until=data["until"].isoformat() if data["until"] else None,
        )
        db.session.commit()
        return {
            "account_id": account_id,
            "snoozed_until": account.snoozed_until.isoformat() if account.snoozed_until else None,
        }
