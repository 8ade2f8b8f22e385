"""Integration settings: secrets encrypted at rest, write-only over the API."""

import pytest
from marshmallow import fields
from sqlalchemy import text

from hub import settings as store
from hub.api.common import StrictSchema


class DemoSchema(StrictSchema):
    host = fields.Str(required=True)
    api_key = fields.Str(metadata={"secret": True})


@pytest.fixture
def demo_spec():
    spec = store.register(
        store.IntegrationSpec(
            name="demo_service",
            schema=DemoSchema,
            secret_keys=frozenset({"api_key"}),
            from_config=lambda c: {"host": "env.example", "api_key": c.stripe_api_key},
            check=lambda values: {"host": values["host"]},
        )
    )
    yield spec
    store._specs.pop("demo_service", None)


def test_put_get_masks_and_keeps_secret(client, admin_headers, demo_spec, session):
    """A read never returns the secret; writing the placeholder back keeps it."""
    put = client.put(
        "/api/integrations/demo_service",
        headers=admin_headers,
        json={"host": "a.example", "api_key": "key-123"},
    )
    assert put.status_code == 200, put.json
    assert put.json["settings"] == {"host": "a.example", "api_key": "********"}
    again = client.put(
        "/api/integrations/demo_service",
        headers=admin_headers,
        json={"host": "b.example", "api_key": "********"},
    )
    assert again.status_code == 200
    from hub.models import IntegrationSetting

    row = session.query(IntegrationSetting).filter_by(name="demo_service").one()
    assert row.secrets == {"api_key": "key-123"} and row.settings == {"host": "b.example"}
    raw = session.execute(text("SELECT secrets FROM integration_settings")).scalar()
    assert "key-123" not in raw  # encrypted at rest


def test_unknown_field_and_unknown_integration(client, admin_headers, demo_spec):
    bad = client.put(
        "/api/integrations/demo_service", headers=admin_headers, json={"host": "a", "colour": "x"}
    )
    assert bad.status_code == 422 and "colour" in bad.json["error"]["fields"]
    assert client.get("/api/integrations/nope", headers=admin_headers).status_code == 404


def test_check_reports_and_records(client, admin_headers, demo_spec):
    client.put("/api/integrations/demo_service", headers=admin_headers, json={"host": "h"})
    resp = client.post("/api/integrations/demo_service/check", headers=admin_headers)
    assert resp.status_code == 200 and resp.json == {
        "name": "demo_service",
        "ok": True,
        "host": "h",
    }
    listed = client.get("/api/integrations", headers=admin_headers).json
    assert {"name": "demo_service", "status": "ok"}.items() <= next(
        i for i in listed if i["name"] == "demo_service"
    ).items()
