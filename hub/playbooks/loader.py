"""Where playbooks come from: the shipped defaults, overridden by an admin's saved versions.

- ``defaults/<key>.yaml``: one playbook per file (the seed's content). Files starting with
  ``_`` are settings: ``_guards.yaml`` (quiet hours, frequency caps) and ``_milestones.yaml``.
- ``PlaybookVersion`` rows: every admin edit, snooze or enable/disable is a new version
  (``version`` 1, 2, ...); the newest row of a key is in force. A playbook without rows runs
  its shipped default (version 0).

``live(session)`` answers every playbook with its state; parsed documents are cached by
content, so loading per job is cheap.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.audit import record
from hub.models import PlaybookVersion
from hub.playbooks.definition import Playbook
from hub.playbooks.guards import GuardSettings
from hub.playbooks.milestones import MilestoneConfig
from hub.playbooks.schema import PlaybookInvalid, parse_playbook

DEFAULTS_DIR = Path(__file__).parent / "defaults"
GUARDS_KEY = "_guards"


@dataclass(frozen=True)
class LivePlaybook:
    playbook: Playbook
    version: int  # 0: shipped default
    enabled: bool
    snoozed_until: datetime | None
    origin: str  # default or edited
    updated_by: str | None = None
    updated_at: datetime | None = None

    @property
    def key(self) -> str:
        return self.playbook.key

    def active(self, now: datetime) -> bool:
        return self.enabled and not (self.snoozed_until and self.snoozed_until > now)


@lru_cache(maxsize=1)
def default_sources() -> dict[str, str]:
    """key -> YAML text of every shipped default playbook."""
    out = {}
    for path in sorted(DEFAULTS_DIR.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        out[path.stem] = path.read_text()
    return out


@lru_cache(maxsize=512)
def _parse_cached(digest: str, text: str, version: int) -> Playbook:
    return parse_playbook(text, version=version)


def parse(text: str, version: int = 0) -> Playbook:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return _parse_cached(digest, text, version)


def warm() -> None:
    """Parse the shipped playbooks and settings into the caches ``live`` reads (a worker does
    this before forking, so each job finds them parsed)."""
    for text in default_sources().values():
        parse(text)
    _default_guards()
    milestone_config()


def _latest_rows(session: Session) -> dict[str, PlaybookVersion]:
    newest = (
        select(PlaybookVersion.key, func.max(PlaybookVersion.version).label("v"))
        .group_by(PlaybookVersion.key)
        .subquery()
    )
    rows = session.scalars(
        select(PlaybookVersion).join(
            newest, (PlaybookVersion.key == newest.c.key) & (PlaybookVersion.version == newest.c.v)
        )
    )
    return {row.key: row for row in rows}


def live(session: Session) -> dict[str, LivePlaybook]:
    """Every playbook (enabled or not) with its state, ordered by priority then key."""
    rows = _latest_rows(session)
    out: dict[str, LivePlaybook] = {}
    for key, text in default_sources().items():
        if key not in rows:
            pb = parse(text)
            out[key] = LivePlaybook(pb, 0, pb.enabled, None, "default")
    for key, row in rows.items():
        if key.startswith("_"):
            continue
        pb = parse(row.yaml, row.version)
        out[key] = LivePlaybook(
            pb,
            row.version,
            bool(row.enabled) and pb.enabled,
            row.snoozed_until,
            "edited"
            if key not in default_sources() or row.yaml != default_sources()[key]
            else "default",
            row.created_by,
            row.created_at,
        )
    return dict(sorted(out.items(), key=lambda kv: (kv[1].playbook.priority, kv[0])))


def source_of(session: Session, key: str) -> tuple[str, int, PlaybookVersion | None] | None:
    """(YAML text, version, newest row) of ``key``, or None when there is no such playbook."""
    row = _latest_rows(session).get(key)
    if row is not None:
        return row.yaml, row.version, row
    if key in default_sources():
        return default_sources()[key], 0, None
    return None


def versions(session: Session, key: str) -> list[PlaybookVersion]:
    return list(
        session.scalars(
            select(PlaybookVersion)
            .where(PlaybookVersion.key == key)
            .order_by(PlaybookVersion.version.desc())
        )
    )


def _next_version(session: Session, key: str) -> int:
    current = session.scalar(
        select(func.max(PlaybookVersion.version)).where(PlaybookVersion.key == key)
    )
    return (current or 0) + 1


def save(
    session: Session,
    key: str,
    text: str,
    actor: str,
    enabled: bool | None = None,
    snoozed_until: datetime | str | None = "keep",
) -> PlaybookVersion:
    """Validate ``text`` and store it as the next version of ``key`` (PlaybookInvalid if bad)."""
    pb = parse_playbook(text, expected_key=key)
    current = source_of(session, key)
    row_before = current[2] if current else None
    row = PlaybookVersion(
        key=key,
        version=_next_version(session, key),
        yaml=text,
        enabled=pb.enabled if enabled is None else enabled,
        snoozed_until=(row_before.snoozed_until if row_before else None)
        if snoozed_until == "keep"
        else snoozed_until,
        created_by=actor,
    )
    if enabled is None and row_before is not None and not row_before.enabled:
        row.enabled = False  # an edit does not silently re-enable a disabled playbook
    session.add(row)
    session.flush()
    record(session, actor, "playbook.save", f"playbook:{key}", version=row.version)
    return row


def set_state(
    session: Session,
    key: str,
    actor: str,
    enabled: bool | None = None,
    snoozed_until: datetime | str | None = "keep",
) -> PlaybookVersion:
    """Enable, disable, snooze or wake a playbook: a new version with the same YAML."""
    current = source_of(session, key)
    if current is None:
        raise KeyError(key)
    text, _version, row_before = current
    row = PlaybookVersion(
        key=key,
        version=_next_version(session, key),
        yaml=text,
        enabled=(row_before.enabled if row_before else parse(text).enabled)
        if enabled is None
        else enabled,
        snoozed_until=(row_before.snoozed_until if row_before else None)
        if snoozed_until == "keep"
        else snoozed_until,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "playbook.state",
        f"playbook:{key}",
        enabled=row.enabled,
        snoozed_until=row.snoozed_until.isoformat() if row.snoozed_until else None,
    )
    return row


def _settings_document(name: str) -> dict[str, Any]:
    return yaml.safe_load((DEFAULTS_DIR / f"{name}.yaml").read_text()) or {}


def guard_settings(session: Session | None = None) -> GuardSettings:
    """Quiet hours and frequency caps: the admin's saved version, else the shipped default."""
    if session is not None:
        row = _latest_rows(session).get(GUARDS_KEY)
        if row is not None:
            return GuardSettings.from_document(yaml.safe_load(row.yaml) or {})
    return _default_guards()


@lru_cache(maxsize=1)
def _default_guards() -> GuardSettings:
    return GuardSettings.from_document(_settings_document("_guards"))


@lru_cache(maxsize=1)
def milestone_config() -> MilestoneConfig:
    return MilestoneConfig.from_document(_settings_document("_milestones"))


def validate_all() -> list[tuple[str, PlaybookInvalid]]:
    """Problems in the shipped defaults (a test keeps this empty)."""
    problems = []
    for key, text in default_sources().items():
        try:
            pb = parse_playbook(text)
            if pb.key != key:
                raise PlaybookInvalid([{"path": "key", "message": f"file name is {key}"}])
        except PlaybookInvalid as exc:
            problems.append((key, exc))
    return problems
