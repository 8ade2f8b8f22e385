"""Editable growth documents (offers, referrals, feedback): YAML defaults, versioned edits.

Each kind ships a default YAML beside its package and a marshmallow schema. An admin edit is
validated and saved as a new ``GrowthConfigVersion``; the newest version is in force. Reads are
cached per process by (kind, version) so jobs do not re-validate on every account.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from marshmallow import Schema, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.audit import record
from hub.models import GrowthConfigVersion


@dataclass(frozen=True)
class DocumentKind:
    name: str
    package: str  # holds defaults.yaml
    schema: type[Schema]


_kinds: dict[str, DocumentKind] = {}
_cache: dict[tuple[str, int], dict[str, Any]] = {}


def register(kind: DocumentKind) -> DocumentKind:
    _kinds[kind.name] = kind
    return kind


def defaults(name: str) -> dict[str, Any]:
    """The shipped default document of ``name``, validated."""
    kind = _kinds[name]
    key = (name, 0)
    if key not in _cache:
        text = resources.files(kind.package).joinpath("defaults.yaml").read_text()
        _cache[key] = validate(name, yaml.safe_load(text))
    return _cache[key]


def validate(name: str, document: Any) -> dict[str, Any]:
    """The document loaded through its schema; raises ``ValidationError``."""
    if not isinstance(document, dict):
        raise ValidationError({"_schema": ["the document must be a mapping"]})
    return _kinds[name].schema().load(document)


def current(session: Session, name: str) -> tuple[int, dict[str, Any]]:
    """(version, document) in force; version 0 means the shipped defaults."""
    row = session.scalar(
        select(GrowthConfigVersion)
        .where(GrowthConfigVersion.kind == name)
        .order_by(GrowthConfigVersion.version.desc())
        .limit(1)
    )
    if row is None:
        return 0, defaults(name)
    key = (name, row.version)
    if key not in _cache:
        _cache[key] = validate(name, row.document)
    return row.version, _cache[key]


def save(session: Session, name: str, document: Any, actor: str) -> GrowthConfigVersion:
    """Validate ``document`` and store it as the next version (audited)."""
    loaded = validate(name, document)
    latest = session.scalar(
        select(func.max(GrowthConfigVersion.version)).where(GrowthConfigVersion.kind == name)
    )
    row = GrowthConfigVersion(
        kind=name, version=(latest or 0) + 1, document=document, created_by=actor
    )
    session.add(row)
    session.flush()
    _cache[(name, row.version)] = loaded
    record(session, actor, f"{name}.config.update", f"growth_config:{name}", version=row.version)
    return row


def history(session: Session, name: str) -> list[GrowthConfigVersion]:
    return list(
        session.scalars(
            select(GrowthConfigVersion)
            .where(GrowthConfigVersion.kind == name)
            .order_by(GrowthConfigVersion.version.desc())
        )
    )


def load_yaml(text: str) -> Any:
    """Parse admin-supplied YAML; a syntax error becomes a ValidationError with the line."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValidationError({"_schema": [f"invalid YAML{where}: {exc}"]}) from exc
