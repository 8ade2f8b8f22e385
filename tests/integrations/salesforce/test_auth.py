"""Salesforce login: client credentials, JWT bearer, a ready token; failures classified."""

from __future__ import annotations

import base64
import time
from urllib.parse import parse_qs

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.errors import FatalError, RetriableError
from integrations.salesforce.auth import Credentials, authenticate, jwt_audience
from tests.integrations.salesforce import sfdocs


@pytest.fixture(scope="module")
def rsa_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key, pem


def test_client_credentials_posts_basic_auth_and_returns_instance():
    """The client-credentials flow posts grant_type with HTTP Basic client auth."""
    creds = Credentials(login_url=sfdocs.LOGIN, client_id="cid", client_secret="csecret")
    with responses.RequestsMock() as mock:
        mock.post(sfdocs.TOKEN_URL, json=sfdocs.token("tok-1"))
        token = authenticate(creds, requests.Session())
        sent = mock.calls[0].request
    assert parse_qs(sent.body) == {"grant_type": ["client_credentials"]}
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"cid:csecret").decode()
    assert token.access_token == "tok-1" and token.instance_url == sfdocs.INSTANCE


def test_login_url_is_configurable():
    """A My Domain (or test) login URL is where the token is asked for."""
    creds = Credentials(
        login_url="https://acme--uat.sandbox.my.salesforce.com/",
        client_id="cid",
        client_secret="x",
    )
    with responses.RequestsMock() as mock:
        mock.post(
            "https://acme--uat.sandbox.my.salesforce.com/services/oauth2/token",
            json=sfdocs.token(),
        )
        assert authenticate(creds, requests.Session()).access_token


def test_jwt_bearer_signs_the_documented_claims(rsa_key, tmp_path):
    """The JWT assertion is RS256 with iss, sub, aud and an exp at most 3 minutes ahead."""
    key, pem = rsa_key
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(pem)
    creds = Credentials(
        flow="jwt_bearer",
        login_url="https://test.salesforce.com",
        client_id="cid",
        username="integration@acme.com",
        private_key_file=str(key_file),
    )
    with responses.RequestsMock() as mock:
        mock.post("https://test.salesforce.com/services/oauth2/token", json=sfdocs.token())
        authenticate(creds, requests.Session())
        form = parse_qs(mock.calls[0].request.body)
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(
        form["assertion"][0],
        key.public_key(),
        algorithms=["RS256"],
        audience="https://test.salesforce.com",
    )
    assert claims["iss"] == "cid" and claims["sub"] == "integration@acme.com"
    assert time.time() < claims["exp"] <= time.time() + 181


@pytest.mark.parametrize(
    ("login_url", "audience"),
    [
        ("https://login.salesforce.com", "https://login.salesforce.com"),
        ("https://acme.my.salesforce.com", "https://login.salesforce.com"),
        ("https://acme--dev.sandbox.my.salesforce.com", "https://test.salesforce.com"),
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
    ],
)
def test_jwt_audience_follows_the_login_url(login_url, audience):
    """Production and My Domain use login.salesforce.com; sandboxes test.salesforce.com."""
    assert jwt_audience(Credentials(flow="jwt_bearer", login_url=login_url)) == audience


def test_bad_credentials_are_fatal():
    """invalid_client is a fatal error carrying Salesforce's error code."""
    creds = Credentials(login_url=sfdocs.LOGIN, client_id="cid", client_secret="wrong")
    with responses.RequestsMock() as mock:
        mock.post(
            sfdocs.TOKEN_URL,
            status=400,
            json={"error": "invalid_client", "error_description": "invalid client credentials"},
        )
        with pytest.raises(FatalError) as caught:
            authenticate(creds, requests.Session())
    assert caught.value.code == "invalid_client"


def test_login_outage_is_retriable():
    """A 503 HTML page from the token endpoint, or no connection, is retriable."""
    creds = Credentials(login_url=sfdocs.LOGIN, client_id="cid", client_secret="x")
    with responses.RequestsMock() as mock:
        mock.post(sfdocs.TOKEN_URL, status=503, body="<html>down</html>")
        with pytest.raises(RetriableError):
            authenticate(creds, requests.Session())
    with responses.RequestsMock() as mock:
        mock.post(sfdocs.TOKEN_URL, body=requests.ConnectionError("refused"))
        with pytest.raises(RetriableError):
            authenticate(creds, requests.Session())


def test_missing_settings_and_ready_token():
    """An incomplete flow is named; a ready token needs no HTTP at all."""
    with pytest.raises(FatalError, match="client_secret"):
        authenticate(Credentials(client_id="cid"), requests.Session())
    with pytest.raises(FatalError, match="private_key_file"):
        authenticate(
            Credentials(flow="jwt_bearer", client_id="c", username="u"), requests.Session()
        )
    ready = Credentials(flow="access_token", access_token="tok", instance_url=sfdocs.INSTANCE)
    with responses.RequestsMock():
        token = authenticate(ready, requests.Session())
    assert token.instance_url == sfdocs.INSTANCE and not ready.can_refresh


def test_secrets_stay_out_of_reprs():
    """Credentials and tokens never show their secrets when printed or logged."""
    creds = Credentials(client_id="cid", client_secret="very-secret", access_token="tok-secret")
    assert "very-secret" not in repr(creds) and "tok-secret" not in repr(creds)
