"""The ``salesforce`` integration through the admin API: stored, masked, validated, checked."""

from __future__ import annotations

import responses
from sqlalchemy import text

from hub.config import Config
from hub.crypto import PLACEHOLDER
from integrations.salesforce import settings as sf_settings
from tests.integrations.salesforce import sfdocs

URL = "/api/integrations/salesforce"


def test_put_stores_secrets_encrypted_and_masks_them(client, admin_headers, session):
    """The client secret is write-only: masked on read, encrypted at rest, kept on PLACEHOLDER."""
    body = {
        "login_url": "https://acme.my.salesforce.com",
        "client_id": "3MVG9client",
        "client_secret": "super-secret-value",
        "field_map": [{"hub": "mrr", "salesforce": "ARR__c", "direction": "both"}],
    }
    put = client.put(URL, headers=admin_headers, json=body)
    assert put.status_code == 200, put.json
    assert put.json["settings"]["client_secret"] == PLACEHOLDER
    assert put.json["settings"]["reserve_share"] == 0.1  # defaults filled in
    raw = session.execute(text("SELECT secrets FROM integration_settings")).scalar()
    assert "super-secret-value" not in raw
    again = client.put(URL, headers=admin_headers, json={**body, "client_secret": PLACEHOLDER})
    assert again.status_code == 200
    stored = sf_settings.load(session, Config())
    assert stored.credentials.client_secret == "super-secret-value"
    assert {m.hub: m.salesforce for m in stored.mappings}["mrr"] == "ARR__c"


def test_invalid_settings_answer_422(client, admin_headers):
    """A score pulled from Salesforce or an unknown flow is a 422 naming the field."""
    bad = client.put(
        URL,
        headers=admin_headers,
        json={
            "client_id": "x",
            "auth_flow": "password",
            "field_map": [{"hub": "health_score", "salesforce": "X__c", "direction": "pull"}],
        },
    )
    assert bad.status_code == 422
    assert {"auth_flow", "field_map"} <= set(bad.json["error"]["fields"])


def test_environment_fills_a_first_start(app, session):
    """SALESFORCE_* environment variables configure the integration until an admin saves."""
    config = Config.from_env(
        {
            "SALESFORCE_LOGIN_URL": "https://test.salesforce.com",
            "SALESFORCE_CLIENT_ID": "cid",
            "SALESFORCE_USERNAME": "int@acme.com",
            "SALESFORCE_PRIVATE_KEY_FILE": "/etc/cshub/sf.key",
            "SALESFORCE_API_VERSION": "61.0",
            "REQUESTS_CA_BUNDLE": "/etc/ssl/corp.pem",
        }
    )
    loaded = sf_settings.load(session, config)
    assert loaded.credentials.flow == "jwt_bearer"
    assert loaded.credentials.login_url == "https://test.salesforce.com"
    assert loaded.api_version == "61.0" and loaded.ca_bundle == "/etc/ssl/corp.pem"
    assert sf_settings.from_config(Config()) == {}  # nothing set: not configured


def test_check_reports_org_version_and_remaining_calls(client, admin_headers):
    """POST .../check logs in and reports the org id, API version and daily calls left."""
    client.put(
        URL,
        headers=admin_headers,
        json={"login_url": sfdocs.LOGIN, "client_id": "cid", "client_secret": "s"},
    )
    with responses.RequestsMock() as mock:
        mock.post(sfdocs.TOKEN_URL, json=sfdocs.token())
        mock.get(
            f"{sfdocs.INSTANCE}/services/oauth2/userinfo",
            json={
                "sub": f"{sfdocs.LOGIN}/id/{sfdocs.ORG_ID}/{sfdocs.USER_ID}",
                "user_id": sfdocs.USER_ID,
                "organization_id": sfdocs.ORG_ID,
                "preferred_username": "integration@acme.com",
            },
        )
        mock.get(
            f"{sfdocs.DATA}/limits/",
            json={"DailyApiRequests": {"Max": 15000, "Remaining": 14250}},
            headers=sfdocs.usage(750),
        )
        resp = client.post(f"{URL}/check", headers=admin_headers)
    assert resp.status_code == 200, resp.json
    doc = resp.json
    assert doc["ok"] and doc["org_id"] == sfdocs.ORG_ID and doc["api_version"] == "62.0"
    assert doc["daily_api_requests"] == {"max": 15000, "remaining": 14250}


def test_check_failure_is_reported(client, admin_headers):
    """Bad credentials make the check answer 502 with Salesforce's reason."""
    client.put(
        URL,
        headers=admin_headers,
        json={"login_url": sfdocs.LOGIN, "client_id": "cid", "client_secret": "wrong"},
    )
    with responses.RequestsMock() as mock:
        mock.post(
            sfdocs.TOKEN_URL,
            status=400,
            json={"error": "invalid_client", "error_description": "invalid client credentials"},
        )
        resp = client.post(f"{URL}/check", headers=admin_headers)
    assert resp.status_code == 502 and "invalid_client" in resp.json["error"]["message"]
    listed = client.get("/api/integrations", headers=admin_headers).json
    row = next(i for i in listed if i["name"] == "salesforce")
    assert row["status"] == "error" and "invalid_client" in row["last_error"]
