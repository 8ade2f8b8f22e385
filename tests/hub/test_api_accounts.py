"""Accounts and contacts API: create, read, update, filters, pagination, validation."""

import json

from openapi_spec_validator import validate


def test_create_get_update_account(client, admin_headers):
    created = client.post(
        "/api/accounts",
        headers=admin_headers,
        json={
            "name": "Hashnord Farms",
            "segment": "mining_farm",
            "mrr": 499.0,
            "signup_date": "2026-01-15",
            "owner_email": "ana@cshub.example",
        },
    )
    assert created.status_code == 201, created.json
    account_id = created.json["id"]
    got = client.get(f"/api/accounts/{account_id}", headers=admin_headers).json
    assert got["segment"] == "mining_farm" and got["mrr"] == 499.0
    patched = client.patch(
        f"/api/accounts/{account_id}", headers=admin_headers, json={"lifecycle_stage": "adoption"}
    )
    assert patched.status_code == 200 and patched.json["lifecycle_stage"] == "adoption"
    assert patched.json["name"] == "Hashnord Farms"


def test_unknown_field_is_422_with_field_errors(client, admin_headers):
    resp = client.post("/api/accounts", headers=admin_headers, json={"name": "A", "colour": "blue"})
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "validation_error"
    assert "colour" in json.dumps(resp.json["error"]["fields"])


def test_wrong_types_are_422(client, admin_headers):
    resp = client.post(
        "/api/accounts",
        headers=admin_headers,
        json={"name": "A", "mrr": "lots", "segment": "whales"},
    )
    assert resp.status_code == 422
    fields = json.dumps(resp.json["error"]["fields"])
    assert "mrr" in fields and "segment" in fields


def test_missing_account_is_404(client, admin_headers):
    resp = client.get("/api/accounts/999", headers=admin_headers)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


def test_duplicate_salesforce_id_is_409(client, admin_headers):
    body = {"name": "A", "salesforce_id": "001000000000001AAA"}
    assert client.post("/api/accounts", headers=admin_headers, json=body).status_code == 201
    resp = client.post("/api/accounts", headers=admin_headers, json=body | {"name": "B"})
    assert resp.status_code == 409


def test_pagination_and_filters(client, admin_headers):
    """Pages are sliced in SQL and described in X-Pagination; filters narrow the list."""
    for i in range(25):
        segment = "crypto_trader" if i % 5 == 0 else "individual_miner"
        client.post(
            "/api/accounts", headers=admin_headers, json={"name": f"Acct {i}", "segment": segment}
        )
    page = client.get("/api/accounts?page=2&page_size=10", headers=admin_headers)
    assert page.status_code == 200
    assert [a["name"] for a in page.json] == [f"Acct {i}" for i in range(10, 20)]
    meta = json.loads(page.headers["X-Pagination"])
    assert meta["total"] == 25 and meta["total_pages"] == 3
    traders = client.get("/api/accounts?segment=crypto_trader", headers=admin_headers).json
    assert len(traders) == 5
    found = client.get("/api/accounts?q=acct 1&page_size=50", headers=admin_headers).json
    assert {a["name"] for a in found} == {"Acct 1"} | {f"Acct {i}" for i in range(10, 20)}
    bad = client.get("/api/accounts?segment=whales", headers=admin_headers)
    assert bad.status_code == 422


def test_contacts_belong_to_existing_accounts(client, admin_headers):
    account = client.post("/api/accounts", headers=admin_headers, json={"name": "A"}).json
    ok = client.post(
        "/api/contacts",
        headers=admin_headers,
        json={"account_id": account["id"], "email": "a@x.io", "phone": "+14155550100"},
    )
    assert ok.status_code == 201, ok.json
    missing = client.post("/api/contacts", headers=admin_headers, json={"account_id": 42})
    assert missing.status_code == 404
    listed = client.get(f"/api/contacts?account_id={account['id']}", headers=admin_headers).json
    assert [c["email"] for c in listed] == ["a@x.io"]
    bad_phone = client.post(
        "/api/contacts", headers=admin_headers, json={"account_id": account["id"], "phone": "12"}
    )
    assert bad_phone.status_code == 422


def test_changes_are_audited(client, admin_headers, session):
    from hub.models import AuditLog

    client.post("/api/accounts", headers=admin_headers, json={"name": "A"})
    rows = session.query(AuditLog).all()
    assert [(r.actor, r.action) for r in rows] == [("bootstrap-admin", "account.create")]


def test_openapi_document_validates(client):
    """/api/openapi.json is a valid OpenAPI 3 document that declares bearer auth."""
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    spec = resp.json
    validate(spec)
    assert "/api/accounts" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_api_docs_page_is_served(client):
    """The docs page and its Swagger UI assets are served locally, never from a CDN."""
    resp = client.get("/api/docs")
    assert resp.status_code == 200
    page = resp.data.decode()
    assert "/api/docs/assets/swagger-ui-bundle.js" in page and "//cdn" not in page
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
    asset.close()
