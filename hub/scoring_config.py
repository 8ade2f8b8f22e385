"""The scoring configuration in the store: defaults from YAML, every change a new version.

The active ``HealthConfigVersion`` holds the whole document (features, health, churn). The
first read of an empty store saves the shipped defaults as version 1. A change replaces whole
sections (a section left out keeps its current content), is validated by
``scoring.config.parse_config`` and becomes the new active version.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.models import HealthConfigVersion
from scoring.config import ScoringConfig, parse_config

DEFAULTS = Path(__file__).with_name("scoring_defaults.yaml")
SECTIONS = ("features", "health", "churn")


@lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    with DEFAULTS.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def default_document() -> dict[str, Any]:
    """A fresh copy of the shipped default configuration."""
    return copy.deepcopy(_defaults())


def default_config() -> ScoringConfig:
    return parse_config(default_document())


def _active_row(session: Session) -> HealthConfigVersion | None:
    return session.scalar(
        select(HealthConfigVersion)
        .where(HealthConfigVersion.active.is_(True))
        .order_by(HealthConfigVersion.version.desc())
        .limit(1)
    )


def active_config(session: Session) -> ScoringConfig:
    """The active configuration, parsed, without writing anything (the defaults when no
    version was saved yet)."""
    row = _active_row(session)
    return parse_config(row.document) if row is not None else default_config()


def active_version(session: Session) -> HealthConfigVersion:
    """The active configuration version (the defaults become version 1 on first use)."""
    row = _active_row(session)
    if row is None:
        try:
            with session.begin_nested():
                row = _add(session, default_document(), "defaults")
        except IntegrityError:  # another process saved the defaults first
            return active_version(session)
    return row


def load(session: Session) -> tuple[ScoringConfig, int]:
    """The active configuration, parsed, and its version number."""
    row = active_version(session)
    return parse_config(row.document), row.version


def merged(session: Session, changes: dict[str, Any]) -> dict[str, Any]:
    """The active document with the sections in ``changes`` replaced."""
    document = copy.deepcopy(active_version(session).document)
    document.update({k: v for k, v in changes.items()})
    return document


def save(session: Session, changes: dict[str, Any], actor: str) -> HealthConfigVersion:
    """Validate and store a new active version; raises ``ConfigError`` when invalid."""
    document = merged(session, changes)
    parse_config(document)
    return _add(session, document, actor)


def _add(session: Session, document: dict[str, Any], actor: str) -> HealthConfigVersion:
    latest = session.scalar(select(func.max(HealthConfigVersion.version))) or 0
    session.execute(
        update(HealthConfigVersion).where(HealthConfigVersion.active.is_(True)).values(active=False)
    )
    row = HealthConfigVersion(version=latest + 1, document=document, active=True, created_by=actor)
    session.add(row)
    session.flush()
    return row


def versions(session: Session, limit: int = 50) -> list[HealthConfigVersion]:
    return list(
        session.scalars(
            select(HealthConfigVersion).order_by(HealthConfigVersion.version.desc()).limit(limit)
        )
    )
