"""Getting a Salesforce access token: client credentials, JWT bearer, or a ready token.

The token endpoint is ``<login_url>/services/oauth2/token`` where ``login_url`` is
configurable (https://login.salesforce.com, https://test.salesforce.com, a My Domain URL, or
a test server), so a sandbox or a fake works the same. The request itself goes through
simple-salesforce's ``token_login`` on the client's own ``requests`` session (TLS verified,
``REQUESTS_CA_BUNDLE`` honoured). Failures come out classified: bad credentials are fatal, a
5xx or an unreachable server is retriable.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import requests
from simple_salesforce.exceptions import SalesforceAuthenticationFailed
from simple_salesforce.login import token_login

from integrations.errors import FatalError, RetriableError

FLOWS = ("client_credentials", "jwt_bearer", "access_token")
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_S = 180  # Salesforce accepts an assertion whose exp is at most 3 minutes away
RETRIABLE_AUTH_CODES = frozenset({"unknown_error", "server_error", "temporarily_unavailable"})


@dataclass(frozen=True)
class Credentials:
    """What one of the three flows needs (secrets included; never logged)."""

    flow: str = "client_credentials"
    login_url: str = "https://login.salesforce.com"
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    username: str = ""
    private_key_file: str = ""
    private_key: str = field(default="", repr=False)
    access_token: str = field(default="", repr=False)
    instance_url: str = ""
    audience: str = ""

    @property
    def token_url(self) -> str:
        return self.login_url.rstrip("/") + "/services/oauth2/token"

    @property
    def can_refresh(self) -> bool:
        """Whether a new token can be had when this one expires (not for a ready token)."""
        return self.flow != "access_token"

    def missing(self) -> list[str]:
        """The settings this flow needs that are empty."""
        need = {
            "client_credentials": ("client_id", "client_secret"),
            "jwt_bearer": ("client_id", "username"),
            "access_token": ("access_token", "instance_url"),
        }.get(self.flow, ())
        out = [name for name in need if not getattr(self, name)]
        if self.flow == "jwt_bearer" and not (self.private_key or self.private_key_file):
            out.append("private_key_file")
        return out


@dataclass(frozen=True)
class Token:
    access_token: str = field(repr=False)
    instance_url: str  # https://host[:port]
    issued_at: float


def jwt_audience(creds: Credentials) -> str:
    """The ``aud`` claim: login or test.salesforce.com for Salesforce hosts, else the URL."""
    if creds.audience:
        return creds.audience.rstrip("/")
    host = (urlsplit(creds.login_url).hostname or "").lower()
    if host == "test.salesforce.com" or ".sandbox.my.salesforce.com" in host:
        return "https://test.salesforce.com"
    if host.endswith(".salesforce.com") or host.endswith(".force.com"):
        return "https://login.salesforce.com"
    return creds.login_url.rstrip("/")


def jwt_assertion(creds: Credentials, now: float | None = None) -> str:
    """An RS256-signed assertion for the JWT bearer flow."""
    key: bytes | str = creds.private_key
    if not key:
        try:
            key = Path(creds.private_key_file).read_bytes()
        except OSError as exc:
            raise FatalError(
                f"cannot read the private key file {creds.private_key_file!r}: {exc.strerror}",
                code="private_key_unreadable",
            ) from exc
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": creds.client_id,
        "sub": creds.username,
        "aud": jwt_audience(creds),
        "exp": issued + JWT_LIFETIME_S,
    }
    try:
        return jwt.encode(claims, key, algorithm="RS256")
    except (ValueError, TypeError) as exc:
        raise FatalError(f"the private key cannot sign: {exc}", code="bad_private_key") from exc


def authenticate(creds: Credentials, http: requests.Session) -> Token:
    """A fresh token by the configured flow (a ready token is returned as is)."""
    missing = creds.missing()
    if creds.flow not in FLOWS:
        raise FatalError(f"unknown auth flow {creds.flow!r}", code="not_configured")
    if missing:
        raise FatalError(
            f"Salesforce is not configured: {', '.join(missing)} unset ({creds.flow})",
            code="not_configured",
        )
    if creds.flow == "access_token":
        return Token(creds.access_token, creds.instance_url.rstrip("/"), time.time())
    headers = None
    if creds.flow == "client_credentials":
        data = {"grant_type": "client_credentials"}
        pair = f"{creds.client_id}:{creds.client_secret}".encode()
        headers = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    else:
        data = {"grant_type": JWT_GRANT, "assertion": jwt_assertion(creds)}
    domain = urlsplit(creds.login_url).hostname or "login"
    try:
        access_token, instance = token_login(
            creds.token_url, data, domain, creds.client_id, headers, None, http
        )
    except SalesforceAuthenticationFailed as exc:
        raise _classify(exc) from exc
    except requests.exceptions.SSLError as exc:
        raise FatalError(f"TLS verification failed for {creds.token_url}: {exc}") from exc
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise RetriableError(f"Salesforce login unreachable: {exc}") from exc
    if not access_token or not instance:
        raise FatalError("the token response has no access_token or instance_url")
    return Token(access_token, "https://" + str(instance).rstrip("/"), time.time())


def _classify(exc: SalesforceAuthenticationFailed) -> Exception:
    code = exc.code
    message = f"Salesforce login failed: {code}: {exc.auth_message}"
    if isinstance(code, int):
        if code == 429 or code >= 500:
            return RetriableError(message, status=code, code="login_unavailable")
        return FatalError(message, status=code, code="login_failed")
    if code in RETRIABLE_AUTH_CODES:
        return RetriableError(message, status=None, code=str(code))
    return FatalError(message, status=400, code=str(code))
