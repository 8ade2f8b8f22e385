"""``cshub salesforce setup``: missing score fields created once, access granted, idempotent."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from responses import matchers

from integrations.salesforce.mapping import HEALTH_FIELDS
from integrations.salesforce.metadata import FIELD_DEFINITIONS, setup
from tests.integrations.salesforce import sfdocs

TOOLING = f"{sfdocs.DATA}/tooling/sobjects/CustomField"
DESCRIBE = f"{sfdocs.DATA}/sobjects/Account/describe"
QUERY = f"{sfdocs.DATA}/query/"
PS_ID = "0PS5e000000AbCdGAK"


def userinfo(mock) -> None:
    mock.get(
        f"{sfdocs.INSTANCE}/services/oauth2/userinfo",
        json={"user_id": sfdocs.USER_ID, "organization_id": sfdocs.ORG_ID},
    )


def soql(text: str):
    return [matchers.query_param_matcher({"q": text})]


def test_definitions_cover_the_contract():
    """Setup knows a definition for each of the seven Account score fields."""
    assert set(FIELD_DEFINITIONS) == set(HEALTH_FIELDS.values())


def test_creates_missing_fields_and_grants_access(sf_http, make_client):
    """Only absent fields are created (Tooling API CustomField); FLS via a permission set."""
    sf_http.get(DESCRIBE, json=sfdocs.describe("Health_Score__c", "Last_Scored__c"))
    sf_http.post(TOOLING, status=201, json={"id": "00N5e00000ABCDE", "success": True, "errors": []})
    sf_http.get(
        QUERY,
        json=sfdocs.query_page([]),
        match=soql("SELECT Id FROM PermissionSet WHERE Name = 'cshub_health_fields'"),
    )
    sf_http.post(f"{sfdocs.DATA}/sobjects/PermissionSet/", status=201, json=sfdocs.save_ok(PS_ID))
    sf_http.get(
        QUERY,
        json=sfdocs.query_page([]),
        match=soql(
            "SELECT Id, Field, PermissionsRead, PermissionsEdit FROM FieldPermissions "
            f"WHERE ParentId = '{PS_ID}' AND SobjectType = 'Account'"
        ),
    )
    sf_http.post(
        f"{sfdocs.DATA}/composite/sobjects",
        json=[sfdocs.save_ok(f"01k{i:015d}") for i in range(7)],
    )
    userinfo(sf_http)
    sf_http.get(QUERY, json=sfdocs.query_page([]))  # no assignment yet
    sf_http.post(
        f"{sfdocs.DATA}/sobjects/PermissionSetAssignment/",
        status=201,
        json=sfdocs.save_ok("0Pa5e000000AbCdCAK"),
    )
    report = setup(make_client())
    created = [json.loads(c.request.body) for c in sf_http.calls if c.request.url == TOOLING]
    assert [c["FullName"] for c in created] == [
        "Account.Health_Tier__c",
        "Account.Health_Trend__c",
        "Account.Churn_Risk__c",
        "Account.Churn_Risk_Segment__c",
        "Account.Health_Reasons__c",
    ]
    assert created[2]["Metadata"]["type"] == "Percent" and created[0]["Metadata"]["length"] == 32
    assert report["created"] == [c["FullName"].split(".")[1] for c in created]
    assert report["existing"] == ["Health_Score__c", "Last_Scored__c"]
    access = report["access"]
    assert access["permission_set_created"] and access["assigned_to"] == sfdocs.USER_ID
    assert len(access["fields_granted"]) == 7


def test_second_run_creates_nothing(sf_http, make_client):
    """With every field, grant and assignment present, setup only looks."""
    grants = [
        {"Id": f"01k{i}", "Field": f"Account.{f}", "PermissionsRead": True, "PermissionsEdit": True}
        for i, f in enumerate(HEALTH_FIELDS.values())
    ]
    answers = {
        "FROM PermissionSet ": [{"Id": PS_ID}],
        "FROM FieldPermissions ": grants,
        "FROM PermissionSetAssignment ": [{"Id": "0Pa5e000000AbCdCAK"}],
    }

    def query(request):
        text = parse_qs(urlsplit(request.url).query)["q"][0]
        rows = next(rows for key, rows in answers.items() if key in text)
        return 200, {}, json.dumps(sfdocs.query_page(rows))

    sf_http.get(DESCRIBE, json=sfdocs.describe(*HEALTH_FIELDS.values()))
    sf_http.add_callback("GET", QUERY, callback=query)
    userinfo(sf_http)
    report = setup(make_client())
    assert report["created"] == [] and report["access"]["fields_granted"] == []
    assert not report["access"]["permission_set_created"]
    assert report["access"]["assigned_to"] is None
    assert all(c.request.method == "GET" for c in sf_http.calls[1:])


def test_field_hidden_by_security_counts_as_existing(sf_http, make_client):
    """DUPLICATE_DEVELOPER_NAME (exists, but invisible to this user) is not an error."""
    sf_http.get(DESCRIBE, json=sfdocs.describe())
    sf_http.post(
        TOOLING,
        status=400,
        json=sfdocs.error(
            "DUPLICATE_DEVELOPER_NAME", "There is already a field named Health_Score on Account."
        ),
    )
    from integrations.salesforce.metadata import ensure_fields

    report = ensure_fields(make_client())
    assert report == {"created": [], "existing": list(FIELD_DEFINITIONS)}
