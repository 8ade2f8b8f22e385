"""One sync run: settings from the store, a client carrying the stored API-limit pause.

Jobs and the CLI open a client with ``open_client``; when the run ends the pause (if the
allowance ran low) and the last seen usage are saved, and the integration's status row shows
when it last synced or what went wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.config import Config
from hub.db import utcnow
from hub.models import IntegrationSetting
from hub.settings import effective
from integrations.errors import FatalError
from integrations.salesforce import settings as sf_settings
from integrations.salesforce import state
from integrations.salesforce.client import SalesforceClient

Transaction = Callable[[], AbstractContextManager[Session]]


class NotConfigured(FatalError):
    """No Salesforce settings stored and none in the environment."""


@contextmanager
def open_client(
    transaction: Transaction,
    config: Config,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[SalesforceClient]:
    """A client for one run; saves the limit pause and the integration status afterwards."""
    with transaction() as session:
        values = effective(session, sf_settings.SPEC, config)
        if not values:
            raise NotConfigured("Salesforce is not configured", code="not_configured")
        settings = sf_settings.resolve(values, config)
        paused_until, _usage = state.load_pause(session)
    client = SalesforceClient(settings, sleep=sleep, paused_until=paused_until)
    error: Exception | None = None
    try:
        yield client
    except Exception as exc:  # recorded on the status row, then re-raised
        error = exc
        raise
    finally:
        client.close()
        with transaction() as session:
            if client.stats.api_calls or client.paused_until != paused_until:
                state.save_pause(
                    session, client.paused_until, client.usage.used, client.usage.total
                )
            _record_status(session, error, client)


def _record_status(session: Session, error: Exception | None, client: SalesforceClient) -> None:
    row = session.scalar(select(IntegrationSetting).where(IntegrationSetting.name == "salesforce"))
    if row is None:
        return
    if error is None:
        if client.stats.api_calls:
            row.status, row.last_error, row.last_sync_at = "ok", None, utcnow()
        return
    row.status = "paused" if getattr(error, "retry_after", None) else "error"
    row.last_error = str(error)[:2000]
