"""Salesforce response bodies as the REST API documentation shows them (for ``responses``).

Token: OAuth 2.0 client credentials / JWT bearer flow responses (``access_token``,
``signature``, ``scope``, ``instance_url``, ``id``, ``token_type``, ``issued_at``).
Errors: ``[{"message": ..., "errorCode": ...}]``; the limit header ``api-usage=used/total``.
Query: ``totalSize``, ``done``, ``nextRecordsUrl``, ``records`` with ``attributes``.
sObject Collections: a list of SaveResult (``id``, ``success``, ``errors`` with
``statusCode``, ``message``, ``fields``). Bulk API 2.0: job info JSON, results as CSV with
``sf__Id`` and ``sf__Created`` / ``sf__Error``.
"""

from __future__ import annotations

from typing import Any

LOGIN = "https://login.salesforce.com"
INSTANCE = "https://acme.my.salesforce.com"
VERSION = "62.0"
DATA = f"{INSTANCE}/services/data/v{VERSION}"
TOKEN_URL = f"{LOGIN}/services/oauth2/token"
ORG_ID = "00D5e000000AbCdEAK"
USER_ID = "0055e000001XyZ9AAK"


def token(access_token: str = "00D5e000000AbCd!AQ4AQFake.Token.1") -> dict[str, Any]:
    return {
        "access_token": access_token,
        "signature": "d5WTIi6L2Wz1C8ghDqnnRr3rPjF6kK2DhWHoNfW8ySs=",
        "scope": "api",
        "instance_url": INSTANCE,
        "id": f"{LOGIN}/id/{ORG_ID}/{USER_ID}",
        "token_type": "Bearer",
        "issued_at": "1764000000000",
    }


def error(code: str, message: str, fields: list[str] | None = None) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        body["fields"] = fields
    return [body]


INVALID_SESSION = error("INVALID_SESSION_ID", "Session expired or invalid")
LIMIT_EXCEEDED = error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def usage(used: int, total: int = 15000) -> dict[str, str]:
    return {"Sforce-Limit-Info": f"api-usage={used}/{total}"}


def account(record_id: str, modstamp: str, deleted: bool = False, **fields: Any) -> dict:
    return {
        "attributes": {
            "type": "Account",
            "url": f"/services/data/v{VERSION}/sobjects/Account/{record_id}",
        },
        "Id": record_id,
        "IsDeleted": deleted,
        "SystemModstamp": modstamp,
        **fields,
    }


def query_page(
    records: list[dict[str, Any]], total: int | None = None, next_url: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "totalSize": total if total is not None else len(records),
        "done": next_url is None,
        "records": records,
    }
    if next_url:
        body["nextRecordsUrl"] = next_url
    return body


def save_ok(record_id: str) -> dict[str, Any]:
    return {"id": record_id, "success": True, "errors": []}


def save_error(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {
        "success": False,
        "errors": [{"statusCode": code, "message": message, "fields": fields or []}],
    }


def job_info(job_id: str, state: str, processed: int = 0, failed: int = 0) -> dict[str, Any]:
    return {
        "id": job_id,
        "operation": "update",
        "object": "Account",
        "createdById": USER_ID,
        "createdDate": "2026-11-24T10:00:00.000+0000",
        "systemModstamp": "2026-11-24T10:00:01.000+0000",
        "state": state,
        "concurrencyMode": "Parallel",
        "contentType": "CSV",
        "apiVersion": float(VERSION),
        "jobType": "V2Ingest",
        "contentUrl": f"services/data/v{VERSION}/jobs/ingest/{job_id}/batches",
        "lineEnding": "LF",
        "columnDelimiter": "COMMA",
        "numberRecordsProcessed": processed,
        "numberRecordsFailed": failed,
        "retries": 0,
        "totalProcessingTime": 1200,
        "apiActiveProcessingTime": 1100,
        "apexProcessingTime": 0,
    }


def describe(*custom: str) -> dict[str, Any]:
    standard = ["Id", "IsDeleted", "Name", "Website", "OwnerId", "SystemModstamp", "Type"]
    return {
        "name": "Account",
        "label": "Account",
        "fields": [{"name": n, "custom": n.endswith("__c")} for n in (*standard, *custom)],
    }
