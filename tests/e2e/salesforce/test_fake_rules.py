"""The fake Salesforce enforces the real API's rules (other suites rely on it)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.fakes.salesforce import CLIENT_ID, CLIENT_SECRET, FakeSalesforce

pytestmark = pytest.mark.e2e
V = "/services/data/v62.0"


def login(fake: FakeSalesforce) -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # the environment's CA bundle must not override the fake's
    http.verify = fake.ca_path
    token = http.post(
        f"{fake.url}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
    ).json()
    http.headers["Authorization"] = f"Bearer {token['access_token']}"
    return http


def test_oauth_rejects_bad_clients_and_tokens_expire():
    """Wrong secrets get invalid_client; an expired token gets INVALID_SESSION_ID."""
    with FakeSalesforce(token_ttl_s=0.3) as fake:
        bad = requests.post(
            f"{fake.url}/services/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(CLIENT_ID, "nope"),
            verify=fake.ca_path,
        )
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_client"
        http = login(fake)
        assert http.get(f"{fake.url}{V}/limits/").status_code == 200
        time.sleep(0.4)
        expired = http.get(f"{fake.url}{V}/limits/")
        assert expired.status_code == 401
        assert expired.json() == [
            {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
        ]


def test_limit_header_counts_and_the_limit_refuses(fake):
    """Each call moves api-usage; past the allowance: 403 REQUEST_LIMIT_EXCEEDED."""
    fake.set_usage(0, 3)
    http = login(fake)
    seen = [http.get(f"{fake.url}{V}/limits/").headers["Sforce-Limit-Info"] for _ in range(3)]
    assert seen == ["api-usage=1/3", "api-usage=2/3", "api-usage=3/3"]
    refused = http.get(f"{fake.url}{V}/limits/")
    assert refused.status_code == 403 and refused.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert fake.calls == 3 and fake.org.auth_requests == 1


def test_soql_paging_and_errors(fake):
    """batchSize is clamped to 200..2000, pages chain by nextRecordsUrl; bad fields are named."""
    fake.seed_accounts(450)
    http = login(fake)
    first = http.get(
        f"{fake.url}{V}/query/",
        params={"q": "SELECT Id, Name FROM Account ORDER BY Name"},
        headers={"Sforce-Query-Options": "batchSize=50"},
    ).json()
    assert len(first["records"]) == 200 and first["totalSize"] == 450 and not first["done"]
    second = http.get(fake.url + first["nextRecordsUrl"]).json()
    third = http.get(fake.url + second["nextRecordsUrl"]).json()
    assert len(third["records"]) == 50 and third["done"] and "nextRecordsUrl" not in third
    names = [r["Name"] for r in first["records"] + second["records"] + third["records"]]
    assert names == sorted(names)
    again = http.get(fake.url + second["nextRecordsUrl"])
    assert again.status_code == 400  # a locator read through is gone
    bad = http.get(f"{fake.url}{V}/query/", params={"q": "SELECT Nope__c FROM Account"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_FIELD"


def test_collections_limit_and_all_or_none(fake):
    """201 records: EXCEEDED_ID_LIMIT; allOrNone rolls every record back on one failure."""
    ids = fake.seed_accounts(2)
    http = login(fake)
    over = http.patch(
        f"{fake.url}{V}/composite/sobjects",
        json={"records": [{"attributes": {"type": "Account"}, "id": ids[0]}] * 201},
    )
    assert over.status_code == 400 and over.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    rolled = http.patch(
        f"{fake.url}{V}/composite/sobjects",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Account"}, "id": ids[0], "Name": "Changed"},
                {"attributes": {"type": "Account"}, "id": "001000000000999AAA", "Name": "X"},
            ],
        },
    ).json()
    assert [r["errors"][0]["statusCode"] for r in rolled] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "INVALID_CROSS_REFERENCE_KEY",
    ]
    assert fake.get("Account", ids[0])["Name"] == "Account 000000"


def test_bulk_job_states(fake):
    """Open -> UploadComplete -> JobComplete; no upload once closed; results only when done."""
    ids = fake.seed_accounts(3)
    http = login(fake)
    job = http.post(
        f"{fake.url}{V}/jobs/ingest", json={"object": "Account", "operation": "update"}
    ).json()
    assert job["state"] == "Open"
    base = f"{fake.url}{V}/jobs/ingest/{job['id']}"
    csv_body = f"Id,Name\n{ids[0]},Renamed\n001000000000999AAA,Ghost\n"
    upload = http.put(f"{base}/batches", data=csv_body, headers={"Content-Type": "text/csv"})
    assert upload.status_code == 201
    closed = http.patch(base, json={"state": "UploadComplete"}).json()
    assert closed["state"] in ("UploadComplete", "InProgress", "JobComplete")
    late = http.put(f"{base}/batches", data=csv_body, headers={"Content-Type": "text/csv"})
    assert late.status_code == 409 and late.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    for _ in range(100):
        info = http.get(base).json()
        if info["state"] == "JobComplete":
            break
        time.sleep(0.02)
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (2, 1)
    failed = http.get(f"{base}/failedResults").text.splitlines()
    assert failed[0] == "sf__Id,sf__Error,Id,Name"
    assert failed[1].startswith("001000000000999AAA,INVALID_CROSS_REFERENCE_KEY:")
    assert fake.get("Account", ids[0])["Name"] == "Renamed"


def test_bulk_job_with_an_unknown_column_fails(fake):
    """A CSV header naming a field the object lacks fails the whole job."""
    http = login(fake)
    job = http.post(
        f"{fake.url}{V}/jobs/ingest", json={"object": "Account", "operation": "update"}
    ).json()
    base = f"{fake.url}{V}/jobs/ingest/{job['id']}"
    http.put(f"{base}/batches", data="Id,Nope__c\nx,1\n", headers={"Content-Type": "text/csv"})
    http.patch(base, json={"state": "UploadComplete"})
    for _ in range(100):
        info = http.get(base).json()
        if info["state"] in ("JobComplete", "Failed"):
            break
        time.sleep(0.02)
    assert info["state"] == "Failed" and "Nope__c" in info["errorMessage"]
