"""A fake Salesforce that speaks real HTTPS on 127.0.0.1 and enforces the real API's rules.

For end-to-end tests and benchmarks of anything that talks to Salesforce (sync, playbooks'
Tasks and Cases, growth loops' Opportunities). TLS comes from a test CA (trustme); point the
client's CA bundle (``Config.requests_ca_bundle``) at ``fake.ca_path``.

    from tests.fakes.salesforce import FakeSalesforce, fake_salesforce  # fixture, too

    with FakeSalesforce() as fake:
        fake.settings()          # values for PUT /api/integrations/salesforce (client creds)
        fake.jwt_settings(tmp)   # the same for the JWT bearer flow (writes a private key)
        fake.seed_accounts(10)   # Accounts with Segment__c, Plan__c, MRR__c
        fake.insert("Case", {"AccountId": ..., "Subject": "..."})
        fake.org.records["Task"] # what was created, by id
        fake.calls, fake.org.calls_by_kind, fake.org.requests

What it enforces (each with Salesforce's documented status and ``errorCode``):

- OAuth 2.0 token endpoint ``/services/oauth2/token``: client credentials (Basic header or
  form) and JWT bearer (RS256 signature checked with the client's public key, ``aud``,
  ``exp`` at most 5 minutes ahead, a known ``sub``); tokens expire after ``token_ttl_s`` and
  ``expire_sessions()`` expires them all: the next call answers 401 ``INVALID_SESSION_ID``.
- Every ``/services/data`` call needs a live Bearer token, is counted against the daily
  allowance (``api_limit``), and answers ``Sforce-Limit-Info: api-usage=used/total``; past
  the allowance: 403 ``REQUEST_LIMIT_EXCEEDED``. Token requests are not counted.
- SOQL (``query``/``queryAll``): a real parser for the subset cshub uses; ``INVALID_FIELD``,
  ``INVALID_TYPE``, ``MALFORMED_QUERY``; pages of ``Sforce-Query-Options: batchSize`` (200 to
  2,000, default 2,000) chained by ``nextRecordsUrl``; ``queryAll`` includes deleted rows.
- sObject create/get/update/delete, describe; required fields, field types and lengths,
  references (``INVALID_CROSS_REFERENCE_KEY``), read-only fields.
- sObject Collections ``/composite/sobjects``: at most 200 records (``EXCEEDED_ID_LIMIT``),
  per-record results, ``allOrNone`` rollback.
- Bulk API 2.0 ingest jobs: Open -> UploadComplete -> InProgress -> JobComplete (or Failed,
  Aborted), one CSV upload while Open, 150 MB cap, ``#N/A`` clears a field, results as CSV
  (``sf__Id``, ``sf__Created``/``sf__Error``), processed on a thread at ``bulk_rows_per_s``.
- Tooling API ``CustomField`` creation (``DUPLICATE_DEVELOPER_NAME`` when it exists).
- Faults: ``fail_next(times, status=503, ...)``, ``lock_rows(ids)`` (UNABLE_TO_LOCK_ROW),
  ``expire_sessions()`` now or ``org.expire_after_calls = n`` (mid-run),
  ``org.auth_failures`` (token endpoint 503s), ``set_usage(used, total)``.

Run it alone (benchmarks do, to keep its memory out of their figures):
``python -m tests.fakes.salesforce --accounts 1000`` prints one JSON line (url, ca, client
credentials) and serves until stdin closes; ``/__fake__/...`` endpoints control it.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Response, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tests.fakes.sf_app import create_app
from tests.fakes.sf_org import Org

CLIENT_ID = "3MVG9fake.cshub.client"
CLIENT_SECRET = "fake-client-secret-0123456789"


class _QuietHandler(WSGIRequestHandler):
    def log(self, *_args: Any) -> None:  # no request log lines in test output
        pass


class FakeSalesforce:
    """The fake org behind an HTTPS server on 127.0.0.1 (a free port)."""

    def __init__(
        self,
        *,
        api_limit: int = 100_000,
        token_ttl_s: float = 7200.0,
        custom_fields: bool = True,
        score_fields: bool = False,
        bulk_rows_per_s: float = 200_000.0,
        bulk_min_s: float = 0.05,
        audience: str | None = None,
    ) -> None:
        self.org = Org(
            api_limit=api_limit,
            token_ttl_s=token_ttl_s,
            custom_fields=custom_fields,
            score_fields=score_fields,
            bulk_rows_per_s=bulk_rows_per_s,
            bulk_min_s=bulk_min_s,
        )
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.org.add_client(CLIENT_ID, CLIENT_SECRET, public)
        self._audience = audience
        self._dir = tempfile.TemporaryDirectory(prefix="fake-sf-")
        self.ca_path = str(Path(self._dir.name) / "ca.pem")
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeSalesforce:
        ca = trustme.CA()
        ca.cert_pem.write_to_path(self.ca_path)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        app = create_app(self.org, lambda: self.url, lambda: self._audience or self.url)
        _control(app, self)
        self._server = make_server(
            "127.0.0.1",
            0,
            app,
            threaded=True,
            request_handler=_QuietHandler,
            ssl_context=context,
        )
        self.url = f"https://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._dir.cleanup()

    def __enter__(self) -> FakeSalesforce:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- settings for cshub ------------------------------------------------------------------
    def settings(self, **overrides: Any) -> dict[str, Any]:
        """``salesforce`` integration settings for the client-credentials flow."""
        values = {
            "auth_flow": "client_credentials",
            "login_url": self.url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "api_version": "62.0",
            "backoff_base_s": 0.01,
            "backoff_max_s": 0.05,
            "bulk_poll_s": 0.05,
        }
        values.update(overrides)
        return values

    def private_key_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def jwt_settings(self, directory: Path, **overrides: Any) -> dict[str, Any]:
        """Settings for the JWT bearer flow (the private key written under ``directory``)."""
        path = Path(directory) / "fake-sf-key.pem"
        path.write_bytes(self.private_key_pem())
        values = self.settings(
            auth_flow="jwt_bearer",
            username=self.org.records["User"][self.org.user_id]["Username"],
            private_key_file=str(path),
        )
        values.pop("client_secret")
        values.update(overrides)
        return values

    # -- shortcuts ---------------------------------------------------------------------------
    @property
    def calls(self) -> int:
        """API calls counted against the allowance since the last ``reset_counters``."""
        return self.org.calls

    def reset_counters(self) -> None:
        self.org.reset_counters()

    def set_usage(self, used: int, total: int | None = None) -> None:
        with self.org.lock:
            self.org.api_used = used
            if total is not None:
                self.org.api_limit = total

    def seed_accounts(self, count: int, **fields: Any) -> list[str]:
        return self.org.seed_accounts(count, **fields)

    def insert(self, sobject: str, fields: dict[str, Any], **stamps: Any) -> str:
        return self.org.insert(sobject, fields, **stamps)

    def set_fields(self, sobject: str, record_id: str, **values: Any) -> None:
        self.org.set_fields(sobject, record_id, **values)

    def delete(self, sobject: str, record_id: str) -> None:
        self.org.delete(sobject, record_id)

    def get(self, sobject: str, record_id: str) -> dict[str, Any]:
        return self.org.get(sobject, record_id)

    def expire_sessions(self) -> None:
        self.org.expire_sessions()

    def fail_next(self, times: int = 1, **kwargs: Any) -> None:
        self.org.fail_next(times, **kwargs)

    def lock_rows(self, ids: list[str], times: int = 1) -> None:
        self.org.lock_rows(ids, times)


def _control(app: Any, fake: FakeSalesforce) -> None:
    """``/__fake__/...``: drive a fake running in another process (benchmarks)."""

    def doc(value: Any) -> Response:
        return Response(orjson.dumps(value), mimetype="application/json")

    @app.get("/__fake__/stats")
    def stats() -> Response:
        return doc(fake.org.stats())

    @app.post("/__fake__/reset_counters")
    def reset() -> Response:
        fake.reset_counters()
        return doc(fake.org.stats())

    @app.post("/__fake__/seed_accounts")
    def seed() -> Response:
        body = request.get_json(force=True) or {}
        ids = fake.seed_accounts(int(body.get("count", 0)))
        return doc({"count": len(ids)})

    @app.post("/__fake__/set_usage")
    def usage() -> Response:
        body = request.get_json(force=True) or {}
        fake.set_usage(int(body["used"]), body.get("total"))
        return doc(fake.org.stats())

    @app.post("/__fake__/expire_sessions")
    def expire() -> Response:
        fake.expire_sessions()
        return doc({"ok": True})


@pytest.fixture
def fake_salesforce() -> Iterator[FakeSalesforce]:
    """A started fake Salesforce, stopped after the test."""
    with FakeSalesforce() as fake:
        yield fake


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Salesforce over HTTPS.")
    parser.add_argument("--accounts", type=int, default=0)
    parser.add_argument("--api-limit", type=int, default=1_000_000)
    parser.add_argument("--bulk-rows-per-s", type=float, default=200_000.0)
    parser.add_argument("--score-fields", action="store_true")
    args = parser.parse_args(argv)
    fake = FakeSalesforce(
        api_limit=args.api_limit,
        bulk_rows_per_s=args.bulk_rows_per_s,
        score_fields=args.score_fields,
    ).start()
    if args.accounts:
        fake.seed_accounts(args.accounts)
    print(
        json.dumps(
            {
                "url": fake.url,
                "ca": fake.ca_path,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            }
        ),
        flush=True,
    )
    try:
        sys.stdin.read()  # serve until the parent closes our stdin
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
