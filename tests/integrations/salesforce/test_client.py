"""The Salesforce client: limits header, reserve, re-auth, backoff, errors, paging, TLS."""

from __future__ import annotations

import pytest
import requests
from responses import matchers

from integrations.errors import FatalError, RetriableError
from integrations.salesforce.client import ApiLimitPaused
from tests.integrations.salesforce import sfdocs

LIMITS = f"{sfdocs.DATA}/limits/"
DAILY = {"DailyApiRequests": {"Max": 15000, "Remaining": 14000}}


def test_limit_header_is_read_on_every_response(sf_http, make_client):
    """Sforce-Limit-Info updates the known usage after each call."""
    sf_http.get(LIMITS, json=DAILY, headers=sfdocs.usage(1000))
    client = make_client()
    client.limits()
    assert (client.usage.used, client.usage.total) == (1000, 15000)
    sf_http.get(LIMITS, json=DAILY, headers=sfdocs.usage(1001))
    client.limits()
    assert client.usage.used == 1001 and client.stats.api_calls == 2
    assert client.stats.auth_calls == 1  # the token request is not an API call


def test_reserve_pauses_before_sending(sf_http, make_client):
    """With the reserve reached, the next call is not sent and the run pauses."""
    sf_http.get(LIMITS, json=DAILY, headers=sfdocs.usage(13_499))
    sf_http.get(LIMITS, json=DAILY, headers=sfdocs.usage(13_500))
    client = make_client(reserve_share=0.1, limit_pause_s=900)
    client.limits()  # 1,501 left and 1,500 kept in reserve: one more call fits
    client.limits()  # 1,500 left: the reserve is all that remains
    assert client.budget() == 0
    with pytest.raises(ApiLimitPaused) as caught:
        client.limits()
    assert caught.value.retry_after == 900 and caught.value.code == "api_reserve"
    assert len([c for c in sf_http.calls if "/limits" in c.request.url]) == 2
    with pytest.raises(ApiLimitPaused):  # and it stays paused for the rest of the run
        client.limits()
    assert len([c for c in sf_http.calls if "/limits" in c.request.url]) == 2


def test_expired_session_reauthenticates_once(sf_http, make_client):
    """INVALID_SESSION_ID logs in again and repeats the call once."""
    sf_http.get(LIMITS, status=401, json=sfdocs.INVALID_SESSION)
    sf_http.get(LIMITS, json=DAILY, headers=sfdocs.usage(5))
    client = make_client()
    assert client.limits() == DAILY
    assert client.stats.reauths == 1
    assert len([c for c in sf_http.calls if c.request.url == sfdocs.TOKEN_URL]) == 2


def test_second_expiry_in_a_row_is_fatal(sf_http, make_client):
    """A session refused again right after re-auth is not retried forever."""
    sf_http.get(LIMITS, status=401, json=sfdocs.INVALID_SESSION)
    client = make_client()
    with pytest.raises(FatalError) as caught:
        client.limits()
    assert caught.value.code == "INVALID_SESSION_ID" and client.stats.reauths == 1


def test_ready_token_cannot_reauthenticate(sf_http, make_client):
    """An expired ready-made token is reported, not refreshed."""
    sf_http.get(LIMITS, status=401, json=sfdocs.INVALID_SESSION)
    client = make_client(
        auth_flow="access_token", access_token="00Dtok", instance_url=sfdocs.INSTANCE
    )
    with pytest.raises(FatalError, match="expired"):
        client.limits()


def test_request_limit_exceeded_backs_off_then_pauses(sf_http, make_client, sleeps):
    """REQUEST_LIMIT_EXCEEDED is retried after growing waits, then the run pauses."""
    sf_http.get(LIMITS, status=403, json=sfdocs.LIMIT_EXCEEDED)
    client = make_client(limit_retries=2, limit_pause_s=1800)
    with pytest.raises(ApiLimitPaused) as caught:
        client.limits()
    assert caught.value.code == "REQUEST_LIMIT_EXCEEDED" and caught.value.retry_after == 1800
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 0.9
    assert client.paused_until is not None


def test_request_limit_that_clears_is_survived(sf_http, make_client):
    """A concurrent-request refusal that clears after a backoff does not fail the call."""
    sf_http.get(LIMITS, status=403, json=sfdocs.LIMIT_EXCEEDED)
    sf_http.get(LIMITS, json=DAILY)
    assert make_client().limits() == DAILY


def test_server_errors_retry_with_backoff(sf_http, make_client, sleeps):
    """503 and connection errors are retried with exponential backoff and jitter."""
    sf_http.get(LIMITS, status=503, json=sfdocs.error("SERVER_UNAVAILABLE", "down"))
    sf_http.get(LIMITS, body=requests.ConnectionError("reset"))
    sf_http.get(LIMITS, json=DAILY)
    client = make_client(backoff_base_s=1.0, backoff_max_s=60)
    assert client.limits() == DAILY
    assert client.stats.retries == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_server_errors_give_up_as_retriable(sf_http, make_client, sleeps):
    """After max_retries a 5xx becomes a RetriableError for the job to retry later."""
    sf_http.get(LIMITS, status=500, json=sfdocs.error("UNKNOWN_EXCEPTION", "boom"))
    client = make_client(max_retries=2)
    with pytest.raises(RetriableError) as caught:
        client.limits()
    assert caught.value.status == 500 and len(sleeps) == 2


def test_client_errors_are_fatal_with_code(sf_http, make_client):
    """A 400 carries Salesforce's errorCode and is not retried."""
    sf_http.get(
        f"{sfdocs.DATA}/query/",
        status=400,
        json=sfdocs.error("INVALID_FIELD", "No such column 'Foo__c' on entity 'Account'."),
    )
    client = make_client()
    with pytest.raises(FatalError) as caught:
        list(client.query_pages("SELECT Foo__c FROM Account"))
    assert caught.value.code == "INVALID_FIELD" and client.stats.retries == 0


def test_query_pages_follow_next_records_url_lazily(sf_http, make_client):
    """Pages come one at a time: the next page is fetched only when asked for."""
    next_url = f"/services/data/v{sfdocs.VERSION}/query/01gD0000002HU6KIAW-2000"
    first = [sfdocs.account("001A", "2026-11-01T00:00:00.000+0000")]
    second = [sfdocs.account("001B", "2026-11-02T00:00:00.000+0000")]
    sf_http.get(
        f"{sfdocs.DATA}/queryAll/",
        json=sfdocs.query_page(first, total=2, next_url=next_url),
        match=[
            matchers.query_param_matcher({"q": "SELECT Id FROM Account"}),
            matchers.header_matcher({"Sforce-Query-Options": "batchSize=2000"}),
        ],
    )
    sf_http.get(f"{sfdocs.INSTANCE}{next_url}", json=sfdocs.query_page(second, total=2))
    client = make_client()
    pages = client.query_pages("SELECT Id FROM Account", include_deleted=True)
    assert [r["Id"] for r in next(pages)] == ["001A"]
    assert client.stats.api_calls == 1
    assert [r["Id"] for r in next(pages)] == ["001B"]
    assert next(pages, None) is None and client.stats.api_calls == 2


def test_tls_is_verified_against_the_configured_bundle(sf_http, make_client, tmp_path):
    """Every request is sent with verify=<CA bundle> (or True), never False."""
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    sf_http.get(LIMITS, json=DAILY)
    make_client(ca_bundle=str(bundle)).limits()
    make_client().limits()
    verifies = [c.request.req_kwargs["verify"] for c in sf_http.calls]
    assert verifies[:2] == [str(bundle), str(bundle)]
    assert all(v is True or isinstance(v, str) for v in verifies[2:])  # default trust store
    assert all(c.request.req_kwargs["timeout"] for c in sf_http.calls)


def test_collections_take_at_most_200_records(make_client):
    """The client refuses to build a Collections call over the documented limit."""
    with pytest.raises(ValueError, match=r"1\.\.200"):
        make_client().save_collection("PATCH", [{"id": str(i)} for i in range(201)])
