"""The fake Salesforce's schema, ids, error types and value formats (``tests.fakes``)."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from typing import Any

PREFIX = {
    "Account": "001",
    "Contact": "003",
    "Opportunity": "006",
    "Case": "500",
    "Task": "00T",
    "User": "005",
    "Organization": "00D",
    "PermissionSet": "0PS",
    "FieldPermissions": "01k",
    "PermissionSetAssignment": "0Pa",
    "CustomField": "00N",
    "Job": "750",
    "Locator": "01g",
}
SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
READ_ONLY = {"Id", "IsDeleted", "SystemModstamp", "CreatedDate", "LastModifiedDate", "IsClosed"}

# field name -> type (id, string, textarea, double, currency, percent, date, datetime, boolean,
# reference:<Object>); the standard fields cshub reads and writes, per object
STANDARD: dict[str, dict[str, str]] = {
    "Account": {
        "Name": "string",
        "Type": "string",
        "Industry": "string",
        "Website": "string",
        "OwnerId": "reference:User",
        "AnnualRevenue": "currency",
        "Description": "textarea",
    },
    "Contact": {
        "AccountId": "reference:Account",
        "FirstName": "string",
        "LastName": "string",
        "Name": "string",
        "Email": "string",
        "Phone": "string",
        "Title": "string",
        "OwnerId": "reference:User",
    },
    "Opportunity": {
        "AccountId": "reference:Account",
        "Name": "string",
        "Type": "string",
        "StageName": "string",
        "Amount": "currency",
        "CloseDate": "date",
        "IsClosed": "boolean",
        "IsWon": "boolean",
        "Description": "textarea",
        "OwnerId": "reference:User",
    },
    "Case": {
        "AccountId": "reference:Account",
        "ContactId": "reference:Contact",
        "CaseNumber": "string",
        "Subject": "string",
        "Description": "textarea",
        "Status": "string",
        "Priority": "string",
        "Origin": "string",
        "IsClosed": "boolean",
        "ClosedDate": "datetime",
        "OwnerId": "reference:User",
    },
    "Task": {
        "WhatId": "reference:Account",
        "WhoId": "reference:Contact",
        "Subject": "string",
        "Description": "textarea",
        "ActivityDate": "date",
        "Priority": "string",
        "Status": "string",
        "OwnerId": "reference:User",
    },
    "User": {"Username": "string", "Email": "string", "Name": "string"},
    "Organization": {"Name": "string", "IsSandbox": "boolean", "OrganizationType": "string"},
    "PermissionSet": {"Name": "string", "Label": "string", "Description": "textarea"},
    "FieldPermissions": {
        "ParentId": "reference:PermissionSet",
        "SobjectType": "string",
        "Field": "string",
        "PermissionsRead": "boolean",
        "PermissionsEdit": "boolean",
    },
    "PermissionSetAssignment": {
        "AssigneeId": "reference:User",
        "PermissionSetId": "reference:PermissionSet",
    },
}
REQUIRED = {
    "Account": ("Name",),
    "Contact": ("LastName",),
    "Opportunity": ("Name", "StageName", "CloseDate"),
    "PermissionSet": ("Name", "Label"),
    "FieldPermissions": ("ParentId", "SobjectType", "Field"),
    "PermissionSetAssignment": ("AssigneeId", "PermissionSetId"),
}
LENGTHS = {"string": 255, "textarea": 32000}
CUSTOM_ACCOUNT_FIELDS = {
    "Segment__c": "string",
    "Plan__c": "string",
    "MRR__c": "currency",
    "Renewal_Date__c": "date",
}
SCORE_FIELDS = {
    "Health_Score__c": "double",
    "Health_Tier__c": "string",
    "Health_Trend__c": "string",
    "Churn_Risk__c": "percent",
    "Churn_Risk_Segment__c": "string",
    "Health_Reasons__c": "string",
    "Last_Scored__c": "datetime",
}
METADATA_TYPES = {
    "Text": "string",
    "TextArea": "textarea",
    "LongTextArea": "textarea",
    "Number": "double",
    "Percent": "percent",
    "Currency": "currency",
    "Date": "date",
    "DateTime": "datetime",
    "Checkbox": "boolean",
}


class ApiError(Exception):
    """An error answer: HTTP status and Salesforce's ``[{"message", "errorCode"}]``."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields

    def body(self) -> list[dict[str, Any]]:
        out: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            out["fields"] = self.fields
        return [out]


class RecordError(Exception):
    """A per-record failure (Collections, Bulk): ``statusCode`` and message."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields or []


def to18(id15: str) -> str:
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(id15[start : start + 5]) if ch.isupper())
        suffix += SUFFIX[bits]
    return id15 + suffix


def sf_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{value.microsecond // 1000:03d}+0000"
    )


def json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return sf_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, str):
        return (1, value.lower())
    return (1, value)


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password
