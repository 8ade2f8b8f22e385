"""``cshub salesforce setup``: create the score fields on Account and let cshub write them.

Missing custom fields are created through the Tooling API's ``CustomField`` sObject, whose
``Metadata`` body is the Metadata API's CustomField type. simple-salesforce also offers the
SOAP Metadata API (``sf.mdapi``), but its zeep client opens its own HTTP session, which would
bypass this client's CA bundle, timeouts and API-call meter; ``toolingexecute`` goes through
the client's session like every other call.

A field created through metadata is visible to no profile, so setup also keeps a permission
set (``cshub_health_fields``) granting read and edit on every score field and assigns it to
the integration user. Everything is looked up first: a second run creates nothing and says so.
"""

from __future__ import annotations

from typing import Any

from integrations.errors import FatalError
from integrations.salesforce.client import SalesforceClient

PERMISSION_SET = "cshub_health_fields"
HELP = "Written by cshub (customer-success hub); edits here are overwritten."

FIELD_DEFINITIONS: dict[str, dict[str, Any]] = {
    "Health_Score__c": {"label": "Health Score", "type": "Number", "precision": 5, "scale": 1},
    "Health_Tier__c": {"label": "Health Tier", "type": "Text", "length": 32},
    "Health_Trend__c": {"label": "Health Trend", "type": "Text", "length": 16},
    "Churn_Risk__c": {"label": "Churn Risk", "type": "Percent", "precision": 5, "scale": 1},
    "Churn_Risk_Segment__c": {"label": "Churn Risk Segment", "type": "Text", "length": 16},
    "Health_Reasons__c": {"label": "Health Reasons", "type": "Text", "length": 255},
    "Last_Scored__c": {"label": "Last Scored", "type": "DateTime"},
}


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ensure_fields(client: SalesforceClient) -> dict[str, list[str]]:
    """Create the score fields Account lacks; which were created and which existed."""
    described = client.describe("Account")
    present = {f["name"] for f in described.get("fields", [])}
    created, existing = [], []
    for name, definition in FIELD_DEFINITIONS.items():
        if name in present:
            existing.append(name)
            continue
        body = {
            "FullName": f"Account.{name}",
            "Metadata": {**definition, "description": HELP, "inlineHelpText": HELP},
        }
        try:
            client.tooling_create("CustomField", body)
        except FatalError as exc:
            # the field exists but this user cannot see it yet (no field-level security)
            if exc.code != "DUPLICATE_DEVELOPER_NAME":
                raise
            existing.append(name)
            continue
        created.append(name)
    return {"created": created, "existing": existing}


def ensure_access(client: SalesforceClient) -> dict[str, Any]:
    """A permission set with read/edit on the score fields, assigned to the integration user."""
    found = client.query_all(f"SELECT Id FROM PermissionSet WHERE Name = {_quote(PERMISSION_SET)}")
    ps_created = not found
    if found:
        ps_id = found[0]["Id"]
    else:
        ps_id = client.create(
            "PermissionSet",
            {
                "Name": PERMISSION_SET,
                "Label": "cshub health fields",
                "Description": "Lets cshub write health and churn scores onto Accounts.",
            },
        )
    granted = client.query_all(
        "SELECT Id, Field, PermissionsRead, PermissionsEdit FROM FieldPermissions "
        f"WHERE ParentId = {_quote(ps_id)} AND SobjectType = 'Account'"
    )
    have = {g["Field"] for g in granted if g.get("PermissionsRead") and g.get("PermissionsEdit")}
    wanted = [f"Account.{name}" for name in FIELD_DEFINITIONS]
    missing = [f for f in wanted if f not in have]
    failures: list[str] = []
    if missing:
        records = [
            {
                "attributes": {"type": "FieldPermissions"},
                "ParentId": ps_id,
                "SobjectType": "Account",
                "Field": f,
                "PermissionsRead": True,
                "PermissionsEdit": True,
            }
            for f in missing
        ]
        for f, result in zip(missing, client.save_collection("POST", records), strict=False):
            if not result.get("success"):
                errors = result.get("errors") or [{}]
                failures.append(f"{f}: {errors[0].get('statusCode')} {errors[0].get('message')}")
    user_id = client.userinfo().get("user_id")
    assigned = False
    if user_id:
        assignment = client.query_all(
            "SELECT Id FROM PermissionSetAssignment "
            f"WHERE AssigneeId = {_quote(user_id)} AND PermissionSetId = {_quote(ps_id)}"
        )
        if not assignment:
            client.create(
                "PermissionSetAssignment", {"AssigneeId": user_id, "PermissionSetId": ps_id}
            )
            assigned = True
    out: dict[str, Any] = {
        "permission_set": PERMISSION_SET,
        "permission_set_id": ps_id,
        "permission_set_created": ps_created,
        "fields_granted": [f for f in missing if not any(x.startswith(f + ":") for x in failures)],
        "assigned_to": user_id if assigned else None,
    }
    if failures:
        out["failures"] = failures
    return out


def setup(client: SalesforceClient) -> dict[str, Any]:
    """Fields, then access; a report of everything created (empty lists when nothing was)."""
    calls_before = client.stats.api_calls
    fields = ensure_fields(client)
    access = ensure_access(client)
    return {**fields, "access": access, "api_calls": client.stats.api_calls - calls_before}
