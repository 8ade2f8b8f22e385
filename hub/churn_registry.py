"""The churn model registry in the store: ChurnModelVersion rows with skops artifacts.

A trained model is registered inactive; it becomes the active one when an admin activates it
or when it beats the active model on the same validation snapshots (``promote``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.models import ChurnModelVersion
from scoring import registry
from scoring.churn import ChurnModel

_cache: OrderedDict[str, ChurnModel] = OrderedDict()
_lock = threading.Lock()
CACHE_SIZE = 4


def version_name(now: datetime, fingerprint: str) -> str:
    return f"{now:%Y%m%d-%H%M%S}-{fingerprint[:8]}"


def register(
    session: Session,
    model: ChurnModel,
    report: dict[str, Any],
    window: dict[str, Any],
    fingerprint: str,
    now: datetime,
) -> ChurnModelVersion:
    """Store a trained model (inactive) with its metrics, window, features and fingerprint."""
    row = ChurnModelVersion(
        version=version_name(now, fingerprint),
        algorithm=str(model.info.get("algorithm", "calibrated classifier"))[:64],
        features=list(model.features),
        metrics=report,
        training_window=window,
        data_fingerprint=fingerprint,
        artifact=registry.dumps(model),
        active=False,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def active_row(session: Session) -> ChurnModelVersion | None:
    return session.scalar(
        select(ChurnModelVersion)
        .where(ChurnModelVersion.active.is_(True))
        .order_by(ChurnModelVersion.created_at.desc())
        .limit(1)
    )


def get(session: Session, version: str) -> ChurnModelVersion | None:
    return session.scalar(select(ChurnModelVersion).where(ChurnModelVersion.version == version))


def load(row: ChurnModelVersion) -> ChurnModel:
    """The model behind a registry row (kept in a small per-process cache by version)."""
    with _lock:
        if row.version in _cache:
            _cache.move_to_end(row.version)
            return _cache[row.version]
    if row.artifact is None:
        raise registry.UntrustedModel(f"model {row.version} has no artifact")
    model = registry.loads(bytes(row.artifact))
    with _lock:
        _cache[row.version] = model
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return model


def activate(session: Session, row: ChurnModelVersion) -> ChurnModelVersion:
    """Make ``row`` the only active model."""
    session.execute(
        update(ChurnModelVersion)
        .where(ChurnModelVersion.active.is_(True), ChurnModelVersion.id != row.id)
        .values(active=False)
    )
    row.active = True
    session.flush()
    return row


def listing(session: Session, limit: int = 50) -> list[ChurnModelVersion]:
    return list(
        session.scalars(
            select(ChurnModelVersion).order_by(ChurnModelVersion.created_at.desc()).limit(limit)
        )
    )
