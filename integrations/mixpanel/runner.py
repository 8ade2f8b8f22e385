"""One pull or one push with the settings in force, its outcome recorded on the integration.

Called by the ``jobs.sync`` jobs and by ``cshub sync mixpanel``. A Redis lock (with a TTL,
so a dead worker cannot hold it) keeps two pulls, or two pushes, from overlapping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from redis import Redis
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from hub import settings as store
from hub.config import Config
from hub.models import IntegrationSetting
from integrations.errors import IntegrationError
from integrations.mixpanel.client import ExportClient, IngestClient
from integrations.mixpanel.consumer import BatchConsumer
from integrations.mixpanel.export import pull
from integrations.mixpanel.limiter import export_limiter
from integrations.mixpanel.push import ProfilePusher, push_actions
from integrations.mixpanel.settings import SPEC, MixpanelSettings, NotConfigured

log = logging.getLogger(__name__)

LOCK_TTL = 3600


def load_settings(engine: Engine, config: Config) -> MixpanelSettings:
    """The settings in force (stored, else environment), hosts resolved."""
    with Session(engine) as session:
        values = store.effective(session, SPEC, config)
    return MixpanelSettings.from_values(values, config.requests_ca_bundle)


def _record(engine: Engine, error: str | None) -> None:
    with Session(engine) as session, session.begin():
        row = session.scalar(select(IntegrationSetting).where(IntegrationSetting.name == SPEC.name))
        if row is None:
            return
        row.status = "error" if error else "ok"
        row.last_error = error[:2000] if error else None
        if not error:
            row.last_sync_at = datetime.now(UTC)


def _locked(redis: Redis | None, name: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    if redis is None:
        return work()
    lock = redis.lock(f"cshub:lock:{name}", timeout=LOCK_TTL, blocking=False)
    if not lock.acquire(blocking=False):
        return {"skipped": f"another {name} is running"}
    try:
        return work()
    finally:
        lock.release()


def pull_now(
    engine: Engine,
    config: Config,
    redis: Redis | None,
    *,
    since: date | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """Run one incremental pull (or a backfill from ``since``)."""
    try:
        settings = load_settings(engine, config)
    except NotConfigured as exc:
        return {"skipped": str(exc)}
    client = ExportClient(settings, limiter=export_limiter(redis, settings.project_id))

    def work() -> dict[str, Any]:
        try:
            result = pull(engine, settings, client, today=today, since=since).as_dict()
        except IntegrationError as exc:
            _record(engine, f"pull: {exc}")
            raise
        _record(engine, None)
        return result

    return _locked(redis, "mixpanel-pull", work)


def push_now(
    engine: Engine,
    config: Config,
    redis: Redis | None,
    *,
    profiles: bool = True,
    actions: bool = True,
) -> dict[str, Any]:
    """Push changed score properties and new hub actions."""
    try:
        settings = load_settings(engine, config)
    except NotConfigured as exc:
        return {"skipped": str(exc)}

    def work() -> dict[str, Any]:
        out: dict[str, Any] = {}
        try:
            with Session(engine, expire_on_commit=False) as session:
                if profiles and not settings.project_token:
                    out["profiles"] = {"skipped": "no project_token: profile updates need it"}
                elif profiles:
                    consumer = BatchConsumer(IngestClient(settings))
                    result = ProfilePusher(session, settings, consumer).run()
                    out["profiles"] = result.__dict__
                if actions:
                    consumer = BatchConsumer(IngestClient(settings))
                    out["actions"] = push_actions(session, settings, consumer)
        except IntegrationError as exc:
            _record(engine, f"push: {exc}")
            raise
        _record(engine, None)
        return out

    return _locked(redis, "mixpanel-push", work)
