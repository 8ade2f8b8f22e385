"""The mixpanel integration over the admin API: region hosts, write-only secret, check."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from hub import settings as store
from hub.config import Config
from integrations.mixpanel.settings import SPEC, MixpanelSettings, from_config
from tests.fakes.mixpanel import FakeMixpanel

BODY = {
    "project_id": "1234567",
    "service_account": "cshub.sa.1234",
    "service_secret": "sa-secret",
    "region": "EU",
}


def test_region_picks_hosts_and_overrides_win():
    """EU and IN pick their documented hosts; explicit hosts override the region."""
    eu = MixpanelSettings.from_values(BODY)
    assert (eu.api_host, eu.export_host) == (
        "https://api-eu.mixpanel.com",
        "https://data-eu.mixpanel.com",
    )
    india = MixpanelSettings.from_values({**BODY, "region": "IN"})
    assert india.export_host == "https://data-in.mixpanel.com"
    custom = MixpanelSettings.from_values({**BODY, "export_host": "http://127.0.0.1:9/"})
    assert custom.export_host == "http://127.0.0.1:9"


def test_environment_is_the_first_start_default():
    """MIXPANEL_* variables configure a first start; US hosts are not copied as overrides."""
    config = Config.from_env(
        {
            "MIXPANEL_PROJECT_ID": "99",
            "MIXPANEL_SERVICE_ACCOUNT": "sa",
            "MIXPANEL_SERVICE_SECRET": "s",
            "MIXPANEL_EXPORT_HOST": "http://127.0.0.1:8080",
        },
        dotenv=False,
    )
    values = from_config(config)
    assert values["project_id"] == "99" and values["export_host"] == "http://127.0.0.1:8080"
    assert "api_host" not in values


def test_put_masks_secret_and_keeps_it(client, admin_headers, session):
    """The secret is write-only and encrypted; the placeholder keeps it."""
    put = client.put("/api/integrations/mixpanel", headers=admin_headers, json=BODY)
    assert put.status_code == 200, put.json
    assert put.json["settings"]["service_secret"] == "********"
    again = client.put(
        "/api/integrations/mixpanel",
        headers=admin_headers,
        json={**BODY, "service_secret": "********", "region": "US"},
    )
    assert again.status_code == 200
    values = store.effective(session, SPEC, Config())
    assert values["service_secret"] == "sa-secret" and values["region"] == "US"
    raw = session.execute(text("SELECT secrets FROM integration_settings")).scalar()
    assert "sa-secret" not in raw


def test_bad_settings_are_422(client, admin_headers):
    """An unknown region or a non-numeric project id is refused with the fields named."""
    bad = client.put(
        "/api/integrations/mixpanel",
        headers=admin_headers,
        json={**BODY, "region": "MARS", "project_id": "abc"},
    )
    assert bad.status_code == 422
    assert set(bad.json["error"]["fields"]) == {"region", "project_id"}


def test_check_queries_the_export_api(client, admin_headers):
    """POST .../check runs a one-event export with the saved credentials."""
    with FakeMixpanel() as fake:
        fake.add_event("session_start", datetime.now(UTC), "u-1", "i-1")
        client.put(
            "/api/integrations/mixpanel",
            headers=admin_headers,
            json={**BODY, "export_host": fake.url},
        )
        ok = client.post("/api/integrations/mixpanel/check", headers=admin_headers)
        assert ok.status_code == 200, ok.json
        assert ok.json["ok"] is True and ok.json["lines"] == 1
        client.put(
            "/api/integrations/mixpanel",
            headers=admin_headers,
            json={**BODY, "export_host": fake.url, "service_secret": "wrong"},
        )
        bad = client.post("/api/integrations/mixpanel/check", headers=admin_headers)
    assert bad.status_code == 502 and "401" in bad.json["error"]["message"]
