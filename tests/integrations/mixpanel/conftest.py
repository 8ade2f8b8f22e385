"""Helpers for the Mixpanel tests: export lines in the documented format, settings."""

from __future__ import annotations

import orjson
import pytest

from integrations.mixpanel.settings import MixpanelSettings

EXPORT_URL = "https://data.mixpanel.com/api/2.0/export"
API = "https://api.mixpanel.com"


def mp_line(
    event: str, time: int, distinct_id: str, insert_id: str | None = None, **props
) -> bytes:
    """One Raw Event Export line as Mixpanel documents it."""
    properties = {
        "time": time,
        "distinct_id": distinct_id,
        "mp_processing_time_ms": time * 1000 + 342,
        "$browser": "Chrome",
        "$city": "Lisbon",
        "mp_lib": "web",
        **props,
    }
    if insert_id is not None:
        properties["$insert_id"] = insert_id
    return orjson.dumps({"event": event, "properties": properties})


@pytest.fixture
def mp_settings() -> MixpanelSettings:
    return MixpanelSettings.from_values(
        {
            "project_id": "1234567",
            "service_account": "cshub.sa.1234",
            "service_secret": "sa-secret",
            "project_token": "tok_abc",
            "group_key": "company_id",
            "overlap_days": 2,
            "days_per_request": 3,
        }
    )


class NoSleep:
    """A fake clock: ``sleep`` records the delay and moves ``time`` on, instantly."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.now += seconds

    def time(self) -> float:
        return self.now


@pytest.fixture
def no_sleep() -> NoSleep:
    return NoSleep()
